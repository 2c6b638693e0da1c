#include "common/metrics/rpc_metrics.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace emu::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

const char* TypeName(ServerRpcInfo::Type t) {
  switch (t) {
    case ServerRpcInfo::Type::UNARY: return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING: return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING: return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING: return "bidi_stream";
  }
  return "unknown";
}

class RpcInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(RpcMetrics* metrics, ServerRpcInfo* info)
      : metrics_(metrics),
        method_(info->method() != nullptr ? info->method() : ""),
        type_(TypeName(info->type())),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->Record(method_, type_, methods->GetSendStatus().error_code(),
                       absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  RpcMetrics* const metrics_;
  const std::string method_;
  const char* const type_;
  const absl::Time start_;
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      ServerRpcInfo* info) override {
    return new RpcInterceptor(metrics_, info);
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

RpcMetrics::RpcMetrics(Registry* registry)
    : handled_(registry->AddCounter(
          "emu_rpc_server_handled_total",
          "gRPC calls this server finished, by method and status code.",
          {"service", "method", "code"})),
      duration_(registry->AddHistogram(
          "emu_rpc_server_duration_seconds",
          "Time from a gRPC call's arrival to its status (streams: the "
          "whole stream).",
          {"service", "method", "type"},
          ExponentialBuckets(0.0001, 4, 10))) {}  // 100us .. 26s

void RpcMetrics::Record(const std::string& full_method,
                        const std::string& type, int code, double seconds) {
  // "/emu.v1.ControllerService/GetLab" -> service, method.
  std::string service = "unknown", method = full_method;
  const size_t slash = full_method.rfind('/');
  if (!full_method.empty() && full_method[0] == '/' && slash > 0 &&
      slash != std::string::npos) {
    service = full_method.substr(1, slash - 1);
    method = full_method.substr(slash + 1);
  }
  handled_
      ->WithLabels({service, method,
                    absl::StatusCodeToString(static_cast<absl::StatusCode>(code))})
      ->Increment();
  duration_->WithLabels({service, method, type})->Observe(seconds);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<Factory>(this);
}

}  // namespace emu::metrics
