#include "controller/experiment/experiment_spec.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "linkemu/units.h"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace emu::controller::experiment {
namespace {

int LineOf(const YAML::Node& n) {
  const YAML::Mark mark = n.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

bool ValidName(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// Collects every problem of one file.
class Parser {
 public:
  // `base`: the running experiment that the file's Tasks are added to
  // (ParseAddedTasks), or null for a whole experiment file.
  explicit Parser(std::string file, const ExperimentSpec* base = nullptr)
      : base_(base) {
    spec_.file = std::move(file);
  }

  absl::StatusOr<ExperimentSpec> Parse(absl::string_view content) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(content));
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec_.file, ":", e.mark.line + 1, ": ", e.msg));
    }
    try {
      ParseRoot(root);
    } catch (const YAML::Exception& e) {
      Error(e.mark.line + 1, "experiment", e.msg);
    }
    if (!errors_.empty()) {
      return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    }
    return std::move(spec_);
  }

 private:
  void Error(int line, absl::string_view object, absl::string_view cause) {
    errors_.push_back(absl::StrCat(spec_.Where(line), object, ": ", cause));
  }

  // True (and an error naming the limit) when the list or map `n` holds more
  // than `limit` entries; checked before any entry is parsed.
  bool TooMany(const YAML::Node& n, size_t limit, absl::string_view object,
               absl::string_view what) {
    if (n.size() <= limit) return false;
    Error(
        LineOf(n), object,
        absl::StrCat(n.size(), " ", what, ", more than the limit of ", limit));
    return true;
  }

  std::string Scalar(const YAML::Node& n, absl::string_view object) {
    if (!n.IsScalar()) {
      Error(LineOf(n), object, "expected a single value");
      return "";
    }
    return n.Scalar();
  }

  absl::Duration Duration(const YAML::Node& n, absl::string_view object) {
    std::string s = Scalar(n, object);
    auto us = linkemu::ParseDurationUs(s);
    if (!us.ok()) {
      Error(LineOf(n), object, us.status().message());
      return absl::ZeroDuration();
    }
    return absl::Microseconds(*us);
  }

  void ParseRoot(const YAML::Node& root) {
    if (base_ != nullptr) {
      ParseAddedRoot(root);
      return;
    }
    if (!root.IsMap()) {
      Error(LineOf(root), "experiment",
            "expected a mapping with 'experiment' and 'tasks'");
      return;
    }
    bool have_tasks = false;
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "experiment" || key == "name") {
        spec_.name = Scalar(v, "experiment");
        if (!ValidName(spec_.name)) {
          Error(LineOf(v), "experiment",
                "name must be 1-64 letters, digits, '-', '_' or '.'");
        }
      } else if (key == "vars") {
        if (!v.IsMap()) {
          Error(LineOf(v), "vars", "expected a mapping name: value");
          continue;
        }
        if (!TooMany(v, kMaxVars, "vars", "variables")) {
          for (const auto& var : v) {
            spec_.vars[var.first.Scalar()] = Scalar(var.second, "vars");
          }
        }
      } else if (key == "start_margin") {
        spec_.start_margin = Duration(v, "start_margin");
        if (spec_.start_margin > kMaxStartMargin) {
          Error(LineOf(v), "start_margin",
                absl::StrCat("more than the limit of ",
                             absl::FormatDuration(kMaxStartMargin)));
        }
      } else if (key == "max_steps") {
        int n = 0;
        if (!absl::SimpleAtoi(Scalar(v, "max_steps"), &n) || n <= 0 ||
            n > kMaxSteps) {
          Error(LineOf(v), "max_steps",
                absl::StrCat("expected an integer from 1 to ", kMaxSteps));
        } else {
          spec_.max_steps = n;
        }
      } else if (key == "reset") {
        spec_.reset = Scalar(v, "reset");
        if (spec_.reset != "none" && spec_.reset != "redeploy") {
          Error(LineOf(v), "reset", "expected 'none' or 'redeploy'");
        }
      } else if (key == "tasks") {
        have_tasks = true;
        if (!v.IsSequence() || v.size() == 0) {
          Error(LineOf(v), "tasks", "expected a non-empty list of Tasks");
          continue;
        }
        if (TooMany(v, kMaxTasks, "tasks", "Tasks")) continue;
        for (size_t i = 0; i < v.size(); ++i) ParseTask(v[i], i);
      } else {
        Error(LineOf(kv.first), "experiment",
              absl::StrCat("unknown key '", key, "'"));
      }
    }
    if (spec_.name.empty()) {
      Error(1, "experiment", "missing required key 'experiment' (its name)");
    }
    if (!have_tasks) Error(1, "experiment", "missing required key 'tasks'");
    CheckReferences();
  }

  // A file of Tasks added to a running experiment: `tasks:` alone, named
  // and checked against the running ones.
  void ParseAddedRoot(const YAML::Node& root) {
    if (!root.IsMap() || !root["tasks"]) {
      Error(LineOf(root), "tasks",
            "expected a mapping with 'tasks' (the Tasks to add)");
      return;
    }
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      if (key != "tasks") {
        Error(LineOf(kv.first), "tasks",
              absl::StrCat("unknown key '", key,
                           "' (a file of added Tasks holds only 'tasks')"));
      }
    }
    const YAML::Node& v = root["tasks"];
    if (!v.IsSequence() || v.size() == 0) {
      Error(LineOf(v), "tasks", "expected a non-empty list of Tasks");
      return;
    }
    if (v.size() + base_->tasks.size() > kMaxTasks) {
      Error(LineOf(v), "tasks",
            absl::StrCat(v.size(), " Tasks added to ", base_->tasks.size(),
                         ", more than the limit of ", kMaxTasks));
      return;
    }
    // Default names go on from the running experiment's ("task<N>").
    for (size_t i = 0; i < v.size(); ++i) {
      ParseTask(v[i], base_->tasks.size() + i);
    }
    CheckReferences();
  }

  void ParseTask(const YAML::Node& n, size_t index) {
    TaskSpec task;
    task.line = LineOf(n);
    task.name = absl::StrCat("task", index + 1);
    if (!n.IsMap()) {
      Error(task.line, task.name, "expected a mapping");
      return;
    }
    if (n["name"]) task.name = Scalar(n["name"], "task");
    const std::string object = absl::StrCat("task ", task.name);
    if (!ValidName(task.name) || task.name == "end" || task.name == "fail") {
      Error(task.line, object,
            "name must be 1-64 letters, digits, '-', '_' or '.' (not "
            "'end'/'fail')");
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "name") {
      } else if (key == "when") {
        task.when = Scalar(v, object);
      } else if (key == "on_failure") {
        std::string s = Scalar(v, object);
        if (s == "continue") {
          task.continue_on_failure = true;
        } else if (s != "stop") {
          Error(LineOf(v), object, "on_failure: expected 'stop' or 'continue'");
        }
      } else if (key == "commands") {
        if (!v.IsSequence()) {
          Error(LineOf(v), object, "commands: expected a list");
          continue;
        }
        if (TooMany(v, kMaxCommandsPerTask, object, "commands")) continue;
        for (size_t i = 0; i < v.size(); ++i) {
          ParseCommand(v[i], task.name, i, &task.commands);
        }
      } else if (key == "links") {
        if (!v.IsSequence()) {
          Error(LineOf(v), object, "links: expected a list");
          continue;
        }
        if (TooMany(v, kMaxLinksPerTask, object, "links")) continue;
        for (const auto& l : v) ParseLink(l, object, &task.links);
      } else if (key == "next") {
        if (!v.IsSequence()) {
          Error(LineOf(v), object, "next: expected a list of {if, goto}");
          continue;
        }
        if (TooMany(v, kMaxBranchesPerTask, object, "next branches")) continue;
        for (const auto& b : v) ParseBranch(b, object, &task.next);
      } else if (key == "goto") {
        task.next.push_back({"", Scalar(v, object), LineOf(v)});
      } else {
        Error(LineOf(kv.first), object,
              absl::StrCat("unknown key '", key, "'"));
      }
    }
    if (task.commands.empty() && task.links.empty()) {
      Error(task.line, object, "has neither commands nor links");
    }
    spec_.tasks.push_back(std::move(task));
  }

  void ParseCommand(const YAML::Node& n, const std::string& task, size_t index,
                    std::vector<CommandSpec>* out) {
    CommandSpec c;
    c.line = LineOf(n);
    c.id = absl::StrCat(task, ".", index + 1);
    if (!n.IsMap()) {
      Error(c.line, absl::StrCat("task ", task), "command: expected a mapping");
      return;
    }
    if (n["id"]) c.id = Scalar(n["id"], "command");
    const std::string object = absl::StrCat("command ", c.id);
    if (!ValidName(c.id)) {
      Error(c.line, object, "id must be letters, digits, '-', '_' or '.'");
    }
    bool have_line = false;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "id") {
      } else if (key == "node") {
        c.node = Scalar(v, object);
      } else if (key == "cmd") {
        c.argv = {"/bin/sh", "-c", Scalar(v, object)};
        if (have_line) Error(LineOf(v), object, "give either cmd or argv");
        have_line = true;
      } else if (key == "argv") {
        if (have_line) Error(LineOf(v), object, "give either cmd or argv");
        have_line = true;
        if (!v.IsSequence() || v.size() == 0) {
          Error(LineOf(v), object, "argv: expected a non-empty list");
          continue;
        }
        if (TooMany(v, kMaxArgs, object, "argv elements")) continue;
        for (const auto& a : v) c.argv.push_back(Scalar(a, object));
      } else if (key == "timeout") {
        const size_t errors = errors_.size();
        c.timeout = Duration(v, object);
        if (errors_.size() == errors && (c.timeout <= absl::ZeroDuration() ||
                                         c.timeout > kMaxCommandTimeout)) {
          Error(LineOf(v), object,
                absl::StrCat("timeout must be positive and at most ",
                             absl::FormatDuration(kMaxCommandTimeout)));
        }
      } else if (key == "success") {
        c.success_codes.clear();
        // (YAML::Node's operator= writes through to the node: copy out.)
        std::vector<YAML::Node> list;
        if (v.IsSequence()) {
          for (const auto& x : v) list.push_back(x);
        } else {
          list.push_back(v);
        }
        if (list.size() > kMaxSuccessCodes) {
          Error(LineOf(v), object,
                absl::StrCat("success: more than ", kMaxSuccessCodes,
                             " exit statuses"));
          continue;
        }
        for (const auto& code : list) {
          int x = 0;
          if (!absl::SimpleAtoi(Scalar(code, object), &x) || x < 0 || x > 255) {
            Error(LineOf(code), object, "success: exit statuses are 0-255");
          }
          c.success_codes.push_back(x);
        }
      } else if (key == "capture") {
        std::vector<YAML::Node> list;
        if (v.IsSequence()) {
          for (const auto& x : v) list.push_back(x);
        } else {
          list.push_back(v);
        }
        if (list.size() > kMaxCapturesPerCommand) {
          Error(LineOf(v), object,
                absl::StrCat("capture: more than ", kMaxCapturesPerCommand,
                             " captures"));
          continue;
        }
        for (const auto& cap : list) {
          CaptureSpec cs;
          cs.line = LineOf(cap);
          if (!cap.IsMap() || !cap["var"] || !cap["regex"]) {
            Error(cs.line, object, "capture: expected {var: NAME, regex: RE}");
            continue;
          }
          cs.var = Scalar(cap["var"], object);
          cs.regex = Scalar(cap["regex"], object);
          // Compiled here, once: a bad or oversized pattern is refused
          // before any lab is touched, and runs only match.
          auto compiled = CompileUserRegex(cs.regex);
          if (!compiled.ok()) {
            Error(cs.line, object,
                  absl::StrCat("capture ", TruncateForMessage(cs.var), ": ",
                               compiled.status().message()));
          } else {
            cs.compiled = *std::move(compiled);
          }
          c.captures.push_back(std::move(cs));
        }
      } else {
        Error(LineOf(kv.first), object,
              absl::StrCat("unknown key '", key, "'"));
      }
    }
    if (c.node.empty()) Error(c.line, object, "missing required key 'node'");
    if (!have_line) Error(c.line, object, "missing 'cmd' (or 'argv')");
    out->push_back(std::move(c));
  }

  void ParseLink(const YAML::Node& n, const std::string& object,
                 std::vector<LinkStepSpec>* out) {
    LinkStepSpec l;
    l.line = LineOf(n);
    if (!n.IsMap()) {
      Error(l.line, object, "links: expected a mapping");
      return;
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "link") {
        std::string s = Scalar(v, object);
        size_t sep = s.find("<->");
        if (sep == std::string::npos) {
          Error(LineOf(v), object, "link: expected 'node:if<->node:if'");
          continue;
        }
        l.a = s.substr(0, sep);
        l.b = s.substr(sep + 3);
      } else if (key == "a") {
        l.a = Scalar(v, object);
      } else if (key == "b") {
        l.b = Scalar(v, object);
      } else if (key == "state") {
        l.state = Scalar(v, object);
        if (l.state != "up" && l.state != "down") {
          Error(LineOf(v), object, "links: state: expected 'up' or 'down'");
        }
      } else if (key == "rate" || key == "delay" || key == "jitter" ||
                 key == "loss") {
        l.params[key] = Scalar(v, object);
        if (!absl::StrContains(l.params[key], "${")) {
          emu::v1::LinkParams scratch;
          absl::Status s = SetLinkParam(key, l.params[key], &scratch);
          if (!s.ok()) Error(LineOf(v), object, s.message());
        }
      } else {
        Error(LineOf(kv.first), object,
              absl::StrCat("links: unknown key '", key,
                           "' (rate, delay, jitter, loss, state)"));
      }
    }
    if (l.a.empty() || l.b.empty() || !absl::StrContains(l.a, ":") ||
        !absl::StrContains(l.b, ":")) {
      Error(l.line, object, "links: name the link as link: 'n1:if<->n2:if'");
    }
    if (l.params.empty() && l.state.empty()) {
      Error(l.line, object, "links: no parameter to set");
    }
    out->push_back(std::move(l));
  }

  void ParseBranch(const YAML::Node& n, const std::string& object,
                   std::vector<BranchSpec>* out) {
    BranchSpec b;
    b.line = LineOf(n);
    if (!n.IsMap() || !n["goto"]) {
      Error(b.line, object, "next: expected {if: CONDITION, goto: TASK}");
      return;
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (key == "if") {
        b.condition = Scalar(kv.second, object);
      } else if (key == "goto") {
        b.target = Scalar(kv.second, object);
      } else {
        Error(LineOf(kv.first), object,
              absl::StrCat("next: unknown key '", key, "'"));
      }
    }
    out->push_back(std::move(b));
  }

  void CheckReferences() {
    std::set<std::string> tasks, ids;
    // Added Tasks: their names, ids and gotos are checked against the
    // running experiment's too.
    if (base_ != nullptr) {
      for (const auto& t : base_->tasks) {
        tasks.insert(t.name);
        for (const auto& c : t.commands) ids.insert(c.id);
      }
    }
    for (const auto& t : spec_.tasks) {
      if (!tasks.insert(t.name).second) {
        Error(t.line, absl::StrCat("task ", t.name), "duplicate task name");
      }
      for (const auto& c : t.commands) {
        if (!ids.insert(c.id).second) {
          Error(c.line, absl::StrCat("command ", c.id), "duplicate command id");
        }
      }
    }
    for (const auto& t : spec_.tasks) {
      for (const auto& b : t.next) {
        if (b.target != "end" && b.target != "fail" && !tasks.count(b.target)) {
          Error(b.line, absl::StrCat("task ", t.name),
                absl::StrCat("goto: no task named '", b.target, "'"));
        }
      }
    }
  }

  const ExperimentSpec* const base_;
  ExperimentSpec spec_;
  std::vector<std::string> errors_;
};

