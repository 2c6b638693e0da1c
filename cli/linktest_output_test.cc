#include "cli/linktest_output.h"

#include "gtest/gtest.h"

namespace emu::cli {
namespace {

TEST(ParsePingRepliesTest, IputilsLinesWithLossAndDuplicates) {
  const char* out =
      "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n"
      "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=40.1 ms\n"
      "64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=39.5 ms\n"
      "64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=41.0 ms (DUP!)\n"
      "64 bytes from 10.0.0.2: icmp_seq=9 ttl=64 time=1 ms\n"
      "\n--- 10.0.0.2 ping statistics ---\n"
      "4 packets transmitted, 2 received, 50% packet loss, time 3004ms\n"
      "rtt min/avg/max/mdev = 39.5/39.8/40.1/0.3 ms\n";
  auto r = ParsePingReplies(out, 4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_DOUBLE_EQ(*r[0], 40.1);
  EXPECT_FALSE(r[1].has_value());
  EXPECT_DOUBLE_EQ(*r[2], 39.5);  // the first reply, not the DUP
  EXPECT_FALSE(r[3].has_value());  // seq 9 is beyond the count
}

TEST(ParsePingRepliesTest, BusyboxCountsFromZero) {
  auto r = ParsePingReplies(
      "64 bytes from 10.0.0.2: seq=0 ttl=64 time=0.512 ms\n"
      "64 bytes from 10.0.0.2: seq=2 ttl=64 time=0.300 ms\n",
      3);
  EXPECT_DOUBLE_EQ(*r[0], 0.512);
  EXPECT_FALSE(r[1].has_value());
  EXPECT_DOUBLE_EQ(*r[2], 0.3);
}

TEST(ReceiverMedianBpsTest, MedianOfTheInnerIntervals) {
  auto bps = ReceiverMedianBps(R"({"intervals": [
      {"sum": {"bits_per_second": 1}}, {"sum": {"bits_per_second": 9e6}},
      {"sum": {"bits_per_second": 10e6}}, {"sum": {"bits_per_second": 8e6}},
      {"sum": {"bits_per_second": 100e6}}]})");
  ASSERT_TRUE(bps.ok()) << bps.status();
  EXPECT_DOUBLE_EQ(*bps, 9e6);
  EXPECT_FALSE(ReceiverMedianBps(R"({"error": "unable to connect"})").ok());
  auto server = ReceiverMedianBps(R"({"intervals": [], "server_output_json":
      {"intervals": [{"sum": {"bits_per_second": 1}},
                     {"sum": {"bits_per_second": 5e6}},
                     {"sum": {"bits_per_second": 7e6}}]}})",
                                  /*server_side=*/true);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_DOUBLE_EQ(*server, 5e6);
  EXPECT_FALSE(ReceiverMedianBps(R"({"intervals": []})", true).ok());
  EXPECT_FALSE(ReceiverMedianBps("iperf3: error").ok());
  EXPECT_FALSE(ReceiverMedianBps(R"({"intervals": []})").ok());
}

TEST(DescribeCompensationTest, ShowsConfiguredBaseAndResultOrWhyNot) {
  EXPECT_EQ(DescribeCompensation({}), "");
  EXPECT_EQ(DescribeCompensation({true, true, 2000, 85, 1915}),
            "compensated: configured 2.000 ms - base measured 0.085 ms = "
            "engine delay 1.915 ms");
  EXPECT_EQ(DescribeCompensation({true, false, 0, 0, 0}),
            "compensate: nothing to do (no delay)");
  EXPECT_NE(DescribeCompensation({true, false, 2000, 0, 0})
                .find("asked, not applied"),
            std::string::npos);
  // Cross-host: the base is the tunnel's, and it says so.
  CompensationFigures cross{true, true, 2000, 24, 1976, true, false};
  EXPECT_EQ(DescribeCompensation(cross),
            "compensated: configured 2.000 ms - base measured 0.024 ms "
            "(tunnel TCP min RTT/2) = engine delay 1.976 ms");
  EXPECT_EQ(CompensationBaseSource(cross), "tunnel TCP min RTT/2");
  cross.applied = false;
  EXPECT_NE(DescribeCompensation(cross).find("not applied (no base measured "
                                             "to the peer host yet"),
            std::string::npos);
  CompensationFigures kernel{true, false, 2000, 0, 0, false, true};
  EXPECT_NE(DescribeCompensation(kernel).find("kernel-shaped"),
            std::string::npos);
  EXPECT_EQ(CompensationBaseSource(kernel), "engine path probe");
  // The agent names its source: the echo through the tunnel's pumps.
  CompensationFigures echo{true, true, 2000, 61, 1939, true, false,
                           "tunnel echo min RTT/2"};
  EXPECT_EQ(DescribeCompensation(echo),
            "compensated: configured 2.000 ms - base measured 0.061 ms "
            "(tunnel echo min RTT/2) = engine delay 1.939 ms");
  EXPECT_EQ(CompensationBaseSource(echo), "tunnel echo min RTT/2");
  // Same-host with a guest end: the guest's NIC part is named.
  CompensationFigures guest{true, true, 2000, 55, 1945, false, false,
                            "engine path probe + guest vm:eth1 ARP min RTT/2"};
  EXPECT_EQ(DescribeCompensation(guest),
            "compensated: configured 2.000 ms - base measured 0.055 ms "
            "(engine path probe + guest vm:eth1 ARP min RTT/2) = engine delay "
            "1.945 ms");
}

// How linktest says the late frames of its pings (linkemu/late_frames.h
// counts them).
TEST(LinktestOutput, LateFramesLines) {
  EXPECT_EQ(DescribeLate({true, 0, 0}, {false, 0, 0}), "");
  EXPECT_EQ(DescribeLate({true, 3, 0, true}, {false, 0, 0}),
            "a-to-b: 3 frames sent 1 ms or more late while pinged: the host "
            "did not run the sender in time, or the tunnel's connection held "
            "them back; the figures include it");
  EXPECT_EQ(DescribeLate({true, 4, 2}, {true, 1, 0}),
            "a-to-b: 4 frames sent 1 ms or more late (2 of them 10 ms or "
            "more) while pinged: the host did not run the sender in time; "
            "the figures include it\n"
            "b-to-a: 1 frame sent 1 ms or more late while pinged: the host "
            "did not run the sender in time; the figures include it");
}

}  // namespace
}  // namespace emu::cli
