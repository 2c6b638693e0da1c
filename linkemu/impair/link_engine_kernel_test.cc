// The engine between two real TAPs in two network namespaces this test
// creates (named after its pid, removed at the end): ping and iperf3 across
// it. Needs root; run under the integration lock:
//   flock /tmp/emu-integration.lock bazel test
//     //linkemu/impair:link_engine_kernel_test --runs_per_test=5
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "linkemu/impair/link_engine.h"
#include "linkemu/tap_device.h"
#include "linkemu/tunnel_pump.h"

namespace emu::linkemu {
namespace {

// Runs `cmd` through the shell; its exit code and stdout+stderr.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  int rc = pclose(f);
  if (out != nullptr) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct PingResult {
  double loss_percent = -1;
  double rtt_min_ms = -1;
  std::vector<double> rtts_ms;  // one per reply
  double Median() const {
    if (rtts_ms.empty()) return -1;
    std::vector<double> v = rtts_ms;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
};

// Parses iputils ping's summary ("... 10% packet loss ...",
// "rtt min/avg/max/mdev = 20.1/20.3/21.0/0.2 ms").
PingResult ParsePing(const std::string& out) {
  PingResult r;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    size_t p = line.find("% packet loss");
    if (p != absl::string_view::npos) {
      size_t start = line.rfind(' ', p);
      (void)absl::SimpleAtod(line.substr(start + 1, p - start - 1),
                             &r.loss_percent);
    }
    size_t t = line.find(" time=");
    if (t != absl::string_view::npos) {
      double ms;
      absl::string_view v = line.substr(t + 6);
      v = v.substr(0, v.find(' '));
      if (absl::SimpleAtod(v, &ms)) r.rtts_ms.push_back(ms);
    }
    if (absl::ConsumePrefix(&line, "rtt min/avg/max/mdev = ")) {
      std::vector<std::string> v = absl::StrSplit(line, '/');
      if (!v.empty()) (void)absl::SimpleAtod(v[0], &r.rtt_min_ms);
    }
  }
  return r;
}

class LinkEngineKernelTest : public testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, TAPs)";
    std::string pid = std::to_string(getpid());
    ns_a_ = "emu-engine-" + pid + "-a";
    ns_b_ = "emu-engine-" + pid + "-b";
    ASSERT_EQ(Sh("ip netns add " + ns_a_), 0);
    ASSERT_EQ(Sh("ip netns add " + ns_b_), 0);
    auto a = OpenTapInNamespace({ns_a_, "eng0", "02:00:00:77:00:01", 0, "test"});
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = OpenTapInNamespace({ns_b_, "eng0", "02:00:00:77:00:02", 0, "test"});
    ASSERT_TRUE(b.ok()) << b.status();
    tap_a_ = *a;
    tap_b_ = *b;
    ASSERT_EQ(Sh("ip -n " + ns_a_ + " addr add 10.77.0.1/24 dev eng0"), 0);
    ASSERT_EQ(Sh("ip -n " + ns_b_ + " addr add 10.77.0.2/24 dev eng0"), 0);
    Sh("ip -n " + ns_a_ + " link set lo up");
    Sh("ip -n " + ns_b_ + " link set lo up");
    auto e = LinkEngine::Create({});
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }

  void TearDown() override {
    if (iperf_pid_file_.size()) {
      // iperf3 -1 exits after its one client and removes the file itself.
      Sh("if [ -f " + iperf_pid_file_ + " ]; then kill $(cat " +
         iperf_pid_file_ + "); fi");
      unlink(iperf_pid_file_.c_str());
    }
    engine_.reset();  // closes the TAPs the engine took over
    if (!linked_) {
      if (tap_a_ >= 0) close(tap_a_);
      if (tap_b_ >= 0) close(tap_b_);
    }
    if (!ns_a_.empty()) Sh("ip netns del " + ns_a_);
    if (!ns_b_.empty()) Sh("ip netns del " + ns_b_);
  }

  LinkEngine::LinkId Link(const ImpairmentSpec& ab, const ImpairmentSpec& ba) {
    auto id = engine_->AddLink(tap_a_, tap_b_, ab, ba, 7);
    linked_ = true;
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }

  // `quiet`: the summary only (no per-reply times).
  PingResult Ping(int count, const std::string& interval, bool quiet) {
    std::string out;
    // One ping first, so ARP (which crosses the link too) is settled.
    Sh("ip netns exec " + ns_a_ + " ping -n -c 1 -W 2 10.77.0.2");
    Sh(absl::StrCat("ip netns exec ", ns_a_, " ping -n ", quiet ? "-q " : "",
                    "-c ", count, " -i ", interval, " -W 2 10.77.0.2"),
       &out);
    PingResult r = ParsePing(out);
    EXPECT_GE(r.loss_percent, 0) << out;
    return r;
  }

  std::string ns_a_, ns_b_;
  int tap_a_ = -1, tap_b_ = -1;
  bool linked_ = false;
  std::string iperf_pid_file_;
  std::unique_ptr<LinkEngine> engine_;
};

