#include "controller/web/web_view.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/graph_dot.h"
#include "cli/render.h"
#include "common/http/request_auth.h"
#include "controller/web/static_files.h"
#include "proto/topology_names.h"

namespace emu::controller::web {
namespace {

using http::HtmlEscape;
using http::Request;
using http::Response;

// Pages only load what this server sends: no inline script, no framing.
constexpr char kSecurityPolicy[] =
    "default-src 'none'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; "
    "base-uri 'none'";

std::string E(absl::string_view s) { return HtmlEscape(s); }

// Percent-encodes everything but unreserved characters and '/'.
std::string UrlPath(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

std::string StateClass(absl::string_view state) {
  std::string s = absl::AsciiStrToLower(state);
  for (char& c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

std::string StateSpan(absl::string_view state) {
  return absl::StrCat("<span class=\"state state-", StateClass(state), "\">",
                      E(state), "</span>");
}

std::string Time(int64_t unix_us) {
  if (unix_us <= 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixMicros(unix_us), absl::UTCTimeZone());
}

std::string Seconds(int64_t us) {
  return absl::StrCat(absl::FormatDuration(
      absl::Trunc(absl::Microseconds(us), absl::Milliseconds(1))));
}

std::string RunStateName(emu::v1::RunState s) {
  std::string name = emu::v1::RunState_Name(s);
  return std::string(absl::StripPrefix(name, "RUN_"));
}

Response Html(int status, const std::string& body) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = body;
  r.headers.push_back({"Content-Security-Policy", kSecurityPolicy});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  return r;
}

std::string Page(const std::string& title, const Caller* caller,
                 const std::string& body) {
  std::string who;
  if (caller != nullptr) {
    who = absl::StrCat(
        "<span class=\"who\">", E(caller->name),
        caller->admin ? " (administrator)" : "",
        " · <label><input type=\"checkbox\" id=\"live\"> live</label>"
        " · <form method=\"post\" action=\"/logout\"><button>log out"
        "</button></form></span>");
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>",
      E(title),
      " · emu</title><link rel=\"icon\" href=\"data:,\">"
      "<link rel=\"stylesheet\" href=\"/static/style.css\">"
      "</head><body><header><a href=\"/\">emu</a><a href=\"/\">labs</a>",
      who, "</header><main>", body,
      "</main><script src=\"/static/app.js\"></script></body></html>\n");
}

Response LoginPage(int status, const std::string& message) {
  return Html(
      status,
      Page("log in", nullptr,
           absl::StrCat(
               "<div class=\"login\"><h1>Log in</h1>",
               message.empty() ? ""
                               : absl::StrCat("<p class=\"error\">",
                                              E(message), "</p>"),
               "<p>Paste your emu token: the one emuctl uses (<code>emuctl "
               "user token</code> shows how to get yours; the administrator's "
               "is the cluster token). The page keeps it in a cookie for "
               "this site only.</p><form method=\"post\" action=\"/login\">"
               "<input type=\"password\" name=\"token\" autocomplete=\"off\" "
               "autofocus required> <button>log in</button></form></div>")));
}

int HttpCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

Response ErrorPage(const Caller& caller, const absl::Status& status) {
  const int code = HttpCode(status);
  return Html(code, Page("error", &caller,
                         absl::StrCat("<h1>Not shown</h1><p class=\"error\">",
                                      E(status.message()), "</p>")));
}

std::string RunsTable(const std::vector<emu::v1::ExperimentRunSummary>& runs,
                      bool with_lab) {
  if (runs.empty()) return "<p class=\"muted\">No experiment runs.</p>";
  std::string out = absl::StrCat(
      "<table class=\"runs\"><tr><th>run</th>", with_lab ? "<th>lab</th>" : "",
      "<th>experiment</th><th>state</th><th>started</th><th>took</th></tr>");
  for (const auto& r : runs) {
    absl::StrAppend(
        &out, "<tr><td><a href=\"/runs/", UrlPath(r.id()), "\">", E(r.id()),
        "</a></td>",
        with_lab ? absl::StrCat("<td><a href=\"/labs/", UrlPath(r.lab()),
                                "\">", E(r.lab()), "</a></td>")
                 : "",
        "<td>", E(r.experiment()), "</td><td>",
        StateSpan(RunStateName(r.state())), "</td><td>",
        Time(r.start_unix_us()), "</td><td>",
        r.end_unix_us() > 0 ? Seconds(r.end_unix_us() - r.start_unix_us()) : "",
        "</td></tr>");
  }
  return out + "</table>";
}

Response LabList(const WebSource& source, const Caller& caller) {
  auto labs = source.Labs(caller);
  if (!labs.ok()) return ErrorPage(caller, labs.status());
  auto runs = source.Runs(caller);
  std::string body = "<h1>Labs</h1>";
  if (labs->empty()) {
    body += "<p class=\"muted\">No labs. <code>emuctl up FILE</code> "
            "deploys one.</p>";
  } else {
    absl::StrAppend(&body, "<table class=\"labs\"><tr><th>lab</th>",
                    caller.admin ? "<th>owner</th>" : "",
                    "<th>state</th><th>nodes</th><th>links</th>"
                    "<th>updated</th></tr>");
    for (const auto& lab : *labs) {
      // Administrators see others' labs as OWNER/NAME (AsSeenBy names them
      // in the caller's terms already).
      absl::StrAppend(
          &body, "<tr><td><a href=\"/labs/", UrlPath(lab.name()), "\">",
          E(lab.name()), "</a></td>",
          caller.admin ? absl::StrCat("<td>", E(lab.owner()), "</td>") : "",
          "<td>", StateSpan(cli::LabStateName(lab.state())), "</td><td>",
          lab.node_count(), "</td><td>", lab.link_count(), "</td><td>",
          Time(lab.updated_unix_us()), "</td></tr>");
    }
    body += "</table>";
  }
  body += "<h2>Experiment runs</h2>";
  body += runs.ok() ? RunsTable(*runs, true)
                    : absl::StrCat("<p class=\"error\">",
                                   E(runs.status().message()), "</p>");
  return Html(200, Page("labs", &caller, body));
}

std::string Conditions(const emu::v1::LinkParams& p) {
  std::string label = cli::ConditionsLabel(p);
  return label.empty() ? "<span class=\"muted\">none</span>" : E(label);
}

Response LabPage(const WebSource& source, SvgRenderer* svg,
                 const Caller& caller, const std::string& name) {
  auto lab = source.Lab(caller, name);
  if (!lab.ok()) return ErrorPage(caller, lab.status());
  std::string body = absl::StrCat(
      "<h1>Lab ", E(lab->name()), " ",
      StateSpan(cli::LabStateName(lab->state())), "</h1>",
      caller.admin ? absl::StrCat("<p class=\"muted\">owner ", E(lab->owner()),
                                  "</p>")
                   : "",
      lab->error().empty()
          ? ""
          : absl::StrCat("<p class=\"error\">", E(lab->error()), "</p>"));
  // The script (static/app.js) polls the counters while this page is open.
  absl::StrAppend(&body, "<p id=\"counters\" class=\"muted\" data-src=\"/api/counters/",
                  E(UrlPath(name)), "\">counters: loading…</p>");
  body += "<h2>Graph</h2>";
  const int nodes = lab->nodes_size() > 0 ? lab->nodes_size()
                                          : lab->topology().nodes_size();
  auto picture = svg->Svg(cli::LabToDot(*lab), cli::DefaultLayout(nodes));
  body += picture.ok()
              ? absl::StrCat("<div class=\"graph\">", *picture, "</div>")
              : absl::StrCat("<p class=\"error\">no graph: ",
                             E(picture.status().message()), "</p>");

  body += "<h2>Nodes</h2><table class=\"nodes\"><tr><th>node</th><th>kind"
          "</th><th>host</th><th>state</th><th>interfaces</th><th>CPU</th>"
          "<th>memory</th></tr>";
  for (const auto& n : lab->nodes()) {
    std::vector<std::string> ifaces;
    for (const auto& i : n.interfaces()) {
      ifaces.push_back(absl::StrCat(
          E(i.name()), i.addresses().empty() ? "" : " ",
          E(absl::StrJoin(i.addresses(), ", "))));
    }
    // Netns nodes have no state of their own: they are as their lab is.
    const std::string state = n.state().empty()
                                  ? cli::LabStateName(lab->state())
                                  : n.state();
    absl::StrAppend(
        &body, "<tr><td>", E(n.name()), "</td><td>",
        E(cli::NodeKindName(n.kind())), "</td><td>", E(n.host()), "</td><td>",
        StateSpan(state),
        n.state_detail().empty() ? ""
                                 : absl::StrCat(" ", E(n.state_detail())),
        "</td><td>", absl::StrJoin(ifaces, "<br>"),
        "</td><td class=\"ctr\" data-node=\"", E(n.name()),
        "\" data-field=\"cpu\"></td><td class=\"ctr\" data-node=\"",
        E(n.name()), "\" data-field=\"memory\"></td></tr>");
  }
  body += "</table>";

  body += "<h2>Links</h2>";
  if (lab->links().empty()) {
    body += "<p class=\"muted\">No links.</p>";
  } else {
    body += "<table class=\"links\"><tr><th>link</th><th>hosts</th>"
            "<th>carrier</th><th>state</th><th>a → b</th><th>b → a</th>"
            "<th>engines</th><th>traffic a → b</th><th>traffic b → a</th>"
            "</tr>";
    for (const auto& l : lab->links()) {
      absl::StrAppend(
          &body, "<tr><td>", E(LinkName(l.link())), "</td><td>",
          E(l.host_a()), l.host_a() == l.host_b() ? "" : " ↔ ",
          l.host_a() == l.host_b() ? "" : E(l.host_b()), "</td><td>",
          E(l.carrier()), "</td><td>",
          l.state().empty() ? "" : StateSpan(l.state()), "</td><td>",
          Conditions(l.link().a_to_b()), "</td><td>",
          Conditions(l.link().b_to_a()), "</td><td>", E(l.engine_a_to_b()),
          l.engine_a_to_b() == l.engine_b_to_a()
              ? ""
              : absl::StrCat(" / ", E(l.engine_b_to_a())),
          "</td>");
      for (const char* dir : {"a_to_b", "b_to_a"}) {
        absl::StrAppend(&body, "<td class=\"ctr\" data-link=\"",
                        E(LinkName(l.link())), "\" data-dir=\"", dir,
                        "\"></td>");
      }
      body += "</tr>";
    }
    body += "</table>";
  }

  body += "<h2>Experiment runs</h2>";
  auto runs = source.Runs(caller);
  if (runs.ok()) {
    std::vector<emu::v1::ExperimentRunSummary> mine;
    for (const auto& r : *runs) {
      if (r.lab() == lab->name()) mine.push_back(r);
    }
    body += RunsTable(mine, false);
  } else {
    absl::StrAppend(&body, "<p class=\"error\">", E(runs.status().message()),
                    "</p>");
  }
  return Html(200, Page(absl::StrCat("lab ", lab->name()), &caller, body));
}

// GET /api/counters/NAME: the lab's counters as `emuctl stats --json`
// prints them (emu.v1.LabCounters, proto field names; 64-bit counters are
// JSON strings), for the lab page's script. Errors: {"error": "..."} with
// the page's status codes.
Response CountersJson(const WebSource& source, const Caller& caller,
                      const std::string& name) {
  Response r;
  r.content_type = "application/json";
  r.headers.push_back({"Cache-Control", "no-store"});
  auto counters = source.Stats(caller, name);
  absl::StatusOr<std::string> json =
      counters.ok() ? cli::ToJson(*counters) : counters.status();
  if (!json.ok()) {
    r.status = HttpCode(json.status());
    std::string message;
    for (char c : json.status().message()) {
      if (c == '"' || c == '\\') {
        message += '\\';
        message += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        message += ' ';
      } else {
        message += c;
      }
    }
    r.body = absl::StrCat("{\"error\": \"", message, "\"}\n");
    return r;
  }
  r.body = *std::move(json);
  return r;
}

std::string TaskStatusName(emu::v1::TaskResult::Status s) {
  return emu::v1::TaskResult::Status_Name(s);
}

Response RunPage(const WebSource& source, const Caller& caller,
                 const std::string& id) {
  auto run = source.Run(caller, id);
  if (!run.ok()) return ErrorPage(caller, run.status());
  std::string body = absl::StrCat(
      "<h1>Run ", E(run->id()), " ", StateSpan(RunStateName(run->state())),
      "</h1><p>experiment <b>", E(run->experiment()), "</b> on lab <a href=\"/labs/",
      UrlPath(run->lab()), "\">", E(run->lab()), "</a>, started ",
      Time(run->start_unix_us()),
      run->end_unix_us() > 0
          ? absl::StrCat(", took ",
                         Seconds(run->end_unix_us() - run->start_unix_us()))
          : "",
      "</p>",
      run->error().empty()
          ? ""
          : absl::StrCat("<p class=\"error\">", E(run->error()), "</p>"));
  for (const std::string& w : run->warnings()) {
    absl::StrAppend(&body, "<p class=\"error\">warning: ", E(w), "</p>");
  }
  if (!run->params().empty()) {
    std::vector<std::string> params;
    for (const auto& [k, v] : run->params()) {
      params.push_back(absl::StrCat(E(k), "=", E(v)));
    }
    std::sort(params.begin(), params.end());
    absl::StrAppend(&body, "<p>parameters: ", absl::StrJoin(params, ", "),
                    "</p>");
  }
  if (run->tasks().empty()) {
    body += "<p class=\"muted\">No Task has ended yet, or the run is older "
            "than the Tasks the controller keeps (its summary only).</p>";
    return Html(200, Page(absl::StrCat("run ", run->id()), &caller, body));
  }
  absl::StrAppend(&body, "<h2>Task timeline</h2><div class=\"timeline\">",
                  TimelineSvg(*run, absl::ToUnixMicros(absl::Now())),
                  "</div><h2>Tasks</h2><table class=\"tasks\"><tr><th>#</th>"
                  "<th>Task</th><th>status</th><th>start</th><th>took</th>"
                  "<th>skew</th><th>commands</th></tr>");
  for (const auto& t : run->tasks()) {
    const int64_t start =
        t.planned_start_unix_us() > 0 ? t.planned_start_unix_us()
                                      : t.release_unix_us();
    std::string commands;
    for (const auto& c : t.commands()) {
      absl::StrAppend(
          &commands, "<div>", E(c.node()), "@", E(c.host()), ": <code>",
          E(absl::StrJoin(c.argv(), " ")), "</code> ",
          StateSpan(emu::v1::CommandResult::Status_Name(c.status())),
          " exit ", c.exit_code(),
          c.end_unix_us() > 0 && c.start_unix_us() > 0
              ? absl::StrCat(" in ", Seconds(c.end_unix_us() - c.start_unix_us()))
              : "",
          c.error().empty() ? ""
                            : absl::StrCat(" <span class=\"error\">",
                                           E(c.error()), "</span>"),
          "</div>");
    }
    absl::StrAppend(
        &body, "<tr><td>", t.index(), "</td><td>", E(t.name()), "</td><td>",
        StateSpan(TaskStatusName(t.status())),
        t.error().empty()
            ? ""
            : absl::StrCat("<div class=\"error\">", E(t.error()), "</div>"),
        "</td><td>",
        start > 0 && run->start_unix_us() > 0
            ? absl::StrCat("+", Seconds(start - run->start_unix_us()))
            : "",
        "</td><td>",
        t.end_unix_us() > 0 && start > 0 ? Seconds(t.end_unix_us() - start)
                                         : "",
        "</td><td>", Seconds(t.skew_us()), "</td><td>", commands,
        t.link_changes().empty()
            ? ""
            : absl::StrCat("<div class=\"muted\">links: ",
                           E(absl::StrJoin(t.link_changes(), "; ")), "</div>"),
        "</td></tr>");
  }
  body += "</table>";
  return Html(200, Page(absl::StrCat("run ", run->id()), &caller, body));
}

// Tokens are hex or base64url-ish: anything else cannot be a cookie value.
bool CookieSafe(absl::string_view token) {
  if (token.empty() || token.size() > 512) return false;
  for (unsigned char c : token) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
          c == '~' || c == '+' || c == '/' || c == '=')) {
      return false;
    }
  }
  return true;
}

Response Login(const WebSource& source, const Request& r) {
  if (r.method == "GET" || r.method == "HEAD") return LoginPage(200, "");
  if (r.method != "POST") return http::TextResponse(405, "GET or POST");
  std::string token(absl::StripAsciiWhitespace(
      http::FormValue(r.body, "token").value_or("")));
  if (!CookieSafe(token) || !source.Identify(token).ok()) {
    return LoginPage(401, "That token is not accepted.");
  }
  Response resp = Html(303, "");
  resp.headers.push_back({"Location", "/"});
  // HttpOnly: no script reads it; SameSite=Strict: no other site's page
  // sends it. Not Secure: the view serves plain HTTP (docs/security.md).
  resp.headers.push_back(
      {"Set-Cookie", absl::StrCat(http::kTokenCookie, "=", token,
                                  "; Path=/; HttpOnly; SameSite=Strict")});
  return resp;
}

Response Logout(const Request& r) {
  if (r.method != "POST") return http::TextResponse(405, "POST");
  Response resp = Html(303, "");
  resp.headers.push_back({"Location", "/login"});
  resp.headers.push_back(
      {"Set-Cookie", absl::StrCat(http::kTokenCookie,
                                  "=; Path=/; Max-Age=0; HttpOnly; "
                                  "SameSite=Strict")});
  return resp;
}

Response Static(const Request& r) {
  Response resp;
  if (r.path == "/static/style.css") {
    resp.content_type = "text/css; charset=utf-8";
    resp.body = kStyleCss;
  } else if (r.path == "/static/app.js") {
    resp.content_type = "text/javascript; charset=utf-8";
    resp.body = kAppJs;
  } else {
    return http::TextResponse(404, "no such file");
  }
  resp.headers.push_back({"Cache-Control", "max-age=300"});
  return resp;
}

// Wraps a page that needs a caller.
http::Handler Authenticated(
    const WebSource* source,
    std::function<Response(const Caller&, const Request&)> page) {
  return [source, page = std::move(page)](const Request& r) {
    if (r.method != "GET" && r.method != "HEAD") {
      return http::TextResponse(405, "the web view is read-only: GET");
    }
    absl::StatusOr<Caller> caller = http::Authenticate(
        r, [source](absl::string_view t) { return source->Identify(t); });
    if (!caller.ok()) {
      return LoginPage(401, http::RequestToken(r).has_value()
                                ? "That token is not accepted."
                                : "");
    }
    return page(*caller, r);
  };
}

}  // namespace

