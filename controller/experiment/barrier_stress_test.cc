// The barrier's fault paths, many times over, on real gRPC streams over
// loopback: a host lost mid-Task, a cancelled run, and a controller shutting
// down while a run is active (the run cancelled while its agents go away).
// The agents are in-process fakes of BarrierAgentService that answer at once
// (no processes), so each run takes milliseconds and races between the
// runner's thread and gRPC's callbacks get many chances to show. This is the
// test that caught GrpcBarrierLink starting writes on a stream gRPC had
// already freed.
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/server_util.h"
#include "controller/experiment/experiment_runner.h"
#include "controller/experiment/testing/no_links.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

using emu::v1::AgentToBarrier;
using emu::v1::BarrierToAgent;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr int kRunsPerPath = 100;

// One session of the fake agent. Commands are scripted by their shell text:
// "quick" reports done at once, "hang" reports only when cancelled, "lose"
// ends the stream with UNAVAILABLE as a crashed agent would. Every operation
// starts inside a reaction, so no hold is needed on this side.
class FakeSession
    : public grpc::ServerBidiReactor<BarrierToAgent, AgentToBarrier> {
 public:
  FakeSession() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (!ok) {
      // The controller closed its side: end once the writes are out.
      reads_done_ = true;
      MaybeFinishLocked(grpc::Status::OK);
      return;
    }
    if (in_.has_release()) {
      const auto& r = in_.release();
      for (const auto& c : r.commands()) {
        const std::string& text = c.argv(c.argv_size() - 1);
        if (text == "lose") {
          queue_.clear();
          pending_error_ =
              grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent crashed");
          MaybeFinishLocked(
              grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent crashed"));
          return;
        }
        if (text == "hang") {
          hanging_[r.generation()].insert(c.id());
        } else {
          QueueDoneLocked(r.generation(), c.id(), "");
        }
      }
    } else if (in_.has_probe()) {
      // The controller measures this host's clock first (as a real agent,
      // answer at once; the fake shares the controller's clock).
      AgentToBarrier msg;
      auto* t = msg.mutable_time();
      t->set_seq(in_.probe().seq());
      t->set_probe_sent_unix_us(in_.probe().sent_unix_us());
      const int64_t now = absl::ToUnixMicros(absl::Now());
      t->set_received_unix_us(now);
      t->set_sent_unix_us(now);
      queue_.push_back(std::move(msg));
      if (!writing_) WriteNextLocked();
    } else if (in_.has_cancel()) {
      const uint64_t g = in_.cancel().generation();
      for (const auto& id : hanging_[g]) QueueDoneLocked(g, id, "killed");
      hanging_.erase(g);
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) queue_.clear();
    if (!queue_.empty() && pending_error_.ok()) {
      WriteNextLocked();
    } else if (reads_done_ || !pending_error_.ok()) {
      MaybeFinishLocked(grpc::Status::OK);
    }
  }

  void OnDone() override { delete this; }

 private:
  void QueueDoneLocked(uint64_t generation, const std::string& id,
                       const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    AgentToBarrier msg;
    auto* done = msg.mutable_done();
    done->set_generation(generation);
    done->set_command_id(id);
    if (!error.empty()) {
      done->set_error(error);
    } else {
      const int64_t now = absl::ToUnixMicros(absl::Now());
      done->mutable_result()->set_start_unix_us(now);
      done->mutable_result()->set_end_unix_us(now);
    }
    queue_.push_back(std::move(msg));
    if (!writing_) WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    StartWrite(&current_);
  }

  void MaybeFinishLocked(grpc::Status status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    finished_ = true;
    Finish(pending_error_.ok() ? status : pending_error_);
  }

  absl::Mutex mu_;
  BarrierToAgent in_;
  AgentToBarrier current_;
  std::deque<AgentToBarrier> queue_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::set<std::string>> hanging_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Set once the fake has "crashed": the stream ends with it.
  grpc::Status pending_error_ ABSL_GUARDED_BY(mu_);
};

class FakeAgent final : public emu::v1::BarrierAgentService::CallbackService {
 public:
  grpc::ServerBidiReactor<BarrierToAgent, AgentToBarrier>* Session(
      grpc::CallbackServerContext*) override {
    return new FakeSession();
  }
};

using testing::NoLinks;

class BarrierStressTest : public ::testing::Test {
 protected:
  struct Agent {
    std::unique_ptr<FakeAgent> service;
    std::unique_ptr<grpc::Server> server;
    std::string address;
  };

  void SetUp() override {
    for (int i = 1; i <= 3; ++i) {
      const std::string host = absl::StrCat("h", i);
      auto* node = lab_.add_nodes();
      node->set_name(absl::StrCat("n", i));
      node->set_host(host);
      ASSERT_TRUE(StartAgent(host));
    }
    lab_.set_name("lab");
  }

  void TearDown() override {
    for (auto& [h, a] : agents_) StopAgent(h);
  }

