#include "controller/placement/lab_planner.h"

#include "controller/hosts/testing/fake_agent_client.h"
#include "controller/lab/testing/in_memory_lab_store.h"
#include "gtest/gtest.h"

namespace emu::controller::placement {
namespace {

constexpr char kLab[] = R"(name: plan1
topology:
  nodes:
    a: {host: h2}
    b: {}
    c: {}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 100mbit
    - endpoints: ["b:eth2", "c:eth1"]
)";

TEST(LabPlannerTest, PlansWithoutDeploying) {
  lab::InMemoryLabStore store;
  hosts::HostRegistry hosts;
  auto h1 = std::make_unique<hosts::FakeAgentClient>("h1");
  auto h2 = std::make_unique<hosts::FakeAgentClient>("h2");
  hosts::FakeAgentClient* f1 = h1.get();
  hosts::FakeAgentClient* f2 = h2.get();
  ASSERT_TRUE(hosts.Add("h1", "fake:1", std::move(h1)).ok());
  ASSERT_TRUE(hosts.Add("h2", "fake:2", std::move(h2)).ok());
  lab::LabManager labs(&store, &hosts);

  emu::v1::PlanLabRequest req;
  req.mutable_source()->mutable_file()->set_name("plan1.yaml");
  req.mutable_source()->mutable_file()->set_content(kLab);
  // PACK: one 4-CPU host holds all three netns nodes; the pin keeps a on h2.
  req.mutable_options()->set_strategy(emu::v1::PlacementOptions::PACK);
  auto plan = PlanLab(labs, &hosts, req, /*admin=*/true, "admin");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->lab(), "plan1");
  ASSERT_EQ(plan->nodes_size(), 3);
  EXPECT_EQ(plan->nodes(0).host(), "h2");
  EXPECT_TRUE(plan->nodes(0).pinned());
  EXPECT_EQ(plan->nodes(1).host(), "h2");
  EXPECT_EQ(plan->nodes(2).host(), "h2");
  EXPECT_TRUE(plan->cut_links().empty());
  EXPECT_EQ(plan->links(), 2u);
  ASSERT_EQ(plan->hosts_size(), 2);
  EXPECT_EQ(plan->hosts(1).host(), "h2");
  EXPECT_EQ(plan->hosts(1).nodes(), 3u);
  EXPECT_EQ(plan->hosts(1).cpu_capacity_milli(), 4000u);

  // Nothing was deployed anywhere.
  EXPECT_TRUE(f1->applies().empty());
  EXPECT_TRUE(f2->applies().empty());
  EXPECT_TRUE(labs.List()->empty());

  // A bad topology fails as DeployLab would.
  req.mutable_source()->mutable_file()->set_content("name: x\n");
  EXPECT_EQ(PlanLab(labs, &hosts, req, true, "admin").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// `emuctl plan` refuses what `up` would of `target: host` stage commands:
// a caller who is not an administrator, then a host without the opt-in.
TEST(LabPlannerTest, HostCommandsAreCheckedAsADeployWouldCheckThem) {
  lab::InMemoryLabStore store;
  hosts::HostRegistry hosts;
  auto h1 = std::make_unique<hosts::FakeAgentClient>("h1");
  hosts::FakeAgentClient* f1 = h1.get();
  ASSERT_TRUE(hosts.Add("h1", "fake:1", std::move(h1)).ok());
  lab::LabManager labs(&store, &hosts);
  emu::v1::PlanLabRequest req;
  req.mutable_source()->mutable_file()->set_name("host.yaml");
  req.mutable_source()->mutable_file()->set_content(R"(name: hostcmd
topology:
  defaults: {kind: linux}
  nodes:
    a:
      stages:
        configure:
          exec:
            - {command: "touch /x", target: host}
)");
  absl::StatusOr<emu::v1::PlanLabResponse> plan =
      PlanLab(labs, &hosts, req, /*admin=*/false, "bob");
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kPermissionDenied)
      << plan.status();
  plan = PlanLab(labs, &hosts, req, /*admin=*/true, "admin");
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition)
      << plan.status();
  EXPECT_NE(plan.status().message().find("--allow_host_commands"),
            std::string::npos)
      << plan.status();
  f1->capabilities().set_host_commands(true);
  plan = PlanLab(labs, &hosts, req, /*admin=*/true, "admin");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->nodes(0).host(), "h1");
  EXPECT_TRUE(f1->execs().empty());
}

}  // namespace
}  // namespace emu::controller::placement