// The cross-host half: the same two TAPs joined by two tunnel pumps over a
// stream socket pair (as two agents' TCP connection), each applying its
// direction's spec before framing (TunnelPump::SetEgress).
TEST_F(LinkEngineKernelTest, TunnelPumpsApplyEgressDelayAndLoss) {
  auto pa = TunnelPump::Create(nullptr);
  auto pb = TunnelPump::Create(nullptr);
  ASSERT_TRUE(pa.ok() && pb.ok());
  auto la = (*pa)->AddLink(tap_a_);
  auto lb = (*pb)->AddLink(tap_b_);
  linked_ = true;  // the pumps own the TAPs now
  ASSERT_TRUE(la.ok() && lb.ok());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_TRUE((*pa)->Attach(*la, sv[0]).ok());
  ASSERT_TRUE((*pb)->Attach(*lb, sv[1]).ok());
  ImpairmentSpec d;
  d.delay_us = 10'000;
  ASSERT_TRUE((*pa)->SetEgress(*la, d, 1).ok());
  ASSERT_TRUE((*pb)->SetEgress(*lb, d, 2).ok());
  PingResult r = Ping(20, "0.05", false);
  EXPECT_EQ(r.loss_percent, 0);
  EXPECT_GE(r.rtt_min_ms, 20.0);
  EXPECT_LT(r.Median(), 25.0) << absl::StrJoin(r.rtts_ms, " ");
  // 10 % loss on a's side only, live.
  ImpairmentSpec l;
  l.loss_percent = 10;
  ASSERT_TRUE((*pa)->SetEgress(*la, l, 1).ok());
  r = Ping(1000, "0.002", true);
  EXPECT_GT(r.loss_percent, 6.2);
  EXPECT_LT(r.loss_percent, 13.8);
  auto st = (*pa)->GetStats(*la);
  ASSERT_TRUE(st.has_value());
  EXPECT_GE(st->egress.dropped_loss, 62u);
  pa->reset();  // closes the TAPs before the namespaces go
  pb->reset();
}

TEST_F(LinkEngineKernelTest, DelayOfTenMsEachWayGivesRttOfTwenty) {
  ImpairmentSpec d;
  d.delay_us = 10'000;
  Link(d, d);
  PingResult r = Ping(20, "0.05", false);
  EXPECT_EQ(r.loss_percent, 0);
  ASSERT_EQ(r.rtts_ms.size(), 20u);
  // Never early by more than the own-latency correction's design allows
  // (docs/linkemu.md: a frame is early only when its wake-up beat almost
  // all recent ones, by tens of µs; 40 µs per direction): 19.993 ms was
  // seen once, the old median-based correction gave 19.90. 20.1-20.3 ms on
  // an idle 2-core host. The upper bound leaves room for scheduling delays
  // on a loaded one (load average 11 seen), and still fails for one delay
  // or three.
  EXPECT_GE(r.rtt_min_ms, 20.0 - 0.08);
  EXPECT_LT(r.Median(), 25.0) << absl::StrJoin(r.rtts_ms, " ");
}

TEST_F(LinkEngineKernelTest, TenPercentLoss) {
  ImpairmentSpec l;
  l.loss_percent = 10;
  LinkEngine::LinkId id = Link(l, {});
  PingResult r = Ping(1000, "0.002", true);
  // Requests lose 10 %; replies cross unimpaired. Binomial, n = 1000:
  // sigma 0.95 %, the 4-sigma interval is 6.2..13.8 %.
  EXPECT_GT(r.loss_percent, 6.2);
  EXPECT_LT(r.loss_percent, 13.8);
  auto s = engine_->GetStats(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_GE(s->a_to_b.dropped_loss, 62u);
}

TEST_F(LinkEngineKernelTest, Iperf3ThroughAnUnimpairedLink) {
  LinkEngine::LinkId id = Link({}, {});
  iperf_pid_file_ = absl::StrCat("/tmp/emu-engine-iperf-", getpid(), ".pid");
  ASSERT_EQ(Sh(absl::StrCat("ip netns exec ", ns_b_,
                            " iperf3 -s -1 -D -B 10.77.0.2 -I ",
                            iperf_pid_file_)),
            0);
  std::string out;
  int rc = 1;
  // The daemon takes a moment to listen: retry the client with a deadline.
  for (int attempt = 0; attempt < 50 && rc != 0; ++attempt) {
    rc = Sh(absl::StrCat("ip netns exec ", ns_a_,
                         " iperf3 -c 10.77.0.2 -t 2 -f m"),
            &out);
    if (rc != 0) usleep(100'000);
  }
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, testing::HasSubstr("receiver"));
  auto s = engine_->GetStats(id);
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->a_to_b.bytes_out, 10'000'000u);  // at least 10 MB crossed
  EXPECT_EQ(s->a_to_b.dropped_loss, 0u);
  std::fprintf(stderr, "%s\n", out.c_str());
}

}  // namespace
}  // namespace emu::linkemu
