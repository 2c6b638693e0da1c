// Problems of a topology as API messages (emu.v1.Problem), and the short
// status that goes with them. The parser and validator report every problem
// in one absl::Status, one "FILE:LINE: object: cause" per line; the service
// layer turns those lines into messages so that a long list never rides in
// a gRPC status (whose metadata limit it exceeded).
//
// Pure functions; thread-safe.
#ifndef EMU_CONTROLLER_TOPOLOGY_PROBLEMS_H_
#define EMU_CONTROLLER_TOPOLOGY_PROBLEMS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/topology/topology_parser.h"
#include "proto/controller.pb.h"

namespace emu::controller::topology {

// One "FILE:LINE: object: cause" line (the "FILE:" or "LINE:" part may be
// missing) as a Problem. `file` is the name the request gave the file: only
// that prefix is taken as the file, so a colon inside a cause stays put.
emu::v1::Problem ParseProblem(absl::string_view text, absl::string_view file,
                              emu::v1::Problem::Severity severity);

// Every non-empty line of `status`'s message as a Problem.
std::vector<emu::v1::Problem> ProblemsFromStatus(
    const absl::Status& status, absl::string_view file,
    emu::v1::Problem::Severity severity);

// The answer to ValidateTopology for the result of parsing and validating
// the file named `file`: a refused topology (INVALID_ARGUMENT) is `valid`
// false with every problem (the errors, then the warnings the refusal
// carries: WarningsOf); a valid one has its name, counts and warnings
// (the topology itself is not copied: a large lab's would exceed the message
// limit). Other failures are returned as they are. Shared by the controller
// and by emuctl's offline validation, so both say the same.
absl::StatusOr<emu::v1::ValidateTopologyResponse> ToValidateResponse(
    const absl::StatusOr<ParsedTopology>& parsed, absl::string_view file);

// `status` with its message cut to what a status may carry: whole lines up
// to kMaxStatusMessageBytes (a longer single line is truncated), then "(and N
// more problems)" when lines were left out. Code unchanged; OK stays OK.
absl::Status ShortStatus(const absl::Status& status);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_PROBLEMS_H_
