#include "controller/lab/deploy_events.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

using emu::v1::ApplyLabEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

emu::v1::ApplyLabRequest Share(int nodes, int links) {
  emu::v1::ApplyLabRequest share;
  for (int i = 0; i < nodes; ++i) share.add_nodes()->set_name("n");
  for (int i = 0; i < links; ++i) share.add_links();
  return share;
}

ApplyLabEvent Event(ApplyLabEvent::Kind kind, std::string object) {
  ApplyLabEvent e;
  e.set_kind(kind);
  e.set_object(std::move(object));
  return e;
}

TEST(HostProgressTest, SmallShareSendsEveryEvent) {
  std::vector<std::string> lines;
  HostProgress p("h1", Share(2, 1), emu::v1::DEPLOYING,
                 [&](const emu::v1::DeployEvent& e) {
                   EXPECT_EQ(e.host(), "h1");
                   lines.push_back(e.message());
                 });
  p.OnAgentEvent(Event(ApplyLabEvent::NODE_CREATED, "node a"));
  p.OnAgentEvent(Event(ApplyLabEvent::LINK_CREATED, "link a:e0<->b:e0"));
  EXPECT_THAT(lines, ElementsAre("created node a", "created link a:e0<->b:e0"));
}

TEST(HostProgressTest, LargeShareSendsAboutTwentyProgressLines) {
  constexpr int kNodes = 10000, kLinks = 15000;
  std::vector<std::string> lines;
  HostProgress p("h1", Share(kNodes, kLinks), emu::v1::DEPLOYING,
                 [&](const emu::v1::DeployEvent& e) {
                   lines.push_back(e.message());
                 });
  for (int i = 0; i < kNodes; ++i) {
    p.OnAgentEvent(Event(ApplyLabEvent::NODE_CREATED, "node"));
  }
  for (int i = 0; i < kLinks; ++i) {
    p.OnAgentEvent(Event(ApplyLabEvent::LINK_CREATED, "link"));
  }
  for (int i = 0; i < 7; ++i) {
    p.OnAgentEvent(Event(ApplyLabEvent::LINK_SHAPED, "link"));
  }
  p.OnAgentEvent(Event(ApplyLabEvent::DONE, "lab x"));
  ASSERT_GE(lines.size(), 20u);
  EXPECT_LE(lines.size(), 23u);
  // The last summary before DONE counts everything; DONE comes as itself.
  EXPECT_EQ(lines[lines.size() - 2],
            "created 10000 of 10000 nodes, 15000 of 15000 links; configured "
            "0 nodes; shaped 7 links");
  EXPECT_THAT(lines.back(), HasSubstr("done: lab x"));
}

}  // namespace
}  // namespace emu::controller::lab
