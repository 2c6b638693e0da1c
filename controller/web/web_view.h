// The controller's read-only web view (`emu-controller --web=ADDR`): the
// lab list (with owners for administrators), each lab's graph, nodes and
// links with their states, the experiment runs and their Task timelines.
// Plain HTML from the server, a stylesheet and a few lines of JavaScript
// (auto-refresh) embedded in the binary. Every page is for one caller,
// identified by the API's tokens: "Authorization: Bearer TOKEN" or the
// cookie the login form sets (docs/security.md, "Web view").
#ifndef EMU_CONTROLLER_WEB_WEB_VIEW_H_
#define EMU_CONTROLLER_WEB_WEB_VIEW_H_

#include <vector>

#include "common/http/http_server.h"
#include "controller/web/graph_svg.h"
#include "controller/web/web_source.h"

namespace emu::controller::web {

// The pages: "/" (labs and runs), "/labs/NAME", "/runs/ID", "/login"
// (GET: the form; POST token=...: sets the cookie), "/logout" (POST),
// "/static/...". Without a valid token every page but /login and /static
// answers 401 with the login form. Borrows both; thread-safe.
std::vector<http::Server::Route> WebRoutes(const WebSource* source,
                                           SvgRenderer* svg);

// The Task timeline of a run as an <svg> element: one row per Task, a bar
// from its planned start (else its release) to its end, relative to the
// run's start; `now_us` ends the bar of a Task still running. Pure.
std::string TimelineSvg(const emu::v1::RunResult& run, int64_t now_us);

}  // namespace emu::controller::web

#endif  // EMU_CONTROLLER_WEB_WEB_VIEW_H_
