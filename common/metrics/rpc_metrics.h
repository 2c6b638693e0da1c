// Latency and outcome of every gRPC call a server handles, as Prometheus
// metrics: a server interceptor (StartServer's `interceptors`), so no
// service needs to know. Families:
//   emu_rpc_server_handled_total{service,method,code}   counter
//   emu_rpc_server_duration_seconds{service,method,type} histogram
// The duration runs from the call's arrival to its status being sent: for
// a stream (type "server_stream", "bidi_stream", ...) the whole stream.
#ifndef EMU_COMMON_METRICS_RPC_METRICS_H_
#define EMU_COMMON_METRICS_RPC_METRICS_H_

#include <memory>
#include <string>

#include "common/metrics/metrics.h"
#include "grpcpp/support/server_interceptor.h"

namespace emu::metrics {

// Registers the families in `registry` (once per registry) and records
// into them. Thread-safe; borrows the registry, which must outlive it.
class RpcMetrics {
 public:
  explicit RpcMetrics(Registry* registry);

  // Records one call; `full_method` is gRPC's "/pkg.Service/Method".
  void Record(const std::string& full_method, const std::string& type,
              int code, double seconds);

  // A factory for StartServer; each interceptor records into this object,
  // which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

 private:
  CounterFamily* const handled_;
  HistogramFamily* const duration_;
};

}  // namespace emu::metrics

#endif  // EMU_COMMON_METRICS_RPC_METRICS_H_
