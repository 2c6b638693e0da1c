#include "agent/stats/lab_counters.h"

#include <map>

#include "agent/impair/engine_links.h"
#include "agent/impair/testing/fake_link_engine.h"
#include "agent/net/resource_names.h"
#include "agent/tunnel/testing/fake_tap_opener.h"
#include "gtest/gtest.h"

namespace emu::agent::stats {
namespace {

class TableCounters : public NamespaceCounters {
 public:
  absl::StatusOr<std::vector<InterfaceSample>> Read(
      const std::string& ns) override {
    auto it = table.find(ns);
    if (it == table.end()) return absl::NotFoundError("namespace " + ns);
    return it->second;
  }
  std::map<std::string, std::vector<InterfaceSample>> table;
};

class TableProcesses : public net::NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) override {
    return pids[ns];
  }
  absl::Status KillAll(const std::string&, absl::Duration) override {
    return absl::OkStatus();
  }
  std::map<std::string, std::vector<pid_t>> pids;
};

class TableUsage : public ProcessUsage {
 public:
  absl::StatusOr<ProcessSample> Read(pid_t pid) override {
    auto it = usage.find(pid);
    if (it == usage.end()) return absl::NotFoundError("gone");
    return it->second;
  }
  std::map<pid_t, ProcessSample> usage;
};

InterfaceSample If(std::string name, uint64_t rx, uint64_t rxp, uint64_t tx,
                   uint64_t txp) {
  InterfaceSample s;
  s.name = std::move(name);
  s.rx_bytes = rx;
  s.rx_packets = rxp;
  s.tx_bytes = tx;
  s.tx_packets = txp;
  return s;
}

emu::v1::ApplyLabRequest Spec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("alice+core");
  spec.add_nodes()->set_name("r1");
  spec.add_nodes()->set_name("r2");
  auto* l = spec.add_links();
  l->mutable_a()->set_node("r1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("r2");
  l->mutable_b()->set_interface("eth1");
  auto* rl = spec.add_remote_links();
  rl->set_local_is_a(false);
  rl->set_link_id("r9:eth0<->r2:eth2");
  rl->mutable_link()->mutable_a()->set_node("r9");
  rl->mutable_link()->mutable_a()->set_interface("eth0");
  rl->mutable_link()->mutable_b()->set_node("r2");
  rl->mutable_link()->mutable_b()->set_interface("eth2");
  return spec;
}

TEST(LabCountersTest, DirectionsFromSenderTxAndReceiverRx) {
  TableCounters counters;
  const std::string ns1 = net::NamespaceName("h1", "alice+core", "r1");
  const std::string ns2 = net::NamespaceName("h1", "alice+core", "r2");
  InterfaceSample r1 = If("eth1", 500, 5, 10000, 100);
  r1.qdisc = "tbf";
  r1.qdisc_drops = 7;
  r1.backlog_bytes = 3000;
  r1.backlog_packets = 2;
  counters.table[ns1] = {If("lo", 0, 0, 0, 0), r1};
  counters.table[ns2] = {If("eth1", 9900, 99, 480, 4),
                         If("eth2", 2000, 20, 3000, 30)};
  TableProcesses procs;
  procs.pids[ns1] = {10, 11, 12};
  TableUsage usage;
  usage.usage[10] = {1.5, 1000};
  usage.usage[11] = {0.5, 3000};  // 12 ended between List and Read

  LabCounterCollector c("h1", {&counters, &procs, &usage, nullptr, nullptr});
  emu::v1::LabCounters got = c.Collect(Spec());
  EXPECT_EQ(got.lab(), "alice+core");
  EXPECT_GT(got.time_unix_us(), 0);
  EXPECT_EQ(got.problems_size(), 0) << got.problems(0);
  ASSERT_EQ(got.links_size(), 2);

  const auto& l = got.links(0);
  EXPECT_EQ(l.link(), "r1:eth1<->r2:eth1");
  EXPECT_FALSE(l.cross_host());
  EXPECT_EQ(l.a_to_b().from(), "r1:eth1");
  EXPECT_EQ(l.a_to_b().to(), "r2:eth1");
  EXPECT_EQ(l.a_to_b().sent_bytes(), 10000u);
  EXPECT_EQ(l.a_to_b().sent_packets(), 100u);
  EXPECT_EQ(l.a_to_b().delivered_bytes(), 9900u);
  EXPECT_EQ(l.a_to_b().delivered_packets(), 99u);
  EXPECT_EQ(l.a_to_b().dropped_packets(), 7u);
  EXPECT_EQ(l.a_to_b().backlog_bytes(), 3000u);
  EXPECT_EQ(l.a_to_b().backlog_packets(), 2u);
  EXPECT_EQ(l.a_to_b().carrier(), "kernel");
  EXPECT_EQ(l.b_to_a().sent_bytes(), 480u);
  EXPECT_EQ(l.b_to_a().delivered_bytes(), 500u);

  // The cross-host link: r2 is b; only r2's side is observed here.
  const auto& x = got.links(1);
  EXPECT_TRUE(x.cross_host());
  EXPECT_EQ(x.b_to_a().from(), "r2:eth2");
  EXPECT_EQ(x.b_to_a().sent_bytes(), 3000u);
  EXPECT_EQ(x.b_to_a().delivered_bytes(), 0u);
  EXPECT_EQ(x.a_to_b().delivered_bytes(), 2000u);
  EXPECT_EQ(x.a_to_b().sent_bytes(), 0u);
  EXPECT_EQ(x.a_to_b().carrier(), "tunnel");

  ASSERT_EQ(got.nodes_size(), 2);
  EXPECT_EQ(got.nodes(0).node(), "r1");
  EXPECT_EQ(got.nodes(0).host(), "h1");
  EXPECT_EQ(got.nodes(0).processes(), 2u);
  EXPECT_DOUBLE_EQ(got.nodes(0).cpu_seconds(), 2.0);
  EXPECT_EQ(got.nodes(0).memory_bytes(), 4000u);
  EXPECT_EQ(got.nodes(1).processes(), 0u);
}

