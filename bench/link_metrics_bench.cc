// What a /metrics scrape costs in per-link series: LinkCounterFamilies and
// Render for labs of --links links (capped at --max_links_per_lab), the
// text's size and the series count. The kernel reads (one netlink dump per
// node namespace) are not in it: they are what `emuctl stats` costs.
//   bazel run -c opt //bench:link_metrics_bench -- --links=2000,10000
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/thread_cpu.h"
#include "common/metrics/link_metrics.h"

ABSL_FLAG(std::string, links, "100,2000,10000", "Lab sizes in links.");
ABSL_FLAG(int, max_links_per_lab, 1000, "The daemons' cap (their default).");
ABSL_FLAG(int, repeat, 5, "Scrapes per size; the best is printed.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_links), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 0) {
      std::fprintf(stderr, "--links: %s is not a count\n", std::string(s).c_str());
      return 2;
    }
    emu::v1::LabCounters lab;
    lab.set_lab("alice+big");
    for (int i = 0; i < n; ++i) {
      auto* l = lab.add_links();
      const std::string a = absl::StrCat("node", i, ":eth1");
      const std::string b = absl::StrCat("node", i + 1, ":eth2");
      l->set_link(absl::StrCat(a, "<->", b));
      for (auto* d : {l->mutable_a_to_b(), l->mutable_b_to_a()}) {
        d->set_from(a);
        d->set_to(b);
        d->set_sent_bytes(123456789ULL * i);
        d->set_delivered_bytes(123456700ULL * i);
        d->set_sent_packets(98765ULL * i);
        d->set_delivered_packets(98760ULL * i);
      }
    }
    for (int i = 0; i <= n; ++i) {
      auto* u = lab.add_nodes();
      u->set_node(absl::StrCat("node", i));
      u->set_cpu_seconds(1.25 * i);
      u->set_memory_bytes(4096ULL * i);
    }
    emu::metrics::LinkMetricsOptions options;
    options.max_links_per_lab = absl::GetFlag(FLAGS_max_links_per_lab);
    double best = 1e9;
    size_t bytes = 0, series = 0;
    for (int r = 0; r < absl::GetFlag(FLAGS_repeat); ++r) {
      const double t0 = emu::bench::ThreadCpuSeconds();
      auto families = emu::metrics::LinkCounterFamilies({lab}, options);
      const std::string text = emu::metrics::Render(families);
      best = std::min(best, emu::bench::ThreadCpuSeconds() - t0);
      bytes = text.size();
      series = 0;
      for (const auto& f : families) series += f.samples.size();
    }
    std::printf("%6d links: %7zu series, %9zu bytes of text, %.1f ms CPU (cap %d)\n",
                n, series, bytes, best * 1e3, options.max_links_per_lab);
  }
  return 0;
}
