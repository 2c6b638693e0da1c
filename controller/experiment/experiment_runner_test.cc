// The runner over real gRPC streams to in-process agents' barrier services
// (BarrierAgentServiceImpl), whose commands run on this machine in the
// test's own namespace (HostTaskCommandRunner): ordering across hosts,
// cancellation, a lost host, a timeout.
#include "controller/experiment/experiment_runner.h"
#include "controller/experiment/testing/fake_experiment_store.h"
#include "controller/experiment/testing/no_links.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/barrier/barrier_session.h"
#include "common/process_launcher.h"
#include "common/server_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

using ::testing::HasSubstr;

// Polls `cond` until it holds or `timeout` passes; true if it held.
bool WaitFor(const std::function<bool()>& cond,
             absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// The pid a command wrote to `path`, or 0 if it has not yet.
pid_t PidIn(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  if (!(in >> pid)) return 0;
  return pid;
}

using testing::NoLinks;

struct Agent {
  std::unique_ptr<agent::barrier::BarrierAgentServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 1; i <= 3; ++i) AddAgent(i, absl::ZeroDuration());
    lab_.set_name("lab");
  }
  // Agent h<i> with node n<i>, its clock `offset` ahead of the real one.
  void AddAgent(int i, absl::Duration offset) {
    {
      const std::string host = absl::StrCat("h", i);
      Agent a;
      a.service = std::make_unique<agent::barrier::BarrierAgentServiceImpl>(
          host, "tok", &runner_, offset);
      int port = 0;
      auto server = StartServer("127.0.0.1:0", {a.service.get()},
                                TransportSecurity::Plaintext(), "", &port);
      ASSERT_TRUE(server.ok()) << server.status();
      a.server = *std::move(server);
      a.address = absl::StrCat("127.0.0.1:", port);
      addresses_[host] = a.address;
      auto* node = lab_.add_nodes();
      node->set_name(absl::StrCat("n", i));
      node->set_host(host);
      agents_[host] = std::move(a);
    }
  }
  void TearDown() override {
    for (auto& [h, a] : agents_) {
      if (a.server) a.server->Shutdown(absl::ToChronoTime(absl::Now()));
    }
  }

  std::unique_ptr<ExperimentRunner> Make(
      const std::string& yaml, ExperimentStore* store = nullptr,
      uint64_t first_generation = 0,
      std::function<absl::StatusOr<emu::v1::LabCounters>()> counters = {}) {
    auto spec = ParseExperiment("exp.yaml", yaml);
    EXPECT_TRUE(spec.ok()) << spec.status();
    RunnerDeps deps{&clock_, &factory_, &links_, store};
    deps.lab_counters = std::move(counters);
    auto runner = std::make_unique<ExperimentRunner>(
        "run1", *spec, lab_, addresses_, std::map<std::string, std::string>{},
        first_generation, deps);
    if (store != nullptr) runner->EnableCheckpoints({"lab", "exp.yaml", yaml});
    return runner;
  }

  // The agent of `host` goes away (its commands with it) and a new one
  // serves on another port, as after an agent restart.
  void RestartAgent(const std::string& host) {
    Agent& a = agents_[host];
    a.server->Shutdown(absl::ToChronoTime(absl::Now()));
    a.server.reset();
    a.service.reset();
    a.service = std::make_unique<agent::barrier::BarrierAgentServiceImpl>(
        host, "tok", &runner_);
    int port = 0;
    auto server = StartServer("127.0.0.1:0", {a.service.get()},
                              TransportSecurity::Plaintext(), "", &port);
    ASSERT_TRUE(server.ok()) << server.status();
    a.server = *std::move(server);
    a.address = absl::StrCat("127.0.0.1:", port);
    addresses_[host] = a.address;
  }

  std::string TempPath(const std::string& name) {
    return absl::StrCat(::testing::TempDir(), "/", name, ".", getpid());
  }

  PosixProcessLauncher launcher_;
  agent::barrier::HostTaskCommandRunner runner_{&launcher_};
  RealClock clock_;
  GrpcBarrierLinkFactory factory_{"tok", TransportSecurity::Plaintext()};
  NoLinks links_;
  emu::v1::Lab lab_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, Agent> agents_;
};

