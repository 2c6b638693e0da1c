#include "controller/topology/problems.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_limits.h"

namespace emu::controller::topology {

emu::v1::Problem ParseProblem(absl::string_view text, absl::string_view file,
                              emu::v1::Problem::Severity severity) {
  emu::v1::Problem p;
  p.set_severity(severity);
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (!file.empty() && absl::StartsWith(rest, file) &&
      absl::StartsWith(rest.substr(file.size()), ":")) {
    p.set_file(std::string(file));
    rest = absl::StripLeadingAsciiWhitespace(rest.substr(file.size() + 1));
    // "LINE: " when the line is known.
    const size_t colon = rest.find(':');
    uint32_t line = 0;
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(rest.substr(0, colon), &line)) {
      p.set_line(line);
      rest = absl::StripLeadingAsciiWhitespace(rest.substr(colon + 1));
    }
  }
  const size_t sep = rest.find(": ");
  if (sep == absl::string_view::npos) {
    p.set_message(std::string(rest));
  } else {
    p.set_object(std::string(rest.substr(0, sep)));
    p.set_message(std::string(rest.substr(sep + 2)));
  }
  return p;
}

std::vector<emu::v1::Problem> ProblemsFromStatus(
    const absl::Status& status, absl::string_view file,
    emu::v1::Problem::Severity severity) {
  std::vector<emu::v1::Problem> out;
  if (status.ok()) return out;
  for (absl::string_view line :
       absl::StrSplit(status.message(), '\n', absl::SkipWhitespace())) {
    out.push_back(ParseProblem(line, file, severity));
  }
  return out;
}

absl::StatusOr<emu::v1::ValidateTopologyResponse> ToValidateResponse(
    const absl::StatusOr<ParsedTopology>& parsed, absl::string_view file) {
  emu::v1::ValidateTopologyResponse response;
  if (!parsed.ok()) {
    if (!absl::IsInvalidArgument(parsed.status())) return parsed.status();
    response.set_valid(false);
    for (auto& p :
         ProblemsFromStatus(parsed.status(), file, emu::v1::Problem::ERROR)) {
      *response.add_problems() = std::move(p);
    }
    // The warnings found before the refusal, after the errors: a user
    // fixing the errors sees what would be ignored too.
    for (const std::string& w : WarningsOf(parsed.status())) {
      response.add_warnings(w);
      *response.add_problems() =
          ParseProblem(w, file, emu::v1::Problem::WARNING);
    }
    return response;
  }
  const emu::v1::Topology& t = parsed->topology;
  response.set_valid(true);
  response.set_lab(t.name());
  response.set_nodes(t.nodes_size());
  response.set_links(t.links_size());
  for (const std::string& w : parsed->warnings) {
    response.add_warnings(w);
    *response.add_problems() = ParseProblem(w, file, emu::v1::Problem::WARNING);
  }
  return response;
}

absl::Status ShortStatus(const absl::Status& status) {
  if (status.ok() || status.message().size() <= kMaxStatusMessageBytes) {
    return status;
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(status.message(), '\n', absl::SkipWhitespace());
  // Room for the "(and N more problems)" tail.
  const size_t budget = kMaxStatusMessageBytes - 40;
  std::string kept;
  size_t used = 0;
  for (; used < lines.size(); ++used) {
    const size_t extra = lines[used].size() + (kept.empty() ? 0 : 1);
    if (kept.size() + extra > budget) break;
    absl::StrAppend(&kept, kept.empty() ? "" : "\n", lines[used]);
  }
  if (used == 0) {
    // One line longer than the whole budget: cut it.
    kept = absl::StrCat(lines[0].substr(0, budget - 20), "...(",
                        lines[0].size(), " bytes)");
    used = 1;
  }
  if (used < lines.size()) {
    absl::StrAppend(&kept, "\n(and ", lines.size() - used, " more problem",
                    lines.size() - used == 1 ? "" : "s", ")");
  }
  return absl::Status(status.code(), kept);
}

}  // namespace emu::controller::topology