  bool StartAgent(const std::string& host) {
    Agent a;
    a.service = std::make_unique<FakeAgent>();
    int port = 0;
    auto server = StartServer("127.0.0.1:0", {a.service.get()},
                              TransportSecurity::Plaintext(), "", &port);
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return false;
    a.server = *std::move(server);
    a.address = absl::StrCat("127.0.0.1:", port);
    addresses_[host] = a.address;
    agents_[host] = std::move(a);
    return true;
  }

  void StopAgent(const std::string& host) {
    Agent& a = agents_[host];
    if (a.server) a.server->Shutdown(absl::ToChronoTime(absl::Now()));
    a.server.reset();
    a.service.reset();
  }

  std::unique_ptr<ExperimentRunner> Make(const std::string& yaml, int run) {
    auto spec = ParseExperiment("stress.yaml", yaml);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return std::make_unique<ExperimentRunner>(
        absl::StrCat("run", run), *spec, lab_, addresses_,
        std::map<std::string, std::string>{}, 0,
        RunnerDeps{&clock_, &factory_, &links_, nullptr});
  }

  // A short random pause, so the fault lands at a different point each run.
  absl::Duration Jitter() {
    std::uniform_int_distribution<int> us(0, 2000);
    return absl::Microseconds(us(rng_));
  }

  RealClock clock_;
  GrpcBarrierLinkFactory factory_{"", TransportSecurity::Plaintext()};
  NoLinks links_;
  emu::v1::Lab lab_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, Agent> agents_;
  std::mt19937 rng_{20260415};
};

TEST_F(BarrierStressTest, HostLostMidTask) {
  for (int i = 0; i < kRunsPerPath; ++i) {
    auto runner = Make(R"Y(experiment: lost
tasks:
  - commands:
      - {id: a, node: n1, cmd: "quick"}
      - {id: b, node: n2, cmd: "lose"}
      - {id: c, node: n3, cmd: "hang"}
  - commands:
      - {id: d, node: n1, cmd: "quick"}
)Y",
                       i);
    const absl::Time start = absl::Now();
    auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
    runner.reset();  // closes the streams, waits for their last callbacks
    ASSERT_LT(absl::Now() - start, absl::Seconds(5)) << "run " << i;
    ASSERT_EQ(result.state(), emu::v1::RUN_FAILED) << "run " << i;
    ASSERT_THAT(result.error(), HasSubstr("host h2 lost")) << "run " << i;
  }
}

TEST_F(BarrierStressTest, CancelAtARandomMoment) {
  for (int i = 0; i < kRunsPerPath; ++i) {
    auto runner = Make(R"Y(experiment: cancel
tasks:
  - commands:
      - {id: a, node: n1, cmd: "quick"}
      - {id: b, node: n2, cmd: "quick"}
  - commands:
      - {id: c, node: n1, cmd: "hang"}
      - {id: d, node: n2, cmd: "hang"}
      - {id: e, node: n3, cmd: "hang"}
)Y",
                       i);
    const absl::Duration after = Jitter();
    std::thread canceller([&runner, after] {
      absl::SleepFor(after);
      runner->Cancel("stress cancel");
    });
    const absl::Time start = absl::Now();
    auto result = runner->Run([](const emu::v1::ExperimentEvent&) {});
    canceller.join();
    runner.reset();
    ASSERT_LT(absl::Now() - start, absl::Seconds(5)) << "run " << i;
    ASSERT_EQ(result.state(), emu::v1::RUN_CANCELLED) << "run " << i;
  }
}

// What the controller does on SIGTERM with a run active: cancel it and wait
// for its thread; here the agents go away at the same moment (a whole
// local cluster stopping), so the streams end from both sides at once.
TEST_F(BarrierStressTest, ShutdownWhileARunIsActive) {
  for (int i = 0; i < kRunsPerPath; ++i) {
    auto runner = Make(R"Y(experiment: shutdown
tasks:
  - commands:
      - {id: a, node: n1, cmd: "hang"}
      - {id: b, node: n2, cmd: "hang"}
      - {id: c, node: n3, cmd: "hang"}
)Y",
                       i);
    emu::v1::RunResult result;
    std::thread run(
        [&] { result = runner->Run([](const emu::v1::ExperimentEvent&) {}); });
    absl::SleepFor(Jitter());
    const absl::Time start = absl::Now();
    std::thread stop_agent([this] { StopAgent("h3"); });
    runner->Cancel("the controller is stopping");
    run.join();
    stop_agent.join();
    runner.reset();
    ASSERT_LT(absl::Now() - start, absl::Seconds(5)) << "run " << i;
    ASSERT_THAT(result.state(),
                AnyOf(emu::v1::RUN_CANCELLED, emu::v1::RUN_FAILED))
        << "run " << i << ": " << result.error();
    ASSERT_TRUE(StartAgent("h3"));
  }
}

}  // namespace
}  // namespace emu::controller::experiment
