// `emuctl run`'s output files: one JSON document per run (every command's
// output, status, start and end, every Task's skew) and a CSV summary with
// one row per run (parameters, outcome, captured variables) that a person
// can plot. Also the parameter sweep: the runs that `--param` and
// `--repeat` ask for. Pure functions; thread-compatible.
#ifndef EMU_CLI_RUN_RESULTS_H_
#define EMU_CLI_RUN_RESULTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/experiment.pb.h"

namespace emu::cli {

// One planned run of a sweep.
struct PlannedRun {
  int index = 0;   // 1-based, over the whole sweep
  int repeat = 0;  // 1-based repetition of this parameter combination
  std::map<std::string, std::string> params;
};

// "--param rate=1mbit,10mbit" (repeatable) -> name -> values.
// INVALID_ARGUMENT naming the bad flag.
absl::StatusOr<std::map<std::string, std::vector<std::string>>> ParseParams(
    const std::vector<std::string>& flags);

// Every combination of the values (the last name varies fastest), each
// `repeat` times in a row.
std::vector<PlannedRun> PlanSweep(
    const std::map<std::string, std::vector<std::string>>& params, int repeat);

// The run as JSON (stdout/stderr as text; bytes that are not UTF-8 are
// escaped as \u00XX).
std::string RunResultJson(const PlannedRun& planned,
                          const emu::v1::RunResult& result);

// The CSV summary of the runs so far: run, repeat, every parameter, state,
// duration_ms, tasks_passed, tasks_failed, max_skew_us, every captured
// variable (union over runs), error.
std::string SummaryCsv(const std::vector<PlannedRun>& planned,
                       const std::vector<emu::v1::RunResult>& results);

// ${name} -> value for the names in `params` only; anything else is left
// as it is (for topology files, which may hold '$' of their own).
std::string SubstituteKnown(const std::string& text,
                            const std::map<std::string, std::string>& params);

}  // namespace emu::cli

#endif  // EMU_CLI_RUN_RESULTS_H_
