#include "cli/plan_render.h"

#include "gtest/gtest.h"

namespace emu::cli {
namespace {

TEST(RenderPlanTest, HostsNodesAndCutLinks) {
  v1::PlanLabResponse p;
  p.set_lab("demo");
  p.mutable_options()->set_strategy(v1::PlacementOptions::SPREAD);
  p.mutable_options()->set_tolerance_percent(10);
  p.set_links(2);
  p.set_place_ms(0.42);
  auto* h1 = p.add_hosts();
  h1->set_host("h1");
  h1->set_nodes(1);
  h1->set_cpu_milli(2);
  h1->set_cpu_capacity_milli(2000);
  h1->set_cpu_limit_milli(1100);
  h1->set_memory_mib(8);
  h1->set_memory_capacity_mib(4096);
  auto* n = p.add_nodes();
  n->set_node("a");
  n->set_host("h1");
  n->set_pinned(true);
  n->set_cpu_milli(2);
  n->set_memory_mib(8);
  auto* c = p.add_cut_links();
  c->set_link("a:eth1<->b:eth1");
  c->set_host_a("h1");
  c->set_host_b("h2");
  c->set_a_to_b_rate_bps(100'000'000);
  EXPECT_EQ(RenderPlan(p),
            "Lab demo: 1 nodes on 1 hosts (spread, tolerance 10%); 1 of 2 "
            "links cross hosts (100Mbit/s configured); placed in 0.4 ms\n"
            "\nHOSTS\n"
            "HOST  NODES  CPUS     LIMIT  MEMORY\n"
            "h1    1      0.002/2  1.1    8MiB/4GiB\n"
            "\nNODES\n"
            "NODE  HOST  PINNED  CPUS   MEMORY\n"
            "a     h1    yes     0.002  8MiB\n"
            "\nCUT LINKS\n"
            "LINK             HOSTS  RATE A->B  RATE B->A\n"
            "a:eth1<->b:eth1  h1/h2  100Mbit/s  unshaped\n");
}

}  // namespace
}  // namespace emu::cli