// Numbers compare as numbers when both sides parse completely.
bool AsNumber(absl::string_view s, double* out) {
  return absl::SimpleAtod(absl::StripAsciiWhitespace(s), out);
}

}  // namespace

std::string TruncateForMessage(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return absl::StrCat(text.substr(0, max_bytes), "...(", text.size(),
                      " bytes)");
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileUserRegex(
    absl::string_view pattern) {
  if (pattern.size() > kMaxRegexBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("regex '", TruncateForMessage(pattern),
                     "' is longer than ", kMaxRegexBytes, " bytes"));
  }
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error goes into the Status instead
  options.set_max_mem(kMaxRegexProgramBytes);
  auto re = std::make_shared<const re2::RE2>(
      re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad regex '", TruncateForMessage(pattern),
                     "': ", TruncateForMessage(re->error(), 200)));
  }
  return re;
}

std::optional<std::string> RunCapture(const CaptureSpec& capture,
                                      absl::string_view text) {
  if (capture.compiled == nullptr) return std::nullopt;
  const re2::RE2& re = *capture.compiled;
  // Group 1 when there is one, else the whole match (group 0).
  const int group = re.NumberOfCapturingGroups() > 0 ? 1 : 0;
  re2::StringPiece match[2];
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                re2::RE2::UNANCHORED, match, group + 1)) {
    return std::nullopt;
  }
  return std::string(match[group].data(), match[group].size());
}

