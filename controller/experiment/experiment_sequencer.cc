#include "controller/experiment/experiment_sequencer.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace emu::controller::experiment {
namespace {

using emu::v1::CommandResult;
using emu::v1::ExperimentEvent;
using emu::v1::RunState;
using emu::v1::TaskResult;

std::string Quote(const CommandResult& c) {
  std::string line = c.argv_size() == 3 && c.argv(0) == "/bin/sh"
                         ? c.argv(2)
                         : absl::StrJoin(c.argv(), " ");
  return absl::StrCat(c.id(), " (node ", c.node(), ": '", line, "')");
}

std::string LinkKey(const std::string& a, const std::string& b) {
  return absl::StrCat(a, "<->", b);
}

std::string EndpointText(const emu::v1::Endpoint& e) {
  return absl::StrCat(e.node(), ":", e.interface());
}

}  // namespace

ExperimentSequencer::ExperimentSequencer(
    ExperimentSpec spec, std::string lab, emu::v1::Topology topology,
    std::map<std::string, std::string> node_hosts,
    std::map<std::string, std::string> params, uint64_t first_generation,
    Clock* clock, SequencerOptions options)
    : spec_(std::move(spec)),
      topology_(std::move(topology)),
      node_hosts_(std::move(node_hosts)),
      clock_(clock),
      options_(options),
      generation_(first_generation),
      margin_(options.initial_margin) {
  vars_ = spec_.vars;
  for (const auto& [k, v] : params) vars_[k] = v;
  result_.set_lab(std::move(lab));
  result_.set_experiment(spec_.name);
  for (const auto& [k, v] : params) (*result_.mutable_params())[k] = v;
  for (const auto& l : topology_.links()) {
    std::string a = EndpointText(l.a()), b = EndpointText(l.b());
    link_state_[LinkKey(a, b)] = l.a_to_b();
    link_state_[LinkKey(b, a)] = l.b_to_a();
  }
}

std::set<std::string> ExperimentSequencer::HostsUsed() const {
  std::set<std::string> hosts;
  auto add = [&](const std::string& node) {
    auto it = node_hosts_.find(node);
    if (it != node_hosts_.end()) hosts.insert(it->second);
  };
  for (const auto& t : spec_.tasks) {
    for (const auto& c : t.commands) add(c.node);
  }
  return hosts;
}

std::set<std::string> ExperimentSequencer::NodesOn(
    const std::string& host) const {
  std::set<std::string> nodes;
  for (const auto& t : spec_.tasks) {
    for (const auto& c : t.commands) {
      auto it = node_hosts_.find(c.node);
      if (it != node_hosts_.end() && it->second == host) nodes.insert(c.node);
    }
  }
  return nodes;
}

std::vector<emu::v1::ExperimentEvent> ExperimentSequencer::TakeEvents() {
  std::vector<emu::v1::ExperimentEvent> out;
  out.swap(events_);
  return out;
}

void ExperimentSequencer::Event(ExperimentEvent::Kind kind,
                                const std::string& message) {
  ExperimentEvent e;
  e.set_kind(kind);
  e.set_time_unix_us(absl::ToUnixMicros(clock_->Now()));
  e.set_message(message);
  if (kind == ExperimentEvent::TASK_RELEASED ||
      kind == ExperimentEvent::TASK_ENDED) {
    *e.mutable_task() = task_;
  }
  if (kind == ExperimentEvent::RUN_ENDED) *e.mutable_run() = result_;
  events_.push_back(std::move(e));
}

absl::Duration ExperimentSequencer::Margin() const {
  if (spec_.start_margin > absl::ZeroDuration()) return spec_.start_margin;
  return margin_;
}

void ExperimentSequencer::AdaptMargin(int64_t late_us) {
  // The smallest margin at which every command is ready (forked, waiting)
  // at the instant: grow by twice the lateness of the latest-ready command
  // when it missed the instant, else shrink slowly (2%) towards the floor.
  if (late_us > absl::ToInt64Microseconds(options_.on_time)) {
    margin_ += 2 * absl::Microseconds(late_us);
  } else {
    margin_ = margin_ * 0.98;
  }
  margin_ = std::clamp(margin_, options_.min_margin, options_.max_margin);
}

absl::Time ExperimentSequencer::NextDeadline() const {
  return running_ && !links_pending_ ? deadline_ : absl::InfiniteFuture();
}

