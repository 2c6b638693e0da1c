#include "agent/net/host_network.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace emu::agent::net {

absl::Status ValidateNamespaceName(absl::string_view ns) {
  if (ns.empty() || ns.size() > 200 || ns == "." || ns == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("bad namespace name \"", ns, "\": want 1..200 bytes"));
  }
  for (char c : ns) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-' && c != '.' && c != '+') {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad namespace name \"", ns, "\": only [A-Za-z0-9_.+-] allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateInterfaceName(absl::string_view ifname) {
  if (ifname.empty() || ifname.size() > 15 || ifname == "." ||
      ifname == "..") {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad interface name \"", ifname, "\": want 1..15 bytes"));
  }
  for (char c : ifname) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
        static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad interface name \"", ifname,
                       "\": no '/', ':' or whitespace allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMac(absl::string_view mac) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad MAC address \"", mac, "\": ", why));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(mac, ':');
  if (parts.size() != 6) return bad("want six hex bytes like 02:00:00:00:00:01");
  uint32_t first = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view p = parts[i];
    if (p.size() != 2 || !absl::ascii_isxdigit(p[0]) ||
        !absl::ascii_isxdigit(p[1])) {
      return bad("want six hex bytes like 02:00:00:00:00:01");
    }
    if (i == 0) {
      absl::SimpleHexAtoi(p, &first);
    }
  }
  if (first & 1) return bad("multicast bit set in the first byte");
  return absl::OkStatus();
}

std::string VethWhat(const HostNetwork::VethEnd& a,
                     const HostNetwork::VethEnd& b) {
  return absl::StrCat("create veth ", a.ns, ":", a.ifname, "<->", b.ns, ":",
                      b.ifname);
}

absl::Status ValidateVeth(const HostNetwork::VethEnd& a,
                          const HostNetwork::VethEnd& b) {
  for (const HostNetwork::VethEnd* end : {&a, &b}) {
    absl::Status s = ValidateInterfaceName(end->ifname);
    if (s.ok() && !end->mac.empty()) s = ValidateMac(end->mac);
    if (!s.ok()) return Annotate(s, VethWhat(a, b));
  }
  if (a.ns == b.ns && a.ifname == b.ifname) {
    return absl::InvalidArgumentError(
        absl::StrCat(VethWhat(a, b), ": both ends have the same name"));
  }
  return absl::OkStatus();
}

int Cidr::byte_len() const { return family == AF_INET ? 4 : 16; }

std::string Cidr::AddressString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

std::string Cidr::ToString() const {
  return absl::StrCat(AddressString(), "/", prefix_len);
}

bool Cidr::HostBitsZero() const {
  const int bits = byte_len() * 8;
  for (int bit = prefix_len; bit < bits; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

bool Cidr::SamePrefix(const Cidr& o, int bits) const {
  if (family != o.family) return false;
  for (int bit = 0; bit < bits; ++bit) {
    const int mask = 0x80 >> (bit % 8);
    if ((bytes[bit / 8] & mask) != (o.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

bool Cidr::IsIpv6LinkLocal() const {
  return family == AF_INET6 && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address \"", text, "\": ", why));
  };
  Cidr c;
  absl::string_view addr = text;
  absl::string_view len_text;
  size_t slash = text.find('/');
  if (slash != absl::string_view::npos) {
    addr = text.substr(0, slash);
    len_text = text.substr(slash + 1);
  }
  std::string addr_str(addr);
  if (inet_pton(AF_INET, addr_str.c_str(), c.bytes.data()) == 1) {
    c.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr_str.c_str(), c.bytes.data()) == 1) {
    c.family = AF_INET6;
  } else {
    return bad("not an IPv4 or IPv6 address");
  }
  const int max_len = c.byte_len() * 8;
  if (slash == absl::string_view::npos) {
    c.prefix_len = max_len;
  } else {
    int len = -1;
    if (len_text.empty() || len_text.size() > 3 ||
        !std::all_of(len_text.begin(), len_text.end(),
                     [](char ch) { return absl::ascii_isdigit(ch); }) ||
        !absl::SimpleAtoi(len_text, &len) || len > max_len) {
      return bad(absl::StrCat("prefix length must be 0..", max_len));
    }
    c.prefix_len = len;
  }
  return c;
}

absl::StatusOr<Cidr> ParseRouteDestination(absl::string_view text) {
  if (text == "default") return ParseCidr("0.0.0.0/0");
  if (text == "default6") return ParseCidr("::/0");
  return ParseCidr(text);
}

absl::Status ValidateRoute(const HostNetwork::RouteSpec& route) {
  const std::string what = absl::StrCat("route ", route.destination);
  auto dst = ParseRouteDestination(route.destination);
  if (!dst.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", dst.status().message()));
  }
  if (!dst->HostBitsZero()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": host bits set (did you mean ", dst->AddressString(), "/",
        dst->prefix_len, " with the host part zeroed?)"));
  }
  if (route.via.empty() && route.dev.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": needs a gateway (via) or an interface (dev)"));
  }
  if (!route.via.empty()) {
    auto via = ParseCidr(route.via);
    if (!via.ok() || via->prefix_len != via->byte_len() * 8 ||
        route.via.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": bad gateway \"", route.via, "\": want a plain address"));
    }
    if (via->family != dst->family) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": gateway ", route.via,
                       " is not of the destination's address family"));
    }
  }
  if (!route.dev.empty()) {
    absl::Status s = ValidateInterfaceName(route.dev);
    if (!s.ok()) return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SysctlPath(absl::string_view key) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad sysctl key \"", key, "\": ", why));
  };
  if (!absl::StartsWith(key, "net.")) {
    return bad(
        "only net.* keys are per network namespace; others would change the "
        "whole host");
  }
  for (absl::string_view seg : absl::StrSplit(key, '.')) {
    if (seg.empty()) return bad("empty segment");
    for (char c : seg) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
          c != '-') {
        return bad("segments are [A-Za-z0-9_-] separated by '.'");
      }
    }
  }
  return absl::StrCat("/proc/sys/", absl::StrReplaceAll(key, {{".", "/"}}));
}

}  // namespace emu::agent::net