TEST_F(RunnerTest, NoCommandOfTheNextTaskStartsBeforeEveryCommandEnded) {
  auto runner = Make(R"Y(experiment: order
tasks:
  - name: first
    commands:
      - {node: n1, cmd: "sleep 0.3"}
      - {node: n2, cmd: "sleep 0.1"}
      - {node: n3, cmd: "echo v=7", capture: {var: v, regex: "v=([0-9]+)"}}
  - name: second
    commands:
      - {node: n1, cmd: "echo ${v}"}
      - {node: n2, cmd: "true"}
      - {node: n3, cmd: "true"}
)Y");
  std::vector<emu::v1::ExperimentEvent> events;
  auto result = runner->Run(
      [&](const emu::v1::ExperimentEvent& e) { events.push_back(e); });
  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  ASSERT_EQ(result.tasks_size(), 2);
  int64_t first_end = 0;
  for (const auto& c : result.tasks(0).commands()) {
    first_end = std::max(first_end, c.end_unix_us());
  }
  for (const auto& c : result.tasks(1).commands()) {
    EXPECT_GE(c.start_unix_us(), first_end) << c.id();
  }
  EXPECT_EQ(result.tasks(1).commands(0).stdout(), "7\n");
  EXPECT_GE(result.tasks(0).commands(0).end_unix_us() -
                result.tasks(0).commands(0).start_unix_us(),
            300000);
  // The skew reported is the spread of the commands' recorded starts (how
  // small it is, is bench:barrier_bench's figure, not a test's: it depends
  // on the machine's load).
  int64_t first_start = INT64_MAX, last_start = 0;
  for (const auto& c : result.tasks(0).commands()) {
    first_start = std::min(first_start, c.start_unix_us());
    last_start = std::max(last_start, c.start_unix_us());
  }
  EXPECT_EQ(result.tasks(0).skew_us(), last_start - first_start);
  EXPECT_EQ(events.front().kind(), emu::v1::ExperimentEvent::RUN_STARTED);
  EXPECT_EQ(events.back().kind(), emu::v1::ExperimentEvent::RUN_ENDED);
}

emu::v1::LabCounters LateCounters(uint64_t late_1ms, uint64_t late_10ms) {
  emu::v1::LabCounters c;
  auto* l = c.add_links();
  l->set_link("n1:eth1<->n2:eth1");
  for (auto* d : {l->mutable_a_to_b(), l->mutable_b_to_a()}) {
    d->set_carrier("engine");
  }
  l->mutable_b_to_a()->set_late_1ms_packets(late_1ms);
  l->mutable_b_to_a()->set_late_10ms_packets(late_10ms);
  return c;
}

