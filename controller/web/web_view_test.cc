#include "controller/web/web_view.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace emu::controller::web {
namespace {

using http::Request;
using http::Response;

// Two users: "admin-tok" (administrator) sees both labs, "bob-tok" only
// his own; bob may not see admin's lab "core".
class FakeSource : public WebSource {
 public:
  FakeSource() {
    emu::v1::Lab core;
    core.set_name("core");
    core.set_owner("admin");
    core.set_state(emu::v1::RUNNING);
    auto* topo = core.mutable_topology();
    topo->set_name("core");
    topo->add_nodes()->set_name("r1");
    topo->add_nodes()->set_name("r<2>");
    auto* n1 = core.add_nodes();
    n1->set_name("r1");
    n1->set_kind(emu::v1::NODE_KIND_NETNS);
    n1->set_host("h1");
    auto* i1 = n1->add_interfaces();
    i1->set_name("eth1");
    i1->add_addresses("10.0.0.1/24");
    auto* n2 = core.add_nodes();
    n2->set_name("r<2>");
    n2->set_kind(emu::v1::NODE_KIND_QEMU);
    n2->set_host("h2");
    n2->set_state("booting");
    auto* l = core.add_links();
    l->mutable_link()->mutable_a()->set_node("r1");
    l->mutable_link()->mutable_a()->set_interface("eth1");
    l->mutable_link()->mutable_b()->set_node("r<2>");
    l->mutable_link()->mutable_b()->set_interface("eth1");
    l->mutable_link()->mutable_a_to_b()->set_rate_bps(10000000);
    l->set_host_a("h1");
    l->set_host_b("h2");
    l->set_carrier("tcp-tunnel");
    l->set_state("up");
    *topo->add_links() = l->link();
    labs_["core"] = core;
    emu::v1::Lab bobs;
    bobs.set_name("bob/x");
    bobs.set_owner("bob");
    bobs.set_state(emu::v1::FAILED);
    labs_["bob/x"] = bobs;
  }
  absl::StatusOr<Caller> Identify(absl::string_view token) const override {
    if (token == "admin-tok") return Caller{"admin", true, true};
    if (token == "bob-tok") return Caller{"bob", false, false};
    return absl::UnauthenticatedError("unknown token");
  }
  absl::StatusOr<std::vector<emu::v1::Lab>> Labs(
      const Caller& caller) const override {
    // Outlines, as LabManager::ListOutlines gives them.
    std::vector<emu::v1::Lab> out;
    if (caller.admin) {
      emu::v1::Lab core = labs_.at("core");
      core.set_node_count(core.nodes_size());
      core.set_link_count(core.links_size());
      core.clear_nodes();
      core.clear_links();
      core.mutable_topology()->clear_nodes();
      out.push_back(core);
    }
    emu::v1::Lab x = labs_.at("bob/x");
    if (!caller.admin) x.set_name("x");
    out.push_back(x);
    return out;
  }
  absl::StatusOr<emu::v1::Lab> Lab(const Caller& caller,
                                   const std::string& name) const override {
    if (name == "core" && caller.admin) return labs_.at("core");
    if (name == "core") {
      return absl::PermissionDeniedError("lab core: bob may not view it");
    }
    return absl::NotFoundError(absl::StrCat("lab ", name, ": not found"));
  }
  absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> Runs(
      const Caller& caller) const override {
    if (!caller.admin) return std::vector<emu::v1::ExperimentRunSummary>{};
    emu::v1::ExperimentRunSummary r;
    r.set_id("run-7");
    r.set_lab("core");
    r.set_experiment("sweep");
    r.set_state(emu::v1::RUN_SUCCEEDED);
    return std::vector<emu::v1::ExperimentRunSummary>{r};
  }
  absl::StatusOr<emu::v1::RunResult> Run(const Caller& caller,
                                         const std::string& id) const override {
    if (!caller.admin || id != "run-7") return absl::NotFoundError("no run " + id);
    emu::v1::RunResult run;
    run.set_id("run-7");
    run.set_lab("core");
    run.set_experiment("sweep");
    run.set_state(emu::v1::RUN_SUCCEEDED);
    run.set_start_unix_us(1000000);
    run.set_end_unix_us(4000000);
    auto* t = run.add_tasks();
    t->set_name("warm <up>");
    t->set_status(emu::v1::TaskResult::PASSED);
    t->set_planned_start_unix_us(1500000);
    t->set_end_unix_us(2500000);
    auto* c = t->add_commands();
    c->set_node("r1");
    c->set_host("h1");
    c->add_argv("ping");
    c->set_status(emu::v1::CommandResult::OK);
    return run;
  }