void ExperimentSequencer::SetHostClocks(
    const std::vector<emu::v1::HostClock>& clocks) {
  for (const auto& c : clocks) {
    clock_offset_us_[c.host()] = c.samples() > 0 ? c.offset_us() : 0;
    *result_.add_host_clocks() = c;
    if (c.samples() == 0) {
      result_.add_warnings(absl::StrCat(
          "host ", c.host(),
          ": its clock offset is unknown (no answer to the time probes); "
          "its commands may start apart from the others by as much as the "
          "hosts' clocks differ"));
    } else if (c.bound_us() > absl::ToInt64Microseconds(options_.skew_goal)) {
      result_.add_warnings(absl::StrCat(
          "host ", c.host(), ": clock offset ", c.offset_us(), " us known to +-",
          c.bound_us(), " us, more than the skew goal of ",
          absl::FormatDuration(options_.skew_goal),
          ": its commands may start that far from the others'"));
    }
  }
}

std::vector<SequencerAction> ExperimentSequencer::Start() {
  std::vector<SequencerAction> out;
  if (started_) return out;
  started_ = true;
  result_.set_state(emu::v1::RUN_RUNNING);
  result_.set_start_unix_us(absl::ToUnixMicros(clock_->Now()));
  std::string warnings;
  for (const auto& w : result_.warnings()) {
    absl::StrAppend(&warnings, "\nwarning: ", w);
  }
  Event(ExperimentEvent::RUN_STARTED,
        absl::StrCat("experiment ", spec_.name, " on lab ", result_.lab(), ": ",
                     spec_.tasks.size(), " tasks", warnings));
  Advance(&out);
  return out;
}

void ExperimentSequencer::Advance(std::vector<SequencerAction>* out) {
  while (!running_ && !finished_) {
    if (next_task_ >= spec_.tasks.size()) {
      Finish(emu::v1::RUN_SUCCEEDED, "", out);
      return;
    }
    if (++steps_ > spec_.max_steps) {
      Finish(emu::v1::RUN_FAILED,
             absl::StrCat("more than max_steps=", spec_.max_steps,
                          " Tasks run (a goto loop?)"),
             out);
      return;
    }
    BeginTask(next_task_, out);
  }
}

// A Task begins in steps: reset the per-Task state, evaluate `when`, resolve
// the commands to hosts, plan the link changes; then either the link changes
// go out (ReleaseCommands follows LinksApplied) or the commands are released.
void ExperimentSequencer::BeginTask(size_t index,
                                    std::vector<SequencerAction>* out) {
  const TaskSpec& spec = spec_.tasks[index];
  ResetTask(index);
  const std::string where = spec_.WhereIn(spec, spec.line) + "task " + spec.name;
  absl::StatusOr<bool> run = ShouldRun(spec);
  if (!run.ok()) {
    EndTask(TaskResult::FAILED,
            absl::StrCat(where, ": when: ", run.status().message()), out);
    return;
  }
  if (!*run) {
    SkipTask(spec, index);
    return;
  }
  task_.set_generation(++generation_);
  if (absl::Status s = ResolveCommands(spec); !s.ok()) {
    EndTask(TaskResult::FAILED, std::string(s.message()), out);
    return;
  }
  if (!spec.links.empty()) link_state_before_task_ = link_state_;
  absl::StatusOr<SequencerAction> links = PlanLinkChanges(spec);
  if (!links.ok()) {
    EndTask(TaskResult::FAILED, std::string(links.status().message()), out);
    return;
  }
  if (!links->links.empty()) {
    links_pending_ = true;
    out->push_back(*std::move(links));
    return;
  }
  ReleaseCommands(out);
}

void ExperimentSequencer::ResetTask(size_t index) {
  const TaskSpec& spec = spec_.tasks[index];
  running_ = true;
  task_index_ = index;
  task_ = TaskResult();
  task_.set_index(index);
  task_.set_name(spec.name);
  command_slot_.clear();
  command_host_.clear();
  outstanding_.clear();
}

absl::StatusOr<bool> ExperimentSequencer::ShouldRun(const TaskSpec& spec) {
  if (spec.when.empty()) return true;
  return EvalCondition(spec.when, vars_);
}

void ExperimentSequencer::SkipTask(const TaskSpec& spec, size_t index) {
  task_.set_status(TaskResult::SKIPPED);
  *result_.add_tasks() = task_;
  Event(ExperimentEvent::TASK_ENDED,
        absl::StrCat("task ", spec.name, " skipped (when: ", spec.when, ")"));
  running_ = false;
  next_task_ = index + 1;
}

