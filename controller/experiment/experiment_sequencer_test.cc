#include "controller/experiment/experiment_sequencer.h"

#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

using emu::v1::CommandResult;
using emu::v1::TaskResult;
using ::testing::HasSubstr;

const std::map<std::string, std::string> kHosts = {
    {"n1", "h1"}, {"n2", "h2"}, {"n3", "h3"}};

ExperimentSpec Parse(const std::string& yaml) {
  auto spec = ParseExperiment("exp.yaml", yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

emu::v1::AgentToBarrier::CommandDone Done(uint64_t gen, const std::string& id,
                                          int exit_code, int64_t start,
                                          int64_t end,
                                          const std::string& out = "") {
  emu::v1::AgentToBarrier::CommandDone d;
  d.set_generation(gen);
  d.set_command_id(id);
  d.mutable_result()->set_exit_code(exit_code);
  d.mutable_result()->set_stdout(out);
  d.mutable_result()->set_start_unix_us(start);
  d.mutable_result()->set_end_unix_us(end);
  return d;
}

const SequencerAction* Find(const std::vector<SequencerAction>& actions,
                            SequencerAction::Kind kind) {
  for (const auto& a : actions) {
    if (a.kind == kind) return &a;
  }
  return nullptr;
}

class SequencerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ExperimentSequencer> Make(const std::string& yaml,
                                            uint64_t first_gen = 100) {
    return std::make_unique<ExperimentSequencer>(
        Parse(yaml), "lab", emu::v1::Topology(), kHosts,
        std::map<std::string, std::string>{}, first_gen, &clock_);
  }
  FakeClock clock_;
};

constexpr char kTwoTasks[] = R"Y(experiment: two
start_margin: 1ms
tasks:
  - name: a
    commands:
      - {id: a1, node: n1, cmd: "true"}
      - {id: a2, node: n2, cmd: "true"}
  - name: b
    commands:
      - {id: b1, node: n3, argv: ["true"]}
)Y";

TEST_F(SequencerTest, NextTaskIsReleasedOnlyAfterEveryCommandReported) {
  auto seq = Make(kTwoTasks);
  auto actions = seq->Start();
  ASSERT_EQ(actions.size(), 1u);
  ASSERT_EQ(actions[0].kind, SequencerAction::kRelease);
  const uint64_t gen = actions[0].generation;
  EXPECT_GT(gen, 100u);
  ASSERT_EQ(actions[0].releases.size(), 2u);  // h1 and h2
  const auto& rel = actions[0].releases.at("h1");
  EXPECT_EQ(rel.start_unix_us(),
            absl::ToUnixMicros(clock_.Now() + absl::Milliseconds(1)));
  EXPECT_EQ(rel.commands(0).id(), "a1");

  clock_.Advance(absl::Milliseconds(5));
  auto after_first = seq->CommandDone("h1", Done(gen, "a1", 0, 10, 20));
  ASSERT_TRUE(after_first.ok());
  EXPECT_TRUE(after_first->empty()) << "b released before a2 ended";

  auto after_second = seq->CommandDone("h2", Done(gen, "a2", 0, 13, 30));
  ASSERT_TRUE(after_second.ok());
  const SequencerAction* next = Find(*after_second, SequencerAction::kRelease);
  ASSERT_NE(next, nullptr);
  EXPECT_GT(next->generation, gen);
  EXPECT_EQ(next->releases.count("h3"), 1u);
  ASSERT_EQ(seq->result().tasks_size(), 1);
  EXPECT_EQ(seq->result().tasks(0).skew_us(), 3);
  EXPECT_EQ(seq->result().tasks(0).end_unix_us(), 30);

  auto last = seq->CommandDone("h3", Done(next->generation, "b1", 0, 40, 50));
  ASSERT_TRUE(last.ok());
  EXPECT_NE(Find(*last, SequencerAction::kFinished), nullptr);
  EXPECT_TRUE(seq->finished());
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_SUCCEEDED);
}

TEST_F(SequencerTest, StaleAndForeignReportsAreAborted) {
  auto seq = Make(kTwoTasks);
  const uint64_t gen = seq->Start()[0].generation;
  auto stale = seq->CommandDone("h1", Done(gen - 1, "a1", 0, 1, 2));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  auto wrong_host = seq->CommandDone("h3", Done(gen, "a1", 0, 1, 2));
  EXPECT_EQ(wrong_host.status().code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(seq->CommandDone("h1", Done(gen, "a1", 0, 1, 2)).ok());
  auto twice = seq->CommandDone("h1", Done(gen, "a1", 0, 1, 2));
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAborted);
}

