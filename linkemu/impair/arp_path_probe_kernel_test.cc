// ArpRoundTripsNs against the kernel: the probe's packet socket on a real
// TAP in an unnamed namespace of the test's own; the test plays the guest
// behind the TAP (reads each request from the TAP's fd, answers it after a
// known delay). Root; run under the integration lock.
#include "linkemu/impair/arp_path_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"
#include "linkemu/tap_device.h"

namespace emu::linkemu {
namespace {

using ::emu::testing::OpenFds;

constexpr char kIfname[] = "emuarp0";

// An unnamed namespace (its fd) with a TAP in it (its fd), both closed by
// the destructor: nothing outlives the test.
struct ScratchTap {
  int ns = -1;
  int tap = -1;
  size_t vnet = 0;
  ScratchTap() {
    std::thread([&] {
      if (unshare(CLONE_NEWNET) == 0) {
        ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      }
    }).join();
    if (ns < 0) return;
    auto fd = OpenTapInNamespace(
        {absl::StrCat("/proc/self/fd/", ns), kIfname, "", 0, "emu test"});
    if (fd.ok()) {
      tap = *fd;
      vnet = TapVnetHeaderBytes(tap);
    }
  }
  ~ScratchTap() {
    if (tap >= 0) close(tap);
    if (ns >= 0) close(ns);
  }
  std::string netns() const { return absl::StrCat("/proc/self/fd/", ns); }
};

// The guest: answers each probe request for `ip` after `delay` (from the
// probe's MAC, as Linux answers an RFC 5227 request), until `stop`.
void Answer(const ScratchTap& t, const std::string& ip, absl::Duration delay,
            std::atomic<bool>* stop, std::atomic<int>* requests) {
  const std::string want = *ArpProbeFrame(ip);
  char buf[2048];
  while (!stop->load()) {
    pollfd p{t.tap, POLLIN, 0};
    if (poll(&p, 1, 20) != 1) continue;
    ssize_t n = read(t.tap, buf, sizeof(buf));
    if (n <= static_cast<ssize_t>(t.vnet)) continue;
    std::string frame(buf + t.vnet, static_cast<size_t>(n) - t.vnet);
    if (frame.substr(0, 42) != want.substr(0, 42)) continue;  // IPv6 etc.
    ++*requests;
    absl::SleepFor(delay);
    const std::string guest_mac("\x52\x54\x00\x12\x34\x56", 6);
    const std::string probe_mac = frame.substr(6, 6);
    std::string reply = probe_mac + guest_mac + frame.substr(12, 10);
    reply[21] = 2;
    reply += guest_mac + frame.substr(38, 4) + probe_mac + std::string(4, '\0');
    reply.resize(60, '\0');
    std::string out(t.vnet, '\0');
    out += reply;
    ASSERT_EQ(write(t.tap, out.data(), out.size()),
              static_cast<ssize_t>(out.size()));
  }
}

TEST(ArpRoundTrips, TimesEachRequestToItsReplyAndLeavesNothing) {
  ScratchTap t;
  ASSERT_GE(t.tap, 0);
  const int fds_before = OpenFds();
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  std::thread guest(Answer, std::cref(t), "198.18.126.1",
                    absl::Milliseconds(2), &stop, &requests);
  ArpProbeOptions o;
  o.samples = 6;
  o.gap = absl::Milliseconds(1);
  auto rtts = ArpRoundTripsNs(t.netns(), kIfname, "198.18.126.1", o);
  stop = true;
  guest.join();
  ASSERT_TRUE(rtts.ok()) << rtts.status() << " (" << requests.load()
                         << " requests reached the guest)";
  // One request per sample (each answered), each round trip at least the
  // guest's 2 ms, and less than the 500 ms the probe waits.
  EXPECT_EQ(rtts->size(), 6u);
  EXPECT_EQ(requests.load(), 6);
  for (int64_t rtt : *rtts) {
    EXPECT_GE(rtt, 2'000'000);
    EXPECT_LT(rtt, 500'000'000);
  }
  EXPECT_EQ(OpenFds(), fds_before);  // the packet socket is closed
}

TEST(ArpRoundTrips, AGuestThatDoesNotAnswerIsGivenUpSoon) {
  ScratchTap t;
  ASSERT_GE(t.tap, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  // It answers for another address only.
  std::thread guest(Answer, std::cref(t), "198.18.126.9", absl::ZeroDuration(),
                    &stop, &requests);
  ArpProbeOptions o;
  o.reply_timeout = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  auto rtts = ArpRoundTripsNs(t.netns(), kIfname, "198.18.126.1", o);
  const absl::Duration took = absl::Now() - start;
  stop = true;
  guest.join();
  ASSERT_FALSE(rtts.ok());
  EXPECT_EQ(rtts.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(rtts.status().message(),
            absl::StrCat("no ARP reply from 198.18.126.1 on ", kIfname,
                         " to 4 requests"));
  EXPECT_LT(took, absl::Seconds(2));  // 4 x (100 ms + 5 ms), not 48
}

TEST(ArpRoundTrips, NamesWhatIsMissing) {
  ScratchTap t;
  ASSERT_GE(t.tap, 0);
  auto no_if = ArpRoundTripsNs(t.netns(), "nosuch0", "198.18.126.1", {});
  ASSERT_FALSE(no_if.ok());
  EXPECT_EQ(no_if.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_if.status().message().find("nosuch0"), std::string::npos)
      << no_if.status();
  auto no_ns = ArpRoundTripsNs("emu-no-such-namespace", kIfname,
                               "198.18.126.1", {});
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_ns.status().message().find("emu-no-such-namespace"),
            std::string::npos)
      << no_ns.status();
}

}  // namespace
}  // namespace emu::linkemu
