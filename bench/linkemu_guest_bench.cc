// Issue 10's accuracy comparison: the userspace engine versus kernel NetEm
// inside a QEMU guest, for the same settings, on the same path, in one run.
//
// The path: a netns node ns1 and a QEMU guest vm1 (the default image, TCG
// where KVM is not usable) joined by one link of the agent's own kind, two
// TAPs served by a LinkEngine (docs/linkemu.md) and the guest's NIC wired to
// its TAP by mirred redirects (docs/guests.md), built by the agent's
// Reconciler, GuestManager and EngineLinks in this process (no daemons).
// Every condition is applied to the direction the guest sends (vm1 -> ns1),
// which the guest's NetEm can shape:
//
//   kernel  the link's engine passes frames through; the guest's eth1 gets
//           the agent's own tc script (GuestQdiscScript: netem, TBF below
//           it; the jitter row's `distribution normal` on its netem line);
//   engine  no qdisc in the guest; the engine applies the condition
//           (Reconciler::SetLinkParams, as `emuctl link set` does);
//   hostTBF rate rows only: TBF on the link end in the guest's namespace,
//           outside the guest, which is what emu does for a guest's
//           rate-only direction with engine kernel (QemuDriver::ApplyEgress);
//   base    neither: the path's own figures, measured in the same run.
//
// Delay, jitter and loss: ICMP echoes from ns1 to the guest (answered by the
// guest's kernel), sent by this process in ns1's namespace and timed by the
// receiving kernel (SO_TIMESTAMPNS): each figure is a round trip, so it
// holds the path both ways and the guest's turn-around, which the base row
// shows and the "net" columns take off. Rate: TCP goodput of iperf3 run in
// the guest (client, sending) to ns1 (server), against the TBF basis.
//
//   bazel build -c opt //bench:linkemu_guest_bench
//   flock /tmp/emu-integration.lock bazel-bin/bench/linkemu_guest_bench
//
// Runs as root. Everything it makes (the lab's namespaces, TAPs, QEMU, its
// directory /tmp/emu-linkemu-guest-bench-PID) is removed at the end, on
// SIGINT and SIGTERM as well; traffic stays in 198.18.120.0/24 inside
// them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/guest/guest_manager.h"
#include "agent/guest/qemu_driver.h"
#include "agent/impair/engine_links.h"
#include "agent/net/host_probe.h"
#include "agent/net/libnl_host_network.h"
#include "agent/net/namespace_processes.h"
#include "agent/net/resource_names.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/reconcile/reconciler.h"
#include "agent/tunnel/tunnel_manager.h"
#include "bench/accuracy.h"
#include "bench/bench_commands.h"
#include "common/arrival_stamp.h"
#include "common/process_launcher.h"
#include "common/server_util.h"
#include "linkemu/impair/link_engine.h"

ABSL_FLAG(std::string, delays_ms, "1,10,100", "Delays to compare (ms).");
ABSL_FLAG(int, delay_probes, 1000, "Echoes per delay row (and the base).");
ABSL_FLAG(int, delay_gap_us, 1000, "Microseconds between echoes (delay).");
ABSL_FLAG(int, jitter_probes, 2000,
          "Echoes per jitter row (10 ms normal on a 50 ms delay); 0: none.");
ABSL_FLAG(std::string, losses_percent, "0.1,1,10", "Loss rates to compare.");
ABSL_FLAG(int, loss_probes, 10000,
          "Echoes per loss row (issue 10 asks for 100000: slower).");
ABSL_FLAG(int, loss_gap_us, 300, "Microseconds between echoes (loss).");
ABSL_FLAG(std::string, rates_mbit, "1,10,100,1000", "Rates to compare.");
ABSL_FLAG(int, seconds, 3,
          "Seconds per iperf3 run at least (the base runs, and rate rows fast "
          "enough to carry --row_megabytes in it).");