std::string TimelineSvg(const emu::v1::RunResult& run, int64_t now_us) {
  constexpr int kWidth = 900, kLabel = 180, kRow = 22;
  int64_t t0 = run.start_unix_us(), t1 = run.end_unix_us();
  struct Bar {
    std::string name, status;
    int64_t start, end;
  };
  std::vector<Bar> bars;
  for (const auto& t : run.tasks()) {
    int64_t start = t.planned_start_unix_us() > 0 ? t.planned_start_unix_us()
                                                  : t.release_unix_us();
    int64_t end = t.end_unix_us() > 0 ? t.end_unix_us() : now_us;
    if (start <= 0) start = end;
    if (t0 <= 0 || start < t0) t0 = start;
    t1 = std::max(t1, end);
    bars.push_back({t.name(), absl::AsciiStrToLower(TaskStatusName(t.status())),
                    start, end});
  }
  const double span = std::max<int64_t>(t1 - t0, 1);
  const int height = static_cast<int>(bars.size()) * kRow + 24;
  std::string out = absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", kWidth,
      "\" height=\"", height, "\" viewBox=\"0 0 ", kWidth, " ", height,
      "\" role=\"img\" aria-label=\"Task timeline\">");
  const int plot = kWidth - kLabel - 10;
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double x = kLabel + plot * ((b.start - t0) / span);
    const double w = std::max(2.0, plot * ((b.end - b.start) / span));
    const int y = static_cast<int>(i) * kRow + 4;
    absl::StrAppend(&out, "<text x=\"4\" y=\"", y + 14, "\">", E(b.name),
                    "</text><rect class=\"bar-", StateClass(b.status),
                    "\" x=\"", static_cast<int>(x), "\" y=\"", y,
                    "\" width=\"", static_cast<int>(w), "\" height=\"",
                    kRow - 6, "\"><title>", E(b.name), ": ", E(b.status), ", ",
                    Seconds(b.end - b.start), "</title></rect>");
  }
  absl::StrAppend(&out, "<text x=\"", kLabel, "\" y=\"", height - 4,
                  "\">0</text><text x=\"", kWidth - 60, "\" y=\"", height - 4,
                  "\">", E(Seconds(t1 - t0)), "</text></svg>");
  return out;
}

