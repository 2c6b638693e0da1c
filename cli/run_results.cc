#include "cli/run_results.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace emu::cli {
namespace {

// JSON string literal. Valid UTF-8 passes through; other bytes become
// \u00XX so that any command output yields valid JSON.
std::string Json(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\u%04x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      int len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                : (c & 0xf8) == 0xf0 ? 4 : 0;
      bool ok = len > 0 && i + len <= s.size();
      for (int k = 1; ok && k < len; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (ok) {
        out.append(s, i, len);
        i += len - 1;
      } else {
        out += absl::StrFormat("\\u%04x", c);
      }
    }
  }
  return out + "\"";
}

std::string JsonMap(const google::protobuf::Map<std::string, std::string>& m) {
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(Json(k) + ": " + Json(v));
  return "{" + absl::StrJoin(parts, ", ") + "}";
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
    case emu::v1::RUN_SUCCEEDED: return "succeeded";
    case emu::v1::RUN_FAILED: return "failed";
    case emu::v1::RUN_CANCELLED: return "cancelled";
    case emu::v1::RUN_RUNNING: return "running";
    default: return "unknown";
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, std::vector<std::string>>> ParseParams(
    const std::vector<std::string>& flags) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& f : flags) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == f.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--param ", f, ": expected NAME=VALUE[,VALUE...]"));
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
    const std::map<std::string, std::vector<std::string>>& params,
    int repeat) {
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
  std::string o = "{\n";
  absl::StrAppend(&o, "  \"run\": ", planned.index, ",\n");
  absl::StrAppend(&o, "  \"repeat\": ", planned.repeat, ",\n");
  absl::StrAppend(&o, "  \"id\": ", Json(r.id()), ",\n");
  absl::StrAppend(&o, "  \"lab\": ", Json(r.lab()), ",\n");
  absl::StrAppend(&o, "  \"experiment\": ", Json(r.experiment()), ",\n");
  absl::StrAppend(&o, "  \"state\": ", Json(StateName(r.state())), ",\n");
  absl::StrAppend(&o, "  \"error\": ", Json(r.error()), ",\n");
  absl::StrAppend(&o, "  \"start_unix_us\": ", r.start_unix_us(), ",\n");
  absl::StrAppend(&o, "  \"end_unix_us\": ", r.end_unix_us(), ",\n");
  absl::StrAppend(&o, "  \"params\": ", JsonMap(r.params()), ",\n");
  absl::StrAppend(&o, "  \"variables\": ", JsonMap(r.variables()), ",\n");
  absl::StrAppend(&o, "  \"tasks\": [");
  for (int t = 0; t < r.tasks_size(); ++t) {
    const auto& task = r.tasks(t);
    absl::StrAppend(&o, t ? "," : "", "\n    {\"index\": ", task.index(),
                    ", \"name\": ", Json(task.name()), ", \"status\": ",
                    Json(Lower(emu::v1::TaskResult::Status_Name(task.status()))),
                    ", \"generation\": ", task.generation(),
                    ", \"release_unix_us\": ", task.release_unix_us(),
                    ", \"planned_start_unix_us\": ",
                    task.planned_start_unix_us(),
                    ", \"end_unix_us\": ", task.end_unix_us(),
                    ", \"skew_us\": ", task.skew_us(), ", \"error\": ",
                    Json(task.error()), ", \"link_changes\": [");
    for (int l = 0; l < task.link_changes_size(); ++l) {
      absl::StrAppend(&o, l ? ", " : "", Json(task.link_changes(l)));
    }
    absl::StrAppend(&o, "], \"commands\": [");
    for (int c = 0; c < task.commands_size(); ++c) {
      const auto& cmd = task.commands(c);
      std::vector<std::string> argv;
      for (const auto& a : cmd.argv()) argv.push_back(Json(a));
      absl::StrAppend(
          &o, c ? "," : "", "\n      {\"id\": ", Json(cmd.id()),
          ", \"node\": ", Json(cmd.node()), ", \"host\": ", Json(cmd.host()),
          ", \"argv\": [", absl::StrJoin(argv, ", "), "], \"status\": ",
          Json(Lower(emu::v1::CommandResult::Status_Name(cmd.status()))),
          ", \"exit_code\": ", cmd.exit_code(),
          ", \"start_unix_us\": ", cmd.start_unix_us(),
          ", \"end_unix_us\": ", cmd.end_unix_us(), ", \"stdout\": ",
          Json(cmd.stdout()), ", \"stderr\": ", Json(cmd.stderr()),
          ", \"error\": ", Json(cmd.error()), "}");
    }
    absl::StrAppend(&o, "]}");
  }
  absl::StrAppend(&o, "\n  ]\n}\n");
  return o;
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