ABSL_FLAG(double, row_megabytes, 1.5,
          "A rate row runs iperf3 long enough to carry this many megabytes "
          "at its rate (1 Mbit/s: 12 s), at least --seconds and at most "
          "--max_row_seconds: iperf3's first and last 1 s intervals are "
          "dropped, so a slow row needs more of them for a stable median.");
ABSL_FLAG(int, max_row_seconds, 30, "The longest a rate row's iperf3 runs.");
ABSL_FLAG(int, guest_memory_mib, 256, "The guest's memory.");
ABSL_FLAG(std::string, image_root, "/var/lib/emu/images",
          "Where the guest image `default` is.");

namespace {

using emu::agent::reconcile::Reconciler;
using emu::bench::Spread;

constexpr char kNsIp[] = "198.18.120.1";
constexpr char kGuestIp[] = "198.18.120.2";
constexpr char kNsMac[] = "02:e6:00:00:78:01";
constexpr char kGuestMac[] = "02:e6:00:00:78:02";
constexpr char kLab[] = "lgb";

// What must go whatever happens: the lab (QEMU, namespaces, TAPs) and the
// bench's directory. Run once, by the end of main or by the signal thread.
struct Cleanup {
  std::atomic<Reconciler*> rec{nullptr};
  std::string dir;
  std::once_flag once;
  void Run() {
    std::call_once(once, [this] {
      if (Reconciler* r = rec.load(); r != nullptr) {
        auto n = r->Destroy(kLab);
        if (!n.ok()) {
          std::fprintf(stderr, "destroying the lab: %s\n",
                       n.status().ToString().c_str());
        }
      }
      if (!dir.empty()) {
        emu::bench::Run("", {"rm", "-rf", dir}).IgnoreError();
      }
    });
  }
};

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A raw ICMP socket in namespace `ns` that sees echo replies only, each
// stamped by the kernel on arrival.
int IcmpSocketIn(const std::string& ns) {
  int fd = -1;
  std::thread([&] {
    int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return;
    close(nsfd);
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) return;
    icmp_filter filter{~(1u << ICMP_ECHOREPLY)};
    int big = 32 << 20;
    if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof(filter)) != 0 ||
        !emu::EnableArrivalStamps(fd)) {
      close(fd);
      fd = -1;
      return;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
  }).join();
  return fd;
}

uint16_t Checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n % 2 != 0) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

struct EchoResult {
  int sent = 0;
  int received = 0;  // distinct echoes answered
  std::vector<int64_t> rtt_ns;
};

// `count` echo requests to `dst`, one every `gap_us`; each carries its index
// and send instant (CLOCK_REALTIME, the clock of SO_TIMESTAMPNS). Replies
// are collected until every echo is answered or none came for 1 s after the
// last was sent.
EchoResult Echo(int fd, const std::string& dst, uint16_t id, int count,
                int gap_us) {
  EchoResult r;
  std::vector<bool> seen(count, false);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint8_t buf[256];
    int64_t quiet_since = 0;
    while (r.received < count) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        int64_t at = 0;
        ssize_t n = emu::RecvWithArrivalStamp(fd, buf, sizeof(buf), &at);
        if (n <= 0) continue;
        size_t ihl = (buf[0] & 0x0f) * 4;
        if (at == 0 || static_cast<size_t>(n) < ihl + 8 + 12) continue;
        const uint8_t* icmp = buf + ihl;
        uint16_t got_id;
        std::memcpy(&got_id, icmp + 4, 2);
        if (icmp[0] != ICMP_ECHOREPLY || got_id != htons(id)) continue;
        uint32_t index;
        int64_t sent_at;
        std::memcpy(&index, icmp + 8, 4);
        std::memcpy(&sent_at, icmp + 12, 8);
        if (index >= static_cast<uint32_t>(count) || seen[index]) continue;
        seen[index] = true;
        ++r.received;
        r.rtt_ns.push_back(at - sent_at);
        quiet_since = 0;
        continue;
      }
      if (!done) continue;
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t t = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
      if (quiet_since == 0) quiet_since = t;
      if (t - quiet_since > 1'000'000'000) return;
    }
  });
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, dst.c_str(), &sa.sin_addr);
  uint8_t pkt[64] = {};
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (int i = 0; i < count; ++i) {
    // Sleep, not spin: the engine's thread and QEMU need the cores more.
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    pkt[0] = ICMP_ECHO;
    pkt[1] = 0;
    pkt[2] = pkt[3] = 0;
    uint16_t nid = htons(id), seq = htons(static_cast<uint16_t>(i));
    std::memcpy(pkt + 4, &nid, 2);
    std::memcpy(pkt + 6, &seq, 2);
    uint32_t index = i;
    std::memcpy(pkt + 8, &index, 4);
    int64_t now = RealtimeNs();
    std::memcpy(pkt + 12, &now, 8);
    uint16_t sum = htons(Checksum(pkt, sizeof(pkt)));
    std::memcpy(pkt + 2, &sum, 2);
    if (sendto(fd, pkt, sizeof(pkt), 0, reinterpret_cast<sockaddr*>(&sa),
               sizeof(sa)) == sizeof(pkt)) {
      ++r.sent;
    }
    next.tv_nsec += gap_us * 1000L;
    while (next.tv_nsec >= 1'000'000'000) {
      next.tv_nsec -= 1'000'000'000;
      ++next.tv_sec;
    }
  }
  done = true;
  reader.join();
  return r;
}

