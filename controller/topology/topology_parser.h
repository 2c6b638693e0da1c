// Reads a topology file into emu.v1.Topology: emu's YAML format (a
// containerlab-compatible superset; JSON is read as YAML) or, for
// *.textproto / *.txtpb / *.pbtxt files, protobuf text format.
// docs/topology.md is the user-facing reference of the format.
#ifndef EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_PARSER_H_
#define EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/topology/env_subst.h"
#include "proto/topology.pb.h"

namespace emu::controller::topology {

struct ParsedTopology {
  emu::v1::Topology topology;
  // "FILE:LINE: <object>: <what was ignored and why>", in file order.
  std::vector<std::string> warnings;
};

struct ParseOptions {
  // Where a YAML file's ${NAME} references are looked up
  // (controller/topology/env_subst.h); null: every variable is unset, so
  // only their defaults apply.
  EnvLookup env;
};

// Parses `content`; `file_name` picks the format (see above) and is recorded
// in every SourceRef (lines are 1-based). Units are converted here (rate ->
// rate_bps, "10ms" -> delay_us, ...), containerlab's defaults/kinds are
// applied, containerlab's "linux" kind becomes NODE_KIND_NETNS, interfaces
// that links name but nodes do not declare are declared (no address), and
// textproto nodes without a kind become NODE_KIND_NETNS.
//
// A YAML file's ${NAME} references are expanded first (env_subst.h, with
// `options.env`), then YAML merge keys (`<<: *anchor`), and containerlab's
// topology.groups apply as containerlab applies them: node > group > kind
// > defaults.
//
// Errors are INVALID_ARGUMENT listing ALL problems found, one per line:
// "FILE:LINE: <object>: <cause>"; malformed YAML gives
// "FILE:LINE:COL: malformed YAML: <what>". Unknown keys are errors; keys
// containerlab knows but emu does not use become warnings. The warnings
// found up to a refusal ride with the error as its kWarningsPayload
// payload (one per line), so a refused file still shows them
// (WarningsOf).
//
// Bounds (controller/topology/topology_limits.h): a file larger than
// kMaxTopologyFileBytes, or YAML that expands (through aliases) to more
// than kMaxYamlValues values or kMaxYamlScalarBytes bytes of text, nests
// deeper than kMaxYamlDepth, holds a second document or an alias cycle is
// refused as "FILE:LINE: <cause>; the limit is kMaxX", checked on the
// parser's events before a node is built, so a refusal costs about what
// reading the file does. In a textproto file, `source` is refused: only
// the parser sets sources.
//
// Syntax and units only: call ValidateTopology (or ParseAndValidateTopology)
// for the semantic checks. Pure function; thread-safe.
absl::StatusOr<ParsedTopology> ParseTopology(absl::string_view content,
                                             absl::string_view file_name,
                                             const ParseOptions& options = {});

// ParseTopology, then ValidateTopology; the validator's warnings are
// appended to the parser's (also to those a refusal carries). What emuctl
// and the controller call on a file.
absl::StatusOr<ParsedTopology> ParseAndValidateTopology(
    absl::string_view content, absl::string_view file_name,
    const ParseOptions& options = {});

// The status payload (type URL) that carries a refused file's warnings.
inline constexpr absl::string_view kWarningsPayload =
    "type.emu.dev/emu.topology.Warnings";

// The warnings a status from ParseTopology or ParseAndValidateTopology
// carries (empty for OK and for other statuses).
std::vector<std::string> WarningsOf(const absl::Status& status);

// The normalisation ParseTopology applies, for topologies built in code or
// received over the API: an UNSPECIFIED kind becomes NETNS, and every link
// endpoint whose interface the node does not declare gets an Interface
// (no address, source = the link's). Idempotent.
void NormalizeTopology(emu::v1::Topology* topology);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_PARSER_H_
