#include "common/metrics/metrics_endpoint.h"

#include <utility>

namespace emu::metrics {

http::Handler MetricsHandler(const Registry* registry,
                             http::Identify identify) {
  return [registry, identify = std::move(identify)](const http::Request& r) {
    if (r.method != "GET" && r.method != "HEAD") {
      return http::TextResponse(405, "only GET");
    }
    if (identify) {
      absl::StatusOr<Caller> caller = http::Authenticate(r, identify);
      if (!caller.ok()) {
        http::Response resp =
            http::TextResponse(401, caller.status().message());
        resp.headers.push_back({"WWW-Authenticate", "Bearer realm=\"emu\""});
        return resp;
      }
      if (!caller->admin) {
        return http::TextResponse(
            403, "metrics are for administrators: " + caller->name +
                     " is not one");
      }
    }
    http::Response resp;
    resp.content_type = kContentType;
    resp.body = registry->Exposition();
    return resp;
  };
}

absl::StatusOr<std::unique_ptr<http::Server>> StartMetricsServer(
    const std::string& address, const std::string& port_file,
    const Registry* registry, http::Identify identify) {
  http::Server::Options options;
  options.address = address;
  options.port_file = port_file;
  options.threads = 2;
  options.name = "--metrics";
  std::vector<http::Server::Route> routes;
  routes.push_back({"/metrics", MetricsHandler(registry, std::move(identify))});
  return http::Server::Start(options, std::move(routes));
}

}  // namespace emu::metrics