std::vector<double> Numbers(const std::string& flag, const char* name) {
  std::vector<double> out;
  for (absl::string_view w : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
    double v;
    if (!absl::SimpleAtod(w, &v) || v <= 0) {
      std::fprintf(stderr, "--%s: \"%s\" is not a positive number\n", name,
                   std::string(w).c_str());
      std::exit(2);
    }
    out.push_back(v);
  }
  return out;
}

double Us(double ns) { return ns / 1e3; }

// The lists of settings, read before anything is made (a bad one exits 2
// with nothing to clean).
struct Settings {
  std::vector<double> delays_ms, losses_percent, rates_mbit;
};

Settings ReadSettings() {
  Settings s;
  s.delays_ms = Numbers(absl::GetFlag(FLAGS_delays_ms), "delays_ms");
  s.losses_percent =
      Numbers(absl::GetFlag(FLAGS_losses_percent), "losses_percent");
  s.rates_mbit = Numbers(absl::GetFlag(FLAGS_rates_mbit), "rates_mbit");
  for (double l : s.losses_percent) {
    if (l > 100) {
      std::fprintf(stderr, "--losses_percent: %g is above 100\n", l);
      std::exit(2);
    }
  }
  const std::pair<const char*, int> at_least_one[] = {
      {"delay_probes", absl::GetFlag(FLAGS_delay_probes)},
      {"delay_gap_us", absl::GetFlag(FLAGS_delay_gap_us)},
      {"loss_gap_us", absl::GetFlag(FLAGS_loss_gap_us)},
      {"seconds", absl::GetFlag(FLAGS_seconds)},
      {"max_row_seconds", absl::GetFlag(FLAGS_max_row_seconds)}};
  for (const auto& [name, v] : at_least_one) {
    if (v < 1) {
      std::fprintf(stderr, "--%s: %d, must be at least 1\n", name, v);
      std::exit(2);
    }
  }
  if (absl::GetFlag(FLAGS_jitter_probes) < 0 ||
      absl::GetFlag(FLAGS_loss_probes) < 0) {
    std::fprintf(stderr, "--jitter_probes / --loss_probes: not negative\n");
    std::exit(2);
  }
  return s;
}

// Who applies a row's condition. kHostTbf (rate rows only) is what emu
// itself does for a guest's rate-only direction with engine kernel: TBF on
// the link end in the guest's namespace, outside the guest
// (QemuDriver::ApplyEgress).
enum class Side { kKernel, kEngine, kHostTbf };
// The iperf3 seconds of a rate row (--row_megabytes at its rate).
int RowSeconds(double mbit) {
  return emu::bench::IperfSecondsFor(
      mbit * 1e6, absl::GetFlag(FLAGS_row_megabytes) * 1e6,
      absl::GetFlag(FLAGS_seconds), absl::GetFlag(FLAGS_max_row_seconds));
}

