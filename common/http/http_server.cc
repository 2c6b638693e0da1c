#include "common/http/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/server_util.h"

namespace emu::http {
namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string UrlDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

const std::string& Request::Header(absl::string_view name) const {
  static const std::string* const kEmpty = new std::string();
  auto it = headers.find(std::string(name));
  return it == headers.end() ? *kEmpty : it->second;
}

Response TextResponse(int status, absl::string_view text) {
  Response r;
  r.status = status;
  r.body = absl::StrCat(text, "\n");
  return r;
}

std::optional<std::string> FormValue(absl::string_view encoded,
                                     absl::string_view key) {
  for (absl::string_view pair : absl::StrSplit(encoded, '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (UrlDecode(kv.first) == key) return UrlDecode(kv.second);
  }
  return std::nullopt;
}

std::optional<std::string> CookieValue(const Request& request,
                                       absl::string_view name) {
  for (absl::string_view c : absl::StrSplit(request.Header("cookie"), ';')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(absl::StripAsciiWhitespace(c), absl::MaxSplits('=', 1));
    if (kv.first == name) return std::string(kv.second);
  }
  return std::nullopt;
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string ServedUrl(absl::string_view address, int port,
                      absl::string_view path) {
  return absl::StrCat("http://", address.substr(0, address.rfind(':')), ":",
                      port, path);
}

absl::Status CheckListenAddress(absl::string_view address) {
  size_t colon = address.rfind(':');
  int port = -1;
  std::vector<absl::string_view> octets =
      colon == absl::string_view::npos
          ? std::vector<absl::string_view>{}
          : absl::StrSplit(address.substr(0, colon), '.');
  bool ok = octets.size() == 4 &&
            absl::SimpleAtoi(address.substr(colon + 1), &port) && port >= 0 &&
            port <= 65535;
  for (absl::string_view o : octets) {
    int v;
    ok = ok && !o.empty() && absl::SimpleAtoi(o, &v) && v >= 0 && v <= 255;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address '", address,
        "' is not IPV4:PORT (e.g. 127.0.0.1:9470; port 0 picks a free one)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    Options options, std::vector<Route> routes) {
  if (absl::Status s = CheckListenAddress(options.address); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": ", s.message()));
  }
  InitLibraryOnce();
  std::unique_ptr<Server> server(new Server(options, std::move(routes)));
  const std::string threads = absl::StrCat(std::max(1, options.threads));
  const char* config[] = {"listening_ports", server->options_.address.c_str(),
                          "num_threads", threads.c_str(),
                          "request_timeout_ms", "10000",
                          "enable_keep_alive", "no",
                          nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  callbacks.log_message = [](const mg_connection*, const char* message) {
    Log("http: ", message);
    return 1;
  };
  mg_init_data init;
  std::memset(&init, 0, sizeof init);
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = config;
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data error;
  error.code = &code;
  error.text = text;
  error.text_buffer_size = sizeof text;
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        options.name, ": cannot listen on ", options.address, ": ",
        text[0] ? text : "civetweb failed to start"));
  }
  mg_set_request_handler(server->context_, "**", &Server::Dispatch,
                         server.get());
  mg_server_port ports[4];
  if (mg_get_server_ports(server->context_, 4, ports) < 1) {
    return absl::InternalError(
        absl::StrCat(options.name, ": no listening port after start"));
  }
  server->port_ = ports[0].port;
  if (!options.port_file.empty()) {
    absl::Status s = WritePortFile(options.port_file, server->port_);
    if (!s.ok()) return s;
  }
  return server;
}

Server::~Server() {
  if (context_ != nullptr) mg_stop(context_);
}

const Handler* FindRoute(const std::vector<Server::Route>& routes,
                         absl::string_view path) {
  const Server::Route* best = nullptr;
  for (const Server::Route& r : routes) {
    const bool prefix = !r.path.empty() && r.path.back() == '/';
    const bool match = prefix ? absl::StartsWith(path, r.path) : path == r.path;
    if (match && (best == nullptr || r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  return best == nullptr ? nullptr : &best->handler;
}

int Server::Dispatch(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<Server*>(self_ptr);
  const mg_request_info* info = mg_get_request_info(conn);
  Request request;
  request.method = info->request_method ? info->request_method : "";
  request.path = info->local_uri ? info->local_uri : "/";
  request.query = info->query_string ? info->query_string : "";
  request.remote = info->remote_addr;
  for (int i = 0; i < info->num_headers; ++i) {
    request.headers[absl::AsciiStrToLower(info->http_headers[i].name)] =
        info->http_headers[i].value;
  }
  Response response;
  if (info->content_length > static_cast<long long>(self->options_.max_body)) {
    response = TextResponse(413, "request body too large");
  } else {
    char buf[4096];
    int n;
    while (request.body.size() <= self->options_.max_body &&
           (n = mg_read(conn, buf, sizeof buf)) > 0) {
      request.body.append(buf, n);
    }
    const Handler* handler = FindRoute(self->routes_, request.path);
    if (request.body.size() > self->options_.max_body) {
      response = TextResponse(413, "request body too large");
    } else if (handler == nullptr) {
      response = TextResponse(404, absl::StrCat("no page ", request.path));
    } else {
      response = (*handler)(request);
    }
  }
  std::string head = absl::StrCat(
      "HTTP/1.1 ", response.status, " ", Reason(response.status), "\r\n",
      "Content-Type: ", response.content_type, "\r\n",
      "Content-Length: ", response.body.size(), "\r\n",
      "Cache-Control: no-store\r\n", "X-Content-Type-Options: nosniff\r\n",
      "Connection: close\r\n");
  for (const auto& [k, v] : response.headers) {
    absl::StrAppend(&head, k, ": ", v, "\r\n");
  }
  head += "\r\n";
  mg_write(conn, head.data(), head.size());
  if (request.method != "HEAD") {
    mg_write(conn, response.body.data(), response.body.size());
  }
  return response.status;
}

}  // namespace emu::http
