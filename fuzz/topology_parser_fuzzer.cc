// Fuzzes the topology parser (controller/topology/topology_parser.h) with
// the input as a YAML/JSON file (containerlab's format included, ${VAR}
// substitution on) and as a protobuf text file, then the validator on what
// parses. A deterministic environment: ${UNSET*} is unset, ${EMPTY*} is "",
// ${NL*} holds a line break (refused), any other name has a value.
//
// Checks beyond "no crash": a refusal is INVALID_ARGUMENT with a message,
// and a parsed topology survives NormalizeTopology unchanged (the parser
// already normalised it; the function is idempotent).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "controller/topology/topology_parser.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using emu::controller::topology::NormalizeTopology;
using emu::controller::topology::ParseAndValidateTopology;
using emu::controller::topology::ParseOptions;
using emu::controller::topology::ParsedTopology;
using emu::controller::topology::ParseTopology;

std::optional<std::string> FuzzEnv(const std::string& name) {
  if (absl::StartsWith(name, "UNSET")) return std::nullopt;
  if (absl::StartsWith(name, "EMPTY")) return "";
  if (absl::StartsWith(name, "NL")) return "a\nb";
  return "v-" + name;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "topology_parser_fuzzer: %s\n", what);
    std::abort();
  }
}

void CheckRefusal(const absl::Status& s) {
  Check(s.code() == absl::StatusCode::kInvalidArgument,
        "a refusal is not INVALID_ARGUMENT");
  Check(!s.message().empty(), "a refusal has no message");
}

void CheckParsed(const absl::StatusOr<ParsedTopology>& r) {
  if (!r.ok()) {
    CheckRefusal(r.status());
    return;
  }
  emu::v1::Topology normalized = r->topology;
  NormalizeTopology(&normalized);
  Check(google::protobuf::util::MessageDifferencer::Equals(normalized,
                                                           r->topology),
        "NormalizeTopology changed a parsed topology");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view content(reinterpret_cast<const char*>(data), size);
  ParseOptions options;
  options.env = FuzzEnv;

  CheckParsed(ParseTopology(content, "fuzz.clab.yml", options));
  CheckParsed(ParseAndValidateTopology(content, "fuzz.yaml", options));

  CheckParsed(ParseTopology(content, "fuzz.textproto", options));
  return 0;
}