std::vector<http::Server::Route> WebRoutes(const WebSource* source,
                                           SvgRenderer* svg) {
  std::vector<http::Server::Route> routes;
  routes.push_back({"/", Authenticated(source, [source](const Caller& c,
                                                        const Request& r) {
                      if (r.path != "/") {
                        return http::TextResponse(404, "no page " + r.path);
                      }
                      return LabList(*source, c);
                    })});
  routes.push_back(
      {"/labs/", Authenticated(source, [source, svg](const Caller& c,
                                                     const Request& r) {
         return LabPage(*source, svg, c, r.path.substr(strlen("/labs/")));
       })});
  routes.push_back(
      {"/api/counters/", Authenticated(source, [source](const Caller& c,
                                                        const Request& r) {
         return CountersJson(*source, c,
                             r.path.substr(strlen("/api/counters/")));
       })});
  routes.push_back(
      {"/runs/", Authenticated(source, [source](const Caller& c,
                                                const Request& r) {
         return RunPage(*source, c, r.path.substr(strlen("/runs/")));
       })});
  routes.push_back(
      {"/login", [source](const Request& r) { return Login(*source, r); }});
  routes.push_back({"/logout", &Logout});
  routes.push_back({"/static/", &Static});
  return routes;
}

}  // namespace emu::controller::web