TEST_F(SequencerTest, GenerationsAfterRestartNeverMatchOldReports) {
  auto before = Make(kTwoTasks, 100);
  const uint64_t old_gen = before->Start()[0].generation;
  // A restarted controller continues above the persisted generation.
  auto after = Make(kTwoTasks, before->generation());
  const uint64_t new_gen = after->Start()[0].generation;
  EXPECT_GT(new_gen, old_gen);
  EXPECT_EQ(
      after->CommandDone("h1", Done(old_gen, "a1", 0, 1, 2)).status().code(),
      absl::StatusCode::kAborted);
}

TEST_F(SequencerTest, FailureStopsTheRunAndCancelsTheOthers) {
  auto seq = Make(kTwoTasks);
  const uint64_t gen = seq->Start()[0].generation;
  auto actions = seq->CommandDone("h1", Done(gen, "a1", 3, 1, 2));
  ASSERT_TRUE(actions.ok());
  const SequencerAction* cancel = Find(*actions, SequencerAction::kCancel);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->hosts, std::vector<std::string>{"h2"});
  EXPECT_EQ(Find(*actions, SequencerAction::kRelease), nullptr);
  EXPECT_TRUE(seq->finished());
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(seq->result().error(), HasSubstr("a1 (node n1: 'true')"));
  EXPECT_THAT(seq->result().error(), HasSubstr("exit status 3"));
  EXPECT_EQ(seq->result().tasks(0).commands(1).status(),
            CommandResult::CANCELLED);
}

TEST_F(SequencerTest, ContinueOnFailureAndSuccessCodes) {
  auto seq = Make(R"Y(experiment: x
tasks:
  - name: a
    on_failure: continue
    commands:
      - {id: a1, node: n1, cmd: "exit 1"}
      - {id: a2, node: n2, cmd: "exit 2", success: [2]}
  - name: b
    when: ${a.status} == failed
    commands:
      - {id: b1, node: n1, cmd: "true"}
)Y");
  const uint64_t gen = seq->Start()[0].generation;
  ASSERT_TRUE(seq->CommandDone("h1", Done(gen, "a1", 1, 1, 2))->empty());
  auto actions = seq->CommandDone("h2", Done(gen, "a2", 2, 1, 2));
  ASSERT_TRUE(actions.ok());
  ASSERT_NE(Find(*actions, SequencerAction::kRelease), nullptr);
  EXPECT_EQ(seq->result().tasks(0).status(), TaskResult::FAILED);
  EXPECT_EQ(seq->result().tasks(0).commands(1).status(), CommandResult::OK);
}

TEST_F(SequencerTest, CapturedValueDrivesBranch) {
  auto seq = Make(R"Y(experiment: x
tasks:
  - name: probe
    commands:
      - {id: p, node: n1, cmd: "echo x", capture: {var: v, regex: "v=([0-9]+)"}}
    next:
      - if: ${v} >= 10
        goto: big
  - name: small
    commands:
      - {id: s, node: n2, cmd: "echo small ${v}"}
    goto: end
  - name: big
    commands:
      - {id: b, node: n3, cmd: "echo big ${v}"}
)Y");
  const uint64_t gen = seq->Start()[0].generation;
  auto actions = seq->CommandDone("h1", Done(gen, "p", 0, 1, 2, "v=12\n"));
  ASSERT_TRUE(actions.ok());
  const SequencerAction* rel = Find(*actions, SequencerAction::kRelease);
  ASSERT_NE(rel, nullptr);
  ASSERT_EQ(rel->releases.count("h3"), 1u);
  EXPECT_EQ(rel->releases.at("h3").commands(0).argv(2), "echo big 12");
  EXPECT_EQ(seq->result().variables().at("v"), "12");
}

TEST_F(SequencerTest, CaptureWithoutMatchFailsTheCommand) {
  auto seq = Make(R"Y(experiment: x
tasks:
  - commands:
      - {id: p, node: n1, cmd: "echo", capture: {var: v, regex: "v=([0-9]+)"}}
)Y");
  const uint64_t gen = seq->Start()[0].generation;
  ASSERT_TRUE(seq->CommandDone("h1", Done(gen, "p", 0, 1, 2, "nothing")).ok());
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(seq->result().error(), HasSubstr("capture v"));
}