absl::Status ExperimentSequencer::ResolveCommands(const TaskSpec& spec) {
  for (const CommandSpec& c : spec.commands) {
    const std::string cwhere = spec_.WhereIn(spec, c.line) + "command " + c.id;
    CommandResult* r = task_.add_commands();
    r->set_id(c.id);
    auto node = Substitute(c.node, vars_);
    if (!node.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(cwhere, ": node: ", node.status().message()));
    }
    r->set_node(*node);
    for (const std::string& a : c.argv) {
      auto arg = Substitute(a, vars_);
      if (!arg.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(cwhere, ": ", arg.status().message()));
      }
      r->add_argv(*arg);
    }
    auto host = node_hosts_.find(*node);
    if (host == node_hosts_.end()) {
      return absl::NotFoundError(absl::StrCat(cwhere, ": lab ", result_.lab(),
                                              " has no node ", *node));
    }
    if (lost_hosts_.count(host->second)) {
      return absl::UnavailableError(
          absl::StrCat(cwhere, ": host ", host->second, " of node ", *node,
                       " was lost earlier in the run"));
    }
    r->set_host(host->second);
    command_slot_[c.id] = task_.commands_size() - 1;
    command_host_[c.id] = host->second;
  }
  return absl::OkStatus();
}

absl::StatusOr<SequencerAction> ExperimentSequencer::PlanLinkChanges(
    const TaskSpec& spec) {
  SequencerAction links;
  links.kind = SequencerAction::kApplyLinks;
  links.generation = generation_;
  for (const LinkStepSpec& l : spec.links) {
    absl::StatusOr<SequencerAction::LinkChange> change =
        PlanLinkChange(spec, l);
    if (!change.ok()) return change.status();
    links.links.push_back(*std::move(change));
  }
  return links;
}

absl::StatusOr<SequencerAction::LinkChange> ExperimentSequencer::PlanLinkChange(
    const TaskSpec& spec, const LinkStepSpec& l) {
  const std::string lwhere = spec_.WhereIn(spec, l.line) + "task " + spec.name;
  auto a = Substitute(l.a, vars_);
  auto b = Substitute(l.b, vars_);
  if (!a.ok() || !b.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        lwhere, ": link: ", (!a.ok() ? a.status() : b.status()).message()));
  }
  const emu::v1::Link* found = nullptr;
  for (const auto& tl : topology_.links()) {
    std::string ta = EndpointText(tl.a()), tb = EndpointText(tl.b());
    if ((ta == *a && tb == *b) || (ta == *b && tb == *a)) found = &tl;
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(lwhere, ": lab ", result_.lab(),
                                            " has no link ", *a, "<->", *b));
  }
  std::string ta = EndpointText(found->a()), tb = EndpointText(found->b());
  emu::v1::LinkParams ab = link_state_[LinkKey(ta, tb)];
  emu::v1::LinkParams ba = link_state_[LinkKey(tb, ta)];
  std::vector<std::string> text;
  for (const auto& [key, raw] : l.params) {
    auto value = Substitute(raw, vars_);
    absl::Status s =
        value.ok() ? SetLinkParam(key, *value, &ab) : value.status();
    if (s.ok()) s = SetLinkParam(key, *value, &ba);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          lwhere, ": link ", ta, "<->", tb, ": ", key, ": ", s.message()));
    }
    text.push_back(absl::StrCat(key, " ", *value));
  }
  link_state_[LinkKey(ta, tb)] = ab;
  link_state_[LinkKey(tb, ta)] = ba;
  SequencerAction::LinkChange change;
  change.set_params = !l.params.empty();
  if (!l.state.empty()) {
    change.up = l.state == "up";
    text.push_back(absl::StrCat("state ", l.state));
    for (const emu::v1::Endpoint* e : {&found->a(), &found->b()}) {
      auto h = node_hosts_.find(e->node());
      change.ends.push_back(
          {h == node_hosts_.end() ? "" : h->second, e->node(), e->interface()});
    }
  }
  for (const std::string& node : {found->a().node(), found->b().node()}) {
    auto h = node_hosts_.find(node);
    if (h != node_hosts_.end() &&
        std::find(change.hosts.begin(), change.hosts.end(), h->second) ==
            change.hosts.end()) {
      change.hosts.push_back(h->second);
    }
  }
  change.request.set_lab(result_.lab());
  *change.request.mutable_a() = found->a();
  *change.request.mutable_b() = found->b();
  *change.request.mutable_a_to_b() = ab;
  *change.request.mutable_b_to_a() = ba;
  task_.add_link_changes(
      absl::StrCat(ta, "<->", tb, " ", absl::StrJoin(text, ", ")));
  return change;
}

