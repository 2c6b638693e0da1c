// Pure formatting and parsing of the values emuctl shows and accepts: rates,
// delays, percentages, ages, memory sizes and the --timeout duration.
#ifndef EMU_CLI_FORMAT_H_
#define EMU_CLI_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace emu::cli {

// Parses a --timeout value: an absl duration ("60s", "1m30s", "500ms") or a
// bare number of seconds ("90"). Must be positive. `flag` names the flag in
// the error message.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text,
                                            absl::string_view flag);

// Bits per second in decimal units as tc prints them: "100Mbit/s",
// "1.5Gbit/s", "800bit/s". 0 (unshaped) is "-".
std::string FormatRate(uint64_t bps);

// Microseconds as the shortest readable unit: "500us", "1.5ms", "2s".
// 0 is "-".
std::string FormatMicros(uint64_t us);

// A percentage with up to three significant decimals: "0.5%", "12%".
// 0 is "-".
std::string FormatPercent(double percent);

// Mebibytes: "512MiB", "16GiB", "1.5GiB". 0 is "-".
std::string FormatMib(uint64_t mib);

// A coarse age with at most two units: "12s", "5m", "2h3m", "3d4h".
// Negative ages (clock skew) are "0s".
std::string FormatAge(absl::Duration age);

// How long an operation took: "0.4s", "12.3s", "1m5s", "1h2m".
std::string HumanDuration(absl::Duration d);

// Elapsed seconds for progress lines, fixed width: "   1.2s".
std::string FormatElapsed(absl::Duration elapsed);

}  // namespace emu::cli

#endif  // EMU_CLI_FORMAT_H_