absl::Status SetLinkParam(const std::string& key, const std::string& value,
                          emu::v1::LinkParams* params) {
  if (key == "rate") {
    auto v = linkemu::ParseRate(value);
    if (!v.ok()) return v.status();
    params->set_rate_bps(*v);
  } else if (key == "delay" || key == "jitter") {
    auto v = linkemu::ParseDurationUs(value);
    if (!v.ok()) return v.status();
    key == "delay" ? params->set_delay_us(*v) : params->set_jitter_us(*v);
  } else if (key == "loss") {
    auto v = linkemu::ParsePercent(value);
    if (!v.ok()) return v.status();
    params->set_loss_percent(*v);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown parameter ", key));
  }
  return absl::OkStatus();
}

std::string ExperimentSpec::Where(int line) const {
  return line > 0 ? absl::StrCat(file, ":", line, ": ")
                  : absl::StrCat(file, ": ");
}

std::string ExperimentSpec::WhereIn(const TaskSpec& task, int line) const {
  if (task.file.empty()) return Where(line);
  return line > 0 ? absl::StrCat(task.file, ":", line, ": ")
                  : absl::StrCat(task.file, ": ");
}

absl::StatusOr<ExperimentSpec> ParseExperiment(absl::string_view file_name,
                                               absl::string_view content) {
  if (content.size() > kMaxExperimentFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": experiment: ", content.size(),
        " bytes, more than the limit of ", kMaxExperimentFileBytes));
  }
  return Parser(std::string(file_name)).Parse(content);
}