void ExperimentSequencer::AddToRelease(size_t slot, int64_t start_us,
                                       absl::Time now,
                                       SequencerAction* release) const {
  const CommandSpec& c = spec_.tasks[task_index_].commands[slot];
  const CommandResult& r = task_.commands(slot);
  auto& rel = release->releases[r.host()];
  rel.set_generation(generation_);
  rel.set_task_index(task_index_);
  // The instant in the host's own clock.
  auto offset = clock_offset_us_.find(r.host());
  rel.set_start_unix_us(start_us +
                        (offset != clock_offset_us_.end() ? offset->second : 0));
  rel.set_sent_unix_us(absl::ToUnixMicros(now));
  emu::v1::TaskCommand* tc = rel.add_commands();
  tc->set_id(c.id);
  tc->set_node(r.node());
  *tc->mutable_argv() = r.argv();
  tc->set_timeout_ms(absl::ToInt64Milliseconds(c.timeout));
}

void ExperimentSequencer::ReleaseCommands(std::vector<SequencerAction>* out) {
  const TaskSpec& spec = spec_.tasks[task_index_];
  if (spec.commands.empty()) {
    task_.set_release_unix_us(absl::ToUnixMicros(clock_->Now()));
    EndTask(TaskResult::PASSED, "", out);
    return;
  }
  const absl::Time now = clock_->Now();
  std::set<std::string> hosts;
  for (const auto& c : task_.commands()) hosts.insert(c.host());
  // One host needs no margin: its commands start as the release arrives,
  // together (the margin covers the spread of delivery across hosts).
  const absl::Time start =
      hosts.size() == 1 && spec_.start_margin == absl::ZeroDuration()
          ? now
          : now + Margin();
  SequencerAction release;
  release.kind = SequencerAction::kRelease;
  release.generation = generation_;
  absl::Duration longest = absl::ZeroDuration();
  for (size_t i = 0; i < spec.commands.size(); ++i) {
    const CommandSpec& c = spec.commands[i];
    AddToRelease(i, absl::ToUnixMicros(start), now, &release);
    outstanding_.insert(c.id);
    longest = std::max(longest, c.timeout);
  }
  deadline_ = start + longest + options_.report_grace;
  round_late_us_ = 0;
  task_.set_release_unix_us(absl::ToUnixMicros(now));
  task_.set_planned_start_unix_us(absl::ToUnixMicros(start));
  Event(ExperimentEvent::TASK_RELEASED,
        absl::StrCat("task ", spec.name, " released: ", spec.commands.size(),
                     " commands on ", release.releases.size(), " hosts"));
  out->push_back(std::move(release));
}

absl::StatusOr<std::vector<SequencerAction>> ExperimentSequencer::CommandDone(
    const std::string& host, const emu::v1::AgentToBarrier::CommandDone& done) {
  if (finished_ || !running_ || links_pending_ ||
      done.generation() != generation_) {
    return absl::AbortedError(absl::StrCat(
        "stale report from host ", host, " for command ", done.command_id(),
        ": generation ", done.generation(), ", outstanding ",
        running_ && !finished_ ? generation_ : 0));
  }
  auto host_it = command_host_.find(done.command_id());
  if (!outstanding_.count(done.command_id()) ||
      host_it == command_host_.end() || host_it->second != host) {
    return absl::AbortedError(absl::StrCat("host ", host, " reported command ",
                                           done.command_id(),
                                           " it was not waited for"));
  }
  std::vector<SequencerAction> out;
  const TaskSpec& spec = spec_.tasks[task_index_];
  const int slot = command_slot_[done.command_id()];
  const CommandSpec& cspec = spec.commands[slot];
  CommandResult* r = task_.mutable_commands(slot);
  const emu::v1::ExecResponse& res = done.result();
  r->set_exit_code(res.exit_code());
  r->set_stdout(res.stdout());
  r->set_stderr(res.stderr());
  // The agent's times in the controller's clock.
  auto offset = clock_offset_us_.find(host);
  const int64_t shift = offset != clock_offset_us_.end() ? offset->second : 0;
  r->set_start_unix_us(res.start_unix_us() > 0 ? res.start_unix_us() - shift
                                               : 0);
  r->set_end_unix_us(res.end_unix_us() > 0 ? res.end_unix_us() - shift : 0);
  round_late_us_ = std::max(round_late_us_, done.late_us());
  if (!done.error().empty()) {
    r->set_status(CommandResult::ERROR);
    r->set_error(done.error());
  } else if (res.timed_out()) {
    r->set_status(CommandResult::TIMED_OUT);
    r->set_error(absl::StrCat("killed at its timeout of ",
                              absl::FormatDuration(cspec.timeout)));
  } else if (std::find(cspec.success_codes.begin(), cspec.success_codes.end(),
                       res.exit_code()) == cspec.success_codes.end()) {
    r->set_status(CommandResult::FAILED);
    r->set_error(absl::StrCat("exit status ", res.exit_code()));
  } else {
    r->set_status(CommandResult::OK);
    for (const CaptureSpec& cap : cspec.captures) {
      // Compiled once when the file was parsed; RE2 is linear in the output.
      if (std::optional<std::string> value = RunCapture(cap, res.stdout())) {
        vars_[cap.var] = *value;
        (*result_.mutable_variables())[cap.var] = *std::move(value);
      } else {
        r->set_status(CommandResult::FAILED);
        r->set_error(absl::StrCat("capture ", cap.var, ": /",
                                  TruncateForMessage(cap.regex),
                                  "/ did not match its output"));
        break;
      }
    }
  }
  vars_[absl::StrCat(cspec.id, ".exit")] = absl::StrCat(res.exit_code());
  outstanding_.erase(done.command_id());
  if (r->status() != CommandResult::OK && !spec.continue_on_failure) {
    const std::string why = absl::StrCat("command ", Quote(*r), " on host ",
                                         host, ": ", r->error());
    CancelOutstanding(CommandResult::CANCELLED,
                      "cancelled: another command of the Task failed", &out);
    EndTask(TaskResult::FAILED, why, &out);
  } else {
    MaybeEndTask(&out);
  }
  Advance(&out);
  return out;
}

