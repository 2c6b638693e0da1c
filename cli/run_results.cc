#include "cli/run_results.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace emu::cli {
namespace {

using Json = nlohmann::ordered_json;

// Command output is bytes; JSON strings are Unicode. Valid UTF-8 passes
// through; every other byte becomes the code point of the same value
// (U+0080..U+00FF, as Latin-1 would read it), so any output yields valid
// JSON and no byte is lost or merged.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
      continue;
    }
    int len = (c & 0xe0) == 0xc0   ? 2
              : (c & 0xf0) == 0xe0 ? 3
              : (c & 0xf8) == 0xf0 ? 4
                                   : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(s, i, len);
      i += len - 1;
    } else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

Json JsonMap(const google::protobuf::Map<std::string, std::string>& m) {
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  Json out = Json::object();
  for (const auto& [k, v] : sorted) out[ValidUtf8(k)] = ValidUtf8(v);
  return out;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  return "\"" + absl::StrReplaceAll(s, {{"\"", "\"\""}}) + "\"";
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

std::string StateName(emu::v1::RunState s) {
  switch (s) {
    case emu::v1::RUN_SUCCEEDED:
      return "succeeded";
    case emu::v1::RUN_FAILED:
      return "failed";
    case emu::v1::RUN_CANCELLED:
      return "cancelled";
    case emu::v1::RUN_RUNNING:
      return "running";
    default:
      return "unknown";
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, std::vector<std::string>>> ParseParams(
    const std::vector<std::string>& flags) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& f : flags) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == f.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", f, ": expected NAME=VALUE[,VALUE...]"));
    }
    std::string name = f.substr(0, eq);
    if (out.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", name, " given twice"));
    }
    std::vector<std::string> values =
        absl::StrSplit(f.substr(eq + 1), ',', absl::SkipEmpty());
    if (values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param ", f, ": no values"));
    }
    out[name] = std::move(values);
  }
  return out;
}

std::vector<PlannedRun> PlanSweep(
    const std::map<std::string, std::vector<std::string>>& params, int repeat) {
  std::vector<std::map<std::string, std::string>> combos = {{}};
  for (const auto& [name, values] : params) {
    std::vector<std::map<std::string, std::string>> next;
    for (const auto& c : combos) {
      for (const auto& v : values) {
        auto m = c;
        m[name] = v;
        next.push_back(std::move(m));
      }
    }
    combos = std::move(next);
  }
  std::vector<PlannedRun> out;
  for (const auto& c : combos) {
    for (int r = 1; r <= std::max(1, repeat); ++r) {
      PlannedRun p;
      p.index = static_cast<int>(out.size()) + 1;
      p.repeat = r;
      p.params = c;
      out.push_back(std::move(p));
    }
  }
  return out;
}

