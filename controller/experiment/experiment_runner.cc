#include "controller/experiment/experiment_runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "linkemu/late_frames.h"

namespace emu::controller::experiment {
namespace {

// The warnings of a run whose links' senders stalled between the two
// samples, one per direction (linkemu::StalledBetween).
std::vector<std::string> LateFrameWarnings(const emu::v1::LabCounters& before,
                                           const emu::v1::LabCounters& after) {
  std::vector<std::string> out;
  for (const auto& s : linkemu::StalledBetween(before, after)) {
    out.push_back(absl::StrCat(
        "link ", s.link, " ", s.direction, ": ", s.late.late_10ms, " frame",
        s.late.late_10ms == 1 ? "" : "s",
        " sent 10 ms or more late during the run (", s.late.late_1ms,
        " sent 1 ms or more late): the host stalled its sender",
        s.late.tunnel ? " (or the tunnel's connection held them back)" : "",
        "; what the run measured across this link includes that "
        "(docs/linkemu.md, \"Late frames\")"));
  }
  return out;
}

std::map<std::string, std::string> NodeHosts(const emu::v1::Lab& lab) {
  std::map<std::string, std::string> out;
  for (const auto& n : lab.nodes()) out[n.name()] = n.host();
  return out;
}

}  // namespace

ExperimentRunner::ExperimentRunner(std::string run_id, ExperimentSpec spec,
                                   emu::v1::Lab lab,
                                   std::map<std::string, std::string> addresses,
                                   std::map<std::string, std::string> params,
                                   uint64_t first_generation, RunnerDeps deps,
                                   SequencerOptions options)
    : run_id_(std::move(run_id)),
      lab_(std::move(lab)),
      addresses_(std::move(addresses)),
      first_generation_(first_generation),
      max_steps_(spec.max_steps),
      deps_(deps),
      seq_(std::move(spec), lab_.name(), lab_.topology(), NodeHosts(lab_),
           std::move(params), first_generation, deps.clock, options) {}

ExperimentRunner::~ExperimentRunner() { CloseLinks(); }

void ExperimentRunner::CloseLinks() {
  std::vector<BarrierLink*> links;
  for (auto& [host, link] : links_) links.push_back(link.get());
  // One bound for all hosts together: a dead host does not delay the others.
  // Real time: the bound is on gRPC, which runs on the real clock.
  CloseAll(links, absl::Now() + kCloseTimeout);
}

uint64_t ExperimentRunner::GenerationCeiling() const {
  // Each Task run takes at most one generation.
  return first_generation_ + static_cast<uint64_t>(max_steps_) + 1;
}

void ExperimentRunner::Push(Input in) {
  absl::MutexLock lock(&mu_);
  inputs_.push_back(std::move(in));
}

void ExperimentRunner::Cancel(const std::string& why) {
  Push({Input::kCancel, "", {}, why});
}

void ExperimentRunner::Abandon() { Push({Input::kAbandon, "", {}, ""}); }

void ExperimentRunner::EnableCheckpoints(Source source) {
  source_ = std::move(source);
}

void ExperimentRunner::ResumeFrom(emu::v1::RunCheckpoint checkpoint) {
  added_.assign(checkpoint.added().begin(), checkpoint.added().end());
  resume_ = std::move(checkpoint);
}

void ExperimentRunner::SaveCheckpoint() {
  if (deps_.store == nullptr || !source_.has_value()) return;
  emu::v1::RunCheckpoint cp;
  cp.set_run_id(run_id_);
  cp.set_lab_key(source_->lab_key);
  cp.set_file_name(source_->file_name);
  cp.set_content(source_->content);
  for (const auto& [k, v] : seq_.result().params()) (*cp.mutable_params())[k] = v;
  for (const auto& a : added_) *cp.add_added() = a;
  cp.set_first_generation(first_generation_);
  seq_.SaveState(&cp);
  absl::Status st = deps_.store->PutCheckpoint(cp);
  if (!st.ok() && !checkpoint_warned_) {
    checkpoint_warned_ = true;
    Log("experiment run ", run_id_, ": saving its state: ", st.ToString(),
        " (a controller restart would end it)");
  }
}

void ExperimentRunner::AddTasks(std::string file, std::string content,
                                bool after_current, AddTasksDone done) {
  {
    absl::MutexLock lock(&mu_);
    if (!ended_) {
      Input in{Input::kAddTasks, std::move(file), {}, std::move(content)};
      in.after_current = after_current;
      in.added = std::move(done);
      inputs_.push_back(std::move(in));
      return;
    }
  }
  done(absl::FailedPreconditionError(
      absl::StrCat("experiment run ", run_id_, " has ended")));
}

void ExperimentRunner::ApplyAddTasks(Input& in) {
  auto tasks = ParseAddedTasks(in.host, in.why, seq_.spec());
  if (!tasks.ok()) {
    in.added(tasks.status());
    return;
  }
  std::vector<std::string> names;
  for (const auto& t : *tasks) names.push_back(t.name);
  size_t at = 0;
  absl::Status st = seq_.AddTasks(*std::move(tasks), in.after_current, &at);
  if (!st.ok()) {
    in.added(st);
    return;
  }
  Log("experiment run ", run_id_, ": ", names.size(), " tasks added");
  emu::v1::RunCheckpoint::Added added;
  added.set_file_name(in.host);
  added.set_content(in.why);
  added.set_at(static_cast<uint32_t>(at));
  added_.push_back(std::move(added));
  SaveCheckpoint();
  in.added(std::move(names));
}

BarrierLink* ExperimentRunner::LinkTo(const std::string& host) {
  auto it = links_.find(host);
  if (it != links_.end()) return it->second.get();
  auto addr = addresses_.find(host);
  if (addr == addresses_.end()) return nullptr;
  emu::v1::BarrierToAgent::Hello hello;
  hello.set_lab(lab_.name());
  hello.set_experiment(seq_.result().experiment());
  hello.set_run_id(run_id_);
  hello.set_resume(resume_.has_value());
  for (const std::string& node : seq_.NodesOn(host)) hello.add_nodes(node);
  BarrierLinkCallbacks callbacks;
  callbacks.on_message = [this, host](const emu::v1::AgentToBarrier& msg) {
    Input in{Input::kReport, host, msg, ""};
    in.received = deps_.clock->Now();
    Push(std::move(in));
  };
  callbacks.on_lost = [this, host](const std::string& why) {
    Push({Input::kLost, host, {}, why});
  };
  auto link =
      deps_.links->Open(host, addr->second, hello, std::move(callbacks));
  BarrierLink* raw = link.get();
  links_[host] = std::move(link);
  return raw;
}

void ExperimentRunner::Execute(std::vector<SequencerAction> actions) {
  for (size_t i = 0; i < actions.size(); ++i) {
    SequencerAction& a = actions[i];
    switch (a.kind) {
      case SequencerAction::kApplyLinks: {
        SaveCheckpoint();  // before the change: resumed, it is made again
        absl::Status status;
        for (const auto& change : a.links) {
          for (const auto& host :
               change.set_params ? change.hosts : std::vector<std::string>{}) {
            absl::Status s =
                deps_.link_applier->SetLinkParams(host, change.request);
            if (!s.ok() && status.ok()) {
              status = absl::Status(
                  s.code(), absl::StrCat("host ", host, ": ", s.message()));
            }
          }
          if (!change.up.has_value()) continue;
          for (const auto& end : change.ends) {
            absl::Status s = deps_.link_applier->SetInterfaceUp(
                end.host, lab_.name(), end.node, end.interface, *change.up);
            if (!s.ok() && status.ok()) {
              status = absl::Status(
                  s.code(), absl::StrCat("host ", end.host, ": ", end.node, ":",
                                         end.interface, ": ", s.message()));
            }
          }
        }
        auto more = seq_.LinksApplied(a.generation, status);
        for (auto& m : more) actions.push_back(std::move(m));
        break;
      }
      case SequencerAction::kRelease:
        // Recorded before it goes: a restarted controller knows what the
        // agents may be running. (Its arrival also acknowledges the
        // outcomes of the earlier generations, recorded now.)
        SaveCheckpoint();
        for (const auto& [host, release] : a.releases) {
          BarrierLink* link = LinkTo(host);
          if (link == nullptr) {
            Push({Input::kLost, host, {}, "no agent address known for it"});
            continue;
          }
          emu::v1::BarrierToAgent msg;
          *msg.mutable_release() = release;
          link->Send(msg);
        }
        break;
      case SequencerAction::kCancel:
        for (const auto& host : a.hosts) {
          auto it = links_.find(host);
          if (it == links_.end()) continue;
          emu::v1::BarrierToAgent msg;
          msg.mutable_cancel()->set_generation(a.generation);
          it->second->Send(msg);
        }
        break;
      case SequencerAction::kFinished:
        break;
    }
  }
}

absl::Status ExperimentRunner::Persist() {
  if (deps_.store == nullptr) return absl::OkStatus();
  const auto& r = seq_.result();
  emu::v1::ExperimentRunSummary s;
  s.set_id(run_id_);
  s.set_lab(r.lab());
  s.set_experiment(r.experiment());
  s.set_state(r.state());
  s.set_error(r.error());
  s.set_start_unix_us(r.start_unix_us());
  s.set_end_unix_us(r.end_unix_us());
  // The record carries the generation ceiling that keeps a later run's
  // generations above this one's: worth a few retries (a busy SQLite file).
  absl::Status st;
  absl::Duration backoff = absl::Milliseconds(50);
  for (int attempt = 1; attempt <= kPersistAttempts; ++attempt) {
    st = deps_.store->Put(s, GenerationCeiling());
    if (st.ok()) return st;
    Log("experiment run ", run_id_, ": saving the run record, attempt ",
        attempt, " of ", kPersistAttempts, ": ", st.ToString());
    if (attempt < kPersistAttempts) {
      deps_.clock->SleepUntil(deps_.clock->Now() + backoff);
      backoff *= 2;
    }
  }
  return absl::Status(
      st.code(),
      absl::StrCat("experiment run ", run_id_,
                   ": the run record was not saved: ", st.message()));
}

void ExperimentRunner::MeasureClocks() {
  std::map<std::string, ClockOffsetEstimator> estimators;
  std::map<std::string, uint64_t> sent;  // host -> seq of its probe out
  auto probe = [&](const std::string& host) {
    emu::v1::BarrierToAgent msg;
    msg.mutable_probe()->set_seq(++sent[host]);
    msg.mutable_probe()->set_sent_unix_us(
        absl::ToUnixMicros(deps_.clock->Now()));
    links_[host]->Send(msg);
  };
  for (const auto& [host, link] : links_) {
    estimators[host];
    probe(host);
  }
  std::deque<Input> kept;
  int pending = static_cast<int>(links_.size());
  const absl::Time deadline = absl::Now() + kClockDeadline;
  while (pending > 0 && absl::Now() < deadline) {
    std::deque<Input> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !inputs_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
      batch.swap(inputs_);
    }
    for (auto& in : batch) {
      if (in.kind != Input::kReport || !in.msg.has_time()) {
        if (in.kind == Input::kLost && sent.count(in.host) &&
            sent[in.host] <= kClockProbes) {
          sent[in.host] = kClockProbes + 1;  // no more from it
          --pending;
        }
        kept.push_back(std::move(in));
        continue;
      }
      const auto& t = in.msg.time();
      auto it = sent.find(in.host);
      if (it == sent.end() || t.seq() != it->second ||
          it->second > kClockProbes) {
        continue;  // not the probe out
      }
      estimators[in.host].Add(absl::FromUnixMicros(t.probe_sent_unix_us()),
                              absl::FromUnixMicros(t.received_unix_us()),
                              absl::FromUnixMicros(t.sent_unix_us()),
                              in.received);
      if (it->second < kClockProbes) {
        probe(in.host);
      } else {
        it->second = kClockProbes + 1;
        --pending;
      }
    }
  }
  std::vector<emu::v1::HostClock> clocks;
  for (const auto& [host, e] : estimators) {
    emu::v1::HostClock c;
    c.set_host(host);
    c.set_samples(e.estimate().samples);
    if (e.estimate().samples > 0) {
      c.set_offset_us(absl::ToInt64Microseconds(e.estimate().offset));
      c.set_bound_us(absl::ToInt64Microseconds(e.estimate().bound));
    }
    clocks.push_back(std::move(c));
  }
  seq_.SetHostClocks(clocks);
  absl::MutexLock lock(&mu_);
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    inputs_.push_front(std::move(*it));
  }
}

