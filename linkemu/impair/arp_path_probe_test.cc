#include "linkemu/impair/arp_path_probe.h"

#include <string>

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

std::string Hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

// What a Linux guest sends back for the probe of 198.18.126.1 (its MAC
// 52:54:00:12:34:56).
std::string ReplyFrom(const std::string& sender_ip_bytes,
                      const std::string& to_mac) {
  std::string f = to_mac + std::string("\x52\x54\x00\x12\x34\x56", 6) +
                  std::string("\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02", 10) +
                  std::string("\x52\x54\x00\x12\x34\x56", 6) +
                  sender_ip_bytes + to_mac + std::string(4, '\0');
  f.resize(60, '\0');
  return f;
}

const std::string kProbeMac(reinterpret_cast<const char*>(kArpProbeMac.data()),
                            6);
const std::string kIp("\xc6\x12\x7e\x01", 4);  // 198.18.126.1

TEST(ArpProbeFrameTest, IsABroadcastDadRequestFromTheProbeMac) {
  auto f = ArpProbeFrame("198.18.126.1");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 60u);
  EXPECT_EQ(Hex(f->substr(0, 42)),
            "ffffffffffff"            // to everyone
            "02e375000001"            // from the probe
            "0806"                    // ARP
            "0001080006040001"        // Ethernet/IPv4 request
            "02e375000001" "00000000" // sender: the probe, 0.0.0.0 (RFC 5227)
            "000000000000" "c6127e01" // target: 198.18.126.1
  );
  EXPECT_EQ(f->substr(42), std::string(18, '\0'));
}

TEST(ArpProbeFrameTest, RefusesWhatIsNotAnIpv4Address) {
  for (const char* bad : {"", "2001:db8::1", "198.18.126.1/24", "vm"}) {
    auto f = ArpProbeFrame(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(bad), std::string::npos)
        << f.status();
  }
}

TEST(ArpProbeReplyTest, TakesOnlyTheTargetsReplyToTheProbe) {
  EXPECT_TRUE(IsArpProbeReply(ReplyFrom(kIp, kProbeMac), "198.18.126.1"));
  // Another address's reply, or a reply to someone else.
  EXPECT_FALSE(IsArpProbeReply(ReplyFrom(kIp, kProbeMac), "198.18.126.2"));
  EXPECT_FALSE(IsArpProbeReply(
      ReplyFrom(kIp, std::string("\x02\xe3\x75\x00\x00\x02", 6)),
      "198.18.126.1"));
  // The probe's own request is no reply.
  EXPECT_FALSE(IsArpProbeReply(*ArpProbeFrame("198.18.126.1"), "198.18.126.1"));
  // Truncated, not ARP, not a reply.
  std::string reply = ReplyFrom(kIp, kProbeMac);
  EXPECT_FALSE(IsArpProbeReply(reply.substr(0, 41), "198.18.126.1"));
  std::string ipv4 = reply;
  ipv4[13] = 0x00;  // 0x0800
  ipv4[12] = 0x08;
  EXPECT_FALSE(IsArpProbeReply(ipv4, "198.18.126.1"));
  std::string request = reply;
  request[21] = 1;
  EXPECT_FALSE(IsArpProbeReply(request, "198.18.126.1"));
  EXPECT_FALSE(IsArpProbeReply(reply, "not an address"));
}

}  // namespace
}  // namespace emu::linkemu
