#include "linkemu/units.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace emu::linkemu {
namespace {

using uint128 = unsigned __int128;

// A non-negative decimal number as written: mantissa / 10^frac_digits.
struct Decimal {
  uint128 mantissa = 0;
  int frac_digits = 0;
};

// 24 significant digits times the largest multiplier (1e12 or 1024^4)
// stays far below 2^128.
constexpr int kMaxDigits = 24;

uint128 Pow10(int n) {
  uint128 r = 1;
  while (n-- > 0) r *= 10;
  return r;
}

absl::Status Bad(absl::string_view what, absl::string_view text,
                 absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad ", what, " \"", text, "\": ", why));
}

// Splits `text` into a decimal number and the unit after it. Checks the
// things every unit shares: no spaces, no sign, digits before and after a
// '.', no more than kMaxDigits digits.
absl::Status SplitNumber(absl::string_view what, absl::string_view text,
                         absl::string_view example, Decimal* number,
                         absl::string_view* unit) {
  if (text.empty()) return Bad(what, text, absl::StrCat("empty; write e.g. ", example));
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return Bad(what, text,
                 absl::StrCat("no spaces allowed; write e.g. ", example));
    }
  }
  if (text[0] == '-') return Bad(what, text, "must not be negative");
  if (text[0] == '+') return Bad(what, text, "no sign allowed");
  size_t i = 0;
  int digits = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
    number->mantissa = number->mantissa * 10 + (text[i] - '0');
    ++i;
    if (++digits > kMaxDigits) return Bad(what, text, "too many digits");
  }
  if (digits == 0) {
    return Bad(what, text, absl::StrCat("expected a number; write e.g. ", example));
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    int frac = 0;
    while (i < text.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      number->mantissa = number->mantissa * 10 + (text[i] - '0');
      ++i;
      ++frac;
      if (++digits > kMaxDigits) return Bad(what, text, "too many digits");
    }
    if (frac == 0) return Bad(what, text, "expected digits after '.'");
    number->frac_digits = frac;
  }
  *unit = text.substr(i);
  return absl::OkStatus();
}

struct Unit {
  const char* name;
  uint64_t multiplier;
};

const Unit* FindUnit(const Unit* units, size_t n, absl::string_view name,
                     bool case_sensitive) {
  for (size_t i = 0; i < n; ++i) {
    if (case_sensitive ? name == units[i].name
                       : absl::EqualsIgnoreCase(name, units[i].name)) {
      return &units[i];
    }
  }
  return nullptr;
}

std::string UnitNames(const Unit* units, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ", ", units[i].name);
  }
  return out;
}

// Writes value / 10^decimals without trailing zeros; exact.
std::string FormatFixed(uint64_t value, int decimals) {
  uint64_t divisor = static_cast<uint64_t>(Pow10(decimals));
  std::string out = absl::StrCat(value / divisor);
  uint64_t rem = value % divisor;
  if (rem == 0) return out;
  std::string frac = absl::StrFormat("%0*d", decimals, rem);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return absl::StrCat(out, ".", frac);
}

// Renders a Decimal for messages ("10", "1.5").
std::string DecimalText(const Decimal& d) {
  return FormatFixed(static_cast<uint64_t>(d.mantissa), d.frac_digits);
}

constexpr uint64_t kKi = 1024;

constexpr Unit kRateUnits[] = {
    {"bit", 1},
    {"kbit", 1000},
    {"mbit", 1000 * 1000},
    {"gbit", 1000ull * 1000 * 1000},
    {"tbit", 1000ull * 1000 * 1000 * 1000},
    {"kibit", kKi},
    {"mibit", kKi * kKi},
    {"gibit", kKi * kKi * kKi},
    {"tibit", kKi * kKi * kKi * kKi},
};

constexpr Unit kDurationUnitsNs[] = {
    {"s", 1000ull * 1000 * 1000},    {"sec", 1000ull * 1000 * 1000},
    {"secs", 1000ull * 1000 * 1000}, {"ms", 1000 * 1000},
    {"msec", 1000 * 1000},           {"msecs", 1000 * 1000},
    {"us", 1000},                    {"usec", 1000},
    {"usecs", 1000},                 {"ns", 1},
    {"nsec", 1},                     {"nsecs", 1},
};

constexpr Unit kSizeUnits[] = {
    {"b", 1},
    {"k", kKi},
    {"kb", kKi},
    {"m", kKi * kKi},
    {"mb", kKi * kKi},
    {"g", kKi * kKi * kKi},
    {"gb", kKi * kKi * kKi},
    {"kib", kKi},
    {"mib", kKi * kKi},
    {"gib", kKi * kKi * kKi},
    {"tib", kKi * kKi * kKi * kKi},
};

