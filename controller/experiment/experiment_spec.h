// Experiment files (docs/experiments.md): the parsed form of one experiment,
// its YAML parser (errors name FILE:LINE like the topology parser), and the
// two small languages used at run time: ${var} substitution and the
// conditions of `when:` / `next: - if:`.
//
// Everything here is a pure function of its inputs; thread-compatible.
// Durations are absl::Duration; `line` fields are 1-based source lines
// (0 = unknown).
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SPEC_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SPEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/topology.pb.h"

namespace emu::controller::experiment {

struct CaptureSpec {
  std::string var;    // variable to set
  std::string regex;  // ECMAScript; group 1 if it has one, else the match
  int line = 0;
};

struct CommandSpec {
  std::string id;    // unique in the experiment: given, or "<task>.<n>"
  std::string node;  // may hold ${var}
  // The command line: run by /bin/sh -c inside the node (`cmd:`), or the
  // exact argv (`argv:`). Both may hold ${var}.
  std::vector<std::string> argv;
  absl::Duration timeout = absl::Seconds(60);
  std::vector<int> success_codes = {0};
  std::vector<CaptureSpec> captures;
  int line = 0;
};

// A change of one link's conditions, applied (on every host of the link)
// before the Task's commands are released. Unset fields keep the link's
// current value. Values may hold ${var}; they are parsed at run time.
struct LinkStepSpec {
  std::string a;  // "node:iface"
  std::string b;
  std::map<std::string, std::string> params;  // rate, delay, jitter, loss
  std::string state;  // "up", "down" (both ends), or empty: unchanged
  int line = 0;
};

struct BranchSpec {
  std::string condition;  // empty = always
  std::string target;     // a Task name, "end" or "fail"
  int line = 0;
};

struct TaskSpec {
  std::string name;       // unique; given, or "task<N>" (1-based)
  std::string when;       // empty = always run
  bool continue_on_failure = false;  // on_failure: continue
  std::vector<LinkStepSpec> links;
  std::vector<CommandSpec> commands;
  std::vector<BranchSpec> next;
  int line = 0;
};

struct ExperimentSpec {
  std::string file;  // for messages
  std::string name;
  std::map<std::string, std::string> vars;  // defaults of ${var}
  // The common start instant is "now + margin" at release; zero = adaptive
  // (a few times the last measured delivery time, at least 300 us), and no
  // margin at all for a Task whose commands are all on one host.
  absl::Duration start_margin = absl::ZeroDuration();
  int max_steps = 1000;  // Tasks run (goto loops count) before giving up
  // How emuctl resets the lab before each run: "none" or "redeploy"
  // (destroy and deploy the topology again, with ${param}s substituted).
  std::string reset = "none";
  std::vector<TaskSpec> tasks;

  // "FILE:LINE: " for messages about an object at `line`.
  std::string Where(int line) const;
};

// Parses an experiment. INVALID_ARGUMENT with every problem found, one per
// line, each "FILE:LINE: object: cause".
absl::StatusOr<ExperimentSpec> ParseExperiment(absl::string_view file_name,
                                               absl::string_view content);

// Replaces every ${name} with vars[name]. "$$" is a literal '$'.
// INVALID_ARGUMENT naming the first unknown variable or an unclosed "${".
absl::StatusOr<std::string> Substitute(
    absl::string_view text, const std::map<std::string, std::string>& vars);

// Evaluates a condition after substitution: "A OP B" with OP one of
// == != < <= > >= (numeric when both sides are numbers, else string
// comparison) or =~ (B is a regex searched in A); "true"/"false"; an empty
// condition is true. INVALID_ARGUMENT for anything else.
absl::StatusOr<bool> EvalCondition(
    absl::string_view condition,
    const std::map<std::string, std::string>& vars);

// Sets one link parameter ("rate", "delay", "jitter", "loss") from its
// text ("10mbit", "5ms", "1%"). INVALID_ARGUMENT naming the bad value.
absl::Status SetLinkParam(const std::string& key, const std::string& value,
                          emu::v1::LinkParams* params);

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SPEC_H_
