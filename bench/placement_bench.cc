// Times placement of a large topology onto many hosts and prints the cut
// and the balance it reached, beside a naive round-robin placement.
//
//   bazel run -c opt //bench:placement_bench -- --nodes=1000 --links=2000
//   --hosts=16
//
// Topologies (deterministic, seeded): "clustered" (--sites groups of nodes,
// 90% of links inside a group, as labs of sites or pods are) and "random"
// (links between uniformly random pairs: nothing to find, a worst case).
// Every node is netns; links get rates of 100 Mbit/s to 10 Gbit/s.
#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/placement/placement.h"

ABSL_FLAG(int, nodes, 1000, "Nodes in the topology.");
ABSL_FLAG(int, links, 2000, "Links in the topology.");
ABSL_FLAG(int, hosts, 16, "Hosts (2 CPUs, 8 GiB each).");
ABSL_FLAG(int, sites, 32, "Clusters in the clustered topology.");
ABSL_FLAG(int, rounds, 5, "Timed placements per topology (median shown).");

namespace {

emu::v1::Topology Make(bool clustered, int nodes, int links, int sites) {
  std::mt19937 rng(42);
  emu::v1::Topology t;
  t.set_name(clustered ? "clustered" : "random");
  for (int i = 0; i < nodes; ++i) {
    auto* n = t.add_nodes();
    n->set_name(absl::StrCat("n", i));
    n->set_kind(emu::v1::NODE_KIND_NETNS);
  }
  std::vector<int> next_if(nodes, 0);
  const uint64_t rates[] = {100'000'000, 1'000'000'000, 10'000'000'000};
  for (int made = 0; made < links;) {
    int a = rng() % nodes, b;
    if (clustered && rng() % 10 != 0) {
      int per = nodes / sites;
      int site = std::min(a / per, sites - 1);
      int lo = site * per, hi = site == sites - 1 ? nodes : lo + per;
      b = lo + rng() % (hi - lo);
    } else {
      b = rng() % nodes;
    }
    if (a == b) continue;
    auto* l = t.add_links();
    l->mutable_a()->set_node(absl::StrCat("n", a));
    l->mutable_a()->set_interface(absl::StrCat("e", next_if[a]++));
    l->mutable_b()->set_node(absl::StrCat("n", b));
    l->mutable_b()->set_interface(absl::StrCat("e", next_if[b]++));
    uint64_t r = rates[rng() % 3];
    l->mutable_a_to_b()->set_rate_bps(r);
    l->mutable_b_to_a()->set_rate_bps(r);
    ++made;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int nodes = absl::GetFlag(FLAGS_nodes);
  const int links = absl::GetFlag(FLAGS_links);
  const int nhosts = absl::GetFlag(FLAGS_hosts);
  std::vector<emu::v1::HostStatus> hosts;
  for (int i = 0; i < nhosts; ++i) {
    emu::v1::HostStatus h;
    h.set_name(absl::StrCat("h", i < 10 ? "0" : "", i));
    h.set_reachable(true);
    h.mutable_capabilities()->set_cpus(2);
    h.mutable_capabilities()->set_memory_mib(8192);
    h.mutable_capabilities()->add_node_kinds(emu::v1::NODE_KIND_NETNS);
    hosts.push_back(h);
  }
  std::printf(
      "placement of %d netns nodes, %d links onto %d hosts "
      "(2 CPUs each), SPREAD, tolerance 10%%\n",
      nodes, links, nhosts);
  std::printf("%-10s %10s %10s %14s %10s %18s\n", "topology", "median_ms",
              "cut_links", "cut_gbit/s", "max/share", "round-robin cut");
  for (bool clustered : {true, false}) {
    auto t = Make(clustered, nodes, links, absl::GetFlag(FLAGS_sites));
    std::vector<double> ms;
    absl::StatusOr<emu::controller::placement::Placement> p;
    for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) {
      absl::Time start = absl::Now();
      p = emu::controller::placement::PlaceTopology(t, hosts);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (!p.ok()) {
        std::fprintf(stderr, "placement failed: %s\n",
                     p.status().ToString().c_str());
        return 1;
      }
    }
    std::sort(ms.begin(), ms.end());
    double gbit = 0;
    for (const auto& c : p->cut_links) {
      gbit += std::max(c.a_to_b_rate_bps(), c.b_to_a_rate_bps()) / 1e9;
    }
    double worst = 0;
    for (const auto& l : p->loads) {
      double share = nodes * emu::controller::placement::kNetnsDemand.cpu_milli /
                     static_cast<double>(nhosts);
      worst = std::max(worst, l.cpu_milli() / share);
    }
    int rr_cut = 0;
    for (const auto& l : t.links()) {
      int a = std::stoi(l.a().node().substr(1)),
          b = std::stoi(l.b().node().substr(1));
      rr_cut += (a % nhosts) != (b % nhosts);
    }
    std::printf("%-10s %10.1f %10zu %14.1f %10.3f %18d\n", t.name().c_str(),
                ms[ms.size() / 2], p->cut_links.size(), gbit, worst, rr_cut);
  }
  return 0;
}