// "m" -> "mega", for messages about bytes-per-second units.
std::string SiPrefixWord(absl::string_view prefix) {
  static constexpr struct {
    const char* prefix;
    const char* word;
  } kWords[] = {{"k", "kilo"}, {"m", "mega"}, {"g", "giga"}, {"t", "tera"},
                {"ki", "kibi"}, {"mi", "mebi"}, {"gi", "gibi"}, {"ti", "tebi"}};
  for (const auto& w : kWords) {
    if (absl::EqualsIgnoreCase(prefix, w.prefix)) return w.word;
  }
  return "";
}

template <size_t N>
constexpr size_t Count(const Unit (&)[N]) {
  return N;
}

}  // namespace

absl::StatusOr<uint64_t> ParseRate(absl::string_view s) {
  constexpr absl::string_view kWhat = "rate";
  Decimal number;
  absl::string_view unit;
  if (absl::Status st = SplitNumber(kWhat, s, "10mbit", &number, &unit); !st.ok()) {
    return st;
  }
  if (unit.empty()) {
    return Bad(kWhat, s,
               absl::StrCat("a rate needs a unit; say ", DecimalText(number),
                            "mbit (or bit, kbit, gbit)"));
  }
  // tc reads "mbps" as megaBYTES per second; people usually mean megabits.
  // Refuse the whole *bps family rather than guess.
  absl::string_view unit_no_slash = unit;
  if (absl::EndsWithIgnoreCase(unit_no_slash, "bps")) {
    absl::string_view prefix = unit_no_slash.substr(0, unit_no_slash.size() - 3);
    std::string bits_unit = absl::StrCat(absl::AsciiStrToLower(prefix), "bit");
    if (FindUnit(kRateUnits, Count(kRateUnits), bits_unit, false) != nullptr) {
      Decimal times8 = number;
      times8.mantissa *= 8;
      return Bad(kWhat, s,
                 absl::StrCat("ambiguous unit '", unit, "': in tc '",
                              absl::AsciiStrToLower(prefix), "bps' means ",
                              SiPrefixWord(prefix),
                              "BYTES per second; write ", DecimalText(number),
                              bits_unit, " if you mean bits, or ",
                              DecimalText(times8), bits_unit,
                              " if you really mean bytes"));
    }
  }
  if (absl::EndsWith(unit_no_slash, "/s")) {
    unit_no_slash.remove_suffix(2);
  }
  const Unit* u = FindUnit(kRateUnits, Count(kRateUnits), unit_no_slash, false);
  if (u == nullptr) {
    return Bad(kWhat, s,
               absl::StrCat("unknown unit '", unit, "'; expected one of ",
                            UnitNames(kRateUnits, Count(kRateUnits))));
  }
  uint128 scale = Pow10(number.frac_digits);
  uint128 bits = (number.mantissa * u->multiplier + scale / 2) / scale;
  if (bits > UINT64_MAX) return Bad(kWhat, s, "too large");
  return static_cast<uint64_t>(bits);
}

absl::StatusOr<uint64_t> ParseDurationUs(absl::string_view s) {
  constexpr absl::string_view kWhat = "duration";
  Decimal number;
  absl::string_view unit;
  if (absl::Status st = SplitNumber(kWhat, s, "10ms", &number, &unit); !st.ok()) {
    return st;
  }
  if (unit.empty()) {
    return Bad(kWhat, s,
               absl::StrCat("a duration needs a unit; say ",
                            DecimalText(number), "ms (or s, us)"));
  }
  const Unit* u =
      FindUnit(kDurationUnitsNs, Count(kDurationUnitsNs), unit, true);
  if (u == nullptr) {
    return Bad(kWhat, s,
               absl::StrCat("unknown unit '", unit,
                            "'; expected s, ms, us or ns (lower case)"));
  }
  uint128 scale = Pow10(number.frac_digits);
  uint128 ns_times_scale = number.mantissa * u->multiplier;
  if (ns_times_scale % (scale * 1000) != 0) {
    return Bad(kWhat, s, "finer than the 1us resolution emu works in");
  }
  uint128 us = ns_times_scale / (scale * 1000);
  if (us > UINT64_MAX) return Bad(kWhat, s, "too large");
  return static_cast<uint64_t>(us);
}

absl::StatusOr<double> ParsePercent(absl::string_view s) {
  constexpr absl::string_view kWhat = "percentage";
  Decimal number;
  absl::string_view unit;
  if (absl::Status st = SplitNumber(kWhat, s, "0.1%", &number, &unit); !st.ok()) {
    return st;
  }
  if (unit.empty()) {
    if (number.mantissa == 0) return 0.0;
    return Bad(kWhat, s,
               absl::StrCat("a percentage needs '%'; say ", DecimalText(number),
                            "%"));
  }
  if (unit != "%") {
    return Bad(kWhat, s, absl::StrCat("unknown unit '", unit, "'; expected %"));
  }
  if (number.mantissa > 100 * Pow10(number.frac_digits)) {
    return Bad(kWhat, s, "must be between 0% and 100%");
  }
  return static_cast<double>(static_cast<long double>(number.mantissa) /
                             static_cast<long double>(Pow10(number.frac_digits)));
}

