#include "cli/format.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"

namespace emu::cli {
namespace {

// "1.5" / "10" / "0.125": up to three decimals, trailing zeros dropped.
std::string ShortNumber(double value) {
  std::string s = absl::StrFormat("%.3f", value);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text,
                                            absl::string_view flag) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  absl::Duration d;
  double seconds = 0;
  bool parsed = false;
  if (absl::SimpleAtod(trimmed, &seconds) && std::isfinite(seconds)) {
    d = absl::Seconds(seconds);
    parsed = true;
  } else if (absl::ParseDuration(trimmed, &d) && d != absl::InfiniteDuration()) {
    parsed = true;
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", flag, " \"", text,
        "\": want a duration like 60s, 500ms, 2m or 1m30s"));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", flag, " \"", text, "\": must be positive"));
  }
  return d;
}

std::string FormatRate(uint64_t bps) {
  if (bps == 0) return "-";
  struct Unit {
    double scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {1e9, "Gbit/s"}, {1e6, "Mbit/s"}, {1e3, "kbit/s"}};
  for (const Unit& unit : kUnits) {
    if (bps >= unit.scale) {
      return absl::StrCat(ShortNumber(bps / unit.scale), unit.name);
    }
  }
  return absl::StrCat(bps, "bit/s");
}

std::string FormatMicros(uint64_t us) {
  if (us == 0) return "-";
  if (us >= 1000000) return absl::StrCat(ShortNumber(us / 1e6), "s");
  if (us >= 1000) return absl::StrCat(ShortNumber(us / 1e3), "ms");
  return absl::StrCat(us, "us");
}

std::string FormatPercent(double percent) {
  if (percent == 0) return "-";
  return absl::StrCat(ShortNumber(percent), "%");
}

std::string FormatMib(uint64_t mib) {
  if (mib == 0) return "-";
  if (mib >= 1024) {
    std::string gib = absl::StrFormat("%.1f", mib / 1024.0);
    if (absl::EndsWith(gib, ".0")) gib.resize(gib.size() - 2);
    return absl::StrCat(gib, "GiB");
  }
  return absl::StrCat(mib, "MiB");
}

std::string FormatAge(absl::Duration age) {
  int64_t s = absl::ToInt64Seconds(age);
  if (s < 0) s = 0;
  const int64_t d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
  if (d > 0) return h > 0 ? absl::StrCat(d, "d", h, "h") : absl::StrCat(d, "d");
  if (h > 0) return m > 0 ? absl::StrCat(h, "h", m, "m") : absl::StrCat(h, "h");
  if (m > 0) return absl::StrCat(m, "m");
  return absl::StrCat(s, "s");
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::Minutes(1)) {
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(std::max(d, absl::ZeroDuration())));
  }
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  return absl::StrCat(s / 3600, "h", (s % 3600) / 60, "m");
}

std::string FormatElapsed(absl::Duration elapsed) {
  return absl::StrFormat("%6.1fs", absl::ToDoubleSeconds(elapsed));
}

}  // namespace emu::cli
