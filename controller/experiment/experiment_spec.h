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

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/topology.pb.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace emu::controller::experiment {

// Limits of an experiment file (docs/experiments.md lists them). They bound
// what one file can make the controller hold or do: a run reserves
// `max_steps` barrier generations, and every count below is memory and work
// per run. Beyond a limit the file is refused, naming FILE:LINE.
inline constexpr size_t kMaxExperimentFileBytes = 1 << 20;  // 1 MiB
inline constexpr int kMaxSteps = 100000;
inline constexpr size_t kMaxTasks = 1000;
inline constexpr size_t kMaxCommandsPerTask = 1000;
inline constexpr size_t kMaxLinksPerTask = 1000;
inline constexpr size_t kMaxBranchesPerTask = 100;
inline constexpr size_t kMaxCapturesPerCommand = 64;
inline constexpr size_t kMaxArgs = 1000;
inline constexpr size_t kMaxVars = 1000;
inline constexpr size_t kMaxSuccessCodes = 256;
inline constexpr absl::Duration kMaxCommandTimeout = absl::Hours(24);
inline constexpr absl::Duration kMaxStartMargin = absl::Seconds(60);
// User regular expressions (captures, `=~`) are RE2 (linear time, no
// recursion on the input). A pattern longer than this is refused before it
// is compiled, and RE2 itself refuses one whose program would need more
// than kMaxRegexProgramBytes.
inline constexpr size_t kMaxRegexBytes = 4096;
inline constexpr int64_t kMaxRegexProgramBytes = 8 << 20;

struct CaptureSpec {
  std::string var;    // variable to set
  std::string regex;  // RE2 syntax; group 1 if it has one, else the match
  // Compiled once by ParseExperiment; never null in a parsed spec. Shared by
  // the copies of the spec (RE2 is thread-safe for matching).
  std::shared_ptr<const re2::RE2> compiled;
  int line = 0;
};

// Compiles a user's regular expression with the limits above.
// INVALID_ARGUMENT with RE2's reason; the pattern is quoted truncated
// (TruncateForMessage), never in full.
absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileUserRegex(
    absl::string_view pattern);

// `text` cut to at most `max_bytes` with "...(N bytes)" appended, so that a
// message never echoes a huge user value back.
std::string TruncateForMessage(absl::string_view text, size_t max_bytes = 80);

// Runs a parsed capture over a command's output: the first match's group 1
// if the regex has a group, else the whole match; nullopt when it does not
// match (or the capture was never compiled).
std::optional<std::string> RunCapture(const CaptureSpec& capture,
                                      absl::string_view text);

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
  std::string name;                  // unique; given, or "task<N>" (1-based)
  std::string when;                  // empty = always run
  bool continue_on_failure = false;  // on_failure: continue
  std::vector<LinkStepSpec> links;
  std::vector<CommandSpec> commands;
  std::vector<BranchSpec> next;
  int line = 0;
  // The file the Task was read from when it was added to a running run
  // (ParseAddedTasks); empty: the experiment's own.
  std::string file;
};

struct ExperimentSpec {
  std::string file;  // for messages
  std::string name;
  std::map<std::string, std::string> vars;  // defaults of ${var}
  // The common start instant is "now + margin" at release; zero = adaptive
  // (a few times the last measured delivery time, at least 300 us), and no
  // margin at all for a Task whose commands are all on one host.
  absl::Duration start_margin = absl::ZeroDuration();
  // Tasks run (goto loops count) before giving up; 1..kMaxSteps.
  int max_steps = 1000;
  // How emuctl resets the lab before each run: "none" or "redeploy"
  // (destroy and deploy the topology again, with ${param}s substituted).
  std::string reset = "none";
  std::vector<TaskSpec> tasks;

  // "FILE:LINE: " for messages about an object at `line`.
  std::string Where(int line) const;
  // The same for an object of `task` (which may come from an added file).
  std::string WhereIn(const TaskSpec& task, int line) const;
};

// Parses an experiment. INVALID_ARGUMENT with every problem found, one per
// line, each "FILE:LINE: object: cause".
absl::StatusOr<ExperimentSpec> ParseExperiment(absl::string_view file_name,
                                               absl::string_view content);

// Parses Tasks to add to a running experiment (ExperimentService.AddTasks):
// a file whose only key is `tasks:`, checked as ParseExperiment checks an
// experiment's, with names, command ids and gotos also checked against
// `running`'s Tasks; default names go on from `running`'s count
// ("task<N+1>"). INVALID_ARGUMENT with every problem, "FILE:LINE: ...".
absl::StatusOr<std::vector<TaskSpec>> ParseAddedTasks(
    absl::string_view file_name, absl::string_view content,
    const ExperimentSpec& running);

// Replaces every ${name} with vars[name]. "$$" is a literal '$'.
// INVALID_ARGUMENT naming the first unknown variable or an unclosed "${".
absl::StatusOr<std::string> Substitute(
    absl::string_view text, const std::map<std::string, std::string>& vars);

// Evaluates a condition after substitution: "A OP B" with OP one of
// == != < <= > >= (numeric when both sides are numbers, else string
// comparison) or =~ (B is an RE2 regex searched in A, compiled with the
// limits above); "true"/"false"; an empty condition is true.
// INVALID_ARGUMENT for anything else.
absl::StatusOr<bool> EvalCondition(
    absl::string_view condition,
    const std::map<std::string, std::string>& vars);

// Sets one link parameter ("rate", "delay", "jitter", "loss") from its
// text ("10mbit", "5ms", "1%"). INVALID_ARGUMENT naming the bad value.
absl::Status SetLinkParam(const std::string& key, const std::string& value,
                          emu::v1::LinkParams* params);

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SPEC_H_