TEST(LabCountersTest, MissingNamespaceOrInterfaceIsAProblemNotAFailure) {
  TableCounters counters;
  const std::string ns2 = net::NamespaceName("h1", "alice+core", "r2");
  counters.table[ns2] = {If("eth1", 1, 1, 2, 2)};  // no eth2
  LabCounterCollector c("h1", {&counters, nullptr, nullptr, nullptr, nullptr});
  emu::v1::LabCounters got = c.Collect(Spec());
  ASSERT_EQ(got.links_size(), 2);
  EXPECT_EQ(got.links(0).b_to_a().sent_bytes(), 2u);
  EXPECT_EQ(got.links(0).a_to_b().sent_bytes(), 0u);
  std::string all;
  for (const auto& p : got.problems()) all += p + "\n";
  EXPECT_NE(all.find("namespace " + net::NamespaceName("h1", "alice+core",
                                                       "r1")),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("r1:eth1: no such interface"), std::string::npos) << all;
  EXPECT_NE(all.find("r2:eth2: no such interface"), std::string::npos) << all;
}

// A link the userspace engine serves: its drops, backlog and late frames
// come from the engine's counters of each direction.
TEST(LabCountersTest, EngineLinkDirectionsCarryTheEnginesCounters) {
  impair::FakeLinkEngine engine;
  tunnel::FakeTapOpener taps;
  impair::EngineLinks links(&engine, &taps);
  impair::EngineLinkSpec spec;
  spec.link = "r1:eth1<->r2:eth1";
  spec.tap_a = {"ns-a", "eth1", "", 0, "emu"};
  spec.tap_b = {"ns-b", "eth1", "", 0, "emu"};
  ASSERT_TRUE(links.Create("alice+core", spec).ok());
  linkemu::LinkStats st;
  st.a_to_b.dropped_loss = 3;
  st.a_to_b.dropped_queue = 1;
  st.a_to_b.backlog_frames = 2;
  st.a_to_b.late_1ms = 5;
  st.a_to_b.late_10ms = 2;
  st.a_to_b.late_max_ns = 28'400'000;
  st.b_to_a.late_1ms = 1;
  st.b_to_a.late_max_ns = 1'200'000;
  engine.SetStats(engine.links().begin()->first, st);

  TableCounters counters;
  LabCounterCollector c("h1", {&counters, nullptr, nullptr, &links, nullptr});
  emu::v1::LabCounters got = c.Collect(Spec());
  ASSERT_GE(got.links_size(), 1);
  const auto& l = got.links(0);
  EXPECT_EQ(l.link(), "r1:eth1<->r2:eth1");
  EXPECT_EQ(l.a_to_b().carrier(), "engine");
  EXPECT_EQ(l.a_to_b().dropped_packets(), 4u);
  EXPECT_EQ(l.a_to_b().backlog_packets(), 2u);
  EXPECT_EQ(l.a_to_b().late_1ms_packets(), 5u);
  EXPECT_EQ(l.a_to_b().late_10ms_packets(), 2u);
  EXPECT_EQ(l.a_to_b().late_max_us(), 28'400u);
  EXPECT_EQ(l.b_to_a().late_1ms_packets(), 1u);
  EXPECT_EQ(l.b_to_a().late_10ms_packets(), 0u);
  EXPECT_EQ(l.b_to_a().late_max_us(), 1'200u);
}

}  // namespace
}  // namespace emu::agent::stats