void ExperimentSequencer::MaybeEndTask(std::vector<SequencerAction>* out) {
  if (!outstanding_.empty()) return;
  std::vector<std::string> failed;
  for (const auto& c : task_.commands()) {
    if (c.status() != CommandResult::OK) {
      failed.push_back(absl::StrCat("command ", Quote(c), " on host ", c.host(),
                                    ": ", c.error()));
    }
  }
  EndTask(failed.empty() ? TaskResult::PASSED : TaskResult::FAILED,
          absl::StrJoin(failed, "; "), out);
}

void ExperimentSequencer::CancelOutstanding(CommandResult::Status as,
                                            const std::string& why,
                                            std::vector<SequencerAction>* out) {
  if (outstanding_.empty()) return;
  SequencerAction cancel;
  cancel.kind = SequencerAction::kCancel;
  cancel.generation = generation_;
  const int64_t now = absl::ToUnixMicros(clock_->Now());
  for (const std::string& id : outstanding_) {
    CommandResult* r = task_.mutable_commands(command_slot_[id]);
    r->set_status(as);
    r->set_error(why);
    r->set_end_unix_us(now);
    const std::string& host = command_host_[id];
    if (std::find(cancel.hosts.begin(), cancel.hosts.end(), host) ==
        cancel.hosts.end()) {
      cancel.hosts.push_back(host);
    }
  }
  outstanding_.clear();
  out->push_back(std::move(cancel));
}

void ExperimentSequencer::EndTask(TaskResult::Status status,
                                  const std::string& error,
                                  std::vector<SequencerAction>* out) {
  const TaskSpec& spec = spec_.tasks[task_index_];
  task_.set_status(status);
  task_.set_error(error);
  int64_t min_start = 0, max_start = 0, max_end = 0;
  bool any = false;
  for (const auto& c : task_.commands()) {
    if (c.start_unix_us() <= 0) continue;
    if (!any || c.start_unix_us() < min_start) min_start = c.start_unix_us();
    if (!any || c.start_unix_us() > max_start) max_start = c.start_unix_us();
    max_end = std::max(max_end, c.end_unix_us());
    any = true;
  }
  task_.set_skew_us(any ? max_start - min_start : 0);
  task_.set_end_unix_us(any ? max_end : absl::ToUnixMicros(clock_->Now()));
  if (any && task_.planned_start_unix_us() > task_.release_unix_us()) {
    AdaptMargin(round_late_us_);
  }
  vars_[absl::StrCat(spec.name, ".status")] =
      status == TaskResult::PASSED ? "passed" : "failed";
  *result_.add_tasks() = task_;
  Event(ExperimentEvent::TASK_ENDED,
        absl::StrCat("task ", spec.name, " ",
                     status == TaskResult::PASSED ? "passed" : "FAILED",
                     error.empty() ? "" : ": ", error));
  running_ = false;
  links_pending_ = false;
  outstanding_.clear();
  deadline_ = absl::InfiniteFuture();

  if (status != TaskResult::PASSED && !spec.continue_on_failure) {
    Finish(emu::v1::RUN_FAILED,
           absl::StrCat("task ", spec.name, " failed: ", error), out);
    return;
  }
  for (const BranchSpec& b : spec.next) {
    absl::StatusOr<bool> take = EvalCondition(b.condition, vars_);
    if (!take.ok()) {
      Finish(emu::v1::RUN_FAILED,
             absl::StrCat(spec_.WhereIn(spec, b.line), "task ", spec.name,
                          ": next: ", take.status().message()),
             out);
      return;
    }
    if (!*take) continue;
    if (b.target == "end") {
      Finish(emu::v1::RUN_SUCCEEDED, "", out);
    } else if (b.target == "fail") {
      Finish(
          emu::v1::RUN_FAILED,
          absl::StrCat(spec_.WhereIn(spec, b.line), "task ", spec.name, ": goto fail",
                       b.condition.empty() ? "" : " (" + b.condition + ")"),
          out);
    } else {
      for (size_t i = 0; i < spec_.tasks.size(); ++i) {
        if (spec_.tasks[i].name == b.target) next_task_ = i;
      }
    }
    return;
  }
  next_task_ = task_index_ + 1;
}