emu::v1::RunResult ExperimentRunner::Run(const EventFn& on_event) {
  // Streams to every host known up front, so the first release is not
  // delayed by connecting and a dead host shows at once.
  for (const auto& host : seq_.HostsUsed()) {
    if (LinkTo(host) == nullptr) {
      Push({Input::kLost, host, {}, "no agent address known for it"});
    }
  }
  // The run's id on its first and last events: RUN_STARTED names the run
  // (for WatchExperimentRun, CancelExperimentRun), RUN_ENDED's result too.
  auto publish = [&] {
    for (auto& e : seq_.TakeEvents()) {
      if (e.kind() == emu::v1::ExperimentEvent::RUN_ENDED &&
          e.run().state() == emu::v1::RUN_SUCCEEDED) {
        // Late frames during a run that succeeded: in the result (recorded
        // after this) and in the event's text, which emuctl run prints. (A
        // failed or cancelled run is not asked about: it may have lost a
        // host, whose counters would hold its end up to their timeout.)
        for (const auto& w : LateWarnings()) {
          seq_.AddWarning(w);
          e.mutable_run()->add_warnings(w);
          e.set_message(absl::StrCat(e.message(), "\nwarning: ", w));
        }
      }
      if (e.kind() == emu::v1::ExperimentEvent::RUN_STARTED) {
        *e.mutable_run() = seq_.result();
      }
      if (e.kind() == emu::v1::ExperimentEvent::RUN_STARTED ||
          e.kind() == emu::v1::ExperimentEvent::RUN_ENDED) {
        e.mutable_run()->set_id(run_id_);
      }
      on_event(e);
    }
  };
  std::vector<SequencerAction> actions;
  if (resume_.has_value()) {
    absl::Status st;
    for (const auto& a : added_) {
      auto tasks = ParseAddedTasks(a.file_name(), a.content(), seq_.spec());
      if (!tasks.ok()) {
        st = tasks.status();
        break;
      }
      seq_.InsertTasks(*std::move(tasks), a.at());
    }
    actions = seq_.Resume(*resume_);
    if (!st.ok()) {
      actions = seq_.Cancel(absl::StrCat(
          "cannot resume after the controller restarted: Tasks added to the "
          "run: ", st.message()));
    }
    Log("experiment run ", run_id_, ": resumed after a controller restart");
  } else {
    MeasureClocks();
    if (deps_.lab_counters) {
      auto c = deps_.lab_counters();
      if (c.ok()) counters_at_start_ = *std::move(c);
    }
    actions = seq_.Start();
  }
  if (absl::Status st = Persist(); !st.ok()) {
    // Without its record a restarted controller could reuse this run's
    // generations: release nothing.
    actions = seq_.Cancel(std::string(st.message()));
  }
  Execute(std::move(actions));
  publish();

  while (!seq_.finished() && !abandoned_) {
    std::deque<Input> batch;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time deadline = seq_.NextDeadline();
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !inputs_.empty();
      };
      // The clock may be fake in tests: bound each wait so Tick runs.
      absl::Duration wait = deadline == absl::InfiniteFuture()
                                ? absl::Seconds(1)
                                : deadline - deps_.clock->Now();
      if (wait > absl::Seconds(1)) wait = absl::Seconds(1);
      if (wait > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
      }
      batch.swap(inputs_);
    }
    for (auto& in : batch) {
      if (abandoned_) break;
      std::vector<SequencerAction> acts;
      // Once over, only callers waiting for an answer get one.
      if (seq_.finished() && in.kind != Input::kAddTasks) continue;
      switch (in.kind) {
        case Input::kReport: {
          if (!in.msg.has_done()) break;
          auto r = seq_.CommandDone(in.host, in.msg.done());
          if (r.ok()) {
            acts = *std::move(r);
          } else {
            ++stale_reports_;
          }
          break;
        }
        case Input::kLost:
          acts = seq_.HostLost(in.host, in.why);
          break;
        case Input::kCancel:
          acts = seq_.Cancel(in.why);
          break;
        case Input::kAddTasks:
          ApplyAddTasks(in);
          break;
        case Input::kAbandon:
          abandoned_ = true;
          break;
      }
      Execute(std::move(acts));
    }
    if (abandoned_) break;
    Execute(seq_.Tick());
    publish();
  }
  if (abandoned_) {
    // As if this controller died: cut the streams without End.
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    for (auto& [host, link] : links_) link->Abort();
    emu::v1::RunResult result = seq_.result();
    result.set_id(run_id_);
    return result;
  }
  publish();
  // Tasks added too late: the run is over.
  std::deque<Input> left;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    left.swap(inputs_);
  }
  for (auto& in : left) {
    if (in.kind == Input::kAddTasks) {
      in.added(absl::FailedPreconditionError(
          absl::StrCat("experiment run ", run_id_, " has ended")));
    }
  }
  // Recorded as ended first (which drops its checkpoint): a controller that
  // dies from here on does not take up a run the agents have forgotten.
  emu::v1::RunResult result = seq_.result();
  result.set_id(run_id_);
  if (absl::Status st = Persist(); !st.ok()) {
    result.set_error(result.error().empty()
                         ? std::string(st.message())
                         : absl::StrCat(result.error(), "; ", st.message()));
  }
  // End, then half-close, every stream: the agents end whatever is still
  // running and forget the run.
  emu::v1::BarrierToAgent end;
  end.mutable_end();
  for (auto& [host, link] : links_) link->Send(end);
  CloseLinks();
  return result;
}

std::vector<std::string> ExperimentRunner::LateWarnings() {
  if (!counters_at_start_.has_value() || !deps_.lab_counters) return {};
  auto now = deps_.lab_counters();
  if (!now.ok()) return {};
  return LateFrameWarnings(*counters_at_start_, *now);
}

}  // namespace emu::controller::experiment
