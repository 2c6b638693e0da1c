// The userspace impairment engine (linkemu/impair/link_engine.h) measured
// beside a veth pair in the same run, between namespaces of its own:
//
//  Cost:     TCP goodput (iperf3, one stream) and 64-byte UDP packets/s
//            received (iperf3 -u -l 64 -b 0), engine vs veth, and the
//            engine moving frames in io_uring batches (its default) vs one
//            read()/write() per frame (a second engine); TCP goodput
//            with 10 ms delay each way and 1 Gbit/s rate vs the TBF basis
//            R x 1448/1514 (docs/topology.md).
//  Accuracy: one-way delay of UDP probes sent between two sockets of this
//            process, one in each end's namespace, timestamped on the same
//            CLOCK_MONOTONIC: p50/p99 error against 1, 10, 100 ms; the loss
//            ratio of 100k probes against 0.1, 1, 10 % and its binomial 95 %
//            interval; TCP goodput against the rate for 1..1000 Mbit/s.
//
//   bazel run -c opt //bench:linkemu_bench -- --seconds=5
//
// Runs as root, under /tmp/emu-integration.lock when others test. All it
// creates (six namespaces, a veth pair, four TAPs) carries its pid and is
// removed at the end; traffic stays inside them (10.78.0.0/16).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/accuracy.h"
#include "bench/bench_commands.h"
#include "common/process_launcher.h"
#include "linkemu/impair/link_engine.h"
#include "linkemu/tap_device.h"

ABSL_FLAG(int, seconds, 5, "Seconds per iperf3 run.");
ABSL_FLAG(int, loss_packets, 100000, "Probes per loss setting.");
ABSL_FLAG(int, delay_probes, 2000, "Probes per delay setting.");
ABSL_FLAG(int, nice, 0, "LinkEngine::Options::nice of the engine's thread.");
ABSL_FLAG(bool, delay_only, false,
          "Only the one-way delay rows (with and without delay "
          "compensation): no iperf3, rate or loss runs.");