const char* SideName(Side s) {
  switch (s) {
    case Side::kKernel:
      return "kernel";
    case Side::kEngine:
      return "engine";
    case Side::kHostTbf:
      return "hostTBF";
  }
  return "?";
}

class Bench {
 public:
  Bench(Reconciler* rec, std::string ns1, std::string vm1_ns)
      : rec_(rec), ns1_(std::move(ns1)), vm1_ns_(std::move(vm1_ns)) {}

  absl::Status Init() {
    fd_ = IcmpSocketIn(ns1_);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat(
          "raw ICMP socket in ", ns1_, ": ", std::strerror(errno)));
    }
    // Fixed neighbours both ways: a lost ARP reply (loss rows) must not
    // stall the probes, in either side's case alike.
    if (!emu::bench::Ok(emu::bench::Run(ns1_, {"ip", "neigh", "replace",
                                               kGuestIp, "lladdr", kGuestMac,
                                               "dev", "eth1", "nud",
                                               "permanent"}),
                        "ip neigh (ns1)")) {
      return absl::InternalError("ip neigh in ns1 failed");
    }
    auto r = Guest({"ip", "neigh", "replace", kNsIp, "lladdr", kNsMac, "dev",
                    "eth1", "nud", "permanent"});
    if (!r.ok() || r->exit_code() != 0) {
      return absl::InternalError("ip neigh in the guest failed");
    }
    EchoResult warm = Echo(fd_, kGuestIp, NextId(), 20, 20'000);
    if (warm.received == 0) {
      return absl::UnavailableError("the guest answers no echo");
    }
    return absl::OkStatus();
  }
  ~Bench() {
    if (fd_ >= 0) close(fd_);
  }

  absl::StatusOr<emu::v1::ExecResponse> Guest(std::vector<std::string> argv,
                                               int timeout_s = 60) {
    emu::v1::ExecRequest req;
    req.set_lab(kLab);
    req.set_node("vm1");
    for (auto& a : argv) req.add_argv(a);
    req.set_timeout_ms(timeout_s * 1000);
    return rec_->Exec(req);
  }

  // Puts `p` on the guest's sending direction by `side`; {} clears both.
  absl::Status Condition(Side side, const emu::v1::LinkParams& p) {
    emu::v1::SetLinkParamsRequest req;
    req.set_lab(kLab);
    req.mutable_a()->set_node("ns1");
    req.mutable_a()->set_interface("eth1");
    req.mutable_b()->set_node("vm1");
    req.mutable_b()->set_interface("eth1");
    if (side != Side::kKernel) *req.mutable_b_to_a() = p;
    if (side == Side::kHostTbf) {
      req.mutable_b_to_a()->set_engine(emu::v1::LINK_ENGINE_KERNEL);
    }
    // Also removes any qdisc of ours in the guest (its egress plan is
    // empty while the engine serves the direction).
    absl::Status s = rec_->SetLinkParams(req);
    if (!s.ok()) return s;
    if (side == Side::kKernel) {
      absl::StatusOr<std::string> script = emu::bench::GuestTcScript("eth1", p);
      if (!script.ok()) return script.status();
      auto r = Guest({"sh", "-c", absl::StrCat("set -e\n", *script)});
      if (!r.ok()) return r.status();
      if (r->exit_code() != 0) {
        return absl::InternalError(absl::StrCat(
            "tc in the guest: exit ", r->exit_code(), ": ", r->stderr()));
      }
    }
    // Checked, not assumed: the guest shapes in the kernel rows only.
    auto q = Guest({"tc", "qdisc", "show", "dev", "eth1"});
    if (!q.ok()) return q.status();
    const bool shaped = q->stdout().find("netem") != std::string::npos ||
                        q->stdout().find("tbf") != std::string::npos;
    const bool want = side == Side::kKernel && (p.ByteSizeLong() > 0);
    if (shaped != want) {
      return absl::InternalError(absl::StrCat(
          "the guest's qdiscs are not what the row needs (", SideName(side),
          "): ", q->stdout()));
    }
    if (side == Side::kHostTbf) {
      auto h = emu::bench::Run(vm1_ns_, {"tc", "qdisc", "show", "dev", "eth1"});
      if (!h.ok() || h->stdout_data.find("tbf") == std::string::npos) {
        return absl::InternalError(absl::StrCat(
            "no TBF on vm1's link end: ",
            h.ok() ? h->stdout_data : h.status().ToString()));
      }
    }
    return absl::OkStatus();
  }

  EchoResult Probe(int count, int gap_us) {
    return Echo(fd_, kGuestIp, NextId(), count, gap_us);
  }

  emu::bench::IperfFigures GuestTcp(int seconds) {
    return emu::bench::Iperf3With(
        ns1_,
        [this](const std::vector<std::string>& argv, absl::Duration timeout)
            -> absl::StatusOr<emu::ProcessResult> {
          auto r = Guest(argv, static_cast<int>(absl::ToInt64Seconds(timeout)));
          if (!r.ok()) return r.status();
          emu::ProcessResult p;
          p.exit_code = r->exit_code();
          p.stdout_data = r->stdout();
          p.stderr_data = r->stderr();
          p.timed_out = r->timed_out();
          return p;
        },
        kNsIp, seconds, /*udp64=*/false);
  }

 private:
  uint16_t NextId() { return static_cast<uint16_t>(0xe600 + ++rows_); }

  Reconciler* rec_;
  std::string ns1_;
  std::string vm1_ns_;
  int fd_ = -1;
  int rows_ = 0;
};

