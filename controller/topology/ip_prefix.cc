#include "controller/topology/ip_prefix.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace emu::controller::topology {

bool AddToAddress(IpAddress* a, uint64_t n) {
  const int len = a->bits() / 8;
  unsigned carry = 0;
  for (int i = len - 1; i >= 0; --i) {
    const unsigned sum = a->bytes[i] + static_cast<unsigned>(n & 0xff) + carry;
    a->bytes[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
    n >>= 8;
  }
  return carry == 0 && n == 0;
}

bool ParseIpAddress(absl::string_view text, IpAddress* out) {
  std::string s(text);  // inet_pton needs a NUL-terminated string
  if (inet_pton(AF_INET, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->bytes.data()) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

std::string ParseIpPrefix(absl::string_view text, bool allow_bare,
                          IpPrefix* out) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('/', 1));
  if (!ParseIpAddress(parts.first, &out->address)) {
    return absl::StrCat("'", parts.first, "' is not an IPv4 or IPv6 address");
  }
  if (!absl::StrContains(text, '/')) {
    if (!allow_bare) {
      return absl::StrCat("needs a prefix length, e.g. ", text,
                          out->address.family == AF_INET ? "/24" : "/64");
    }
    out->length = out->address.bits();
    return "";
  }
  int length = -1;
  if (!absl::SimpleAtoi(parts.second, &length) || length < 0 ||
      length > out->address.bits() ||
      !absl::ascii_isdigit(static_cast<unsigned char>(parts.second[0]))) {
    return absl::StrCat("bad prefix length '", parts.second, "' (0..",
                        out->address.bits(), ")");
  }
  out->length = length;
  return "";
}

}  // namespace emu::controller::topology
