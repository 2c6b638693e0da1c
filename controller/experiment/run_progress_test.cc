#include "controller/experiment/run_progress.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

using ::testing::ElementsAre;
using emu::v1::ExperimentEvent;

ExperimentEvent Event(ExperimentEvent::Kind kind, const std::string& msg) {
  ExperimentEvent e;
  e.set_kind(kind);
  e.set_message(msg);
  return e;
}

std::function<void(const ExperimentEvent&)> Into(
    std::vector<std::string>* seen) {
  return [seen](const ExperimentEvent& e) { seen->push_back(e.message()); };
}

TEST(RunProgressTest, LateWatcherGetsHistoryThenLiveEventsToTheEnd) {
  RunProgress p;
  std::vector<std::string> first, late;
  p.Watch(Into(&first));
  p.Publish(Event(ExperimentEvent::RUN_STARTED, "started"));
  p.Publish(Event(ExperimentEvent::TASK_ENDED, "t1"));
  p.Watch(Into(&late));
  p.Publish(Event(ExperimentEvent::TASK_ENDED, "t2"));
  EXPECT_FALSE(p.ended());
  p.Publish(Event(ExperimentEvent::RUN_ENDED, "ended"));
  EXPECT_TRUE(p.ended());
  p.Publish(Event(ExperimentEvent::TASK_ENDED, "after the end"));
  EXPECT_THAT(first, ElementsAre("started", "t1", "t2", "ended"));
  EXPECT_THAT(late, ElementsAre("started", "t1", "t2", "ended"));
}

TEST(RunProgressTest, WatchAfterTheEndReplaysEverything) {
  RunProgress p;
  p.Publish(Event(ExperimentEvent::RUN_STARTED, "started"));
  p.Publish(Event(ExperimentEvent::RUN_ENDED, "ended"));
  std::vector<std::string> seen;
  p.Watch(Into(&seen));
  EXPECT_THAT(seen, ElementsAre("started", "ended"));
}

TEST(RunProgressTest, UnwatchedWatcherIsNotCalledAgain) {
  RunProgress p;
  std::vector<std::string> gone, stays;
  uint64_t id = p.Watch(Into(&gone));
  p.Watch(Into(&stays));
  p.Publish(Event(ExperimentEvent::RUN_STARTED, "started"));
  p.Unwatch(id);
  p.Unwatch(id);  // twice: ignored
  p.Publish(Event(ExperimentEvent::RUN_ENDED, "ended"));
  EXPECT_THAT(gone, ElementsAre("started"));
  EXPECT_THAT(stays, ElementsAre("started", "ended"));
}

TEST(RunProgressTest, SoFarHasTheEndedTasksThenTheWholeResult) {
  RunProgress p;
  ExperimentEvent start = Event(ExperimentEvent::RUN_STARTED, "start");
  start.mutable_run()->set_id("r1");
  start.mutable_run()->set_lab("core");
  p.Publish(start);
  ExperimentEvent t1 = Event(ExperimentEvent::TASK_ENDED, "t1");
  t1.mutable_task()->set_name("first");
  p.Publish(t1);
  p.Publish(Event(ExperimentEvent::TASK_RELEASED, "t2 released"));
  emu::v1::RunResult so_far = p.SoFar();
  EXPECT_EQ(so_far.id(), "r1");
  EXPECT_EQ(so_far.state(), emu::v1::RUN_RUNNING);
  ASSERT_EQ(so_far.tasks_size(), 1);
  EXPECT_EQ(so_far.tasks(0).name(), "first");
  ExperimentEvent end = Event(ExperimentEvent::RUN_ENDED, "end");
  end.mutable_run()->set_id("r1");
  end.mutable_run()->set_state(emu::v1::RUN_SUCCEEDED);
  end.mutable_run()->add_tasks()->set_name("first");
  end.mutable_run()->add_tasks()->set_name("second");
  p.Publish(end);
  EXPECT_EQ(p.SoFar().state(), emu::v1::RUN_SUCCEEDED);
  EXPECT_EQ(p.SoFar().tasks_size(), 2);
}

}  // namespace
}  // namespace emu::controller::experiment