emu::v1::ApplyLabRequest LabSpec() {
  emu::v1::ApplyLabRequest req;
  req.set_lab(kLab);
  // Both directions through the engine's TAPs in every row: the kernel
  // rows then differ from the engine rows only in who applies the
  // condition.
  req.set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  auto* ns1 = req.add_nodes();
  ns1->set_name("ns1");
  ns1->set_kind(emu::v1::NODE_KIND_NETNS);
  auto* i = ns1->add_interfaces();
  i->set_name("eth1");
  i->set_mac(kNsMac);
  i->add_addresses(absl::StrCat(kNsIp, "/24"));
  auto* vm1 = req.add_nodes();
  vm1->set_name("vm1");
  vm1->set_kind(emu::v1::NODE_KIND_QEMU);
  vm1->mutable_resources()->set_memory_mib(absl::GetFlag(FLAGS_guest_memory_mib));
  i = vm1->add_interfaces();
  i->set_name("eth1");
  i->set_mac(kGuestMac);
  i->add_addresses(absl::StrCat(kGuestIp, "/24"));
  auto* l = req.add_links();
  l->mutable_a()->set_node("ns1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("vm1");
  l->mutable_b()->set_interface("eth1");
  return req;
}

void PrintSpread(const char* what, const EchoResult& r) {
  Spread s = emu::bench::SpreadOf(r.rtt_ns);
  std::printf("%s: RTT p50 %.1f us, p99 %.1f us, std %.1f us; %d of %d "
              "answered\n",
              what, Us(s.p50), Us(s.p99), Us(s.stddev), r.received, r.sent);
}

// The rows; false when a condition could not be applied.
bool RunRows(Bench& b, const Settings& set) {
  auto fail = [](Side side, const absl::Status& s) {
    std::fprintf(stderr, "%s: %s\n", SideName(side), s.ToString().c_str());
    return false;
  };
  const int dprobes = absl::GetFlag(FLAGS_delay_probes);
  const int dgap = absl::GetFlag(FLAGS_delay_gap_us);
  EchoResult base = b.Probe(dprobes, dgap);
  const Spread base_spread = emu::bench::SpreadOf(base.rtt_ns);
  PrintSpread("base (no condition)", base);
  if (!set.delays_ms.empty()) {
    std::printf("\n%-8s %-7s %11s %11s %11s %11s %16s  %s\n", "delay", "by",
                "p50 err", "p99 err", "p50 net", "p99 net", "goal p50/p99",
                "verdict (net p50, p99)");
  }
  for (double ms : set.delays_ms) {
    for (Side side : {Side::kKernel, Side::kEngine}) {
      emu::v1::LinkParams p;
      p.set_delay_us(static_cast<uint32_t>(ms * 1000));
      absl::Status s = b.Condition(side, p);
      if (!s.ok()) return fail(side, s);
      EchoResult r = b.Probe(dprobes, dgap);
      auto j = emu::bench::JudgeDelay(ms * 1e6, emu::bench::SpreadOf(r.rtt_ns),
                                      base_spread);
      std::printf("%-8s %-7s %8.1f us %8.1f us %8.1f us %8.1f us %6.0f/%-6.0f us  "
                  "%s, %s (%d of %d)\n",
                  absl::StrCat(ms, " ms").c_str(), SideName(side),
                  Us(j.p50_error), Us(j.p99_error), Us(j.p50_net_error),
                  Us(j.p99_net_error), Us(j.p50_goal), Us(j.p99_goal),
                  emu::bench::Verdict(j.p50_ok).c_str(),
                  emu::bench::Verdict(j.p99_ok).c_str(), r.received, r.sent);
      std::fflush(stdout);
    }
  }
  const int jprobes = absl::GetFlag(FLAGS_jitter_probes);
  if (jprobes > 0) {
    std::printf("\n%-26s %-7s %10s %10s %8s %11s  %s\n",
                "jitter (delay 50 ms)", "by", "std", "net std", "error",
                "p50 err", "verdict (net, within 5 %)");
    for (Side side : {Side::kKernel, Side::kEngine}) {
      emu::v1::LinkParams p;
      p.set_delay_us(50'000);
      p.set_jitter_us(10'000);
      p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_NORMAL);
      absl::Status s = b.Condition(side, p);
      if (!s.ok()) return fail(side, s);
      EchoResult r = b.Probe(jprobes, dgap);
      Spread m = emu::bench::SpreadOf(r.rtt_ns);
      auto j = emu::bench::JudgeJitter(10e6, m, base_spread);
      std::printf("%-26s %-7s %7.0f us %7.0f us %+7.1f%% %8.1f us  %s (%d of %d)\n",
                  "10 ms normal", SideName(side), Us(m.stddev),
                  Us(j.net_stddev), 100 * j.error_fraction,
                  Us(m.p50 - 50e6 - base_spread.p50),
                  emu::bench::Verdict(j.ok).c_str(), r.received, r.sent);
      std::fflush(stdout);
    }
  }
  const int lprobes = absl::GetFlag(FLAGS_loss_probes);
  const int lgap = absl::GetFlag(FLAGS_loss_gap_us);
  if (lprobes > 0) {
    std::printf("\n");
    (void)b.Condition(Side::kEngine, {});
    EchoResult lbase = b.Probe(lprobes, lgap);
    std::printf("base at the loss rows' pace (one echo every %d us): %d of %d "
                "unanswered\n",
                lgap, lbase.sent - lbase.received, lbase.sent);
    std::printf("%-8s %-7s %8s %18s %22s  %s\n", "loss", "by", "sent",
                "lost", "binomial 95 %", "verdict");
    for (double pct : set.losses_percent) {
      for (Side side : {Side::kKernel, Side::kEngine}) {
        emu::v1::LinkParams p;
        p.set_loss_percent(pct);
        absl::Status s = b.Condition(side, p);
        if (!s.ok()) return fail(side, s);
        EchoResult r = b.Probe(lprobes, lgap);
        const int lost = r.sent - r.received;
        auto j = emu::bench::JudgeLoss(r.sent, lost, pct);
        std::printf("%-8s %-7s %8d %7d (%6.3f %%) %9.0f .. %-10.0f  %s\n",
                    absl::StrCat(pct, " %").c_str(), SideName(side), r.sent,
                    lost, r.sent > 0 ? 100.0 * lost / r.sent : 0.0, j.low,
                    j.high, emu::bench::Verdict(j.ok).c_str());
        std::fflush(stdout);
      }
    }
  }
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const std::vector<double>& rates = set.rates_mbit;
  for (double mbit : rates) {
    std::printf("rate row %g Mbit/s: %d s of iperf3 per side\n", mbit,
                RowSeconds(mbit));
  }
  if (!rates.empty()) {
    (void)b.Condition(Side::kEngine, {});
    const double base_before = b.GuestTcp(seconds).tcp_bps;
    if (base_before <= 0) {
      std::fprintf(stderr, "iperf3 from the guest without a condition "
                           "failed: no rate rows\n");
      return false;
    }
    std::printf("\nbase: TCP goodput guest -> ns1, one stream, no condition: "
                "%.1f Mbit/s\n",
                base_before / 1e6);
    std::printf("%-12s %-7s %12s %12s %8s  %s\n", "rate", "by", "basis",
                "measured", "ratio", "verdict (within 3 %)");
    struct Row {
      double mbit;
      Side side;
      double got;
    };
    std::vector<Row> rows;
    for (double mbit : rates) {
      for (Side side : {Side::kKernel, Side::kHostTbf, Side::kEngine}) {
        emu::v1::LinkParams p;
        p.set_rate_bps(static_cast<uint64_t>(mbit * 1e6));
        absl::Status s = b.Condition(side, p);
        if (!s.ok()) return fail(side, s);
        rows.push_back({mbit, side, b.GuestTcp(RowSeconds(mbit)).tcp_bps});
      }
    }
    (void)b.Condition(Side::kEngine, {});
    const double base_after = b.GuestTcp(seconds).tcp_bps;
    // What the path carries: the better of its two runs (a TCG guest's
    // goodput varies from run to run with the host's load).
    const double base_bps = std::max(base_before, base_after);
    for (const Row& row : rows) {
      auto j = emu::bench::JudgeRate(row.mbit * 1e6, row.got, base_bps);
      std::printf("%-12s %-7s %9.3f Mb %9.3f Mb %8.3f  %s\n",
                  absl::StrCat(row.mbit, " Mbit/s").c_str(), SideName(row.side),
                  j.basis_bps / 1e6, row.got / 1e6, j.ratio,
                  emu::bench::RateVerdict(j).c_str());
    }
    std::printf("base again after the rate rows: %.1f Mbit/s (the rows are "
                "judged against %.1f; below 0.97 x a basis: beyond the "
                "path)\n",
                base_after / 1e6, base_bps / 1e6);
    std::fflush(stdout);
  }
  (void)b.Condition(Side::kEngine, {});
  std::printf("\n");
  PrintSpread("base again at the end", b.Probe(dprobes, dgap));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const Settings settings = ReadSettings();
  if (geteuid() != 0) {
    std::fprintf(stderr, "linkemu_guest_bench: run as root\n");
    return 1;
  }
  const std::string image = absl::GetFlag(FLAGS_image_root) + "/default";
  struct stat st;
  if (stat((image + "/image.conf").c_str(), &st) != 0) {
    std::fprintf(stderr,
                 "linkemu_guest_bench: no guest image at %s (build it with "
                 "deploy/images/build_default.sh)\n",
                 image.c_str());
    return 1;
  }
  // SIGINT/SIGTERM go to one thread that removes what the bench made
  // (blocked before any other thread exists, so none else takes them;
  // the processes it starts get an empty mask from the launcher).
  emu::BlockTerminationSignals();
  Cleanup cleanup;
  cleanup.dir = absl::StrCat("/tmp/emu-linkemu-guest-bench-", getpid());
  std::thread([&cleanup] {
    const int sig = emu::WaitForTerminationSignal();
    std::fprintf(stderr, "\nsignal %d: removing the lab\n", sig);
    cleanup.Run();
    _exit(128 + sig);
  }).detach();

  const std::string host = absl::StrCat("lg", getpid());
  mkdir(cleanup.dir.c_str(), 0700);
  auto store = emu::agent::reconcile::LabSpecStore::Open(cleanup.dir + "/state");
  emu::agent::net::LibnlHostNetwork net;
  auto features = net.ProbeKernel();
  auto engine = emu::linkemu::LinkEngine::Create({});
  if (!store.ok() || !features.ok() || !engine.ok()) {
    std::fprintf(stderr, "set-up: %s %s %s\n", store.status().ToString().c_str(),
                 features.status().ToString().c_str(),
                 engine.status().ToString().c_str());
    cleanup.Run();
    return 1;
  }
  emu::PosixProcessLauncher launcher;
  emu::agent::net::ProcNamespaceProcesses procs;
  emu::agent::tunnel::LinuxTapOpener taps;
  emu::agent::impair::EngineLinks engine_links(engine->get(), &taps);
  emu::agent::guest::GuestManager::Options o;
  o.run_dir = cleanup.dir + "/guests";
  o.image_root = absl::GetFlag(FLAGS_image_root);
  o.snapshots = false;  // a snapshot would be a file left behind
  emu::agent::net::LinuxSystemInfo system;
  const emu::agent::net::KvmProbe kvm = emu::agent::net::ProbeKvm(system);
  o.kvm = kvm.usable;  // as emu-agent decides
  o.boot_timeout = absl::Seconds(120);
  emu::agent::guest::GuestManager guests(host, &launcher, o);
  Reconciler rec(host, &net, &launcher, &procs, &*store, *features, nullptr,
                 &engine_links);
  emu::agent::guest::QemuDriver qemu(host, &guests, &net);
  rec.AddDriver(&qemu);
  cleanup.rec = &rec;

  std::printf("linkemu_guest_bench: %d cores, guest vm1 under %s (%s), 1 "
              "vCPU, %d MiB; load average %s at the start\n",
              static_cast<int>(std::thread::hardware_concurrency()),
              o.kvm ? "KVM" : "TCG", kvm.detail.c_str(),
              absl::GetFlag(FLAGS_guest_memory_mib),
              emu::bench::LoadAverage().c_str());
  std::printf("path: ns1 (netns) <-> engine TAPs <-> mirred <-> vm1; every "
              "condition on vm1 -> ns1;\nkernel: tc inside the guest, engine "
              "passes through; engine: the userspace engine, no qdisc in the "
              "guest;\nhostTBF (rate rows): TBF on vm1's link end outside the "
              "guest, what emu does for a guest's rate-only kernel direction."
              "\nFigures are ICMP round trips from ns1 (kernel receive "
              "stamps); net = minus the base's own figure.\n\n");
  std::fflush(stdout);
  absl::Time t0 = absl::Now();
  absl::Status s = rec.Apply(LabSpec(), [](const emu::v1::ApplyLabEvent&) {});
  bool ok = s.ok();
  if (!ok) {
    std::fprintf(stderr, "deploying the lab: %s\n", s.ToString().c_str());
  } else {
    std::printf("guest ready in %.1f s\n",
                absl::ToDoubleSeconds(absl::Now() - t0));
    Bench bench(&rec, emu::agent::net::NamespaceName(host, kLab, "ns1"),
                emu::agent::net::NamespaceName(host, kLab, "vm1"));
    s = bench.Init();
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      ok = false;
    } else {
      ok = RunRows(bench, settings);
    }
  }
  std::printf("\nload average %s at the end (%.0f s)\n",
              emu::bench::LoadAverage().c_str(),
              absl::ToDoubleSeconds(absl::Now() - t0));
  cleanup.Run();
  auto left = rec.ListResources(kLab);
  if (left.ok() && left->resources_size() > 0) {
    std::fprintf(stderr, "left behind: %d resources\n", left->resources_size());
    ok = false;
  }
  return ok ? 0 : 1;
}
