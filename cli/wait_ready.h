// Waiting for a lab that is still converging, for the verbs that need a
// RUNNING lab (exec, run). A lab is converging while it is DEPLOYING or
// DEGRADED only because cross-host tunnels are (re)connecting
// (emu.v1.Lab.converging, set by the controller's GetLab).
#ifndef EMU_CLI_WAIT_READY_H_
#define EMU_CLI_WAIT_READY_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/connection.h"

namespace emu::cli {

struct WaitReadyOptions {
  absl::Duration timeout = absl::Seconds(60);
  absl::Duration poll_interval = absl::Milliseconds(200);
};

// Returns OK at once when `lab` is not converging (RUNNING, or in a state
// waiting cannot fix: the caller's own call then reports it). While it is
// converging, prints ONE line on `err` saying what it waits for, and asks
// again every poll_interval until it is no longer converging or `timeout`
// has passed: then DEADLINE_EXCEEDED naming the lab, its state and why.
// A GetLab that fails returns OK: the caller's own call (Exec,
// RunExperiment) then reports the problem in its usual words.
absl::Status WaitUntilLabReady(ControllerConnection& c, const std::string& lab,
                               std::ostream& err,
                               const WaitReadyOptions& options = {});

}  // namespace emu::cli

#endif  // EMU_CLI_WAIT_READY_H_
