#include "common/metrics/testing/exposition_parser.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/metrics/metrics.h"

namespace emu::metrics::testing {
namespace {

absl::Status Bad(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

absl::StatusOr<double> ParseNumber(absl::string_view s) {
  if (s == "+Inf" || s == "Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return std::nan("");
  double d;
  if (s.empty() || !absl::SimpleAtod(s, &d) || std::isnan(d) ||
      std::isinf(d)) {
    return absl::InvalidArgumentError(absl::StrCat("bad value '", s, "'"));
  }
  return d;
}

// The family a sample name belongs to, given the declared types.
std::string FamilyOf(const std::string& sample,
                     const std::map<std::string, ParsedFamily>& families) {
  if (families.count(sample)) return sample;
  for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (absl::EndsWith(sample, suffix)) {
      std::string base = sample.substr(0, sample.size() - suffix.size());
      auto it = families.find(base);
      if (it != families.end() && it->second.type == "histogram") return base;
    }
  }
  return "";
}

// Parses `{a="x",b="y"}` at `s` (which starts with '{'); advances past it.
absl::Status ParseLabels(absl::string_view& s,
                         std::map<std::string, std::string>* labels) {
  s.remove_prefix(1);
  while (true) {
    if (!s.empty() && s[0] == '}') {
      s.remove_prefix(1);
      return absl::OkStatus();
    }
    size_t eq = s.find('=');
    if (eq == absl::string_view::npos) return absl::InvalidArgumentError("no '=' in labels");
    std::string name(s.substr(0, eq));
    if (!IsValidLabelName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("bad label name '", name, "'"));
    }
    s.remove_prefix(eq + 1);
    if (s.empty() || s[0] != '"') return absl::InvalidArgumentError("label value not quoted");
    s.remove_prefix(1);
    std::string value;
    while (true) {
      if (s.empty()) return absl::InvalidArgumentError("unterminated label value");
      char c = s[0];
      s.remove_prefix(1);
      if (c == '"') break;
      if (c == '\n') return absl::InvalidArgumentError("raw newline in label value");
      if (c == '\\') {
        if (s.empty()) return absl::InvalidArgumentError("dangling backslash");
        char e = s[0];
        s.remove_prefix(1);
        if (e == '\\') value += '\\';
        else if (e == '"') value += '"';
        else if (e == 'n') value += '\n';
        else return absl::InvalidArgumentError(absl::StrCat("bad escape \\", std::string(1, e)));
        continue;
      }
      value += c;
    }
    if (!labels->emplace(name, value).second) {
      return absl::InvalidArgumentError(absl::StrCat("label ", name, " twice"));
    }
    if (!s.empty() && s[0] == ',') {
      s.remove_prefix(1);
      continue;
    }
    if (s.empty() || s[0] != '}') return absl::InvalidArgumentError("expected ',' or '}'");
  }
}

std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char e = s[++i];
      out += e == 'n' ? '\n' : e;
    } else {
      out += s[i];
    }
  }
  return out;
}

