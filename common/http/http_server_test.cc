#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http/request_auth.h"
#include "gtest/gtest.h"

namespace emu::http {
namespace {

// Sends `raw` to 127.0.0.1:port and returns everything the server answers.
std::string Exchange(int port, const std::string& raw) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = write(fd, raw.data() + sent, raw.size() - sent);
    if (n <= 0) break;
    sent += n;
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  close(fd);
  return out;
}

std::string Get(int port, const std::string& target,
                const std::string& headers = "") {
  return Exchange(port, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n",
                                     headers, "\r\n"));
}

TEST(HttpServerTest, RoutesByExactPathAndLongestPrefix) {
  std::vector<Server::Route> routes;
  routes.push_back({"/metrics", [](const Request& r) {
                      Response resp;
                      resp.content_type = "text/plain; version=0.0.4";
                      resp.body = "m " + r.query + " " + r.Header("x-thing");
                      return resp;
                    }});
  routes.push_back({"/labs/", [](const Request& r) {
                      return TextResponse(200, "labs:" + r.path);
                    }});
  routes.push_back({"/labs/special/", [](const Request&) {
                      return TextResponse(200, "special");
                    }});
  auto server = Server::Start({"127.0.0.1:0"}, std::move(routes));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  std::string r = Get(port, "/metrics?a=1", "X-Thing: yes\r\n");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_TRUE(absl::StrContains(r, "Content-Type: text/plain; version=0.0.4")) << r;
  EXPECT_TRUE(absl::EndsWith(r, "\r\n\r\nm a=1 yes")) << r;
  EXPECT_TRUE(absl::EndsWith(Get(port, "/labs/core%20x"), "labs:/labs/core x\n"));
  EXPECT_TRUE(absl::EndsWith(Get(port, "/labs/special/y"), "special\n"));
  EXPECT_TRUE(absl::StartsWith(Get(port, "/metricsx"), "HTTP/1.1 404")) ;
  EXPECT_TRUE(absl::StartsWith(Get(port, "/labs"), "HTTP/1.1 404"));
}

TEST(HttpServerTest, ReadsBodiesAndRefusesLongOnes) {
  std::vector<Server::Route> routes;
  routes.push_back({"/echo", [](const Request& r) {
                      return TextResponse(200, r.method + ":" + r.body);
                    }});
  Server::Options options;
  options.address = "127.0.0.1:0";
  options.max_body = 10;
  auto server = Server::Start(options, std::move(routes));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::string r = Exchange(port,
                           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                           "5\r\n\r\nhello");
  EXPECT_TRUE(absl::EndsWith(r, "POST:hello\n")) << r;
  r = Exchange(port,
               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
               "hello world");
  EXPECT_TRUE(absl::StartsWith(r, "HTTP/1.1 413")) << r;
}

TEST(HttpServerTest, BadAddressesAndBusyPortsAreClearErrors) {
  auto bad = Server::Start({"localhost:80"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "'localhost:80'"));
  EXPECT_FALSE(Server::Start({"127.0.0.1:70000"}, {}).ok());
  EXPECT_FALSE(Server::Start({"1.2.3:1"}, {}).ok());

  auto first = Server::Start({"127.0.0.1:0"}, {});
  ASSERT_TRUE(first.ok());
  Server::Options again;
  again.address = absl::StrCat("127.0.0.1:", (*first)->port());
  again.name = "metrics";
  auto busy = Server::Start(again, {});
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(busy.status().message(), "metrics: cannot listen on 127.0.0.1:"))
      << busy.status();
}

TEST(HttpServerTest, WritesThePortFile) {
  const std::string file =
      absl::StrCat(::testing::TempDir(), "/http_server_test.port");
  Server::Options options;
  options.address = "127.0.0.1:0";
  options.port_file = file;
  auto server = Server::Start(options, {});
  ASSERT_TRUE(server.ok()) << server.status();
  std::ifstream in(file);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, (*server)->port());
  unlink(file.c_str());
}

TEST(HttpHelpersTest, FormCookieAndEscaping) {
  EXPECT_EQ(FormValue("a=1&token=x%2By+z&b", "token"), "x+y z");
  EXPECT_EQ(FormValue("a=1", "b"), std::nullopt);
  EXPECT_EQ(FormValue("b", "b"), "");
  Request r;
  r.headers["cookie"] = "x=1; emu_token=abc; y=2";
  EXPECT_EQ(CookieValue(r, "emu_token"), "abc");
  EXPECT_EQ(CookieValue(r, "z"), std::nullopt);
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(RequestAuthTest, BearerHeaderOrCookie) {
  Identify identify = ClusterTokenIdentify("secret");
  Request none;
  auto c = Authenticate(none, identify);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(c.status().message(), "no token"));
  Request header;
  header.headers["authorization"] = "Bearer secret";
  ASSERT_TRUE(Authenticate(header, identify).ok());
  EXPECT_TRUE(Authenticate(header, identify)->admin);
  Request cookie;
  cookie.headers["cookie"] = "emu_token=secret";
  EXPECT_TRUE(Authenticate(cookie, identify).ok());
  Request wrong;
  wrong.headers["authorization"] = "Bearer secreT";
  EXPECT_EQ(Authenticate(wrong, identify).status().message(),
            "token not accepted");
  // An empty expected token accepts nothing (no anonymous pages).
  EXPECT_FALSE(Authenticate(header, ClusterTokenIdentify("")).ok());
}

}  // namespace
}  // namespace emu::http
