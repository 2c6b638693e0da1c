// Boot-to-ready time and host memory of QEMU guests, 1 and 4 at once.
//
//   bazel run -c opt //bench:guest_boot_bench        (as root)
//
// Uses the agent's own Reconciler + GuestManager + LibnlHostNetwork (no
// daemons): one lab per round with N guests of the default image
// (deploy/images/build_default.sh) and one netns hub linked to each.
// "ready" = QEMU started -> console answers -> NICs renamed, addresses,
// routes configured (what ApplyLab waits for). RSS is VmRSS of each QEMU
// process right after ready. Everything is destroyed after each round.
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
  GuestManager::Options o;
  o.run_dir = base + "/run";
  GuestManager guests(host, &launcher, o);
  Reconciler rec(host, &net, &launcher, &procs, &*store, *features);
  emu::agent::guest::QemuDriver qemu(host, &guests, &net);
  rec.AddDriver(&qemu);

  std::printf("accelerator: %s; image /var/lib/emu/images/default; 1 vCPU, "
              "256 MiB per guest; host CPUs %ld\n",
              o.kvm ? "kvm" : "tcg", sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-7s %-7s %-28s %-10s %-14s\n", "guests", "round",
              "ready per guest (s)", "lab (s)", "RSS/guest MiB");
  for (int n : {1, 4}) {
    for (int round = 1; round <= 2; ++round) {
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
        if (e.detail().rfind("guest ready", 0) == 0) ready[e.object()] = t;
        if (std::getenv("EMU_BENCH_VERBOSE") != nullptr) {
          std::printf("  %.2fs %s: %s\n", t, e.object().c_str(),
                      e.detail().c_str());
        }
      });
      double lab_s = absl::ToDoubleSeconds(absl::Now() - t0);
      if (!s.ok()) {
        std::printf("%-7d %-7d FAILED: %s\n", n, round, s.ToString().c_str());
        rec.Destroy(lab).IgnoreError();
        continue;
      }
      std::vector<double> per;
      for (const auto& [node, t] : ready) per.push_back(t - started[node]);
      std::sort(per.begin(), per.end());
      std::string per_s;
      for (double x : per) absl::StrAppend(&per_s, absl::StrFormat("%.1f ", x));
      uint64_t rss = 0;
      int qemus = 0;
      for (const auto& r : guests.List(lab)) {
        if (r.kind() == emu::v1::OwnedResource::PROCESS) {
          rss += RssKib(r.name().substr(5));
          ++qemus;
        }
      }
      std::printf("%-7d %-7d %-28s %-10.1f %-14.0f\n", n, round, per_s.c_str(),
                  lab_s, qemus ? rss / 1024.0 / qemus : 0.0);
      std::fflush(stdout);
      rec.Destroy(lab).IgnoreError();
    }
  }
  if (std::system(absl::StrCat("rm -rf ", base).c_str()) != 0) return 1;
  return 0;
}
