// The console relay between two in-process gRPC servers: a controller that
// serves only Console through StartConsoleRelay (the real cluster-token
// authenticator, a resolver the test controls) and a fake agent's
// GuestService that echoes what is typed.
#include "controller/guest/console_relay.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/thread_pool.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/controller.grpc.pb.h"
#include "proto/guest.grpc.pb.h"

namespace emu::controller::guest {
namespace {

using ::testing::HasSubstr;
using emu::v1::ConsoleInput;
using emu::v1::ConsoleOutput;

constexpr char kToken[] = "cluster-t0k";
constexpr char kAgentToken[] = "agent-t0k";

// What the fake agent saw of its console streams.
struct AgentLog {
  absl::Mutex mu;
  std::vector<ConsoleInput> received ABSL_GUARDED_BY(mu);
  std::string auth ABSL_GUARDED_BY(mu);
  int half_closed ABSL_GUARDED_BY(mu) = 0;  // streams that saw it
  int cancelled ABSL_GUARDED_BY(mu) = 0;
  int done ABSL_GUARDED_BY(mu) = 0;

  void Count(int AgentLog::*what) {
    absl::MutexLock lock(&mu);
    ++(this->*what);
  }
  // True once `n` streams are done; false after `timeout`.
  bool WaitForDone(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    std::pair<const int*, int> arg(&done, n);
    return mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::pair<const int*, int>* a) { return *a->first >= a->second; },
            &arg),
        timeout);
  }
};

// An agent's console: says it attached (an empty message), answers the
// first message's data with "hello:DATA", each later one with "echo:DATA";
// "quit" ends the stream as QEMU exiting does; "many:N" answers with N
// numbered lines; a node named "absent" is refused as the agent does.
class EchoConsole : public grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput> {
 public:
  EchoConsole(grpc::CallbackServerContext* context, AgentLog* log)
      : log_(log) {
    auto it = context->client_metadata().find("authorization");
    if (it != context->client_metadata().end()) {
      absl::MutexLock lock(&log_->mu);
      log_->auth = std::string(it->second.data(), it->second.size());
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      log_->Count(&AgentLog::half_closed);
      Finish(grpc::Status::OK);
      return;
    }
    {
      absl::MutexLock lock(&log_->mu);
      log_->received.push_back(in_);
    }
    const std::string data = in_.data();
    if (first_) {
      first_ = false;
      if (in_.node() == "absent") {
        Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "lab alice+core has no guest absent"));
        return;
      }
      pending_.push_back("");
      if (!data.empty()) pending_.push_back("hello:" + data);
    } else if (data == "quit") {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the guest's console closed (QEMU exited)"));
      return;
    } else if (absl::StartsWith(data, "many:")) {
      for (int i = 0, n = std::stoi(data.substr(5)); i < n; ++i) {
        pending_.push_back(absl::StrCat("line ", i, "\n"));
      }
    } else {
      pending_.push_back("echo:" + data);
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // cancelled: every call must still be finished
      Finish(grpc::Status::CANCELLED);
      return;
    }
    WriteNext();
  }

  void OnCancel() override { log_->Count(&AgentLog::cancelled); }
  void OnDone() override {
    log_->Count(&AgentLog::done);
    delete this;
  }

 private:
  // The next pending line, or the next read when none is left.
  void WriteNext() {
    if (pending_.empty()) {
      StartRead(&in_);
      return;
    }
    out_.set_data(pending_.front());
    pending_.pop_front();
    StartWrite(&out_);
  }

  AgentLog* const log_;
  ConsoleInput in_;
  ConsoleOutput out_;
  bool first_ = true;
  std::deque<std::string> pending_;
};

class FakeAgent : public emu::v1::GuestService::CallbackService {
 public:
  grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput>* Console(
      grpc::CallbackServerContext* context) override {
    return new EchoConsole(context, &log);
  }
  AgentLog log;
};

// The controller's Console, through the relay under test.
class RelayService : public emu::v1::ControllerService::CallbackService {
 public:
  RelayService(ThreadPool* pool, ConsoleResolver resolve)
      : auth_(kToken), pool_(pool), resolve_(std::move(resolve)) {}
  grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput>* Console(
      grpc::CallbackServerContext* context) override {
    return StartConsoleRelay(context, auth_, pool_, resolve_, &count);
  }
  ConsoleRelayCount count;

 private:
  ClusterTokenAuthenticator auth_;
  ThreadPool* const pool_;
  const ConsoleResolver resolve_;
};

class ConsoleRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Both servers on loopback TCP, as emuctl reaches the controller and
    // the controller the agents: gRPC's in-process transport never
    // completes a client's write that the server did not read before it
    // finished (a console typed into after the agent ended would hang
    // there, not over HTTP/2).
    grpc::ServerBuilder agent_builder;
    int port = 0;
    agent_builder.AddListeningPort("127.0.0.1:0",
                                   grpc::InsecureServerCredentials(), &port);
    agent_builder.RegisterService(&agent_);
    agent_server_ = agent_builder.BuildAndStart();
    ASSERT_NE(agent_server_, nullptr);
    ASSERT_NE(port, 0);
    agent_stub_ = emu::v1::GuestService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

    relay_ = std::make_unique<RelayService>(
        &pool_, [this](const Caller& caller, const ConsoleInput& first)
                    -> absl::StatusOr<ConsoleTarget> {
          {
            absl::MutexLock lock(&mu_);
            ++resolved_;
            resolved_by_ = caller.name;
          }
          if (!refuse_.ok()) return refuse_;
          ConsoleTarget t;
          t.host = "h2";
          t.stub = agent_stub_;
          t.token = kAgentToken;
          t.hello.set_lab("alice+" + first.lab());
          t.hello.set_node(first.node());
          t.hello.set_data(first.data());
          return t;
        });
    grpc::ServerBuilder builder;
    int relay_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &relay_port);
    builder.RegisterService(relay_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(relay_port, 0);
    stub_ = emu::v1::ControllerService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", relay_port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // Every relay ends (both its calls done) before what it borrows goes.
    EXPECT_TRUE(relay_->count.WaitForNone(absl::Seconds(10)))
        << relay_->count.running() << " relays still running";
    server_->Shutdown();
    agent_server_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    AddAuthToken(ctx.get(), token);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  static ConsoleInput Input(const std::string& data, const std::string& lab = "",
                            const std::string& node = "") {
    ConsoleInput in;
    in.set_lab(lab);
    in.set_node(node);
    in.set_data(data);
    return in;
  }

  int resolved() {
    absl::MutexLock lock(&mu_);
    return resolved_;
  }

  ThreadPool pool_{2};
  FakeAgent agent_;
  std::unique_ptr<grpc::Server> agent_server_;
  std::shared_ptr<emu::v1::GuestService::StubInterface> agent_stub_;
  std::unique_ptr<RelayService> relay_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<emu::v1::ControllerService::Stub> stub_;
  absl::Mutex mu_;
  int resolved_ ABSL_GUARDED_BY(mu_) = 0;
  std::string resolved_by_ ABSL_GUARDED_BY(mu_);
  absl::Status refuse_;  // set before a call
};

TEST_F(ConsoleRelayTest, RelaysBothWaysAndADetachEndsBothStreamsOk) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("uname\n", "core", "vm1")));
  ConsoleOutput out;
  ASSERT_TRUE(stream->Read(&out));
  EXPECT_EQ(out.data(), "");  // attached
  ASSERT_TRUE(stream->Read(&out));
  EXPECT_EQ(out.data(), "hello:uname\n");
  ASSERT_TRUE(stream->Write(Input("\x03")));  // Ctrl-C is data like any other
  ASSERT_TRUE(stream->Read(&out));
  EXPECT_EQ(out.data(), "echo:\x03");
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&out));
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(agent_.log.WaitForDone(1, absl::Seconds(10)));

  absl::MutexLock lock(&agent_.log.mu);
  EXPECT_EQ(agent_.log.half_closed, 1);
  // The agent got the lab by its key, the node, and the cluster token.
  ASSERT_EQ(agent_.log.received.size(), 2u);
  EXPECT_EQ(agent_.log.received[0].lab(), "alice+core");
  EXPECT_EQ(agent_.log.received[0].node(), "vm1");
  EXPECT_EQ(agent_.log.received[1].data(), "\x03");
  EXPECT_EQ(agent_.log.auth, std::string("Bearer ") + kAgentToken);
  absl::MutexLock lock2(&mu_);
  EXPECT_EQ(resolved_by_, Caller::kAdminName);
}

TEST_F(ConsoleRelayTest, ManyMessagesArriveInOrder) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("", "core", "vm1")));
  ASSERT_TRUE(stream->Write(Input("many:500")));
  ConsoleOutput out;
  ASSERT_TRUE(stream->Read(&out));
  ASSERT_EQ(out.data(), "");
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(stream->Read(&out)) << "after " << i;
    ASSERT_EQ(out.data(), absl::StrCat("line ", i, "\n"));
  }
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ConsoleRelayTest, TheAgentEndingEndsTheCallWithItsStatusNamingTheHost) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("", "core", "vm1")));
  ASSERT_TRUE(stream->Write(Input("quit")));
  ConsoleOutput out;
  while (stream->Read(&out)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("host h2: the guest's console closed"));
}

