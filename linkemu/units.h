// Strict parsers and formatters for the units a topology file uses: link
// rates, durations, percentages and sizes. They follow tc(8)'s conventions
// (iproute2 tc/tc_util.c) so a value reads the same as on a tc command line,
// but they reject everything tc would guess at: bare numbers, spaces,
// negative values and the ambiguous "mbps" family.
//
// All functions are pure and thread-safe. Errors are INVALID_ARGUMENT and
// quote the offending text: `bad rate "10mbps": ...`.
#ifndef EMU_LINKEMU_UNITS_H_
#define EMU_LINKEMU_UNITS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::linkemu {

// Parses a bit rate into bits per second.
// Units (case-insensitive, as in tc): bit, kbit (1e3), mbit (1e6),
// gbit (1e9), tbit (1e12); binary kibit, mibit, gibit, tibit (1024^n).
// An optional "/s" suffix is accepted so FormatRate's output parses back.
// A decimal fraction is allowed ("1.5gbit"); the result is rounded to the
// nearest bit. "0bit" is allowed and means unshaped.
// Rejected: bare numbers ("say 10mbit"), every *bps unit (in tc "mbps" is
// megaBYTES per second, a classic factor-8 mistake), spaces, signs,
// exponents.
absl::StatusOr<uint64_t> ParseRate(absl::string_view s);

// Parses a duration into microseconds.
// Units (case-sensitive): s/sec/secs, ms/msec/msecs, us/usec/usecs,
// ns/nsec/nsecs. Fractions are allowed ("1.5ms") as long as the result is
// a whole number of microseconds. Rejected: bare numbers, "5 ms" (space),
// negative values.
absl::StatusOr<uint64_t> ParseDurationUs(absl::string_view s);

// Parses a percentage into 0..100: "0.1%", "5%", "100%". A bare "0" is
// accepted (zero needs no unit); any other bare number is rejected
// ("say 5%"), as are negative values and values above 100%.
absl::StatusOr<double> ParsePercent(absl::string_view s);

// Parses a size into bytes. Units (case-insensitive): b (bytes);
// k/kb, m/mb, g/gb as tc and docker read them, i.e. BINARY (kb = 1024);
// kib, mib, gib, tib (1024^n). "1.5MiB" is fine when it is a whole number of
// bytes. Rejected: bare numbers ("say 1500b"), bit units, spaces, negative.
absl::StatusOr<uint64_t> ParseSizeBytes(absl::string_view s);

// Parses a bit error rate (probability that each bit is flipped) into 0..1:
// a plain decimal ("0.000001", "0") or a decimal with a negative power of
// ten ("1e-6", "2.5e-7"), the way BER is written. Rejected: values above 1,
// negative values, positive exponents, spaces, a '%' (a BER is not a
// percentage).
absl::StatusOr<double> ParseBitErrorRate(absl::string_view s);

// A size that may be negative ("-4b", "24b"): a per-packet overhead.
absl::StatusOr<int64_t> ParseSignedSizeBytes(absl::string_view s);

// Human-readable, lossless forms that the parsers above read back:
// FormatRate(10000000) == "10Mbit/s", FormatRate(1500000000) ==
// "1.5Gbit/s"; FormatDurationUs(1500) == "1.5ms", FormatDurationUs(250) ==
// "250us"; FormatPercent(0.1) == "0.1%"; FormatSizeBytes(32768) == "32KiB",
// FormatSizeBytes(1500) == "1500b".
std::string FormatRate(uint64_t bps);
std::string FormatDurationUs(uint64_t us);
std::string FormatPercent(double percent);
std::string FormatSizeBytes(uint64_t bytes);
// "1e-06" style for small rates, as written in files: FormatBitErrorRate(1e-6)
// == "1e-06"; reads back through ParseBitErrorRate.
std::string FormatBitErrorRate(double ber);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_UNITS_H_