  absl::StatusOr<emu::v1::LabCounters> Stats(
      const Caller& caller, const std::string& name) const override {
    if (name == "core" && !caller.admin) {
      return absl::PermissionDeniedError("lab core: bob may not view it");
    }
    if (name != "core") return absl::NotFoundError("lab \"" + name + "\": not found");
    emu::v1::LabCounters c;
    c.set_lab("core");
    c.set_time_unix_us(5000000);
    auto* l = c.add_links();
    l->set_link("r1:eth1<->r<2>:eth1");
    l->mutable_a_to_b()->set_delivered_bytes(123456789012ULL);
    auto* u = c.add_nodes();
    u->set_node("r1");
    u->set_memory_bytes(4096);
    return c;
  }

 private:
  std::map<std::string, emu::v1::Lab> labs_;
};

class FakeSvg : public SvgRenderer {
 public:
  absl::StatusOr<std::string> Svg(const std::string& dot,
                                  const std::string& layout) override {
    last_dot = dot;
    return std::string("<svg id=\"fake-graph\"></svg>");
  }
  std::string last_dot;
};

class WebViewTest : public ::testing::Test {
 protected:
  Response Get(const std::string& path, const std::string& token = "",
               bool cookie = false) {
    Request r;
    r.method = "GET";
    r.path = path;
    if (!token.empty()) {
      if (cookie) {
        r.headers["cookie"] = "emu_token=" + token;
      } else {
        r.headers["authorization"] = "Bearer " + token;
      }
    }
    return Call(r);
  }
  Response Call(const Request& r) {
    const http::Handler* h = http::FindRoute(routes_, r.path);
    return h == nullptr ? http::TextResponse(404, "none") : (*h)(r);
  }
  FakeSource source_;
  FakeSvg svg_;
  std::vector<http::Server::Route> routes_ = WebRoutes(&source_, &svg_);
};

TEST_F(WebViewTest, WithoutATokenEveryPageIsTheLoginForm) {
  for (const char* path : {"/", "/labs/core", "/runs/run-7"}) {
    Response r = Get(path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_TRUE(absl::StrContains(r.body, "action=\"/login\"")) << path;
    EXPECT_FALSE(absl::StrContains(r.body, "r1")) << path;
  }
  Response wrong = Get("/", "nope");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(absl::StrContains(wrong.body, "not accepted"));
}

TEST_F(WebViewTest, LabListShowsOwnersToAdministratorsOnly) {
  Response admin = Get("/", "admin-tok");
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_EQ(admin.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(admin.body, "<th>owner</th>"));
  EXPECT_TRUE(absl::StrContains(admin.body, "href=\"/labs/core\""));
  EXPECT_TRUE(absl::StrContains(admin.body, "href=\"/labs/bob/x\""));
  EXPECT_TRUE(absl::StrContains(admin.body, "state-running"));
  // core's counts: 2 nodes, 1 link.
  EXPECT_TRUE(absl::StrContains(admin.body, "</td><td>2</td><td>1</td><td>"))
      << admin.body;
  EXPECT_TRUE(absl::StrContains(admin.body, "href=\"/runs/run-7\""));
  bool csp = false;
  for (const auto& [k, v] : admin.headers) {
    csp |= k == "Content-Security-Policy" && absl::StrContains(v, "script-src 'self'");
  }
  EXPECT_TRUE(csp);

  Response bob = Get("/", "bob-tok", /*cookie=*/true);
  ASSERT_EQ(bob.status, 200);
  EXPECT_FALSE(absl::StrContains(bob.body, "<th>owner</th>"));
  EXPECT_FALSE(absl::StrContains(bob.body, "core"));
  EXPECT_TRUE(absl::StrContains(bob.body, "href=\"/labs/x\""));
  EXPECT_EQ(Get("/nothing-here", "bob-tok").status, 404);
}

TEST_F(WebViewTest, LabPageHasGraphNodesAndLinksEscaped) {
  Response r = Get("/labs/core", "admin-tok");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "<svg id=\"fake-graph\"></svg>"));
  EXPECT_TRUE(absl::StrContains(svg_.last_dot, "r1"));
  EXPECT_TRUE(absl::StrContains(r.body, "10.0.0.1/24"));
  EXPECT_TRUE(absl::StrContains(r.body, "r&lt;2&gt;"));
  EXPECT_FALSE(absl::StrContains(r.body, "<td>r<2>"));
  EXPECT_TRUE(absl::StrContains(r.body, "state-booting"));
  EXPECT_TRUE(absl::StrContains(r.body, "r1:eth1&lt;-&gt;r&lt;2&gt;:eth1"));
  EXPECT_TRUE(absl::StrContains(r.body, "tcp-tunnel"));
  EXPECT_TRUE(absl::StrContains(r.body, "10Mbit/s"));
  EXPECT_TRUE(absl::StrContains(r.body, "run-7"));
}

