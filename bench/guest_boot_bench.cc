// Boot-to-ready time and host memory of QEMU guests, 1, 4 and 8 at once,
// cold booted and restored from a snapshot (docs/guests.md, Snapshots).
//
//   bazel run -c opt //bench:guest_boot_bench        (as root)
//
// Uses the agent's own Reconciler + GuestManager + LibnlHostNetwork (no
// daemons): one lab per round with N guests of the default image
// (deploy/images/build_default.sh) and one netns hub linked to each.
// "ready" = QEMU started -> console answers -> NICs renamed, addresses,
// routes configured (what ApplyLab waits for). RSS is VmRSS of each QEMU
// process right after ready, "private" its Private_Clean + Private_Dirty
// (smaps_rollup): what it does not share with other guests (a restored
// guest maps its snapshot's RAM copy-on-write). The snapshot (made by the
// first restored round, timed apart) lives under the bench's own directory.
// Everything is destroyed after each round. EMU_BENCH_MODES=cold,restored
// and EMU_BENCH_GUESTS=1,8 choose.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "agent/guest/guest_manager.h"
#include "agent/guest/qemu_driver.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/net/libnl_host_network.h"
#include "agent/net/namespace_processes.h"
#include "agent/reconcile/reconciler.h"
#include "common/process_launcher.h"

namespace {

using namespace emu::agent;  // NOLINT: a benchmark program
using namespace emu::agent::guest;      // NOLINT
using namespace emu::agent::net;        // NOLINT
using namespace emu::agent::reconcile;  // NOLINT

uint64_t RssKib(const std::string& pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      uint64_t kib = 0;
      absl::SimpleAtoi(absl::StripAsciiWhitespace(
                           absl::string_view(line).substr(6, line.size() - 9)),
                       &kib);
      return kib;
    }
  }
  return 0;
}

uint64_t PrivateKib(const std::string& pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/smaps_rollup"));
  std::string line;
  uint64_t total = 0;
  while (std::getline(f, line)) {
    if (line.rfind("Private_Clean:", 0) == 0 ||
        line.rfind("Private_Dirty:", 0) == 0) {
      std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
      uint64_t kib = 0;
      if (w.size() >= 2 && absl::SimpleAtoi(w[1], &kib)) total += kib;
    }
  }
  return total;
}

std::vector<std::string> ListEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return absl::StrSplit(v ? v : fallback, ',', absl::SkipEmpty());
}

}  // namespace

