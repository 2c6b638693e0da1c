// The one-way delays of linktest's probes from two ends' captures: pcapng
// as the agents write it (agent/capture/pcapng.h), echoes matched across.
#include "cli/linktest_one_way.h"

#include <cmath>
#include <string>

#include "absl/time/time.h"
#include "agent/capture/pcapng.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using agent::capture::EnhancedPacket;
using agent::capture::InterfaceDescription;
using agent::capture::SectionHeader;

// An Ethernet frame with an ICMPv4 (or ICMPv6) echo of `type`.
std::string Echo(uint8_t type, uint16_t id, uint16_t seq, bool v6 = false) {
  std::string f(12, '\x02');
  if (v6) {
    f += std::string("\x86\xdd", 2);
    std::string ip(40, '\0');
    ip[0] = 0x60;
    ip[6] = 58;  // next header: ICMPv6
    f += ip;
  } else {
    f += std::string("\x08\x00", 2);
    std::string ip(20, '\0');
    ip[0] = 0x45;
    ip[9] = 1;  // ICMP
    f += ip;
  }
  std::string icmp(16, '\0');
  icmp[0] = static_cast<char>(type);
  icmp[4] = static_cast<char>(id >> 8);
  icmp[5] = static_cast<char>(id & 0xFF);
  icmp[6] = static_cast<char>(seq >> 8);
  icmp[7] = static_cast<char>(seq & 0xFF);
  return f + icmp;
}

std::string Packet(absl::Time t, const std::string& frame) {
  return EnhancedPacket(t, frame, frame.size());
}

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(EchoStampsFromPcapng, FindsRequestsAndRepliesWithTheirStamps) {
  std::string s = SectionHeader("emu-agent") +
                  InterfaceDescription(1, 262144, "eth1", "icmp");
  s += Packet(kT0, Echo(8, 77, 0));
  s += Packet(kT0 + absl::Microseconds(10'250), Echo(0, 77, 0));
  std::string udp = Echo(8, 77, 1);
  udp[14 + 9] = 17;  // not ICMP: skipped
  s += Packet(kT0 + absl::Milliseconds(11), udp);
  s += Packet(kT0 + absl::Milliseconds(12), Echo(128, 5, 9, true));
  s += Packet(kT0 + absl::Milliseconds(13), Echo(3, 77, 2));  // unreachable
  // iputils' request: its send time first in the data.
  std::string timed = Echo(8, 77, 3);
  int64_t tv[2] = {1'700'000'000, 123'456};
  timed.replace(14 + 20 + 8, 16, reinterpret_cast<const char*>(tv), 16);
  s += Packet(kT0 + absl::Milliseconds(14), timed);
  auto got = EchoStampsFromPcapng(s);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[3].payload_ns, 1'700'000'000'123'456'000);
  EXPECT_EQ((*got)[0].payload_ns, -1);  // zeros: no time
  EXPECT_FALSE((*got)[0].reply);
  EXPECT_EQ((*got)[0].id, 77);
  EXPECT_EQ((*got)[0].seq, 0);
  EXPECT_EQ((*got)[0].time_ns, absl::ToUnixNanos(kT0));
  EXPECT_TRUE((*got)[1].reply);
  EXPECT_EQ((*got)[1].time_ns - (*got)[0].time_ns, 10'250'000);
  EXPECT_FALSE((*got)[2].reply);
  EXPECT_EQ((*got)[2].seq, 9);

  // A stream cut mid-block keeps what came before it.
  auto cut = EchoStampsFromPcapng(s.substr(0, s.size() - 5));
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->size(), 3u);
  EXPECT_TRUE(EchoStampsFromPcapng("").ok());
  EXPECT_FALSE(EchoStampsFromPcapng(std::string(32, 'x')).ok());
  EXPECT_FALSE(EchoStampsFromPcapng(Packet(kT0, Echo(8, 1, 1))).ok());
}

// Probe seq is sent at 20·seq ms (its payload says so), seen leaving a
// 0.05 ms later (after a's qdisc), at b 7 ms after sending; b's reply
// leaves 0.1 ms later and reaches a 3 ms after that. Probe 1's request is
// lost, probe 2's duplicated (the first copy counts).
void Probes(std::vector<EchoStamp>* a, std::vector<EchoStamp>* b) {
  auto ns = [](double ms) {
    return static_cast<int64_t>(std::llround(ms * 1e6));
  };
  for (int i = 0; i < 4; ++i) {
    const uint16_t seq = static_cast<uint16_t>(i);
    const double sent = 20.0 * i;
    EchoStamp req{false, 9, seq, ns(sent + 0.05), ns(sent)};
    a->push_back(req);
    if (i == 1) continue;
    req.time_ns = ns(sent + 7);
    b->push_back(req);
    if (i == 2) {
      req.time_ns = ns(sent + 9);
      b->push_back(req);
    }
    b->push_back({true, 9, seq, ns(sent + 7.1)});
    a->push_back({true, 9, seq, ns(sent + 10.1)});
  }
  a->push_back({false, 10, 0, 0, 0});  // another ping's: matches nothing
}

// Each end's kind decides its reference stamps: a namespace's ping writes
// its send time (a-to-b from it) and its kernel answers at once (b-to-a from
// the request's arrival); a guest's side is its host-side interface.
TEST(MatchEchoes, EachEndKindUsesItsStamps) {
  struct Case {
    bool a_guest, b_guest, no_payload;
    double a_to_b, b_to_a;
  };
  for (const Case& c : {Case{false, false, false, 7.0, 3.1},
                        Case{false, false, true, 6.95, 3.1},
                        Case{true, true, false, 6.95, 3.0},
                        Case{false, true, false, 7.0, 3.0}}) {
    SCOPED_TRACE(::testing::Message()
                 << c.a_guest << c.b_guest << c.no_payload);
    std::vector<EchoStamp> a, b;
    Probes(&a, &b);
    if (c.no_payload) {
      for (auto& e : b) e.payload_ns = -1;  // a ping that writes no time
    }
    OneWayDelays d = MatchEchoes(a, b, c.a_guest, c.b_guest);
    ASSERT_EQ(d.a_to_b_ms.size(), 3u);
    ASSERT_EQ(d.b_to_a_ms.size(), 3u);
    for (double v : d.a_to_b_ms) EXPECT_NEAR(v, c.a_to_b, 1e-6);
    for (double v : d.b_to_a_ms) EXPECT_NEAR(v, c.b_to_a, 1e-6);
  }
}

TEST(MedianMs, OfOddAndEvenCounts) {
  EXPECT_DOUBLE_EQ(MedianMs({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(MedianMs({4, 1, 2, 3}), 2.5);
  EXPECT_DOUBLE_EQ(MedianMs({}), 0);
}

}  // namespace
}  // namespace emu::cli