std::string RunResultJson(const PlannedRun& planned,
                          const emu::v1::RunResult& r) {
  Json o = Json::object();
  o["run"] = planned.index;
  o["repeat"] = planned.repeat;
  o["id"] = ValidUtf8(r.id());
  o["lab"] = ValidUtf8(r.lab());
  o["experiment"] = ValidUtf8(r.experiment());
  o["state"] = StateName(r.state());
  o["error"] = ValidUtf8(r.error());
  o["start_unix_us"] = r.start_unix_us();
  o["end_unix_us"] = r.end_unix_us();
  o["params"] = JsonMap(r.params());
  o["variables"] = JsonMap(r.variables());
  Json tasks = Json::array();
  for (const auto& task : r.tasks()) {
    Json t = Json::object();
    t["index"] = task.index();
    t["name"] = ValidUtf8(task.name());
    t["status"] = Lower(emu::v1::TaskResult::Status_Name(task.status()));
    t["generation"] = task.generation();
    t["release_unix_us"] = task.release_unix_us();
    t["planned_start_unix_us"] = task.planned_start_unix_us();
    t["end_unix_us"] = task.end_unix_us();
    t["skew_us"] = task.skew_us();
    t["error"] = ValidUtf8(task.error());
    Json changes = Json::array();
    for (const auto& l : task.link_changes()) changes.push_back(ValidUtf8(l));
    t["link_changes"] = std::move(changes);
    Json commands = Json::array();
    for (const auto& cmd : task.commands()) {
      Json c = Json::object();
      c["id"] = ValidUtf8(cmd.id());
      c["node"] = ValidUtf8(cmd.node());
      c["host"] = ValidUtf8(cmd.host());
      Json argv = Json::array();
      for (const auto& a : cmd.argv()) argv.push_back(ValidUtf8(a));
      c["argv"] = std::move(argv);
      c["status"] = Lower(emu::v1::CommandResult::Status_Name(cmd.status()));
      c["exit_code"] = cmd.exit_code();
      c["start_unix_us"] = cmd.start_unix_us();
      c["end_unix_us"] = cmd.end_unix_us();
      c["stdout"] = ValidUtf8(cmd.stdout());
      c["stderr"] = ValidUtf8(cmd.stderr());
      c["error"] = ValidUtf8(cmd.error());
      commands.push_back(std::move(c));
    }
    t["commands"] = std::move(commands);
    tasks.push_back(std::move(t));
  }
  o["tasks"] = std::move(tasks);
  // Each host's clock as the controller measured it (agent clock =
  // controller clock + offset_us, to within +-bound_us), and the run's
  // warnings (e.g. a bound above the skew goal).
  Json clocks = Json::array();
  for (const auto& hc : r.host_clocks()) {
    Json c = Json::object();
    c["host"] = ValidUtf8(hc.host());
    c["offset_us"] = hc.offset_us();
    c["bound_us"] = hc.bound_us();
    c["samples"] = hc.samples();
    clocks.push_back(std::move(c));
  }
  o["host_clocks"] = std::move(clocks);
  Json warnings = Json::array();
  for (const auto& w : r.warnings()) warnings.push_back(ValidUtf8(w));
  o["warnings"] = std::move(warnings);
  // ValidUtf8 lets through sequences that are well formed but not valid
  // (overlong, surrogates): replace those rather than throw.
  return o.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string SummaryCsv(const std::vector<PlannedRun>& planned,
                       const std::vector<emu::v1::RunResult>& results) {
  std::set<std::string> params, vars;
  for (const auto& p : planned) {
    for (const auto& [k, v] : p.params) params.insert(k);
  }
  for (const auto& r : results) {
    for (const auto& [k, v] : r.variables()) vars.insert(k);
  }
  std::vector<std::string> header = {"run", "repeat"};
  header.insert(header.end(), params.begin(), params.end());
  for (const char* h : {"state", "duration_ms", "tasks_passed", "tasks_failed",
                        "max_skew_us"}) {
    header.push_back(h);
  }
  header.insert(header.end(), vars.begin(), vars.end());
  header.push_back("error");
  std::string out = absl::StrJoin(header, ",") + "\n";
  for (size_t i = 0; i < results.size() && i < planned.size(); ++i) {
    const auto& p = planned[i];
    const auto& r = results[i];
    int passed = 0, failed = 0;
    int64_t skew = 0;
    for (const auto& t : r.tasks()) {
      if (t.status() == emu::v1::TaskResult::PASSED) ++passed;
      if (t.status() == emu::v1::TaskResult::FAILED) ++failed;
      skew = std::max(skew, t.skew_us());
    }
    std::vector<std::string> row = {absl::StrCat(p.index),
                                    absl::StrCat(p.repeat)};
    for (const auto& k : params) {
      auto it = p.params.find(k);
      row.push_back(Csv(it == p.params.end() ? "" : it->second));
    }
    row.push_back(StateName(r.state()));
    row.push_back(absl::StrFormat(
        "%.3f", (r.end_unix_us() - r.start_unix_us()) / 1000.0));
    row.push_back(absl::StrCat(passed));
    row.push_back(absl::StrCat(failed));
    row.push_back(absl::StrCat(skew));
    for (const auto& k : vars) {
      auto it = r.variables().find(k);
      row.push_back(Csv(it == r.variables().end() ? "" : it->second));
    }
    row.push_back(Csv(r.error()));
    out += absl::StrJoin(row, ",") + "\n";
  }
  return out;
}

std::string SubstituteKnown(const std::string& text,
                            const std::map<std::string, std::string>& params) {
  std::string out = text;
  for (const auto& [k, v] : params) {
    out = absl::StrReplaceAll(out, {{absl::StrCat("${", k, "}"), v}});
  }
  return out;
}

}  // namespace emu::cli
