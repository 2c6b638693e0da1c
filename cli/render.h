// Rendering of controller API messages as emuctl prints them: deploy progress
// lines, the lab list, one lab in detail, the host list, and JSON for --json.
// Pure functions of their inputs (the current time is a parameter).
#ifndef EMU_CLI_RENDER_H_
#define EMU_CLI_RENDER_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "proto/controller.pb.h"

namespace emu::cli {

// "r1:eth1<->r2:eth1", the one way every component names a link.
std::string LinkName(const v1::Link& link);

// "RUNNING", "FAILED", ...; "UNKNOWN" for unset or unknown values.
std::string LabStateName(v1::LabState state);

// "netns", "qemu"; "?" for unset.
std::string NodeKindName(v1::NodeKind kind);

// Turns the DeployEvents of one DeployLab/DestroyLab stream into progress
// lines ("[   1.2s] h1: created node r1"). Warnings get their own lines,
// marked "WARNING" (in yellow when `color`), each distinct warning once; a
// change of the lab's state is shown once, on its own line. Not thread-safe;
// one per command.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool color) : color_(color) {}

  // Zero or more complete lines, each ending in '\n'. `elapsed` is the time
  // since the call started, measured by the caller.
  std::string Render(const v1::DeployEvent& event, absl::Duration elapsed);

  // One warning line for a warning that arrived outside an event (from
  // ValidateTopology); "" when that warning was shown already.
  std::string Warning(absl::string_view host, absl::string_view warning,
                      absl::Duration elapsed);

  // The state carried by the last event that had one.
  v1::LabState last_state() const { return last_state_; }
  int warning_count() const { return warning_count_; }

 private:
  bool color_;
  v1::LabState last_state_ = v1::LAB_STATE_UNSPECIFIED;
  int warning_count_ = 0;
  std::set<std::string> shown_warnings_;
};

// Table NAME STATE NODES LINKS AGE, one row per lab, in the given order.
// `now` computes AGE from created_unix_us.
std::string RenderLabList(const v1::ListLabsResponse& labs, absl::Time now);

// What `emuctl status LAB` shows of a lab's nodes and links. Filters narrow
// both tables; a table with more rows than `max_nodes`/`max_links` (after
// the filters) becomes a summary (counts per kind, host, engine and state,
// and what is not working) unless `list_nodes`/`list_links` asks for it.
struct LabView {
  std::string host;       // only nodes on this host and links with an end on it
  std::string node_glob;  // only nodes whose name matches (fnmatch), and their links
  bool problems = false;  // only guests not ready and links not up
  bool list_nodes = false;
  bool list_links = false;
  int max_nodes = 50;  // nodes (not interface rows)
  int max_links = 50;  // links (each is two rows)
};

// One lab: a header (name, state, error, age), a table of nodes (one row per
// interface: NAME KIND HOST INTERFACE ADDRESSES) and a table of links (one
// row per direction: LINK DIRECTION RATE DELAY LOSS OTHER ENGINE HOSTS), or
// for a big lab a summary of each (see LabView). Falls back to the
// topology's nodes/links when the controller sent no status for them (for
// example a FAILED lab).
std::string RenderLab(const v1::Lab& lab, absl::Time now,
                      const LabView& view = LabView());

// Whether `view` of `lab` would list a part (nodes, links) whose per-entry
// details the controller left out (GetLabRequest.details_up_to): the caller
// then asks for the whole lab. A summary needs none of them.
bool RenderNeedsDetails(const v1::Lab& lab, const LabView& view);

// Table HOST ADDRESS REACHABLE CPUS MEM KVM QEMU NETEM QDISCS, followed by
// one line per unreachable host giving the reason.
// `emuctl image ls`: one row per host and image, problems and hosts that
// did not answer below.
std::string RenderImages(const v1::ListImagesResponse& images);
std::string RenderHosts(const v1::ListHostsResponse& hosts);

// How many problems emuctl prints before "... and M more".
inline constexpr int kMaxProblemsShown = 20;

// One problem as "FILE:LINE: object: message" (parts left out when
// unknown), prefixed "warning: " for a warning.
std::string ProblemLine(const v1::Problem& problem);

// The first `max_shown` problems, one per line, then "... and M more
// problems" when there are more. Empty for no problems.
std::string RenderProblems(
    const google::protobuf::RepeatedPtrField<v1::Problem>& problems,
    int max_shown = kMaxProblemsShown);

// The message as pretty JSON with the .proto field names, default values
// included (scripts should not have to guess absent fields). Ends in '\n'.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message);

}  // namespace emu::cli

#endif  // EMU_CLI_RENDER_H_
