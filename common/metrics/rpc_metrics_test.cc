#include "common/metrics/rpc_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/metrics/testing/exposition_parser.h"
#include "common/server_util.h"
#include "common/transport_security.h"
#include "gtest/gtest.h"
#include "proto/agent.grpc.pb.h"

namespace emu::metrics {
namespace {

using testing::FindValue;

// Answers GetCapabilities, refuses ListResources: two methods, two codes.
class TestAgent final : public v1::AgentService::CallbackService {
  grpc::ServerUnaryReactor* GetCapabilities(
      grpc::CallbackServerContext* context, const v1::GetCapabilitiesRequest*,
      v1::Capabilities* response) override {
    response->set_host("h1");
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* ListResources(
      grpc::CallbackServerContext* context, const v1::ListResourcesRequest*,
      v1::ListResourcesResponse*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no lab"));
    return reactor;
  }
};

TEST(RpcMetricsTest, CountsEveryCallByMethodAndCode) {
  Registry registry;
  RpcMetrics metrics(&registry);
  TestAgent service;
  std::vector<std::unique_ptr<
      grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(metrics.InterceptorFactory());
  int port = 0;
  auto server = StartServer("127.0.0.1:0", {&service},
                            TransportSecurity::Plaintext(), "", &port,
                            std::move(interceptors));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::AgentService::NewStub(
      NewChannel(TransportSecurity::Plaintext(),
                 absl::StrCat("127.0.0.1:", port), ""));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::Capabilities caps;
    ASSERT_TRUE(stub->GetCapabilities(&ctx, {}, &caps).ok());
  }
  {
    grpc::ClientContext ctx;
    v1::ListResourcesResponse r;
    EXPECT_EQ(stub->ListResources(&ctx, {}, &r).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // The status is recorded before it is sent; the client has it now.
  auto parsed = testing::ParseExposition(registry.Exposition());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_rpc_server_handled_total",
                      {{"service", "emu.v1.AgentService"},
                       {"method", "GetCapabilities"},
                       {"code", "OK"}}),
            3);
  EXPECT_EQ(FindValue(*parsed, "emu_rpc_server_handled_total",
                      {{"method", "ListResources"}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(FindValue(*parsed, "emu_rpc_server_duration_seconds_count",
                      {{"method", "GetCapabilities"}, {"type", "unary"}}),
            3);
  (*server)->Shutdown();
}

TEST(RpcMetricsTest, MethodNamesWithoutServiceStillCount) {
  Registry registry;
  RpcMetrics metrics(&registry);
  metrics.Record("weird", "unary", 14, 0.5);
  auto parsed = testing::ParseExposition(registry.Exposition());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_rpc_server_handled_total",
                      {{"service", "unknown"}, {"method", "weird"},
                       {"code", "UNAVAILABLE"}}),
            1);
}

}  // namespace
}  // namespace emu::metrics