namespace {

using emu::linkemu::ImpairmentSpec;
using emu::linkemu::LinkEngine;

using emu::bench::Ip;
using emu::bench::IperfFigures;
using emu::bench::LoadAverage;
using emu::bench::Ok;
using emu::bench::Percentile;
using emu::bench::Run;

// One iperf3 run (bench_commands.h).
IperfFigures RunIperf(const std::string& server, const std::string& client,
                      const std::string& server_ip, int seconds, bool udp64) {
  return emu::bench::Iperf3(server, client, server_ip, seconds, udp64);
}

// A UDP socket bound to addr:port inside namespace `ns` (sockets keep the
// namespace they were made in).
int UdpSocketIn(const std::string& ns, const std::string& addr, int port) {
  int fd = -1;
  std::thread([&] {
    int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return;
    close(nsfd);
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 32 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      close(fd);
      fd = -1;
    }
  }).join();
  return fd;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct ProbeResult {
  int sent = 0;
  int received = 0;
  std::vector<int64_t> delays_ns;
};

// `count` probes from `tx` to `dst`, one every `gap_us`, each carrying its
// send instant; received ones are timed on arrival at `rx`.
ProbeResult Probe(int tx, int rx, const std::string& dst, int port, int count,
                  int gap_us) {
  ProbeResult r;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    // The receiving end is timed at the engine's priority, so a busy host's
    // scheduling delays count against the engine, not against the probe.
    if (absl::GetFlag(FLAGS_nice) != 0) {
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()),
                  absl::GetFlag(FLAGS_nice));
    }
    char buf[64];
    int64_t quiet_since = 0;
    while (true) {
      pollfd p{rx, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        ssize_t n = recv(rx, buf, sizeof(buf), 0);
        int64_t now = NowNs();
        if (n >= 8) {
          int64_t sent;
          std::memcpy(&sent, buf, 8);
          r.delays_ns.push_back(now - sent);
          ++r.received;
        }
        quiet_since = 0;
        continue;
      }
      if (!done) continue;
      if (quiet_since == 0) quiet_since = NowNs();
      if (NowNs() - quiet_since > 500'000'000) return;  // 0.5 s silence
    }
  });
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, dst.c_str(), &sa.sin_addr);
  int64_t next = NowNs();
  char buf[64] = {};
  for (int i = 0; i < count; ++i) {
    // Sleep, not spin: the engine's thread needs the cores more.
    timespec at{static_cast<time_t>(next / 1'000'000'000),
                static_cast<long>(next % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    int64_t now = NowNs();
    std::memcpy(buf, &now, 8);
    if (sendto(tx, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&sa),
               sizeof(sa)) == sizeof(buf)) {
      ++r.sent;
    }
    next += gap_us * 1000;
  }
  done = true;
  reader.join();
  return r;
}

const char* Verdict(bool ok) { return ok ? "ok" : "MISSED"; }


}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const std::string pid = absl::StrCat(getpid());
  const std::string v1 = "emu-lb" + pid + "-v1", v2 = "emu-lb" + pid + "-v2";
  const std::string e1 = "emu-lb" + pid + "-e1", e2 = "emu-lb" + pid + "-e2";
  // The same engine link moving one frame per system call.
  const std::string s1 = "emu-lb" + pid + "-s1", s2 = "emu-lb" + pid + "-s2";
  bool ok = true;
  for (const auto& ns : {v1, v2, e1, e2, s1, s2}) {
    ok = ok && Ip({"netns", "add", ns});
  }
  ok = ok &&
       Ip({"link", "add", "lbv" + pid, "netns", v1, "type", "veth", "peer",
           "name", "lbw" + pid, "netns", v2}) &&
       Ip({"-n", v1, "addr", "add", "10.78.1.1/24", "dev", "lbv" + pid}) &&
       Ip({"-n", v2, "addr", "add", "10.78.1.2/24", "dev", "lbw" + pid}) &&
       Ip({"-n", v1, "link", "set", "lbv" + pid, "up"}) &&
       Ip({"-n", v2, "link", "set", "lbw" + pid, "up"});
  std::unique_ptr<LinkEngine> engine;
  LinkEngine::LinkId link = 0;
  std::unique_ptr<LinkEngine> syscall_engine;
  bool batched = false;
  if (ok) {
    auto ta = emu::linkemu::OpenTapInNamespace({s1, "lbt0", "", 0, "bench"});
    auto tb = emu::linkemu::OpenTapInNamespace({s2, "lbt0", "", 0, "bench"});
    LinkEngine::Options options;
    options.nice = absl::GetFlag(FLAGS_nice);
    options.io_mode = emu::linkemu::FrameBatchIo::Mode::kSyscalls;
    auto e = LinkEngine::Create(options);
    ok = ta.ok() && tb.ok() && e.ok();
    if (ok) {
      syscall_engine = std::move(*e);
      ok = syscall_engine->AddLink(*ta, *tb, {}, {}, 1).ok();
    }
    ok = ok &&
         Ip({"-n", s1, "addr", "add", "10.78.3.1/24", "dev", "lbt0"}) &&
         Ip({"-n", s2, "addr", "add", "10.78.3.2/24", "dev", "lbt0"});
    batched = emu::linkemu::FrameBatchIo().batched();
  }
  if (ok) {
    auto ta = emu::linkemu::OpenTapInNamespace({e1, "lbt0", "", 0, "bench"});
    auto tb = emu::linkemu::OpenTapInNamespace({e2, "lbt0", "", 0, "bench"});
    LinkEngine::Options options;
    options.nice = absl::GetFlag(FLAGS_nice);
    auto e = LinkEngine::Create(options);
    ok = ta.ok() && tb.ok() && e.ok();
    if (ok) {
      engine = std::move(*e);
      auto id = engine->AddLink(*ta, *tb, {}, {}, 1);
      ok = id.ok();
      if (ok) link = *id;
    } else {
      std::fprintf(stderr, "taps/engine: %s %s\n",
                   ta.status().ToString().c_str(),
                   tb.status().ToString().c_str());
    }
    ok = ok &&
         Ip({"-n", e1, "addr", "add", "10.78.2.1/24", "dev", "lbt0"}) &&
         Ip({"-n", e2, "addr", "add", "10.78.2.2/24", "dev", "lbt0"});
  }
  for (const auto& ns : {v1, v2, e1, e2, s1, s2}) {
    Ip({"-n", ns, "link", "set", "lo", "up"});
  }

  if (ok) {
    std::printf("linkemu_bench: %d s per iperf3 run, engine nice %d, %d cores, "
                "io_uring batches %s, load average %s at the start\n\n",
                seconds, absl::GetFlag(FLAGS_nice),
                static_cast<int>(std::thread::hardware_concurrency()),
                batched ? "yes" : "NO (kernel refused)",
                LoadAverage().c_str());
  }
  if (ok && !absl::GetFlag(FLAGS_delay_only)) {
    // Cost.
    IperfFigures veth_tcp = RunIperf(v2, v1, "10.78.1.2", seconds, false);
    IperfFigures eng_tcp = RunIperf(e2, e1, "10.78.2.2", seconds, false);
    IperfFigures sys_tcp = RunIperf(s2, s1, "10.78.3.2", seconds, false);
    IperfFigures veth_udp = RunIperf(v2, v1, "10.78.1.2", seconds, true);
    IperfFigures eng_udp = RunIperf(e2, e1, "10.78.2.2", seconds, true);
    IperfFigures sys_udp = RunIperf(s2, s1, "10.78.3.2", seconds, true);
    std::printf("%-34s %14s %14s %14s %8s\n", "cost", "veth", "engine",
                "engine 1/call", "ratio");
    std::printf("%-34s %11.2f Gb %11.2f Gb %11.2f Gb %8.2f  goal >= 5 Gbit/s and >= 0.3: %s\n",
                "TCP goodput, one stream", veth_tcp.tcp_bps / 1e9,
                eng_tcp.tcp_bps / 1e9, sys_tcp.tcp_bps / 1e9,
                eng_tcp.tcp_bps / veth_tcp.tcp_bps,
                Verdict(eng_tcp.tcp_bps >= 5e9 &&
                        eng_tcp.tcp_bps >= 0.3 * veth_tcp.tcp_bps));
    std::printf("%-34s %10.0fk/s %10.0fk/s %10.0fk/s %8.2f  goal >= 0.5: %s\n",
                "UDP 64-byte packets received", veth_udp.udp_pps / 1e3,
                eng_udp.udp_pps / 1e3, sys_udp.udp_pps / 1e3,
                eng_udp.udp_pps / veth_udp.udp_pps,
                Verdict(eng_udp.udp_pps >= 0.5 * veth_udp.udp_pps));
    std::printf("(engine: io_uring batches; engine 1/call: one read()/write() "
                "per frame; ratio: engine / veth)\n");
    syscall_engine.reset();
    {
      ImpairmentSpec s;
      s.delay_us = 10'000;
      s.rate_bps = 1'000'000'000;
      ImpairmentSpec back;
      back.delay_us = 10'000;
      (void)engine->Update(link, s, back);
      IperfFigures t = RunIperf(e2, e1, "10.78.2.2", seconds, false);
      double basis = 1e9 * 1448 / 1514;
      std::printf("%-34s %14s %11.1f Mb %8.3f  goal within 5 %% of %.1f: %s\n\n",
                  "TCP, 10 ms each way + 1 Gbit/s", "", t.tcp_bps / 1e6,
                  t.tcp_bps / basis, basis / 1e6,
                  Verdict(std::abs(t.tcp_bps / basis - 1) <= 0.05));
    }

    // Accuracy: rate.
    std::printf("%-34s %14s %14s %8s\n", "rate (TCP goodput)", "basis", "measured",
                "ratio");
    for (uint64_t rate : {1'000'000ull, 10'000'000ull, 100'000'000ull,
                          1'000'000'000ull}) {
      ImpairmentSpec s;
      s.rate_bps = rate;
      (void)engine->Update(link, s, {});
      IperfFigures t = RunIperf(e2, e1, "10.78.2.2", seconds, false);
      // The veth path carries every rate here: judged without a base.
      auto j = emu::bench::JudgeRate(rate, t.tcp_bps, rate);
      std::printf("%-34s %11.3f Mb %11.3f Mb %8.3f  goal within 3 %%: %s\n",
                  absl::StrCat("rate ", rate / 1'000'000, " Mbit/s").c_str(),
                  j.basis_bps / 1e6, t.tcp_bps / 1e6, j.ratio, Verdict(j.ok));
    }
    std::printf("\n");
  }
  if (ok) {
    // Accuracy: delay and loss with probes between two sockets of ours.
    int tx = UdpSocketIn(e1, "10.78.2.1", 40001);
    int rx = UdpSocketIn(e2, "10.78.2.2", 40002);
    if (tx < 0 || rx < 0) {
      std::fprintf(stderr, "probe sockets failed\n");
      ok = false;
    } else {
      (void)engine->Update(link, {}, {});
      ProbeResult base = Probe(tx, rx, "10.78.2.2", 40002,
                               absl::GetFlag(FLAGS_delay_probes), 500);
      double base50 = Percentile(base.delays_ns, 0.5);
      std::printf("one-way delay of the unimpaired engine link: p50 %.1f us, "
                  "p99 %.1f us (%d probes)\n",
                  base50 / 1e3, Percentile(base.delays_ns, 0.99) / 1e3,
                  base.received);
      std::printf("%-20s %-5s %12s %12s %12s %12s %10s  %s\n", "delay",
                  "comp", "p50 error", "p99 error", "p50 goal", "p99 goal",
                  "own lat.", "verdict");
      // Each delay without, then with delay compensation
      // (ImpairmentSpec::compensate_own_latency, the default), side by side.
      for (int ms : {1, 10, 100}) {
        for (bool comp : {false, true}) {
          ImpairmentSpec s;
          s.delay_us = ms * 1000;
          s.compensate_own_latency = comp;
          (void)engine->Update(link, s, {});
          ProbeResult r = Probe(tx, rx, "10.78.2.2", 40002,
                                absl::GetFlag(FLAGS_delay_probes), 500);
          auto st = engine->GetStats(link);
          double want = ms * 1e6;
          double e50 = Percentile(r.delays_ns, 0.5) - want;
          double e99 = Percentile(r.delays_ns, 0.99) - want;
          double g50 = std::max(50e3, 0.01 * want);
          double g99 = std::max(200e3, 0.03 * want);
          std::printf(
              "%-20s %-5s %9.1f us %9.1f us %9.0f us %9.0f us %7.1f us  %s\n",
              absl::StrCat(ms, " ms (", r.received, " probes)").c_str(),
              comp ? "on" : "off", e50 / 1e3, e99 / 1e3, g50 / 1e3,
              g99 / 1e3,
              st.has_value() ? st->a_to_b.own_latency_ns / 1e3 : -1.0,
              Verdict(std::abs(e50) <= g50 && std::abs(e99) <= g99));
        }
      }
      if (absl::GetFlag(FLAGS_delay_only)) {
        close(tx);
        close(rx);
        tx = rx = -1;
      }
      if (tx >= 0) {
      std::printf("\n%-20s %12s %12s %22s  %s\n", "loss", "sent", "lost",
                  "binomial 95 % interval", "verdict");
      const int n = absl::GetFlag(FLAGS_loss_packets);
      for (double pct : {0.1, 1.0, 10.0}) {
        ImpairmentSpec s;
        s.loss_percent = pct;
        (void)engine->Update(link, s, {});
        auto before = engine->GetStats(link);
        ProbeResult r = Probe(tx, rx, "10.78.2.2", 40002, n, 100);
        auto after = engine->GetStats(link);
        const int lost = r.sent - r.received;
        auto j = emu::bench::JudgeLoss(r.sent, lost, pct);
        uint64_t engine_lost =
            after->a_to_b.dropped_loss - before->a_to_b.dropped_loss;
        std::printf("%-20s %12d %7d (%.3f %%) %9.0f .. %-9.0f  %s (engine "
                    "counted %llu)\n",
                    absl::StrCat(pct, " %").c_str(), r.sent, lost,
                    100.0 * lost / r.sent, j.low, j.high, Verdict(j.ok),
                    static_cast<unsigned long long>(engine_lost));
      }
      close(tx);
      close(rx);
      }
    }
  }

  std::printf("\nload average %s at the end\n", LoadAverage().c_str());
  engine.reset();
  syscall_engine.reset();
  for (const auto& ns : {v1, v2, e1, e2, s1, s2}) Ip({"netns", "del", ns});
  return ok ? 0 : 1;
}
