#include "cli/linktest_one_way.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/capture/pcapng.h"

namespace emu::cli {
namespace {

// The block types are the ones emu's capture writes (agent/capture/pcapng).
using agent::capture::kByteOrderMagic;
using agent::capture::kEnhancedPacketBlock;
using agent::capture::kInterfaceDescriptionBlock;
using agent::capture::kSectionHeaderBlock;
constexpr uint16_t kLinktypeEthernet = 1;
constexpr uint16_t kOptionEnd = 0;
constexpr uint16_t kOptionTsresol = 9;

uint32_t Le32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // pcapng as emu writes it: little-endian, as this host
}
uint16_t Le16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint16_t Be16(const unsigned char* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

struct Interface {
  uint16_t linktype = 0;
  // Stamp units per second: 10^6 unless if_tsresol says otherwise.
  int64_t units_per_second = 1'000'000;
};

// An IDB's if_tsresol (a power of 10 or, with the top bit, of 2).
int64_t UnitsPerSecond(absl::string_view options) {
  size_t at = 0;
  while (at + 4 <= options.size()) {
    const uint16_t code = Le16(options.data() + at);
    const uint16_t len = Le16(options.data() + at + 2);
    if (code == kOptionEnd || at + 4 + len > options.size()) break;
    if (code == kOptionTsresol && len >= 1) {
      const uint8_t r = static_cast<uint8_t>(options[at + 4]);
      const int exp = r & 0x7F;
      if (exp > 30) break;
      int64_t u = 1;
      for (int i = 0; i < exp; ++i) u *= (r & 0x80) ? 2 : 10;
      return u;
    }
    at += 4 + ((len + 3u) & ~3u);
  }
  return 1'000'000;
}

// An echo in an Ethernet frame, if it is one.
bool ParseEcho(absl::string_view frame, EchoStamp* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(frame.data());
  size_t n = frame.size();
  if (n < 14) return false;
  uint16_t type = Be16(p + 12);
  size_t at = 14;
  while ((type == 0x8100 || type == 0x88A8) && n >= at + 4) {  // VLAN tags
    type = Be16(p + at + 2);
    at += 4;
  }
  const unsigned char* icmp = nullptr;
  uint8_t request = 0, reply = 0;
  if (type == 0x0800) {
    if (n < at + 20 || (p[at] >> 4) != 4) return false;
    const size_t ihl = (p[at] & 0x0F) * 4u;
    if (p[at + 9] != 1 || ihl < 20 || n < at + ihl + 8) return false;
    // A fragment other than the first carries no ICMP header.
    if ((Be16(p + at + 6) & 0x1FFF) != 0) return false;
    icmp = p + at + ihl;
    request = 8;
    reply = 0;
  } else if (type == 0x86DD) {
    if (n < at + 40 + 8 || p[at + 6] != 58) return false;
    icmp = p + at + 40;
    request = 128;
    reply = 129;
  } else {
    return false;
  }
  if (icmp[0] != request && icmp[0] != reply) return false;
  out->reply = icmp[0] == reply;
  out->id = Be16(icmp + 4);
  out->seq = Be16(icmp + 6);
  // iputils' ping: a struct timeval (two 64-bit fields on this host) first
  // in the data.
  const size_t data = static_cast<size_t>(icmp - p) + 8;
  if (!out->reply && n >= data + 16) {
    int64_t sec, usec;
    std::memcpy(&sec, p + data, 8);
    std::memcpy(&usec, p + data + 8, 8);
    if (sec > 0 && usec >= 0 && usec < 1'000'000) {
      out->payload_ns = sec * 1'000'000'000 + usec * 1'000;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<EchoStamp>> EchoStampsFromPcapng(
    absl::string_view in) {
  std::vector<EchoStamp> out;
  std::vector<Interface> interfaces;
  size_t at = 0;
  bool section = false;
  while (at + 12 <= in.size()) {
    const uint32_t type = Le32(in.data() + at);
    const uint32_t len = Le32(in.data() + at + 4);
    if (len < 12 || len % 4 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("pcapng: block of length ", len, " at byte ", at));
    }
    if (at + len > in.size()) break;  // cut off mid-block
    absl::string_view body = in.substr(at + 8, len - 12);
    if (type == kSectionHeaderBlock) {
      if (body.size() < 16 || Le32(body.data()) != kByteOrderMagic) {
        return absl::InvalidArgumentError(
            "pcapng: section header not in this host's byte order");
      }
      section = true;
      interfaces.clear();
    } else if (!section) {
      return absl::InvalidArgumentError("pcapng: no section header first");
    } else if (type == kInterfaceDescriptionBlock && body.size() >= 8) {
      Interface i;
      i.linktype = Le16(body.data());
      i.units_per_second = UnitsPerSecond(body.substr(8));
      interfaces.push_back(i);
    } else if (type == kEnhancedPacketBlock && body.size() >= 20) {
      const uint32_t iface = Le32(body.data());
      const uint64_t stamp = (uint64_t{Le32(body.data() + 4)} << 32) |
                             Le32(body.data() + 8);
      const uint32_t caplen = Le32(body.data() + 12);
      if (iface < interfaces.size() &&
          interfaces[iface].linktype == kLinktypeEthernet &&
          20 + uint64_t{caplen} <= body.size()) {
        EchoStamp e;
        if (ParseEcho(body.substr(20, caplen), &e)) {
          const int64_t ups = interfaces[iface].units_per_second;
          e.time_ns = static_cast<int64_t>(stamp / ups) * 1'000'000'000 +
                      static_cast<int64_t>((stamp % ups) * 1'000'000'000 / ups);
          out.push_back(e);
        }
      }
    }
    at += len;
  }
  if (!section && !in.empty()) {
    return absl::InvalidArgumentError("pcapng: no section header");
  }
  return out;
}

OneWayDelays MatchEchoes(const std::vector<EchoStamp>& at_a,
                         const std::vector<EchoStamp>& at_b, bool a_guest,
                         bool b_guest) {
  // (reply, id, seq) -> the first sighting.
  using Key = std::tuple<bool, uint16_t, uint16_t>;
  auto first = [](const std::vector<EchoStamp>& v) {
    std::map<Key, const EchoStamp*> m;
    for (const auto& e : v) m.emplace(Key(e.reply, e.id, e.seq), &e);
    return m;
  };
  const std::map<Key, const EchoStamp*> a = first(at_a);
  const std::map<Key, const EchoStamp*> b = first(at_b);
  auto find = [](const std::map<Key, const EchoStamp*>& m, bool reply,
                 uint16_t id, uint16_t seq) -> const EchoStamp* {
    auto it = m.find(Key(reply, id, seq));
    return it == m.end() ? nullptr : it->second;
  };
  OneWayDelays out;
  for (const auto& [key, req_b] : b) {
    const auto [reply, id, seq] = key;
    if (reply) continue;
    // a-to-b: the request's arrival at b after a sent it.
    const EchoStamp* req_a = find(a, false, id, seq);
    int64_t sent = -1;
    if (!a_guest && req_b->payload_ns >= 0) {
      sent = req_b->payload_ns;  // what a's ping wrote, as b saw it
    } else if (req_a != nullptr) {
      sent = req_a->time_ns;  // a guest, or a ping that writes no time
    }
    if (sent >= 0) out.a_to_b_ms.push_back((req_b->time_ns - sent) / 1e6);
    // b-to-a: the reply's arrival at a after b turned the request round.
    const EchoStamp* rep_a = find(a, true, id, seq);
    const EchoStamp* rep_b = find(b, true, id, seq);
    const EchoStamp* turn = b_guest ? rep_b : req_b;
    if (rep_a != nullptr && turn != nullptr) {
      out.b_to_a_ms.push_back((rep_a->time_ns - turn->time_ns) / 1e6);
    }
  }
  return out;
}

double MedianMs(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace emu::cli