// The lab's counters are read at the run's start and end: a direction whose
// sender was stalled 10 ms or more in between is a warning of the result
// and of the RUN_ENDED event's text; a run without a stall has none.
TEST_F(RunnerTest, FramesSentLateDuringTheRunAreAWarning) {
  const std::string yaml = R"Y(experiment: late
tasks:
  - commands:
      - {node: n1, cmd: "true"}
)Y";
  int reads = 0;
  auto runner = Make(yaml, nullptr, 0,
                     [&]() -> absl::StatusOr<emu::v1::LabCounters> {
                       return ++reads == 1 ? LateCounters(5, 1)
                                           : LateCounters(12, 3);
                     });
  std::vector<emu::v1::ExperimentEvent> events;
  auto result = runner->Run(
      [&](const emu::v1::ExperimentEvent& e) { events.push_back(e); });
  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  EXPECT_EQ(reads, 2);
  ASSERT_EQ(result.warnings_size(), 1);
  EXPECT_EQ(result.warnings(0),
            "link n1:eth1<->n2:eth1 b-to-a: 2 frames sent 10 ms or more late "
            "during the run (7 sent 1 ms or more late): the host stalled its "
            "sender; "
            "what the run measured across this link includes that "
            "(docs/linkemu.md, \"Late frames\")");
  ASSERT_EQ(events.back().kind(), emu::v1::ExperimentEvent::RUN_ENDED);
  EXPECT_EQ(events.back().run().warnings_size(), 1);
  EXPECT_NE(events.back().message().find("\nwarning: link n1:eth1<->n2:eth1"),
            std::string::npos)
      << events.back().message();

  // Late by less than 10 ms only, or counters that cannot be read: none.
  reads = 0;
  auto quiet = Make(yaml, nullptr, 0,
                    [&]() -> absl::StatusOr<emu::v1::LabCounters> {
                      return ++reads == 1 ? LateCounters(5, 1)
                                          : LateCounters(40, 1);
                    });
  EXPECT_EQ(quiet->Run([](const emu::v1::ExperimentEvent&) {}).warnings_size(),
            0);
  // A run that failed is not asked about at its end.
  reads = 0;
  auto failed = Make(R"Y(experiment: late
tasks:
  - commands:
      - {node: n1, cmd: "false"}
)Y",
                     nullptr, 0, [&]() -> absl::StatusOr<emu::v1::LabCounters> {
                       return ++reads == 1 ? LateCounters(5, 1)
                                           : LateCounters(12, 3);
                     });
  auto failed_result = failed->Run([](const emu::v1::ExperimentEvent&) {});
  EXPECT_EQ(failed_result.state(), emu::v1::RUN_FAILED);
  EXPECT_EQ(failed_result.warnings_size(), 0);
  EXPECT_EQ(reads, 1);
  auto unreadable = Make(yaml, nullptr, 0,
                         []() -> absl::StatusOr<emu::v1::LabCounters> {
                           return absl::UnavailableError("h1 is down");
                         });
  EXPECT_EQ(
      unreadable->Run([](const emu::v1::ExperimentEvent&) {}).warnings_size(),
      0);
}

TEST_F(RunnerTest, TimeoutKillsTheCommand) {
  auto runner = Make(R"Y(experiment: t
tasks:
  - commands:
      - {node: n1, cmd: "sleep 20", timeout: 300ms}
)Y");
  const absl::Time start = absl::Now();
  auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(result.state(), emu::v1::RUN_FAILED);
  EXPECT_EQ(result.tasks(0).commands(0).status(),
            emu::v1::CommandResult::TIMED_OUT);
}