int main() {
  if (geteuid() != 0) {
    std::fprintf(stderr, "guest_boot_bench: run as root\n");
    return 1;
  }
  const std::string host = absl::StrCat("gb", getpid());
  const std::string base = absl::StrCat("/tmp/emu-guest-bench-", getpid());
  auto store = LabSpecStore::Open(base + "/state");
  if (!store.ok()) return 1;
  LibnlHostNetwork net;
  auto features = net.ProbeKernel();
  if (!features.ok()) return 1;
  emu::PosixProcessLauncher launcher;
  ProcNamespaceProcesses procs;
  std::printf("KSM: run=%s (/sys/kernel/mm/ksm/run; 0 = identical pages of "
              "cold-booted guests are not merged)\n",
              std::string(absl::StripAsciiWhitespace([] {
                std::ifstream f("/sys/kernel/mm/ksm/run");
                std::string v;
                std::getline(f, v);
                return v.empty() ? std::string("absent") : v;
              }())).c_str());
  std::printf("%-9s %-7s %-7s %-36s %-8s %-8s %-8s\n", "mode", "guests",
              "round", "ready per guest (s)", "lab (s)", "RSS MiB",
              "private");
  for (const std::string& mode : ListEnv("EMU_BENCH_MODES", "cold,restored")) {
  GuestManager::Options o;
  o.run_dir = base + "/run";
  o.snapshots = mode == "restored";
  o.snapshot_dir = base + "/snap";
  GuestManager guests(host, &launcher, o);
  Reconciler rec(host, &net, &launcher, &procs, &*store, *features);
  emu::agent::guest::QemuDriver qemu(host, &guests, &net);
  rec.AddDriver(&qemu);
  std::printf("# %s: accelerator %s; image /var/lib/emu/images/default; 1 "
              "vCPU, 256 MiB per guest; host CPUs %ld\n",
              mode.c_str(), o.kvm ? "kvm" : "tcg",
              sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<int> sizes;
  for (const std::string& g : ListEnv("EMU_BENCH_GUESTS", "1,4,8")) {
    int n = 0;
    if (absl::SimpleAtoi(g, &n) && n > 0) sizes.push_back(n);
  }
  if (mode == "restored") sizes.insert(sizes.begin(), 0);  // makes the snapshot
  for (int n : sizes) {
    const bool warmup = n == 0;
    if (warmup) n = 1;
    for (int round = 1; round <= (warmup ? 1 : 2); ++round) {
      std::string lab = absl::StrCat("gb", n, "r", round, "p", getpid() % 10000);
      emu::v1::ApplyLabRequest req;
      req.set_lab(lab);
      auto* hub = req.add_nodes();
      hub->set_name("hub");
      for (int i = 0; i < n; ++i) {
        auto* vm = req.add_nodes();
        vm->set_name(absl::StrCat("vm", i));
        vm->set_kind(emu::v1::NODE_KIND_QEMU);
        auto* ifc = vm->add_interfaces();
        ifc->set_name("eth1");
        ifc->add_addresses(absl::StrCat("10.66.", i, ".2/24"));
        auto* h = hub->add_interfaces();
        h->set_name(absl::StrCat("v", i));
        h->add_addresses(absl::StrCat("10.66.", i, ".1/24"));
        auto* l = req.add_links();
        l->mutable_a()->set_node("hub");
        l->mutable_a()->set_interface(absl::StrCat("v", i));
        l->mutable_b()->set_node(vm->name());
        l->mutable_b()->set_interface("eth1");
      }
      absl::Time t0 = absl::Now();
      std::map<std::string, double> started, ready;
      absl::Status s = rec.Apply(req, [&](const emu::v1::ApplyLabEvent& e) {
        double t = absl::ToDoubleSeconds(absl::Now() - t0);
        if (e.detail().rfind("QEMU started", 0) == 0) started[e.object()] = t;
        if (e.detail().rfind("guest ready", 0) == 0 ||
            e.detail().rfind("guest restored", 0) == 0) {
          ready[e.object()] = t;
        }
        if (std::getenv("EMU_BENCH_VERBOSE") != nullptr) {
          std::printf("  %.2fs %s: %s\n", t, e.object().c_str(),
                      e.detail().c_str());
        }
      });
      double lab_s = absl::ToDoubleSeconds(absl::Now() - t0);
      if (!s.ok()) {
        std::printf("%-9s %-7d %-7d FAILED: %s\n", mode.c_str(), n, round,
                    s.ToString().c_str());
        rec.Destroy(lab).IgnoreError();
        continue;
      }
      std::vector<double> per;
      for (const auto& [node, t] : ready) per.push_back(t - started[node]);
      std::sort(per.begin(), per.end());
      std::string per_s;
      for (double x : per) absl::StrAppend(&per_s, absl::StrFormat("%.1f ", x));
      absl::SleepFor(absl::Seconds(2));  // idle
      uint64_t rss = 0, priv = 0;
      int qemus = 0;
      std::string how;
      for (const auto& r : guests.List(lab)) {
        if (r.kind() == emu::v1::OwnedResource::PROCESS) {
          rss += RssKib(r.name().substr(5));
          priv += PrivateKib(r.name().substr(5));
          ++qemus;
        } else if (how.empty()) {
          how = r.detail();
        }
      }
      std::printf("%-9s %-7s %-7d %-36s %-8.1f %-8.0f %-8.0f  (%s)\n",
                  mode.c_str(), warmup ? "1 (makes snapshot)" : absl::StrCat(n).c_str(),
                  round, per_s.c_str(), lab_s,
                  qemus ? rss / 1024.0 / qemus : 0.0,
                  qemus ? priv / 1024.0 / qemus : 0.0, how.c_str());
      std::fflush(stdout);
      rec.Destroy(lab).IgnoreError();
    }
  }
  }
  if (std::system(absl::StrCat("rm -rf ", base).c_str()) != 0) return 1;
  return 0;
}