TEST_F(SequencerTest, GotoLoopIsBoundedByMaxSteps) {
  auto seq = Make(R"Y(experiment: x
max_steps: 3
tasks:
  - name: again
    commands:
      - {id: c, node: n1, cmd: "true"}
    goto: again
)Y");
  uint64_t gen = seq->Start()[0].generation;
  for (int i = 0; i < 3; ++i) {
    auto a = seq->CommandDone("h1", Done(gen, "c", 0, 1, 2));
    ASSERT_TRUE(a.ok());
    if (const auto* r = Find(*a, SequencerAction::kRelease))
      gen = r->generation;
  }
  EXPECT_TRUE(seq->finished());
  EXPECT_EQ(seq->result().tasks_size(), 3);
  EXPECT_THAT(seq->result().error(), HasSubstr("max_steps=3"));
}

TEST_F(SequencerTest, DeadlineTakesSilentHostsAsLost) {
  auto seq = Make(R"Y(experiment: x
start_margin: 1ms
tasks:
  - commands:
      - {id: c, node: n1, cmd: "sleep 100", timeout: 2s}
)Y");
  seq->Start();
  EXPECT_EQ(seq->NextDeadline(), clock_.Now() + absl::Milliseconds(1) +
                                     absl::Seconds(2) + absl::Seconds(5));
  clock_.Advance(absl::Seconds(7));
  EXPECT_TRUE(seq->Tick().empty());
  clock_.Advance(absl::Milliseconds(2));
  auto actions = seq->Tick();
  EXPECT_NE(Find(actions, SequencerAction::kCancel), nullptr);
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(seq->result().error(), HasSubstr("no report from host h1"));
  EXPECT_EQ(seq->result().tasks(0).commands(0).status(), CommandResult::LOST);
}

TEST_F(SequencerTest, TimedOutCommandFailsTask) {
  auto seq = Make(kTwoTasks);
  const uint64_t gen = seq->Start()[0].generation;
  auto d = Done(gen, "a1", 137, 1, 2);
  d.mutable_result()->set_timed_out(true);
  ASSERT_TRUE(seq->CommandDone("h1", d).ok());
  EXPECT_EQ(seq->result().tasks(0).commands(0).status(),
            CommandResult::TIMED_OUT);
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_FAILED);
}

TEST_F(SequencerTest, HostLostFailsTaskNamingHostAndCommands) {
  auto seq = Make(kTwoTasks);
  const uint64_t gen = seq->Start()[0].generation;
  ASSERT_TRUE(seq->CommandDone("h1", Done(gen, "a1", 0, 1, 2)).ok());
  auto actions = seq->HostLost("h2", "stream ended: connection reset");
  EXPECT_TRUE(seq->finished());
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(seq->result().error(), HasSubstr("host h2 lost"));
  EXPECT_THAT(seq->result().error(), HasSubstr("a2 (node n2: 'true')"));
  EXPECT_EQ(seq->result().tasks(0).commands(1).status(), CommandResult::LOST);
  // A host not in the running Task changes nothing now.
  EXPECT_TRUE(seq->HostLost("h3", "gone").empty());
}

TEST_F(SequencerTest, CancelKillsOutstandingEverywhere) {
  auto seq = Make(kTwoTasks);
  seq->Start();
  auto actions = seq->Cancel("Ctrl-C");
  const SequencerAction* cancel = Find(actions, SequencerAction::kCancel);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->hosts, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(seq->result().state(), emu::v1::RUN_CANCELLED);
  EXPECT_EQ(seq->result().tasks(0).status(), TaskResult::CANCELLED);
}