TEST_F(RunnerTest, CancelKillsCommandsOnEveryHost) {
  const std::string p1 = TempPath("pid1"), p2 = TempPath("pid2");
  auto runner = Make(absl::StrCat(R"Y(experiment: c
tasks:
  - commands:
      - {node: n1, cmd: "echo $$$$ > )Y",
                                  p1, R"Y(; exec sleep 30"}
      - {node: n2, cmd: "echo $$$$ > )Y",
                                  p2, R"Y(; exec sleep 30"}
)Y"));
  // Cancels once both commands run (each wrote its pid).
  std::thread canceller([&] {
    EXPECT_TRUE(WaitFor([&] { return PidIn(p1) > 0 && PidIn(p2) > 0; }));
    runner->Cancel("test cancel");
  });
  const absl::Time start = absl::Now();
  auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
  canceller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(result.state(), emu::v1::RUN_CANCELLED);
  for (const std::string& p : {p1, p2}) {
    const pid_t pid = PidIn(p);
    ASSERT_GT(pid, 0) << p;
    // Run (on the agent side) reaps the killed command.
    EXPECT_TRUE(WaitFor([pid] { return kill(pid, 0) != 0; }, absl::Seconds(2)))
        << "pid " << pid << " still alive";
    unlink(p.c_str());
  }
}

TEST_F(RunnerTest, LostHostFailsTheTaskNamingHostAndCommands) {
  const std::string p = TempPath("lost");
  auto runner = Make(absl::StrCat(R"Y(experiment: lost
tasks:
  - commands:
      - {id: long, node: n2, cmd: "echo $$$$ > )Y",
                                  p, R"Y(; exec sleep 30"}
      - {id: short, node: n1, cmd: "true"}
)Y"));
  // Kills h2's agent once its command runs: the host is lost mid-Task.
  std::thread killer([&] {
    EXPECT_TRUE(WaitFor([&] { return PidIn(p) > 0; }));
    agents_["h2"].server->Shutdown(absl::ToChronoTime(absl::Now()));
  });
  const absl::Time start = absl::Now();
  auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
  killer.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(result.error(), HasSubstr("host h2 lost"));
  EXPECT_THAT(result.error(), HasSubstr("long (node n2: 'echo "));
  unlink(p.c_str());
}

// A host whose clock is 300 ms ahead (the agent's test offset): the
// controller measures the offset over the stream, sends that host the
// instant in its clock and converts its reports back, so the Task's skew is
// that of synchronised hosts, not 300 ms. The run records every host's
// offset and bound.
TEST_F(RunnerTest, InjectedClockOffsetIsMeasuredAndCorrected) {
  AddAgent(4, absl::Milliseconds(300));
  auto runner = Make(R"Y(experiment: clocks
start_margin: 100ms
tasks:
  - commands:
      - {node: n1, cmd: "true"}
      - {node: n4, cmd: "true"}
  - commands:
      - {node: n1, cmd: "true"}
      - {node: n4, cmd: "true"}
)Y");
  auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  ASSERT_EQ(result.host_clocks_size(), 2);
  for (const auto& c : result.host_clocks()) {
    EXPECT_EQ(c.samples(), 8u) << c.host();
    const int64_t want = c.host() == "h4" ? 300000 : 0;
    // Within its bound (plus a little for the microsecond rounding).
    EXPECT_LE(std::abs(c.offset_us() - want), c.bound_us() + 2) << c.host();
  }
  for (const auto& t : result.tasks()) {
    // 300 ms uncorrected; corrected it is the hosts' wake-up spread, a few
    // ms on a quiet machine (its size is the bench's figure). Half the
    // offset tells the two apart on a machine loaded by parallel test runs
    // too (64-122 ms were seen at load 30 with a 20 ms margin); the margin
    // gives the executors time to be ready at the instant.
    EXPECT_LT(t.skew_us(), 150000) << t.name();
    // Every start in the controller's clock: after the release.
    for (const auto& c : t.commands()) {
      EXPECT_GE(c.start_unix_us(), t.release_unix_us()) << c.id();
    }
  }
}

// AddTasks into a live run: a bad file is refused naming FILE:LINE and
// changes nothing; Tasks inserted after the running one run next, appended
// ones at the end, and a goto may name an added Task; after the run's end
// it is refused.
TEST_F(RunnerTest, AddTasksToALiveRun) {
  const std::string gate = TempPath("gate");
  unlink(gate.c_str());
  auto runner = Make(absl::StrCat(R"Y(experiment: grow
tasks:
  - name: hold
    commands:
      - {node: n1, cmd: "while [ ! -e )Y",
                                  gate, R"Y( ]; do sleep 0.01; done"}
  - name: original
    commands:
      - {node: n2, cmd: "echo original"}
)Y"));
  using Names = absl::StatusOr<std::vector<std::string>>;
  auto add = [&](const std::string& file, const std::string& yaml,
                 bool after) {
    absl::Mutex mu;
    std::optional<Names> got;
    runner->AddTasks(file, yaml, after, [&](Names names) {
      absl::MutexLock lock(&mu);
      got = std::move(names);
    });
    absl::MutexLock lock(&mu);
    auto ready = [&got] { return got.has_value(); };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(20)));
    return got.value_or(Names(absl::DeadlineExceededError("no answer")));
  };
  std::vector<Names> answers;
  std::thread adder([&] {
    // While "hold" runs.
    EXPECT_TRUE(WaitFor([&] { return runner != nullptr; }));
    answers.push_back(add("bad.yaml", "tasks:\n  - name: x\n    bogus: 1\n",
                          true));
    answers.push_back(add("dup.yaml",
                          "tasks:\n  - {name: original, commands: []}\n",
                          false));
    answers.push_back(add("end.yaml", R"Y(tasks:
  - name: appended
    commands:
      - {node: n3, cmd: "echo appended"}
)Y",
                          false));
    answers.push_back(add("next.yaml", R"Y(tasks:
  - name: inserted
    commands:
      - {node: n3, cmd: "echo inserted"}
    goto: appended
)Y",
                          true));
    std::ofstream(gate) << "go";
  });
  std::vector<emu::v1::ExperimentEvent> events;
  auto result = runner->Run(
      [&](const emu::v1::ExperimentEvent& e) { events.push_back(e); });
  adder.join();
  unlink(gate.c_str());
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(answers[0].status().message(), HasSubstr("bad.yaml:3:"));
  EXPECT_EQ(answers[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(answers[1].status().message(),
              HasSubstr("dup.yaml:2: task original: duplicate task name"));
  ASSERT_TRUE(answers[2].ok()) << answers[2].status();
  EXPECT_EQ(*answers[2], std::vector<std::string>{"appended"});
  ASSERT_TRUE(answers[3].ok()) << answers[3].status();

  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  std::vector<std::string> order;
  for (const auto& t : result.tasks()) order.push_back(t.name());
  // "inserted" ran right after "hold" and jumped to "appended", past
  // "original".
  EXPECT_EQ(order, (std::vector<std::string>{"hold", "inserted", "appended"}));
  EXPECT_EQ(result.tasks(2).commands(0).stdout(), "appended\n");
  int added_events = 0;
  for (const auto& e : events) {
    if (e.kind() == emu::v1::ExperimentEvent::TASKS_ADDED) ++added_events;
  }
  EXPECT_EQ(added_events, 2);

  auto late = add("late.yaml", "tasks:\n  - {name: z, commands: []}\n", false);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A controller dies mid-Task (Abandon: its streams cut without End, its
// record and checkpoint left as they were) and a new one resumes the run
// from the store: the agents kept the commands running; the outcome of the
// one that ended while no controller was there is sent again, the one
// still running is waited for, and the run completes with every command's
// outcome.
TEST_F(RunnerTest, ResumedRunCollectsEveryOutcome) {
  testing::FakeExperimentStore store;
  const std::string slow = TempPath("slow"), mid = TempPath("mid");
  unlink(slow.c_str());
  unlink(mid.c_str());
  const std::string yaml = absl::StrCat(R"Y(experiment: restart
tasks:
  - name: t1
    commands:
      - {id: quick, node: n1, cmd: "echo quick"}
      - {id: mid, node: n3, cmd: "sleep 0.3; echo $$$$ > )Y", mid, R"Y(; echo mid"}
      - {id: slow, node: n2, cmd: "echo $$$$ > )Y", slow, R"Y(; sleep 1.5; echo slow"}
  - name: t2
    commands:
      - {id: after, node: n1, cmd: "echo after"}
)Y");
  auto first = Make(yaml, &store, 40);
  std::thread killer([&] {
    EXPECT_TRUE(WaitFor([&] { return PidIn(slow) > 0; }));
    first->Abandon();
  });
  auto cut = first->Run([](const emu::v1::ExperimentEvent&) {});
  killer.join();
  first.reset();
  EXPECT_EQ(cut.state(), emu::v1::RUN_RUNNING);
  EXPECT_EQ(store.Run("run1").state(), emu::v1::RUN_RUNNING);
  emu::v1::RunCheckpoint cp = store.Checkpoint("run1");
  ASSERT_TRUE(cp.running());
  EXPECT_EQ(cp.task().name(), "t1");
  EXPECT_EQ(cp.first_generation(), 40u);
  // No controller: "mid" ends meanwhile, "slow" still runs.
  ASSERT_TRUE(WaitFor([&] { return PidIn(mid) > 0; }));
  const pid_t slow_pid = PidIn(slow);
  EXPECT_EQ(kill(slow_pid, 0), 0) << "the agent ended its command";

  auto second = Make(yaml, &store, cp.first_generation());
  second->ResumeFrom(cp);
  std::vector<emu::v1::ExperimentEvent> events;
  auto result = second->Run(
      [&](const emu::v1::ExperimentEvent& e) { events.push_back(e); });
  unlink(slow.c_str());
  unlink(mid.c_str());
  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  ASSERT_EQ(result.tasks_size(), 2);
  std::map<std::string, std::string> out;
  for (const auto& c : result.tasks(0).commands()) {
    EXPECT_EQ(c.status(), emu::v1::CommandResult::OK) << c.id() << c.error();
    out[c.id()] = c.stdout();
  }
  EXPECT_EQ(out["quick"], "quick\n");
  EXPECT_EQ(out["mid"], "mid\n");
  EXPECT_EQ(out["slow"], "slow\n");
  EXPECT_EQ(result.tasks(1).commands(0).stdout(), "after\n");
  bool resumed = false;
  for (const auto& e : events) {
    resumed |= e.kind() == emu::v1::ExperimentEvent::RUN_RESUMED;
  }
  EXPECT_TRUE(resumed);
  EXPECT_EQ(store.Run("run1").state(), emu::v1::RUN_SUCCEEDED);
  EXPECT_FALSE(store.Checkpoint("run1").running());  // dropped at the end
}

// The agent restarted too while the controller was down: its commands are
// gone; the resumed run fails the Task, saying so, instead of waiting for
// them.
TEST_F(RunnerTest, ResumeAfterTheAgentRestartedFailsTheTaskClearly) {
  testing::FakeExperimentStore store;
  const std::string p = TempPath("gone");
  unlink(p.c_str());
  const std::string yaml = absl::StrCat(R"Y(experiment: gone
tasks:
  - name: t1
    commands:
      - {id: lasting, node: n2, cmd: "echo $$$$ > )Y", p, R"Y(; exec sleep 30"}
)Y");
  auto first = Make(yaml, &store);
  std::thread killer([&] {
    EXPECT_TRUE(WaitFor([&] { return PidIn(p) > 0; }));
    first->Abandon();
  });
  first->Run([](const emu::v1::ExperimentEvent&) {});
  killer.join();
  first.reset();
  const pid_t pid = PidIn(p);
  RestartAgent("h2");
  // The agent that went away ended the run's command.
  EXPECT_TRUE(WaitFor([&] { return kill(pid, 0) != 0; }));
  auto second = Make(yaml, &store);
  second->ResumeFrom(store.Checkpoint("run1"));
  const absl::Time start = absl::Now();
  auto result = second->Run([](const emu::v1::ExperimentEvent&) {});
  unlink(p.c_str());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(result.state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(result.error(), HasSubstr("host h2: the agent has no record of run run1"));
  ASSERT_EQ(result.tasks_size(), 1);
  EXPECT_EQ(result.tasks(0).commands(0).status(), emu::v1::CommandResult::ERROR);
}

// A run that ends says End on every stream: the agents forget it (they
// hold nothing more for it), so a resume from its old state finds nothing.
TEST_F(RunnerTest, EndedRunIsForgottenByTheAgents) {
  testing::FakeExperimentStore store;
  const std::string yaml = R"Y(experiment: ended
tasks:
  - commands:
      - {id: one, node: n1, cmd: "echo one"}
)Y";
  auto runner = Make(yaml, &store);
  emu::v1::RunCheckpoint released;
  auto result = runner->Run([&](const emu::v1::ExperimentEvent& e) {
    if (e.kind() == emu::v1::ExperimentEvent::TASK_RELEASED) {
      released = store.Checkpoint("run1");
    }
  });
  ASSERT_EQ(result.state(), emu::v1::RUN_SUCCEEDED) << result.error();
  ASSERT_TRUE(released.running());
  EXPECT_FALSE(store.Checkpoint("run1").running());
  auto again = Make(yaml, &store);
  again->ResumeFrom(released);
  auto late = again->Run([](const emu::v1::ExperimentEvent&) {});
  EXPECT_EQ(late.state(), emu::v1::RUN_FAILED);
  EXPECT_THAT(late.error(), HasSubstr("no record of run run1"));
}

}  // namespace
}  // namespace emu::controller::experiment
