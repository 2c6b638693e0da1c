// Fuzzes the experiment file parser (controller/experiment/experiment_spec.h)
// and, on a file that parses, the run-time languages it feeds: ${var}
// substitution of every command and link value, the `when:` and `next: if:`
// conditions with the file's vars, and every capture over the input itself.
//
// Checks beyond "no crash": a refusal is INVALID_ARGUMENT with a message; a
// parsed spec keeps its limits (tasks, steps, commands per task), and every
// capture was compiled.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/experiment/experiment_spec.h"

namespace {

namespace ex = emu::controller::experiment;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "experiment_spec_fuzzer: %s\n", what);
    std::abort();
  }
}

void CheckError(const absl::Status& s) {
  if (s.ok()) return;
  Check(s.code() == absl::StatusCode::kInvalidArgument,
        "an error is not INVALID_ARGUMENT");
  Check(!s.message().empty(), "an error has no message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view content(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ex::ExperimentSpec> spec =
      ex::ParseExperiment("fuzz.yaml", content);
  if (!spec.ok()) {
    CheckError(spec.status());
    return 0;
  }
  Check(spec->tasks.size() <= ex::kMaxTasks, "more Tasks than kMaxTasks");
  Check(spec->max_steps >= 1 && spec->max_steps <= ex::kMaxSteps,
        "max_steps out of range");
  for (const ex::TaskSpec& task : spec->tasks) {
    Check(task.commands.size() <= ex::kMaxCommandsPerTask,
          "more commands than kMaxCommandsPerTask");
    CheckError(ex::EvalCondition(task.when, spec->vars).status());
    for (const ex::BranchSpec& branch : task.next) {
      CheckError(ex::EvalCondition(branch.condition, spec->vars).status());
    }
    for (const ex::CommandSpec& command : task.commands) {
      CheckError(ex::Substitute(command.node, spec->vars).status());
      for (const std::string& arg : command.argv) {
        CheckError(ex::Substitute(arg, spec->vars).status());
      }
      for (const ex::CaptureSpec& capture : command.captures) {
        Check(capture.compiled != nullptr, "a capture was not compiled");
        ex::RunCapture(capture, content);
      }
    }
    for (const ex::LinkStepSpec& link : task.links) {
      for (const auto& [key, value] : link.params) {
        absl::StatusOr<std::string> v = ex::Substitute(value, spec->vars);
        CheckError(v.status());
        if (!v.ok()) continue;
        emu::v1::LinkParams params;
        CheckError(ex::SetLinkParam(key, *v, &params));
      }
    }
  }
  return 0;
}