TEST_F(SequencerTest, MarginGrowsWhenLateAndShrinksWhenOnTime) {
  auto seq = Make(R"Y(experiment: m
tasks:
  - name: a
    commands:
      - {id: a1, node: n1, cmd: "true"}
      - {id: a2, node: n2, cmd: "true"}
    goto: a
)Y");
  auto rel = seq->Start()[0];
  auto margin = [](const SequencerAction& a) {
    const auto& r = a.releases.begin()->second;
    return absl::Microseconds(r.start_unix_us() - r.sent_unix_us());
  };
  EXPECT_EQ(margin(rel), absl::Milliseconds(2));  // initial
  // a2 was ready 1 ms after the instant: the next margin is 2 + 2*1 ms.
  const int64_t instant = rel.releases.at("h1").start_unix_us();
  ASSERT_TRUE(seq->CommandDone(
                     "h1", Done(rel.generation, "a1", 0, instant, instant + 10))
                  .ok());
  auto late = Done(rel.generation, "a2", 0, instant + 1000, instant + 1010);
  late.set_late_us(1000);
  auto next = seq->CommandDone("h2", late);
  ASSERT_TRUE(next.ok());
  rel = *Find(*next, SequencerAction::kRelease);
  EXPECT_EQ(margin(rel), absl::Milliseconds(4));
  // On time: shrinks by 2%.
  const int64_t t2 = rel.releases.at("h1").start_unix_us();
  ASSERT_TRUE(
      seq->CommandDone("h1", Done(rel.generation, "a1", 0, t2, t2)).ok());
  next =
      seq->CommandDone("h2", Done(rel.generation, "a2", 0, t2 + 20, t2 + 30));
  rel = *Find(*next, SequencerAction::kRelease);
  EXPECT_EQ(margin(rel), absl::Microseconds(3920));
}

TEST_F(SequencerTest, OneHostTaskStartsOnReceipt) {
  auto seq = Make(R"Y(experiment: one
tasks:
  - commands:
      - {node: n1, cmd: "true"}
      - {node: n1, cmd: "true"}
)Y");
  // The actions must outlive `r` (ASAN found a reference into a temporary).
  const auto actions = seq->Start();
  const auto& r = actions[0].releases.at("h1");
  EXPECT_EQ(r.start_unix_us(), r.sent_unix_us());
}

