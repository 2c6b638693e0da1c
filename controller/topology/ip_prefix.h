// IPv4 and IPv6 addresses and prefixes as a topology file writes them
// ("10.0.1.1/24", "fd00::1/64"), for the validator and the management
// network's plan. Pure, thread-safe.
#ifndef EMU_CONTROLLER_TOPOLOGY_IP_PREFIX_H_
#define EMU_CONTROLLER_TOPOLOGY_IP_PREFIX_H_

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace emu::controller::topology {

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  int bits() const { return family == AF_INET ? 32 : 128; }
  bool operator<(const IpAddress& o) const {
    return std::tie(family, bytes) < std::tie(o.family, o.bytes);
  }
  bool operator==(const IpAddress& o) const {
    return family == o.family && bytes == o.bytes;
  }
  std::string ToString() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes.data(), buf, sizeof(buf));
    return buf;
  }
  bool IsUnspecified() const {
    return std::all_of(bytes.begin(), bytes.begin() + bits() / 8,
                       [](uint8_t b) { return b == 0; });
  }
  bool IsLoopback() const {
    if (family == AF_INET) return bytes[0] == 127;
    static constexpr std::array<uint8_t, 16> kV6Loopback = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return bytes == kV6Loopback;
  }
  bool IsMulticast() const {
    return family == AF_INET ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff;
  }
  bool IsIpv6LinkLocal() const {
    return family == AF_INET6 && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
  }
};

struct IpPrefix {
  IpAddress address;
  int length = 0;

  bool Contains(const IpAddress& a) const {
    if (a.family != address.family) return false;
    for (int bit = 0; bit < length; ++bit) {
      int mask = 0x80 >> (bit % 8);
      if ((a.bytes[bit / 8] & mask) != (address.bytes[bit / 8] & mask)) {
        return false;
      }
    }
    return true;
  }
  bool HasHostBits() const {
    for (int bit = length; bit < address.bits(); ++bit) {
      if (address.bytes[bit / 8] & (0x80 >> (bit % 8))) return true;
    }
    return false;
  }
  bool AllHostBitsSet() const {
    for (int bit = length; bit < address.bits(); ++bit) {
      if (!(address.bytes[bit / 8] & (0x80 >> (bit % 8)))) return false;
    }
    return true;
  }
  IpPrefix Network() const {
    IpPrefix n = *this;
    for (int bit = length; bit < address.bits(); ++bit) {
      n.address.bytes[bit / 8] &= ~(0x80 >> (bit % 8));
    }
    return n;
  }
  std::string ToString() const {
    return absl::StrCat(address.ToString(), "/", length);
  }
};

// `a` plus `n` (carrying across bytes); false when it leaves the family's
// address space.
bool AddToAddress(IpAddress* a, uint64_t n);

// True when `text` is an IPv4 or IPv6 address (no prefix length).
bool ParseIpAddress(absl::string_view text, IpAddress* out);

// Parses "ADDR/LEN"; with `allow_bare`, "ADDR" means a host prefix.
// Returns an empty string or the cause of failure.
std::string ParseIpPrefix(absl::string_view text, bool allow_bare,
                          IpPrefix* out);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_IP_PREFIX_H_
