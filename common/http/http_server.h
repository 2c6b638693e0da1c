// A small HTTP/1.1 server for emu's read-only pages (/metrics, the web
// view) over Debian's civetweb: handlers are functions from a Request to a
// Response, so they are tested without a socket. One concept: serve these
// handlers on this address until destroyed. No TLS (docs/security.md says
// where it may listen and why a token is still required), no files from
// disk, no directory listings.
#ifndef EMU_COMMON_HTTP_HTTP_SERVER_H_
#define EMU_COMMON_HTTP_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct mg_context;
struct mg_connection;

namespace emu::http {

struct Request {
  std::string method;  // "GET", "POST"
  std::string path;    // decoded, normalised ("/labs/core")
  std::string query;   // raw, after '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;    // up to Server::Options::max_body bytes
  std::string remote;  // client address
  // The header's value, "" when absent (name in lower case).
  const std::string& Header(absl::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A text response with this status (and a final newline).
Response TextResponse(int status, absl::string_view text);

using Handler = std::function<Response(const Request&)>;

// The value of `key` in "a=1&b=x%20y" (query strings, form bodies), URL
// decoded ('+' is a space); nullopt when absent.
std::optional<std::string> FormValue(absl::string_view encoded,
                                     absl::string_view key);
// The cookie `name` of a request's Cookie header; nullopt when absent.
std::optional<std::string> CookieValue(const Request& request,
                                       absl::string_view name);
// Text made safe inside HTML elements and attribute values.
std::string HtmlEscape(absl::string_view text);

// Serves routes until destroyed. Thread-safe: handlers run on the server's
// threads, several at once; they must be thread-safe.
class Server {
 public:
  struct Options {
    // "127.0.0.1:9470", "0.0.0.0:9470" (port 0: any free one). IPv4 only:
    // Debian's civetweb is built without IPv6.
    std::string address;
    int threads = 4;
    size_t max_body = 64 * 1024;  // longer request bodies get 413
    std::string port_file;  // when set: the bound port is written there
    std::string name = "http";  // in log lines and errors ("metrics", "web")
  };
  struct Route {
    // Exact path ("/metrics"), or a prefix when it ends in '/' ("/labs/"):
    // the longest matching route wins; none matches: 404.
    std::string path;
    Handler handler;
  };

  // INVALID_ARGUMENT for an address that is not IPV4:PORT, UNAVAILABLE
  // when it cannot be bound (civetweb's words).
  static absl::StatusOr<std::unique_ptr<Server>> Start(Options options,
                                                       std::vector<Route> routes);
  ~Server();  // stops listening; waits for handlers in flight
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }

 private:
  explicit Server(Options options, std::vector<Route> routes)
      : options_(std::move(options)), routes_(std::move(routes)) {}
  static int Dispatch(mg_connection* conn, void* self);

  const Options options_;
  const std::vector<Route> routes_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

// The handler of the route for `path` (exact, else the longest matching
// prefix route), or null: the server's choice, for tests of route tables.
const Handler* FindRoute(const std::vector<Server::Route>& routes,
                         absl::string_view path);

// "http://127.0.0.1:9470/metrics" for address "127.0.0.1:0", the bound
// port 9470 and path "/metrics": what a daemon logs once serving.
std::string ServedUrl(absl::string_view address, int port,
                      absl::string_view path);

// Checks an "IPV4:PORT" listen address; the error names it.
absl::Status CheckListenAddress(absl::string_view address);

}  // namespace emu::http

#endif  // EMU_COMMON_HTTP_HTTP_SERVER_H_