TEST_F(SequencerTest, LinkStepsComeBeforeTheRelease) {
  emu::v1::Topology topo;
  auto* link = topo.add_links();
  link->mutable_a()->set_node("n1");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("n2");
  link->mutable_b()->set_interface("eth1");
  link->mutable_a_to_b()->set_delay_us(7);
  ExperimentSequencer seq(Parse(R"Y(experiment: x
vars: {rate: 5mbit}
tasks:
  - links:
      - {link: "n2:eth1<->n1:eth1", rate: "${rate}"}
    commands:
      - {id: c, node: n1, cmd: "true"}
)Y"),
                          "lab", topo, kHosts, {{"rate", "20mbit"}}, 0,
                          &clock_);
  auto actions = seq.Start();
  ASSERT_EQ(actions.size(), 1u);
  ASSERT_EQ(actions[0].kind, SequencerAction::kApplyLinks);
  const auto& change = actions[0].links.at(0);
  EXPECT_EQ(change.hosts, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(change.request.a().node(), "n1");  // the topology's orientation
  EXPECT_EQ(change.request.a_to_b().rate_bps(), 20000000u);
  EXPECT_EQ(change.request.a_to_b().delay_us(), 7u);  // kept
  auto next = seq.LinksApplied(actions[0].generation, absl::OkStatus());
  ASSERT_NE(Find(next, SequencerAction::kRelease), nullptr);
}

TEST_F(SequencerTest, LinkStateStepNamesBothEnds) {
  emu::v1::Topology topo;
  auto* link = topo.add_links();
  link->mutable_a()->set_node("n1");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("n2");
  link->mutable_b()->set_interface("eth2");
  ExperimentSequencer seq(Parse(R"Y(experiment: x
tasks:
  - links:
      - {link: "n1:eth1<->n2:eth2", state: down}
)Y"),
                          "lab", topo, kHosts, {}, 0, &clock_);
  auto actions = seq.Start();
  ASSERT_EQ(actions.size(), 1u);
  const auto& change = actions[0].links.at(0);
  EXPECT_FALSE(change.set_params);
  ASSERT_TRUE(change.up.has_value());
  EXPECT_FALSE(*change.up);
  ASSERT_EQ(change.ends.size(), 2u);
  EXPECT_EQ(change.ends[1].host, "h2");
  EXPECT_EQ(change.ends[1].interface, "eth2");
  // A failed change fails the Task (and the run), naming it.
  auto next = seq.LinksApplied(actions[0].generation,
                               absl::UnavailableError("host h2: gone"));
  EXPECT_EQ(seq.result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(seq.result().error(), HasSubstr("link change: host h2: gone"));
}

// Host clocks: each host is sent the instant in its own clock, its reports
// are converted back (so the skew is the true spread), and a host known
// too loosely, or not at all, is warned about.
TEST_F(SequencerTest, HostClocksShiftInstantsAndReports) {
  auto seq = Make(kTwoTasks);
  std::vector<emu::v1::HostClock> clocks(3);
  clocks[0].set_host("h1");
  clocks[0].set_samples(8);
  clocks[0].set_offset_us(250000);  // h1 is 250 ms ahead
  clocks[0].set_bound_us(40);
  clocks[1].set_host("h2");
  clocks[1].set_samples(8);
  clocks[1].set_offset_us(-3000);
  clocks[1].set_bound_us(4000);  // above the 1 ms goal
  clocks[2].set_host("h3");      // no answer
  seq->SetHostClocks(clocks);
  auto actions = seq->Start();
  ASSERT_EQ(seq->result().host_clocks_size(), 3);
  ASSERT_EQ(seq->result().warnings_size(), 2);
  EXPECT_THAT(seq->result().warnings(0), HasSubstr("host h2: clock offset"));
  EXPECT_THAT(seq->result().warnings(1), HasSubstr("host h3"));
  auto events = seq->TakeEvents();
  EXPECT_THAT(events[0].message(), HasSubstr("warning: host h2"));

  const auto* release = Find(actions, SequencerAction::kRelease);
  ASSERT_NE(release, nullptr);
  const int64_t start =
      absl::ToUnixMicros(clock_.Now() + absl::Milliseconds(1));
  EXPECT_EQ(release->releases.at("h1").start_unix_us(), start + 250000);
  EXPECT_EQ(release->releases.at("h2").start_unix_us(), start - 3000);
  const uint64_t gen = release->generation;
  // Both started 10 us after the instant, each by its own clock.
  ASSERT_TRUE(
      seq->CommandDone("h1", Done(gen, "a1", 0, start + 250010, start + 250500))
          .ok());
  ASSERT_TRUE(
      seq->CommandDone("h2", Done(gen, "a2", 0, start - 2990, start - 2000))
          .ok());
  const auto& task = seq->result().tasks(0);
  EXPECT_EQ(task.commands(0).start_unix_us(), start + 10);
  EXPECT_EQ(task.commands(1).start_unix_us(), start + 10);
  EXPECT_EQ(task.skew_us(), 0);
}

// Tasks added while running: after the running Task or at the end;
// duplicates refused; nothing once the run is over.
TEST_F(SequencerTest, AddTasksInsertsAfterTheRunningTaskOrAppends) {
  auto seq = Make(kTwoTasks);
  auto actions = seq->Start();
  const uint64_t gen = Find(actions, SequencerAction::kRelease)->generation;
  auto added = ParseAddedTasks(
      "more.yaml", "tasks:\n  - {name: c, commands: [{node: n1, cmd: x}]}\n",
      seq->spec());
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(seq->AddTasks(*added, true).code(), absl::StatusCode::kOk);
  EXPECT_EQ(seq->AddTasks(*added, false).code(),
            absl::StatusCode::kInvalidArgument);  // "c" again
  ASSERT_TRUE(seq->CommandDone("h1", Done(gen, "a1", 0, 1, 2)).ok());
  auto next = seq->CommandDone("h2", Done(gen, "a2", 0, 1, 2));
  ASSERT_TRUE(next.ok());
  const auto* rel = Find(*next, SequencerAction::kRelease);
  ASSERT_NE(rel, nullptr);
  // "c" (on h1) runs before "b".
  ASSERT_EQ(rel->releases.count("h1"), 1u);
  EXPECT_EQ(rel->releases.at("h1").commands(0).id(), "c.1");
  seq->Cancel("stop");
  EXPECT_EQ(seq->AddTasks(*added, false).code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---- Resuming after a controller restart ----

// A run saved mid-Task and resumed by a new sequencer (as a restarted
// controller does): the running Task is released again (resent) only to
// the host whose command had not reported, with the same generation and
// instant; the outcome it reports ends the Task with both commands'
// results, captures made before the restart still hold, and the run goes
// on to its end.
TEST_F(SequencerTest, ResumeReleasesOnlyOutstandingCommandsAgain) {
  constexpr char kYaml[] = R"Y(experiment: resume
start_margin: 1ms
tasks:
  - name: a
    commands:
      - {id: a1, node: n1, cmd: "echo 7", capture: [{var: x, regex: "([0-9]+)"}]}
  - name: b
    commands:
      - {id: b1, node: n1, cmd: "echo ${x}"}
      - {id: b2, node: n2, cmd: "sleep 5"}
  - name: c
    commands:
      - {id: c1, node: n3, cmd: "true"}
)Y";
  auto before = Make(kYaml);
  auto a = before->Start();
  const uint64_t ga = a[0].generation;
  const int64_t t = absl::ToUnixMicros(clock_.Now());
  auto b = before->CommandDone("h1", Done(ga, "a1", 0, t, t + 10, "7\n"));
  ASSERT_TRUE(b.ok());
  const SequencerAction* rel_b = Find(*b, SequencerAction::kRelease);
  ASSERT_NE(rel_b, nullptr);
  const uint64_t gb = rel_b->generation;
  EXPECT_EQ(rel_b->releases.at("h1").commands(0).argv(2), "echo 7");
  ASSERT_TRUE(
      before->CommandDone("h1", Done(gb, "b1", 0, t + 20, t + 30, "7\n")).ok());
  emu::v1::RunCheckpoint cp;
  before->SaveState(&cp);
  EXPECT_TRUE(cp.running());
  EXPECT_EQ(cp.generation(), gb);
  EXPECT_THAT(cp.outstanding(), ::testing::ElementsAre("b2"));

  clock_.Advance(absl::Seconds(30));  // the controller was down a while
  auto after = Make(kYaml, 100);
  auto actions = after->Resume(cp);
  auto events = after->TakeEvents();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().kind(), emu::v1::ExperimentEvent::RUN_STARTED);
  EXPECT_EQ(events[1].kind(), emu::v1::ExperimentEvent::TASK_ENDED);
  EXPECT_EQ(events[1].task().name(), "a");
  EXPECT_EQ(events.back().kind(), emu::v1::ExperimentEvent::RUN_RESUMED);
  EXPECT_THAT(events.back().message(), HasSubstr("task b"));
  const SequencerAction* again = Find(actions, SequencerAction::kRelease);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->generation, gb);
  ASSERT_EQ(again->releases.size(), 1u);
  const auto& r2 = again->releases.at("h2");
  EXPECT_TRUE(r2.resent());
  ASSERT_EQ(r2.commands_size(), 1);
  EXPECT_EQ(r2.commands(0).id(), "b2");
  EXPECT_EQ(r2.start_unix_us(),
            rel_b->releases.at("h2").start_unix_us());  // same instant
  // The deadline was past: the agents get report_grace to answer.
  EXPECT_GE(after->NextDeadline(), clock_.Now() + absl::Seconds(5));
  // h1 sends b1's outcome again (it held it): already recorded, refused.
  EXPECT_FALSE(
      after->CommandDone("h1", Done(gb, "b1", 0, t + 20, t + 30, "7\n")).ok());
  auto c = after->CommandDone("h2", Done(gb, "b2", 0, t + 20, t + 5000));
  ASSERT_TRUE(c.ok());
  const SequencerAction* rel_c = Find(*c, SequencerAction::kRelease);
  ASSERT_NE(rel_c, nullptr);
  EXPECT_GT(rel_c->generation, gb);
  EXPECT_FALSE(rel_c->releases.at("h3").resent());
  auto end = after->CommandDone("h3", Done(rel_c->generation, "c1", 0, t, t));
  ASSERT_TRUE(end.ok());
  ASSERT_TRUE(after->finished());
  const auto& result = after->result();
  EXPECT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  ASSERT_EQ(result.tasks_size(), 3);
  ASSERT_EQ(result.tasks(1).commands_size(), 2);
  EXPECT_EQ(result.tasks(1).commands(0).status(), CommandResult::OK);
  EXPECT_EQ(result.tasks(1).commands(1).status(), CommandResult::OK);
  EXPECT_EQ(result.tasks(1).commands(1).end_unix_us(), t + 5000);
  EXPECT_EQ(result.variables().at("x"), "7");
}

// An agent that restarted while the controller was down answers the
// resent commands with an error: the Task fails saying so.
TEST_F(SequencerTest, ResumeWhoseAgentForgotTheRunFailsTheTask) {
  auto before = Make(kTwoTasks);
  auto a = before->Start();
  const uint64_t gen = a[0].generation;
  emu::v1::RunCheckpoint cp;
  before->SaveState(&cp);
  auto after = Make(kTwoTasks);
  auto actions = after->Resume(cp);
  ASSERT_NE(Find(actions, SequencerAction::kRelease), nullptr);
  EXPECT_EQ(Find(actions, SequencerAction::kRelease)->releases.size(), 2u);
  emu::v1::AgentToBarrier::CommandDone d;
  d.set_generation(gen);
  d.set_command_id("a1");
  d.set_error("host h1: the agent has no record of run r1");
  auto r = after->CommandDone("h1", d);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(after->finished());
  EXPECT_EQ(after->result().state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(after->result().error(), HasSubstr("no record of run"));
  EXPECT_EQ(after->result().tasks(0).commands(1).status(),
            CommandResult::CANCELLED);
}

// Saved while a Task's link change was pending: resumed, that Task begins
// again (the change is made again, from the state before it), with the
// generation it would have had.
TEST_F(SequencerTest, ResumeDuringALinkChangeBeginsTheTaskAgain) {
  emu::v1::Topology topo;
  auto* link = topo.add_links();
  link->mutable_a()->set_node("n1");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("n2");
  link->mutable_b()->set_interface("eth1");
  const std::string yaml = R"Y(experiment: x
tasks:
  - name: first
    commands: [{id: f, node: n1, cmd: "true"}]
  - name: second
    links:
      - {link: "n1:eth1<->n2:eth1", delay: "${d}"}
    commands:
      - {id: c, node: n1, cmd: "true"}
)Y";
  ExperimentSequencer before(Parse(yaml), "lab", topo, kHosts, {{"d", "5ms"}},
                             0, &clock_);
  auto a = before.Start();
  auto b = before.CommandDone("h1", Done(a[0].generation, "f", 0, 1, 2));
  ASSERT_TRUE(b.ok());
  const SequencerAction* links = Find(*b, SequencerAction::kApplyLinks);
  ASSERT_NE(links, nullptr);
  emu::v1::RunCheckpoint cp;
  before.SaveState(&cp);
  EXPECT_FALSE(cp.running());
  EXPECT_EQ(cp.next_task(), 1u);

  ExperimentSequencer after(Parse(yaml), "lab", topo, kHosts, {{"d", "5ms"}},
                            0, &clock_);
  auto again = after.Resume(cp);
  const SequencerAction* links2 = Find(again, SequencerAction::kApplyLinks);
  ASSERT_NE(links2, nullptr);
  EXPECT_EQ(links2->generation, links->generation);
  EXPECT_EQ(links2->links.at(0).request.a_to_b().delay_us(), 5000u);
  auto rel = after.LinksApplied(links2->generation, absl::OkStatus());
  ASSERT_NE(Find(rel, SequencerAction::kRelease), nullptr);
  EXPECT_EQ(after.result().tasks_size(), 1);  // "first", from before
}

// Tasks added to the run before the restart come back where they were.
TEST_F(SequencerTest, ResumeKeepsAddedTasks) {
  auto before = Make(kTwoTasks);
  auto a = before->Start();
  auto added = ParseAddedTasks("more.yaml", R"Y(tasks:
  - name: extra
    commands: [{id: e1, node: n2, cmd: "true"}]
)Y", before->spec());
  ASSERT_TRUE(added.ok()) << added.status();
  size_t at = 0;
  ASSERT_TRUE(before->AddTasks(*added, /*after_current=*/true, &at).ok());
  EXPECT_EQ(at, 1u);
  emu::v1::RunCheckpoint cp;
  before->SaveState(&cp);

  auto after = Make(kTwoTasks);
  auto again = ParseAddedTasks("more.yaml", R"Y(tasks:
  - name: extra
    commands: [{id: e1, node: n2, cmd: "true"}]
)Y", after->spec());
  ASSERT_TRUE(again.ok());
  after->InsertTasks(*again, at);
  after->Resume(cp);
  const int64_t t = absl::ToUnixMicros(clock_.Now());
  ASSERT_TRUE(after->CommandDone("h1", Done(a[0].generation, "a1", 0, t, t)).ok());
  auto next = after->CommandDone("h2", Done(a[0].generation, "a2", 0, t, t));
  ASSERT_TRUE(next.ok());
  const SequencerAction* rel = Find(*next, SequencerAction::kRelease);
  ASSERT_NE(rel, nullptr);
  EXPECT_EQ(rel->releases.at("h2").commands(0).id(), "e1");
}

}  // namespace
}  // namespace emu::controller::experiment
