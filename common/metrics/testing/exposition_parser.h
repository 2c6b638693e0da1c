// A strict reader of the Prometheus text exposition format, for tests: it
// refuses what Prometheus' own parser refuses and what our conventions
// forbid (a sample without # TYPE, a family split in two, a duplicate
// series, a bad escape, a histogram whose buckets are not cumulative or
// whose +Inf bucket differs from _count, a counter not named *_total).
// Python's prometheus_client and promtool are not part of the test
// environment; this is the check that the renderer's output parses back.
#ifndef EMU_COMMON_METRICS_TESTING_EXPOSITION_PARSER_H_
#define EMU_COMMON_METRICS_TESTING_EXPOSITION_PARSER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::metrics::testing {

struct ParsedSample {
  std::string name;  // as written: "x_bucket", "x_sum", "x_total"
  std::map<std::string, std::string> labels;  // unescaped
  double value = 0;
};

struct ParsedFamily {
  std::string name;
  std::string help;  // unescaped
  std::string type;  // counter, gauge, histogram
  std::vector<ParsedSample> samples;
};

// Families by name; INVALID_ARGUMENT "line N: ..." for the first problem.
absl::StatusOr<std::map<std::string, ParsedFamily>> ParseExposition(
    absl::string_view text);

// The value of the sample `name` whose labels include `labels`, when
// exactly one matches; nullopt when none or several do.
std::optional<double> FindValue(
    const std::map<std::string, ParsedFamily>& families,
    const std::string& name,
    const std::map<std::string, std::string>& labels = {});

// One line per sample, "name{a=\"x\",b=\"y\"} value", labels sorted,
// values as FormatValue prints them: what a shell test greps.
std::string Canonical(const std::map<std::string, ParsedFamily>& families);

}  // namespace emu::metrics::testing

#endif  // EMU_COMMON_METRICS_TESTING_EXPOSITION_PARSER_H_