void ExperimentSequencer::Finish(RunState state, const std::string& error,
                                 std::vector<SequencerAction>* out) {
  if (finished_) return;
  finished_ = true;
  running_ = false;
  deadline_ = absl::InfiniteFuture();
  result_.set_state(state);
  result_.set_error(error);
  result_.set_end_unix_us(absl::ToUnixMicros(clock_->Now()));
  Event(ExperimentEvent::RUN_ENDED,
        absl::StrCat("experiment ", spec_.name, " ",
                     state == emu::v1::RUN_SUCCEEDED   ? "succeeded"
                     : state == emu::v1::RUN_CANCELLED ? "CANCELLED"
                                                       : "FAILED",
                     error.empty() ? "" : ": ", error));
  SequencerAction fin;
  fin.kind = SequencerAction::kFinished;
  fin.generation = generation_;
  out->push_back(std::move(fin));
}

std::vector<SequencerAction> ExperimentSequencer::LinksApplied(
    uint64_t generation, const absl::Status& status) {
  std::vector<SequencerAction> out;
  if (finished_ || !links_pending_ || generation != generation_) return out;
  links_pending_ = false;
  if (!status.ok()) {
    EndTask(TaskResult::FAILED, absl::StrCat("link change: ", status.message()),
            &out);
  } else {
    ReleaseCommands(&out);
  }
  Advance(&out);
  return out;
}

std::vector<SequencerAction> ExperimentSequencer::HostLost(
    const std::string& host, const std::string& why) {
  std::vector<SequencerAction> out;
  lost_hosts_.insert(host);
  if (finished_ || !running_) return out;
  std::vector<std::string> affected;
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (command_host_[*it] != host) {
      ++it;
      continue;
    }
    CommandResult* r = task_.mutable_commands(command_slot_[*it]);
    r->set_status(CommandResult::LOST);
    r->set_error(absl::StrCat("host ", host, " lost: ", why));
    r->set_end_unix_us(absl::ToUnixMicros(clock_->Now()));
    affected.push_back(Quote(*r));
    it = outstanding_.erase(it);
  }
  if (affected.empty()) return out;
  const std::string msg = absl::StrCat(
      "host ", host, " lost (", why, ") during task ", task_.name(),
      "; commands that did not finish: ", absl::StrJoin(affected, ", "));
  CancelOutstanding(CommandResult::CANCELLED,
                    absl::StrCat("cancelled: host ", host, " lost"), &out);
  EndTask(TaskResult::FAILED, msg, &out);
  Finish(emu::v1::RUN_FAILED, msg, &out);
  return out;
}

std::vector<SequencerAction> ExperimentSequencer::Tick() {
  std::vector<SequencerAction> out;
  if (finished_ || !running_ || links_pending_ || clock_->Now() < deadline_) {
    return out;
  }
  std::vector<std::string> affected;
  std::set<std::string> hosts;
  for (const std::string& id : outstanding_) {
    CommandResult* r = task_.mutable_commands(command_slot_[id]);
    affected.push_back(Quote(*r));
    hosts.insert(r->host());
  }
  const std::string msg =
      absl::StrCat("no report from host ", absl::StrJoin(hosts, ", "),
                   " within the commands' timeout + ",
                   absl::FormatDuration(options_.report_grace), ": ",
                   absl::StrJoin(affected, ", "));
  CancelOutstanding(CommandResult::LOST, msg, &out);
  EndTask(TaskResult::FAILED, msg, &out);
  Advance(&out);
  return out;
}