absl::StatusOr<std::vector<TaskSpec>> ParseAddedTasks(
    absl::string_view file_name, absl::string_view content,
    const ExperimentSpec& running) {
  if (content.size() > kMaxExperimentFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": tasks: ", content.size(),
        " bytes, more than the limit of ", kMaxExperimentFileBytes));
  }
  auto spec = Parser(std::string(file_name), &running).Parse(content);
  if (!spec.ok()) return spec.status();
  for (TaskSpec& t : spec->tasks) t.file = std::string(file_name);
  return std::move(spec->tasks);
}

absl::StatusOr<std::string> Substitute(
    absl::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out.push_back(text[i]);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out.push_back('$');
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unclosed '${' in '", TruncateForMessage(text), "'"));
    }
    std::string name(text.substr(i + 2, close - i - 2));
    auto it = vars.find(name);
    if (it == vars.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown variable ${", name, "}"));
    }
    out += it->second;
    i = close;
  }
  return out;
}

absl::StatusOr<bool> EvalCondition(
    absl::string_view condition,
    const std::map<std::string, std::string>& vars) {
  auto text = Substitute(condition, vars);
  if (!text.ok()) return text.status();
  absl::string_view s = absl::StripAsciiWhitespace(*text);
  if (s.empty() || s == "true") return true;
  if (s == "false") return false;
  static const char* kOps[] = {"==", "!=", "<=", ">=", "=~", "<", ">"};
  for (const char* op : kOps) {
    size_t at = s.find(op);
    if (at == absl::string_view::npos) continue;
    std::string lhs(absl::StripAsciiWhitespace(s.substr(0, at)));
    std::string rhs(
        absl::StripAsciiWhitespace(s.substr(at + std::string(op).size())));
    const std::string o = op;
    if (o == "=~") {
      // The pattern may come from ${var}s, so it is compiled here, with the
      // same limits as captures; RE2 keeps the match linear in `lhs`.
      auto re = CompileUserRegex(rhs);
      if (!re.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("condition '", TruncateForMessage(condition),
                         "': ", re.status().message()));
      }
      return re2::RE2::PartialMatch(lhs, **re);
    }
    double a = 0, b = 0;
    int cmp;
    if (AsNumber(lhs, &a) && AsNumber(rhs, &b)) {
      cmp = a < b ? -1 : (a > b ? 1 : 0);
    } else {
      cmp = lhs.compare(rhs);
      cmp = cmp < 0 ? -1 : (cmp > 0 ? 1 : 0);
    }
    if (o == "==") return cmp == 0;
    if (o == "!=") return cmp != 0;
    if (o == "<=") return cmp <= 0;
    if (o == ">=") return cmp >= 0;
    if (o == "<") return cmp < 0;
    return cmp > 0;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "condition '", TruncateForMessage(condition),
      "': expected 'A OP B' with OP one of == != < <= > >= =~, or true/false"));
}

}  // namespace emu::controller::experiment