TEST_F(ConsoleRelayTest, TheCallerGoingAwayEndsTheAgentsStream) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("x", "core", "vm1")));
  ConsoleOutput out;
  ASSERT_TRUE(stream->Read(&out));
  ctx->TryCancel();
  // The relay sees the caller's stream end (its read fails) or its
  // cancellation first, whichever gRPC delivers first: the agent's stream
  // is half-closed or cancelled, and ends either way.
  EXPECT_TRUE(agent_.log.WaitForDone(1, absl::Seconds(10)));
  {
    absl::MutexLock lock(&agent_.log.mu);
    EXPECT_GE(agent_.log.cancelled + agent_.log.half_closed, 1);
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// The caller detaching while the agent still prints: the relay keeps
// reading the agent's output after the caller's input is closed, until the
// agent ends. Repeated, for the orders in which the two flows end.
TEST_F(ConsoleRelayTest, DetachingWhileTheAgentPrintsDeliversAllAndEndsOk) {
  for (int round = 0; round < 30; ++round) {
    auto ctx = Context(kToken);
    auto stream = stub_->Console(ctx.get());
    ASSERT_TRUE(stream->Write(Input("", "core", "vm1")));
    ASSERT_TRUE(stream->Write(Input("many:20")));
    ASSERT_TRUE(stream->WritesDone());
    ConsoleOutput out;
    int lines = 0;
    while (stream->Read(&out)) {
      if (!out.data().empty()) ++lines;
    }
    grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << "round " << round << ": " << s.error_message();
    EXPECT_EQ(lines, 20) << "round " << round;
  }
  EXPECT_TRUE(relay_->count.WaitForNone(absl::Seconds(10)));
}

// The agent ending its stream while the caller keeps typing: what is typed
// after the end is dropped and the call ends with the agent's status.
TEST_F(ConsoleRelayTest, TheAgentEndingWhileTheCallerTypesEndsWithItsStatus) {
  for (int round = 0; round < 30; ++round) {
    auto ctx = Context(kToken);
    auto stream = stub_->Console(ctx.get());
    ASSERT_TRUE(stream->Write(Input("", "core", "vm1")));
    ASSERT_TRUE(stream->Write(Input("quit")));
    for (int i = 0; i < 5; ++i) {
      if (!stream->Write(Input("x"))) break;  // the call may have ended
    }
    ConsoleOutput out;
    while (stream->Read(&out)) {
    }
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "round " << round;
    EXPECT_THAT(s.error_message(), HasSubstr("host h2: "));
  }
  EXPECT_TRUE(relay_->count.WaitForNone(absl::Seconds(10)));
}

// The caller going away at various points of a busy stream.
TEST_F(ConsoleRelayTest, CancellingABusyStreamEndsBothCalls) {
  for (int round = 0; round < 30; ++round) {
    auto ctx = Context(kToken);
    auto stream = stub_->Console(ctx.get());
    ASSERT_TRUE(stream->Write(Input("", "core", "vm1")));
    ASSERT_TRUE(stream->Write(Input("many:50")));
    ConsoleOutput out;
    for (int i = 0; i < round && stream->Read(&out); ++i) {
    }
    ctx->TryCancel();
    while (stream->Read(&out)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED)
        << "round " << round;
  }
  EXPECT_TRUE(relay_->count.WaitForNone(absl::Seconds(10)));
}

TEST_F(ConsoleRelayTest, TheAgentsRefusalEndsTheCallWithoutAttaching) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("", "core", "absent")));
  ConsoleOutput out;
  EXPECT_FALSE(stream->Read(&out));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("host h2: lab alice+core has no guest"));
}

TEST_F(ConsoleRelayTest, AWrongTokenIsRefusedBeforeAnything) {
  auto ctx = Context("wrong");
  auto stream = stub_->Console(ctx.get());
  stream->Write(Input("", "core", "vm1"));
  ConsoleOutput out;
  EXPECT_FALSE(stream->Read(&out));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(resolved(), 0);
}

TEST_F(ConsoleRelayTest, AHostileNameIsRefusedNamingTheFieldBeforeResolving) {
  for (const char* node : {"../x", "a b", "$(x)", ""}) {
    auto ctx = Context(kToken);
    auto stream = stub_->Console(ctx.get());
    stream->Write(Input("", "core", node));
    ConsoleOutput out;
    EXPECT_FALSE(stream->Read(&out));
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << node;
    EXPECT_THAT(s.error_message(), HasSubstr("node")) << node;
  }
  EXPECT_EQ(resolved(), 0);
}

TEST_F(ConsoleRelayTest, TheResolversRefusalEndsTheCall) {
  refuse_ = absl::PermissionDeniedError("lab bob/core: alice is a viewer");
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->Write(Input("", "bob/core", "vm1")));
  ConsoleOutput out;
  EXPECT_FALSE(stream->Read(&out));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("alice is a viewer"));
  absl::MutexLock lock(&agent_.log.mu);
  EXPECT_TRUE(agent_.log.received.empty());
}

TEST_F(ConsoleRelayTest, ADetachBeforeNamingAnythingEndsOk) {
  auto ctx = Context(kToken);
  auto stream = stub_->Console(ctx.get());
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(resolved(), 0);
}

}  // namespace
}  // namespace emu::controller::guest