absl::Status ExperimentSequencer::AddTasks(std::vector<TaskSpec> tasks,
                                           bool after_current, size_t* at_out) {
  if (finished_ || !started_) {
    return absl::FailedPreconditionError(
        absl::StrCat("experiment ", spec_.name, " is not running"));
  }
  if (tasks.empty()) return absl::InvalidArgumentError("no Tasks to add");
  std::set<std::string> names, ids;
  for (const auto& t : spec_.tasks) {
    names.insert(t.name);
    for (const auto& c : t.commands) ids.insert(c.id);
  }
  std::vector<std::string> added;
  for (const auto& t : tasks) {
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          spec_.WhereIn(t, t.line), "task ", t.name, ": duplicate task name"));
    }
    for (const auto& c : t.commands) {
      if (!ids.insert(c.id).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(spec_.WhereIn(t, c.line), "command ", c.id,
                         ": duplicate command id"));
      }
    }
    added.push_back(t.name);
  }
  // Before the Task that runs next: after the running one, or where the
  // sequence stands between Tasks.
  const size_t at = !after_current     ? spec_.tasks.size()
                    : running_         ? task_index_ + 1
                                       : next_task_;
  spec_.tasks.insert(spec_.tasks.begin() + static_cast<std::ptrdiff_t>(at),
                     std::make_move_iterator(tasks.begin()),
                     std::make_move_iterator(tasks.end()));
  if (!running_ && next_task_ > at) next_task_ += added.size();
  if (at_out != nullptr) *at_out = at;
  ExperimentEvent e;
  e.set_kind(ExperimentEvent::TASKS_ADDED);
  e.set_time_unix_us(absl::ToUnixMicros(clock_->Now()));
  e.set_message(absl::StrCat(
      added.size(), added.size() == 1 ? " task" : " tasks", " added ",
      after_current && running_ ? absl::StrCat("after task ", task_.name())
                                : std::string("at the end"),
      ": ", absl::StrJoin(added, ", ")));
  events_.push_back(std::move(e));
  return absl::OkStatus();
}

std::vector<SequencerAction> ExperimentSequencer::Cancel(
    const std::string& why) {
  std::vector<SequencerAction> out;
  if (finished_) return out;
  if (running_) {
    CancelOutstanding(CommandResult::CANCELLED, why, &out);
    task_.set_status(TaskResult::CANCELLED);
    task_.set_error(why);
    task_.set_end_unix_us(absl::ToUnixMicros(clock_->Now()));
    *result_.add_tasks() = task_;
    Event(ExperimentEvent::TASK_ENDED,
          absl::StrCat("task ", task_.name(), " cancelled: ", why));
  }
  Finish(emu::v1::RUN_CANCELLED, why, &out);
  return out;
}

void ExperimentSequencer::InsertTasks(std::vector<TaskSpec> tasks, size_t at) {
  at = std::min(at, spec_.tasks.size());
  spec_.tasks.insert(spec_.tasks.begin() + static_cast<std::ptrdiff_t>(at),
                     std::make_move_iterator(tasks.begin()),
                     std::make_move_iterator(tasks.end()));
}

void ExperimentSequencer::SaveState(emu::v1::RunCheckpoint* cp) const {
  for (const auto& [k, v] : vars_) (*cp->mutable_vars())[k] = v;
  // Between Tasks, or a Task whose link changes are pending: its state
  // before it began (it begins again on resume).
  const bool before_task = !running_ || links_pending_;
  const auto& links = running_ && links_pending_ ? link_state_before_task_
                                                 : link_state_;
  for (const auto& [k, v] : links) {
    (*cp->mutable_link_state())[k] = v.SerializeAsString();
  }
  *cp->mutable_result() = result_;
  cp->set_steps(running_ && links_pending_ ? steps_ - 1 : steps_);
  cp->set_next_task(running_ && links_pending_ ? task_index_ : next_task_);
  cp->set_generation(running_ && links_pending_ ? generation_ - 1
                                                : generation_);
  cp->set_running(!before_task);
  if (!before_task) {
    *cp->mutable_task() = task_;
    for (const auto& id : outstanding_) cp->add_outstanding(id);
    cp->set_deadline_unix_us(absl::ToUnixMicros(deadline_));
  }
  cp->set_margin_us(absl::ToInt64Microseconds(margin_));
  cp->set_round_late_us(round_late_us_);
  for (const auto& h : lost_hosts_) cp->add_lost_hosts(h);
}

