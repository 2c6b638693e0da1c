// ReconnectNow against a real gRPC server on loopback that goes away and
// comes back on the same port.
#include "common/channel_reconnect.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_limits.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"

namespace emu {
namespace {

// Any service will do (gRPC wants one): its methods answer UNIMPLEMENTED.
emu::v1::AgentService::Service& AnyService() {
  static auto* service = new emu::v1::AgentService::Service();
  return *service;
}

std::unique_ptr<grpc::Server> Serve(const std::string& address,
                                    int* port = nullptr) {
  grpc::ServerBuilder b;
  b.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
  b.RegisterService(&AnyService());
  return b.BuildAndStart();
}

// A call's code: UNIMPLEMENTED when the server was reached.
grpc::StatusCode Call(emu::v1::AgentService::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  emu::v1::Capabilities caps;
  return stub.GetCapabilities(&context, emu::v1::GetCapabilitiesRequest(),
                              &caps)
      .error_code();
}

// The channel in TRANSIENT_FAILURE after `server` went, and in its longest
// backoff: its attempts fail for longer than the backoff takes to grow.
std::shared_ptr<grpc::Channel> FailingChannel(int* port) {
  auto server = Serve("127.0.0.1:0", port);
  EXPECT_NE(server, nullptr);
  auto channel = grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials(),
      LimitedChannelArguments());
  EXPECT_TRUE(channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  server->Shutdown(absl::ToChronoTime(absl::Now()));
  server.reset();
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (channel->GetState(true) != GRPC_CHANNEL_TRANSIENT_FAILURE &&
         absl::Now() < until) {
    channel->WaitForStateChange(channel->GetState(false),
                                absl::ToChronoTime(absl::Now() +
                                                   absl::Milliseconds(100)));
  }
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_TRANSIENT_FAILURE);
  // Calls meanwhile fail, as a controller's would while an agent is down;
  // backoff 100 ms x 1.6 per attempt reaches its 1 s cap after about 2.5 s
  // of refused attempts: the time itself is what this waits for.
  auto stub = emu::v1::AgentService::NewStub(channel);
  const absl::Time end =
      absl::Now() + absl::Milliseconds(2 * kMaxReconnectBackoffMs + 600);
  while (absl::Now() < end) {
    EXPECT_EQ(Call(*stub), grpc::StatusCode::UNAVAILABLE);
    absl::SleepFor(absl::Milliseconds(50));
  }
  return channel;
}

TEST(ChannelReconnectTest, APeerBackIsReachedWithoutWaitingOutTheBackoff) {
  int port = 0;
  auto channel = FailingChannel(&port);
  auto again = Serve(absl::StrCat("127.0.0.1:", port));
  ASSERT_NE(again, nullptr) << "port " << port << " taken meanwhile";
  absl::Time start = absl::Now();
  EXPECT_EQ(ReconnectNow(*channel, absl::Seconds(5)), GRPC_CHANNEL_READY);
  // Without the reset the channel would sit in its backoff for up to
  // 1.2 s (1 s and jitter) before trying, failing calls meanwhile.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  auto stub = emu::v1::AgentService::NewStub(channel);
  EXPECT_EQ(Call(*stub), grpc::StatusCode::UNIMPLEMENTED);
  again->Shutdown(absl::ToChronoTime(absl::Now()));
}

TEST(ChannelReconnectTest, APeerStillDownCostsTheWaitAndNoMore) {
  int port = 0;
  auto channel = FailingChannel(&port);
  absl::Time start = absl::Now();
  EXPECT_EQ(ReconnectNow(*channel, absl::Milliseconds(300)),
            GRPC_CHANNEL_TRANSIENT_FAILURE);
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(ChannelReconnectTest, AChannelThatIsNotFailingIsLeftAlone) {
  int port = 0;
  auto server = Serve("127.0.0.1:0", &port);
  auto channel = grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
      LimitedChannelArguments());
  EXPECT_EQ(ReconnectNow(*channel, absl::Seconds(5)), GRPC_CHANNEL_IDLE);
  ASSERT_TRUE(channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  EXPECT_EQ(ReconnectNow(*channel, absl::Seconds(5)), GRPC_CHANNEL_READY);
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

}  // namespace
}  // namespace emu
