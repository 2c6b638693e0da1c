// The /metrics page: a registry's exposition for HTTP (common/http), behind
// the API token unless the operator chose otherwise.
#ifndef EMU_COMMON_METRICS_METRICS_ENDPOINT_H_
#define EMU_COMMON_METRICS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/http/http_server.h"
#include "common/http/request_auth.h"
#include "common/metrics/metrics.h"

namespace emu::metrics {

// Serves `registry` to callers whose token `identify` accepts as an
// administrator (metrics name every user's labs); 401 without a token or
// with an unknown one, 403 for a non-admin user. `identify` empty: anyone
// (--metrics_unauthenticated). Only GET and HEAD. Borrows the registry.
http::Handler MetricsHandler(const Registry* registry,
                             http::Identify identify);

// The daemons' --metrics: serves MetricsHandler on `address` (IPV4:PORT)
// at /metrics, writing the bound port to `port_file` when set. The error
// names the flag.
absl::StatusOr<std::unique_ptr<http::Server>> StartMetricsServer(
    const std::string& address, const std::string& port_file,
    const Registry* registry, http::Identify identify);

}  // namespace emu::metrics

#endif  // EMU_COMMON_METRICS_METRICS_ENDPOINT_H_