absl::Status CheckHistogram(const ParsedFamily& f) {
  // Per series (labels without le): buckets cumulative, +Inf == _count.
  struct Series {
    std::vector<std::pair<double, double>> buckets;
    std::optional<double> count, sum;
  };
  std::map<std::map<std::string, std::string>, Series> series;
  for (const ParsedSample& s : f.samples) {
    auto labels = s.labels;
    if (s.name == f.name + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) return absl::InvalidArgumentError(f.name + ": bucket without le");
      auto bound = ParseNumber(le->second);
      if (!bound.ok()) return bound.status();
      labels.erase(le);
      series[labels].buckets.push_back({*bound, s.value});
    } else if (s.name == f.name + "_count") {
      series[labels].count = s.value;
    } else if (s.name == f.name + "_sum") {
      series[labels].sum = s.value;
    } else {
      return absl::InvalidArgumentError(f.name + ": unexpected sample " + s.name);
    }
  }
  for (const auto& [labels, s] : series) {
    if (!s.count || !s.sum || s.buckets.empty()) {
      return absl::InvalidArgumentError(f.name + ": series lacks _bucket, _sum or _count");
    }
    for (size_t i = 1; i < s.buckets.size(); ++i) {
      if (!(s.buckets[i].first > s.buckets[i - 1].first) ||
          s.buckets[i].second < s.buckets[i - 1].second) {
        return absl::InvalidArgumentError(f.name + ": buckets not increasing/cumulative");
      }
    }
    if (!std::isinf(s.buckets.back().first) ||
        s.buckets.back().second != *s.count) {
      return absl::InvalidArgumentError(f.name + ": +Inf bucket missing or != _count");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, ParsedFamily>> ParseExposition(
    absl::string_view text) {
  std::map<std::string, ParsedFamily> families;
  if (!text.empty() && text.back() != '\n') {
    return absl::InvalidArgumentError("text does not end with a newline");
  }
  std::set<std::string> done;     // families whose samples ended
  std::string current;            // family of the previous sample
  std::set<std::string> series;   // name + labels seen
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<absl::string_view> parts =
          absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (parts.size() >= 3 && (parts[1] == "HELP" || parts[1] == "TYPE")) {
        std::string name(parts[2]);
        if (!IsValidMetricName(name)) return Bad(n, "bad metric name " + name);
        if (done.count(name) || name == current) {
          return Bad(n, parts[1] == "HELP" ? "HELP after samples of " + name
                                           : "TYPE after samples of " + name);
        }
        ParsedFamily& f = families[name];
        f.name = name;
        std::string rest = parts.size() > 3 ? std::string(parts[3]) : "";
        if (parts[1] == "HELP") {
          if (!f.help.empty()) return Bad(n, "second HELP for " + name);
          f.help = Unescape(rest);
        } else {
          if (!f.type.empty()) return Bad(n, "second TYPE for " + name);
          if (rest != "counter" && rest != "gauge" && rest != "histogram") {
            return Bad(n, "unsupported TYPE '" + rest + "'");
          }
          f.type = rest;
        }
      }
      continue;
    }
    // name{labels} value
    size_t end = 0;
    while (end < line.size() && line[end] != '{' && line[end] != ' ') ++end;
    std::string name(line.substr(0, end));
    if (!IsValidMetricName(name)) return Bad(n, "bad metric name '" + name + "'");
    absl::string_view rest = line.substr(end);
    ParsedSample sample;
    sample.name = name;
    if (!rest.empty() && rest[0] == '{') {
      absl::Status s = ParseLabels(rest, &sample.labels);
      if (!s.ok()) return Bad(n, s.message());
    }
    if (rest.empty() || rest[0] != ' ') return Bad(n, "no value");
    rest.remove_prefix(1);
    if (absl::StrContains(rest, ' ')) return Bad(n, "timestamps are not expected");
    auto value = ParseNumber(rest);
    if (!value.ok()) return Bad(n, value.status().message());
    sample.value = *value;
    std::string family = FamilyOf(name, families);
    if (family.empty() || families[family].type.empty()) {
      return Bad(n, "sample " + name + " without # TYPE");
    }
    if (family != current) {
      if (done.count(family)) return Bad(n, "family " + family + " split in two");
      if (!current.empty()) done.insert(current);
      current = family;
    }
    std::string key = name;
    for (const auto& [k, v] : sample.labels) absl::StrAppend(&key, "\x01", k, "=", v);
    if (!series.insert(key).second) return Bad(n, "duplicate series " + name);
    ParsedFamily& f = families[family];
    if (f.type == "counter") {
      if (!absl::EndsWith(name, "_total")) return Bad(n, "counter not named *_total: " + name);
      if (sample.value < 0) return Bad(n, "negative counter " + name);
    }
    f.samples.push_back(std::move(sample));
  }
  for (const auto& [name, f] : families) {
    if (f.type.empty()) return absl::InvalidArgumentError("HELP without TYPE: " + name);
    if (f.type == "histogram") {
      absl::Status s = CheckHistogram(f);
      if (!s.ok()) return s;
    }
  }
  return families;
}

std::optional<double> FindValue(
    const std::map<std::string, ParsedFamily>& families,
    const std::string& name, const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  int matches = 0;
  for (const auto& [fname, f] : families) {
    for (const ParsedSample& s : f.samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) all = false;
      }
      if (all) {
        found = s.value;
        ++matches;
      }
    }
  }
  return matches == 1 ? found : std::nullopt;
}

std::string Canonical(const std::map<std::string, ParsedFamily>& families) {
  std::string out;
  for (const auto& [name, f] : families) {
    for (const ParsedSample& s : f.samples) {
      std::vector<std::string> labels;
      for (const auto& [k, v] : s.labels) labels.push_back(absl::StrCat(k, "=\"", v, "\""));
      absl::StrAppend(&out, s.name,
                      labels.empty() ? "" : absl::StrCat("{", absl::StrJoin(labels, ","), "}"),
                      " ", FormatValue(s.value), "\n");
    }
  }
  return out;
}

}  // namespace emu::metrics::testing