std::vector<SequencerAction> ExperimentSequencer::Resume(
    const emu::v1::RunCheckpoint& cp) {
  std::vector<SequencerAction> out;
  if (started_) return out;
  started_ = true;
  vars_.clear();
  for (const auto& [k, v] : cp.vars()) vars_[k] = v;
  link_state_.clear();
  for (const auto& [k, v] : cp.link_state()) {
    link_state_[k].ParseFromString(v);
  }
  result_ = cp.result();
  result_.set_state(emu::v1::RUN_RUNNING);
  for (const auto& c : result_.host_clocks()) {
    clock_offset_us_[c.host()] = c.samples() > 0 ? c.offset_us() : 0;
  }
  steps_ = cp.steps();
  next_task_ = cp.next_task();
  generation_ = cp.generation();
  margin_ = std::clamp(absl::Microseconds(cp.margin_us()), options_.min_margin,
                       options_.max_margin);
  round_late_us_ = cp.round_late_us();
  lost_hosts_ = {cp.lost_hosts().begin(), cp.lost_hosts().end()};

  Event(ExperimentEvent::RUN_STARTED,
        absl::StrCat("experiment ", spec_.name, " on lab ", result_.lab(), ": ",
                     spec_.tasks.size(), " tasks (resumed)"));
  for (const auto& t : result_.tasks()) {
    ExperimentEvent e;
    e.set_kind(ExperimentEvent::TASK_ENDED);
    e.set_time_unix_us(t.end_unix_us());
    *e.mutable_task() = t;
    e.set_message(absl::StrCat(
        "task ", t.name(), " ",
        t.status() == TaskResult::PASSED    ? "passed"
        : t.status() == TaskResult::SKIPPED ? "skipped"
                                            : "FAILED",
        t.error().empty() ? "" : ": ", t.error()));
    events_.push_back(std::move(e));
  }

  if (!cp.running()) {
    if (next_task_ > spec_.tasks.size()) {
      Finish(emu::v1::RUN_FAILED,
             absl::StrCat("cannot resume: the run stood at task ",
                          next_task_ + 1, " of ", spec_.tasks.size()),
             &out);
      return out;
    }
    Event(ExperimentEvent::RUN_RESUMED,
          absl::StrCat("the controller restarted; run resumed after ",
                       result_.tasks_size(), " tasks"));
    Advance(&out);
    return out;
  }

  // A Task released before the restart: its commands may be running, or
  // have ended while the controller was down.
  const size_t index = cp.task().index();
  if (index >= spec_.tasks.size() ||
      spec_.tasks[index].name != cp.task().name() ||
      static_cast<size_t>(cp.task().commands_size()) !=
          spec_.tasks[index].commands.size()) {
    Finish(emu::v1::RUN_FAILED,
           absl::StrCat("cannot resume: task ", cp.task().name(),
                        " no longer matches the experiment"),
           &out);
    return out;
  }
  running_ = true;
  task_index_ = index;
  task_ = cp.task();
  command_slot_.clear();
  command_host_.clear();
  for (int i = 0; i < task_.commands_size(); ++i) {
    command_slot_[task_.commands(i).id()] = i;
    command_host_[task_.commands(i).id()] = task_.commands(i).host();
  }
  outstanding_ = {cp.outstanding().begin(), cp.outstanding().end()};
  const absl::Time now = clock_->Now();
  deadline_ = std::max(absl::FromUnixMicros(cp.deadline_unix_us()),
                       now + options_.report_grace);
  const TaskSpec& spec = spec_.tasks[task_index_];
  SequencerAction release;
  release.kind = SequencerAction::kRelease;
  release.generation = generation_;
  std::set<std::string> hosts;
  for (const std::string& id : outstanding_) {
    const int slot = command_slot_[id];
    AddToRelease(slot, task_.planned_start_unix_us(), now, &release);
    release.releases[task_.commands(slot).host()].set_resent(true);
    hosts.insert(task_.commands(slot).host());
  }
  Event(ExperimentEvent::RUN_RESUMED,
        absl::StrCat("the controller restarted; run resumed in task ",
                     spec.name, ": waiting for ", outstanding_.size(),
                     " commands on ", absl::StrJoin(hosts, ", ")));
  if (outstanding_.empty()) {
    MaybeEndTask(&out);
    Advance(&out);
    return out;
  }
  out.push_back(std::move(release));
  return out;
}

}  // namespace emu::controller::experiment