absl::StatusOr<uint64_t> ParseSizeBytes(absl::string_view s) {
  constexpr absl::string_view kWhat = "size";
  Decimal number;
  absl::string_view unit;
  if (absl::Status st = SplitNumber(kWhat, s, "32kb", &number, &unit); !st.ok()) {
    return st;
  }
  if (unit.empty()) {
    return Bad(kWhat, s,
               absl::StrCat("a size needs a unit; say ", DecimalText(number),
                            "b (bytes) or ", DecimalText(number), "kb"));
  }
  const Unit* u = FindUnit(kSizeUnits, Count(kSizeUnits), unit, false);
  if (u == nullptr) {
    return Bad(kWhat, s,
               absl::StrCat("unknown unit '", unit,
                            "'; expected b, kb, mb, gb (1024-based, as tc), "
                            "kib, mib, gib or tib"));
  }
  uint128 scale = Pow10(number.frac_digits);
  uint128 scaled = number.mantissa * u->multiplier;
  if (scaled % scale != 0) return Bad(kWhat, s, "not a whole number of bytes");
  uint128 bytes = scaled / scale;
  if (bytes > UINT64_MAX) return Bad(kWhat, s, "too large");
  return static_cast<uint64_t>(bytes);
}

absl::StatusOr<double> ParseBitErrorRate(absl::string_view s) {
  constexpr absl::string_view kWhat = "bit error rate";
  Decimal number;
  absl::string_view rest;
  if (absl::Status st = SplitNumber(kWhat, s, "1e-6", &number, &rest);
      !st.ok()) {
    return st;
  }
  int exponent = 0;
  if (!rest.empty()) {
    if (rest == "%") {
      return Bad(kWhat, s,
                 "a bit error rate is a probability per bit, not a "
                 "percentage; write e.g. 1e-6");
    }
    if (rest.size() < 3 || (rest[0] != 'e' && rest[0] != 'E') ||
        rest[1] != '-') {
      return Bad(kWhat, s,
                 "expected a number or a number with a negative power of "
                 "ten, e.g. 0.000001 or 1e-6");
    }
    for (char c : rest.substr(2)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return Bad(kWhat, s, "the power of ten must be a whole number: 1e-6");
      }
      exponent = exponent * 10 + (c - '0');
      if (exponent > 300) return Bad(kWhat, s, "power of ten out of range");
    }
  }
  const double value =
      static_cast<double>(static_cast<long double>(number.mantissa) /
                          static_cast<long double>(Pow10(number.frac_digits))) *
      std::pow(10.0, -exponent);
  if (value > 1) return Bad(kWhat, s, "must be between 0 and 1");
  return value;
}

absl::StatusOr<int64_t> ParseSignedSizeBytes(absl::string_view s) {
  const bool negative = absl::StartsWith(s, "-");
  absl::StatusOr<uint64_t> v = ParseSizeBytes(negative ? s.substr(1) : s);
  if (!v.ok()) return v.status();
  if (*v > static_cast<uint64_t>(INT64_MAX)) {
    return Bad("size", s, "too large");
  }
  return negative ? -static_cast<int64_t>(*v) : static_cast<int64_t>(*v);
}

std::string FormatBitErrorRate(double ber) {
  return absl::StrFormat("%g", ber);
}

std::string FormatRate(uint64_t bps) {
  if (bps >= 1000ull * 1000 * 1000 * 1000) return FormatFixed(bps, 12) + "Tbit/s";
  if (bps >= 1000ull * 1000 * 1000) return FormatFixed(bps, 9) + "Gbit/s";
  if (bps >= 1000 * 1000) return FormatFixed(bps, 6) + "Mbit/s";
  if (bps >= 1000) return FormatFixed(bps, 3) + "kbit/s";
  return absl::StrCat(bps, "bit/s");
}

std::string FormatDurationUs(uint64_t us) {
  if (us >= 1000 * 1000) return FormatFixed(us, 6) + "s";
  if (us >= 1000) return FormatFixed(us, 3) + "ms";
  return absl::StrCat(us, "us");
}

std::string FormatPercent(double percent) {
  return absl::StrFormat("%g%%", percent);
}

std::string FormatSizeBytes(uint64_t bytes) {
  static constexpr Unit kBinary[] = {
      {"TiB", kKi * kKi * kKi * kKi},
      {"GiB", kKi * kKi * kKi},
      {"MiB", kKi * kKi},
      {"KiB", kKi},
  };
  if (bytes != 0) {
    for (const Unit& u : kBinary) {
      if (bytes % u.multiplier == 0) {
        return absl::StrCat(bytes / u.multiplier, u.name);
      }
    }
  }
  return absl::StrCat(bytes, "b");
}

}  // namespace emu::linkemu