TEST_F(WebViewTest, LabPageHasCounterCellsTheScriptFills) {
  Response r = Get("/labs/core", "admin-tok");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "data-src=\"/api/counters/core\""));
  EXPECT_TRUE(absl::StrContains(
      r.body, "data-link=\"r1:eth1&lt;-&gt;r&lt;2&gt;:eth1\" data-dir=\"a_to_b\""));
  EXPECT_TRUE(absl::StrContains(r.body, "data-node=\"r1\" data-field=\"cpu\""));
  bool connect = false;
  for (const auto& [k, v] : r.headers) {
    connect |= k == "Content-Security-Policy" && absl::StrContains(v, "connect-src 'self'");
  }
  EXPECT_TRUE(connect) << "the page's script may not fetch its counters";
}

TEST_F(WebViewTest, CountersJsonWithTheCookieAndTheApisRefusals) {
  Response r = Get("/api/counters/core", "admin-tok", /*cookie=*/true);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(absl::StrContains(r.body, "\"delivered_bytes\": \"123456789012\""))
      << r.body;
  // The link's name, as JSON writes it (protobuf escapes '<' and '>').
  EXPECT_TRUE(absl::StrContains(r.body, "\"link\": \"r1:eth1")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"memory_bytes\": \"4096\""));
  Response denied = Get("/api/counters/core", "bob-tok");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, "{\"error\": \"lab core: bob may not view it\"}\n");
  Response missing = Get("/api/counters/nope", "admin-tok");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "{\"error\": \"lab \\\"nope\\\": not found\"}\n");
  EXPECT_EQ(Get("/api/counters/core").status, 401);
}

TEST_F(WebViewTest, RefusalsAreTheApisOwn) {
  Response denied = Get("/labs/core", "bob-tok");
  EXPECT_EQ(denied.status, 403);
  EXPECT_TRUE(absl::StrContains(denied.body, "bob may not view it"));
  EXPECT_EQ(Get("/labs/nope", "admin-tok").status, 404);
  EXPECT_EQ(Get("/runs/run-7", "bob-tok").status, 404);
}

TEST_F(WebViewTest, RunPageHasTheTaskTimeline) {
  Response r = Get("/runs/run-7", "admin-tok");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "Task timeline"));
  EXPECT_TRUE(absl::StrContains(r.body, "class=\"bar-passed\""));
  EXPECT_TRUE(absl::StrContains(r.body, "warm &lt;up&gt;"));
  EXPECT_TRUE(absl::StrContains(r.body, "+500ms"));  // planned start - run start
}

TEST(TimelineSvgTest, BarsArePlacedOnTheRunsTimeScale) {
  emu::v1::RunResult run;
  run.set_start_unix_us(0 + 1);
  run.set_end_unix_us(1000001);
  auto* a = run.add_tasks();
  a->set_name("a");
  a->set_status(emu::v1::TaskResult::PASSED);
  a->set_planned_start_unix_us(1);
  a->set_end_unix_us(500001);
  auto* b = run.add_tasks();
  b->set_name("b");
  b->set_status(emu::v1::TaskResult::FAILED);
  b->set_planned_start_unix_us(500001);
  b->set_end_unix_us(1000001);
  const std::string svg = TimelineSvg(run, 2000000);
  // Plot: x from 180 over 710 px; a takes the first half, b the second.
  EXPECT_TRUE(absl::StrContains(svg, "class=\"bar-passed\" x=\"180\" y=\"4\" width=\"355\""))
      << svg;
  EXPECT_TRUE(absl::StrContains(svg, "class=\"bar-failed\" x=\"535\" y=\"26\" width=\"355\""))
      << svg;
}

TEST_F(WebViewTest, LoginSetsAStrictHttpOnlyCookie) {
  Request post;
  post.method = "POST";
  post.path = "/login";
  post.body = "token=admin-tok";
  Response ok = Call(post);
  EXPECT_EQ(ok.status, 303);
  std::string cookie;
  for (const auto& [k, v] : ok.headers) {
    if (k == "Set-Cookie") cookie = v;
  }
  EXPECT_EQ(cookie, "emu_token=admin-tok; Path=/; HttpOnly; SameSite=Strict");
  post.body = "token=wrong";
  EXPECT_EQ(Call(post).status, 401);
  post.body = "token=a%3Bb";  // would break the cookie header
  EXPECT_EQ(Call(post).status, 401);
  Request logout;
  logout.method = "POST";
  logout.path = "/logout";
  Response out = Call(logout);
  EXPECT_EQ(out.status, 303);
  Request put;
  put.method = "POST";
  put.path = "/";
  put.headers["authorization"] = "Bearer admin-tok";
  EXPECT_EQ(Call(put).status, 405);  // read-only
}

TEST_F(WebViewTest, StaticFilesAreEmbedded) {
  Response css = Get("/static/style.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_TRUE(absl::StartsWith(css.content_type, "text/css"));
  EXPECT_TRUE(absl::StrContains(css.body, ".timeline"));
  Response js = Get("/static/app.js");
  EXPECT_TRUE(absl::StrContains(js.body, "emu-live"));
  EXPECT_EQ(Get("/static/other.js").status, 404);
}

}  // namespace
}  // namespace emu::controller::web
