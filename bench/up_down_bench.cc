// Deploys and destroys a large netns topology on one real agent and prints
// how long `up` and `down` took and what was left behind.
//
//   bazel run //bench:up_down_bench -- --nodes=100 --links=150 --rounds=3
//
// Topology: a ring of N nodes plus chords (node i to node i+N/2) until the
// link count is reached, every link shaped with TBF at 100 Mbit/s, every
// interface addressed (/30 per link). Runs as root; starts its own agent
// and controller on loopback and stops them, by pid, at the end.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "tests/integration/daemons.h"

ABSL_FLAG(int, nodes, 100, "Nodes in the topology.");
ABSL_FLAG(int, links, 150, "Links in the topology (at least nodes, for the ring).");
ABSL_FLAG(int, rounds, 3, "How many up/down rounds to time.");

namespace {

emu::v1::Topology MakeTopology(int nodes, int links) {
  emu::v1::Topology t;
  t.set_name("bench");
  for (int i = 0; i < nodes; ++i) {
    auto* n = t.add_nodes();
    n->set_name(absl::StrCat("n", i));
    n->set_kind(emu::v1::NODE_KIND_NETNS);
  }
  std::vector<int> next_if(nodes, 0);
  auto add_link = [&](int a, int b, int index) {
    auto* l = t.add_links();
    std::string ia = absl::StrCat("e", next_if[a]++);
    std::string ib = absl::StrCat("e", next_if[b]++);
    l->mutable_a()->set_node(absl::StrCat("n", a));
    l->mutable_a()->set_interface(ia);
    l->mutable_b()->set_node(absl::StrCat("n", b));
    l->mutable_b()->set_interface(ib);
    l->mutable_a_to_b()->set_rate_bps(100'000'000);
    l->mutable_b_to_a()->set_rate_bps(100'000'000);
    // 10.x.y.z/30 per link: .1 on a, .2 on b.
    int base = index * 4;
    std::string net = absl::StrCat("10.", (base >> 16) & 255, ".",
                                   (base >> 8) & 255, ".");
    auto* if_a = t.mutable_nodes(a)->add_interfaces();
    if_a->set_name(ia);
    if_a->add_addresses(absl::StrCat(net, (base & 255) + 1, "/30"));
    auto* if_b = t.mutable_nodes(b)->add_interfaces();
    if_b->set_name(ib);
    if_b->add_addresses(absl::StrCat(net, (base & 255) + 2, "/30"));
  };
  int made = 0;
  for (int i = 0; i < nodes && made < links; ++i, ++made) {
    add_link(i, (i + 1) % nodes, made);
  }
  for (int i = 0; made < links; ++i, ++made) {
    add_link(i % nodes, (i + nodes / 2) % nodes, made);
  }
  return t;
}

int CountNamespaces(const std::string& prefix) {
  int n = 0;
  if (DIR* d = opendir("/run/netns")) {
    while (dirent* e = readdir(d)) n += absl::StartsWith(e->d_name, prefix);
    closedir(d);
  }
  return n;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int nodes = absl::GetFlag(FLAGS_nodes);
  const int links = absl::GetFlag(FLAGS_links);
  emu::testing::Daemons daemons(absl::StrCat("bench", getpid()));
  if (auto s = daemons.StartAgent(); !s.ok()) {
    std::fprintf(stderr, "start agent: %s\n", s.ToString().c_str());
    return 1;
  }
  if (auto s = daemons.StartController(); !s.ok()) {
    std::fprintf(stderr, "start controller: %s\n", s.ToString().c_str());
    return 1;
  }
  auto controller = daemons.Controller();
  auto agent = daemons.Agent();
  std::string prefix = absl::StrCat("emu.", daemons.host(), ".");
  emu::v1::DeployLabRequest deploy;
  *deploy.mutable_source()->mutable_topology() = MakeTopology(nodes, links);

  std::printf("up/down of %d netns nodes, %d TBF-shaped links, one agent "
              "(%ld cores)\n", nodes, links, sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<double> ups, downs;
  int worst_leftovers = 0;
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    absl::Time t0 = absl::Now();
    {
      grpc::ClientContext ctx;
      emu::AddAuthToken(&ctx, daemons.token());
      auto reader = controller->DeployLab(&ctx, deploy);
      emu::v1::DeployEvent e;
      while (reader->Read(&e)) {
      }
      grpc::Status st = reader->Finish();
      if (!st.ok()) {
        std::fprintf(stderr, "up failed: %s\n", st.error_message().c_str());
        return 1;
      }
    }
    double up = absl::ToDoubleSeconds(absl::Now() - t0);
    int live = CountNamespaces(prefix);
    absl::Time t1 = absl::Now();
    {
      grpc::ClientContext ctx;
      emu::AddAuthToken(&ctx, daemons.token());
      emu::v1::DestroyLabRequest req;
      req.set_lab("bench");
      auto reader = controller->DestroyLab(&ctx, req);
      emu::v1::DeployEvent e;
      while (reader->Read(&e)) {
      }
      grpc::Status st = reader->Finish();
      if (!st.ok()) {
        std::fprintf(stderr, "down failed: %s\n", st.error_message().c_str());
        return 1;
      }
    }
    double down = absl::ToDoubleSeconds(absl::Now() - t1);
    // Leftovers: namespaces with the agent's prefix, and whatever the agent
    // still reports as owned (interfaces, qdiscs, processes, state files).
    int leftovers = CountNamespaces(prefix);
    {
      grpc::ClientContext ctx;
      emu::AddAuthToken(&ctx, daemons.token());
      emu::v1::ListResourcesRequest req;
      emu::v1::ListResourcesResponse resp;
      if (agent->ListResources(&ctx, req, &resp).ok()) {
        leftovers += resp.resources_size();
      }
    }
    worst_leftovers = std::max(worst_leftovers, leftovers);
    ups.push_back(up);
    downs.push_back(down);
    std::printf("round %d: up %.2f s (%d namespaces live), down %.2f s, "
                "leftovers %d\n", round, up, live, down, leftovers);
  }
  std::printf("up   median %.2f s, max %.2f s   (goal <= 10 s)\n",
              Percentile(ups, 0.5), Percentile(ups, 1.0));
  std::printf("down median %.2f s, max %.2f s   (goal <= 5 s)\n",
              Percentile(downs, 0.5), Percentile(downs, 1.0));
  std::printf("leftovers after down: %d       (goal 0)\n", worst_leftovers);
  return worst_leftovers == 0 ? 0 : 2;
}
