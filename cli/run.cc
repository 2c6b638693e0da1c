// `emuctl run LAB EXPERIMENT`: runs a barrier-synchronised experiment
// (docs/experiments.md) once, or many times (--repeat, --param sweeps),
// printing progress per Task and writing one JSON per run and a CSV
// summary. Exits 1 if any run failed. Ctrl-C cancels the run in progress
// (CancelExperimentRun): the controller kills its commands on every node.
// A client that goes away otherwise (killed, connection dropped) leaves the
// run going; `emuctl runs --follow ID` follows it again
// (WatchExperimentRun) with the same output and exit status, and Ctrl-C
// there only detaches.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/grpc_limits.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/run_results.h"
#include "cli/table.h"
#include "cli/wait_ready.h"
#include "common/errno_status.h"
#include "controller/experiment/experiment_spec.h"
#include "grpcpp/grpcpp.h"
#include "proto/experiment.grpc.pb.h"

namespace emu::cli {
namespace {

constexpr int kExitInterrupted = 130;

struct RunArgs {
  std::string lab;
  std::string experiment;
  int repeat = 1;
  std::vector<std::string> params;
  std::string results;
  std::string topology;
  bool quiet = false;
};

// Ctrl-C (SIGINT/SIGTERM): calls the function being watched (cancel the
// run, or detach from it). The handler only writes to a pipe; a thread
// calls the function.
class InterruptWatcher {
 public:
  InterruptWatcher() {
    if (pipe2(fds_, O_CLOEXEC) != 0) return;
    write_fd_.store(fds_[1]);
    struct sigaction sa = {};
    sa.sa_handler = [](int) {
      int fd = write_fd_.load();
      if (fd >= 0) {
        char c = 1;
        (void)!write(fd, &c, 1);
      }
    };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    thread_ = std::thread([this] {
      char c;
      while (read(fds_[0], &c, 1) == 1) {
        if (c == 0) return;  // shutdown
        std::lock_guard<std::mutex> lock(mu_);
        interrupted_ = true;
        if (current_) current_();
      }
    });
  }
  ~InterruptWatcher() {
    if (fds_[1] < 0) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    write_fd_.store(-1);
    char c = 0;
    (void)!write(fds_[1], &c, 1);
    thread_.join();
    close(fds_[0]);
    close(fds_[1]);
  }
  // `on_interrupt` runs on the watcher's thread at Ctrl-C (at once if it
  // came already); null: nothing to do.
  void Watch(std::function<void()> on_interrupt) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(on_interrupt);
    if (interrupted_ && current_) current_();
  }
  bool interrupted() {
    std::lock_guard<std::mutex> lock(mu_);
    return interrupted_;
  }

 private:
  static inline std::atomic<int> write_fd_{-1};
  int fds_[2] = {-1, -1};
  struct sigaction old_int_ = {}, old_term_ = {};
  std::thread thread_;
  std::mutex mu_;
  std::function<void()> current_;
  bool interrupted_ = false;
};

// One run's events as `run` and `runs --follow` print them: one line per
// Task (released, ended with its duration and skew; only failed ones when
// quiet) and the run's end, each with the time since the run started.
class EventPrinter {
 public:
  EventPrinter(std::ostream* out, std::string tag, bool quiet)
      : out_(out), tag_(std::move(tag)), quiet_(quiet) {}

  // Following the run again (reattached after the controller restarted):
  // the Tasks already seen end are not printed again.
  void BeginReplay() { skip_ended_ = tasks_ended_; }

  // Prints `event`; true for RUN_ENDED (result() is then the run's).
  bool Print(const v1::ExperimentEvent& event) {
    if (skip_ended_ > 0) {
      if (event.kind() == v1::ExperimentEvent::TASK_ENDED) --skip_ended_;
      if (event.kind() == v1::ExperimentEvent::TASK_ENDED ||
          event.kind() == v1::ExperimentEvent::TASK_RELEASED ||
          event.kind() == v1::ExperimentEvent::RUN_STARTED) {
        return false;
      }
    }
    if (event.kind() == v1::ExperimentEvent::TASK_ENDED) ++tasks_ended_;
    if (start_us_ == 0) {
      start_us_ = event.kind() == v1::ExperimentEvent::RUN_ENDED &&
                          event.run().start_unix_us() > 0
                      ? event.run().start_unix_us()
                      : event.time_unix_us();
    }
    const std::string when = absl::StrCat(
        "[", FormatElapsed(absl::Microseconds(event.time_unix_us() - start_us_)),
        "] ");
    bool ended = false;
    switch (event.kind()) {
      case v1::ExperimentEvent::RUN_STARTED:
        run_id_ = event.run().id();
        break;
      case v1::ExperimentEvent::TASK_RELEASED:
        if (!quiet_) *out_ << tag_ << when << event.message() << "\n";
        break;
      case v1::ExperimentEvent::TASK_ENDED: {
        const auto& t = event.task();
        std::string extra;
        if (t.status() != v1::TaskResult::SKIPPED && t.commands_size() > 0) {
          extra = absl::StrFormat(
              " (%s, skew %.3f ms)",
              HumanDuration(
                  absl::Microseconds(t.end_unix_us() - t.release_unix_us())),
              t.skew_us() / 1000.0);
        }
        if (!quiet_ || t.status() == v1::TaskResult::FAILED) {
          *out_ << tag_ << when << event.message() << extra << "\n";
        }
        break;
      }
      case v1::ExperimentEvent::TASKS_ADDED:
      case v1::ExperimentEvent::RUN_RESUMED:
        *out_ << tag_ << when << event.message() << "\n";
        break;
      case v1::ExperimentEvent::RUN_ENDED:
        result_ = event.run();
        ended = true;
        *out_ << tag_ << when << event.message() << "\n";
        break;
      default:
        break;
    }
    out_->flush();
    return ended;
  }

  const v1::RunResult& result() const { return result_; }
  // From RUN_STARTED; empty before it.
  const std::string& run_id() const { return run_id_; }

 private:
  std::ostream* const out_;
  const std::string tag_;
  const bool quiet_;
  int64_t start_us_ = 0;
  std::string run_id_;
  v1::RunResult result_;
  int tasks_ended_ = 0;  // TASK_ENDED events seen
  int skip_ended_ = 0;   // ... still to skip in a replay
};

// How long `run` tries to follow its run again after losing the controller
// (it restarts, and resumes the run).
constexpr absl::Duration kReattachWindow = absl::Seconds(90);

// `run` lost its stream mid-run (the controller restarted, or the
// connection dropped): follows run `id` again (WatchExperimentRun), retried
// until kReattachWindow has passed, printing only what was not printed.
// True once RUN_ENDED came; `last` gets the last call's status. Ctrl-C
// cancels the run (CancelExperimentRun, retried until the controller
// answers) and follows it to its CANCELLED end.
bool Reattach(CommandEnv& env, const std::string& id, EventPrinter& printer,
              InterruptWatcher& interrupts, grpc::Status* last) {
  const absl::Time deadline = absl::Now() + kReattachWindow;
  std::mutex mu;
  bool cancelled = false;  // the controller took the cancel
  bool want_cancel = false;
  grpc::ClientContext* current = nullptr;
  // Ctrl-C: stop waiting on this attempt; the loop asks for the cancel.
  interrupts.Watch([&] {
    std::lock_guard<std::mutex> lock(mu);
    want_cancel = true;
    if (current != nullptr) current->TryCancel();
  });
  bool ended = false;
  while (!ended && absl::Now() < deadline) {
    // A new connection each attempt: a restarted controller may listen on
    // another port (a local cluster's is in its cluster file).
    auto conn = env.Connect();
    if (conn.ok()) {
      ControllerConnection& c = **conn;
      auto stub = v1::ExperimentService::NewStub(c.channel());
      bool cancel_now;
      {
        std::lock_guard<std::mutex> lock(mu);
        cancel_now = want_cancel && !cancelled;
      }
      if (cancel_now) {
        v1::CancelExperimentRunRequest req;
        req.set_run_id(id);
        req.set_reason("interrupted: emuctl run got Ctrl-C");
        v1::CancelExperimentRunResponse resp;
        grpc::Status s = stub->CancelExperimentRun(
            c.NewContext(absl::Seconds(5)).get(), req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (s.ok()) cancelled = true;
      }
      bool follow;
      {
        std::lock_guard<std::mutex> lock(mu);
        follow = !want_cancel || cancelled;
      }
      if (follow) {
        printer.BeginReplay();
        auto ctx = c.NewContext(kStreamTimeout);
        {
          std::lock_guard<std::mutex> lock(mu);
          current = ctx.get();
        }
        v1::WatchExperimentRunRequest req;
        req.set_run_id(id);
        auto reader = stub->WatchExperimentRun(ctx.get(), req);
        v1::ExperimentEvent event;
        while (reader->Read(&event)) ended = printer.Print(event) || ended;
        *last = reader->Finish();
        {
          std::lock_guard<std::mutex> lock(mu);
          current = nullptr;
        }
        if (ended) break;
        if (last->error_code() == grpc::StatusCode::NOT_FOUND ||
            last->error_code() == grpc::StatusCode::PERMISSION_DENIED ||
            last->error_code() == grpc::StatusCode::UNAUTHENTICATED) {
          break;
        }
      }
    }
    // The controller is not back yet: a short pause between attempts.
    absl::SleepFor(absl::Milliseconds(500));
  }
  interrupts.Watch(nullptr);
  return ended;
}

// What Ctrl-C does to a `run` in flight: before its RUN_STARTED (no id
// yet) cancel the call, which cancels a run not started; after it, ask the
// controller to cancel the run (CancelExperimentRun) and keep reading its
// end. Thread-safe.
class RunCanceller {
 public:
  RunCanceller(ControllerConnection* c, v1::ExperimentService::Stub* stub,
               grpc::ClientContext* call)
      : c_(c), stub_(stub), call_(call) {}
  void SetRunId(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    run_id_ = id;
  }
  void Cancel() {
    std::string id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = run_id_;
    }
    if (!id.empty()) {
      v1::CancelExperimentRunRequest req;
      req.set_run_id(id);
      req.set_reason("interrupted: emuctl run got Ctrl-C");
      v1::CancelExperimentRunResponse resp;
      grpc::Status s = stub_->CancelExperimentRun(
          c_->NewContext(kUnaryTimeout).get(), req, &resp);
      if (s.ok()) return;
    }
    call_->TryCancel();
  }

 private:
  ControllerConnection* const c_;
  v1::ExperimentService::Stub* const stub_;
  grpc::ClientContext* const call_;
  std::mutex mu_;
  std::string run_id_;
};

absl::Status WriteFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return ErrnoToStatus(errno, absl::StrCat("write ", tmp));
    out << content;
    if (!out.flush()) return ErrnoToStatus(errno, absl::StrCat("write ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", tmp));
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path) {
  std::string sofar;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      sofar = path.substr(0, i);
      if (mkdir(sofar.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoToStatus(errno, absl::StrCat("mkdir ", sofar));
      }
    }
  }
  return absl::OkStatus();
}

std::string ParamText(const std::map<std::string, std::string>& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, " ");
}

// Destroys and deploys the lab again from `topology` with the run's
// parameters substituted.
absl::Status Redeploy(CommandEnv& env, ControllerConnection& c,
                      const RunArgs& args, const std::string& topology,
                      const std::map<std::string, std::string>& params) {
  v1::ValidateTopologyRequest validate;
  SetTopologyFile(args.topology, SubstituteKnown(topology, params),
                  validate.mutable_source()->mutable_file());
  v1::ValidateTopologyResponse validated;
  grpc::Status v = c.stub().ValidateTopology(
      c.NewContext(kUnaryTimeout).get(), validate, &validated);
  if (!v.ok()) return absl::InvalidArgumentError(c.Describe(v, "ValidateTopology"));
  if (ReportRefusal(env, validated)) {
    return absl::InvalidArgumentError(
        absl::StrCat(args.topology, ": topology refused"));
  }
  if (validated.lab() != args.lab) {
    return absl::InvalidArgumentError(absl::StrCat(
        args.topology, ": deploys lab '", validated.lab(),
        "', not ", args.lab, ": give the topology of the lab being run"));
  }
  v1::DestroyLabRequest destroy;
  destroy.set_lab(args.lab);
  auto dctx = c.NewContext(kStreamTimeout);
  auto dreader = c.stub().DestroyLab(dctx.get(), destroy);
  v1::DeployEvent event;
  while (dreader->Read(&event)) {
  }
  grpc::Status s = dreader->Finish();
  if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
    return absl::UnavailableError(c.Describe(s, "DestroyLab"));
  }
  v1::DeployLabRequest deploy;
  *deploy.mutable_source() = validate.source();
  auto ctx = c.NewContext(kStreamTimeout);
  auto reader = c.stub().DeployLab(ctx.get(), deploy);
  v1::LabState state = v1::LAB_STATE_UNSPECIFIED;
  while (reader->Read(&event)) state = event.state();
  s = reader->Finish();
  if (!s.ok()) return absl::FailedPreconditionError(c.Describe(s, "DeployLab"));
  if (state != v1::RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("lab ", args.lab, " is not RUNNING after the redeploy"));
  }
  (void)env;
  return absl::OkStatus();
}

int RunRun(CommandEnv& env, const RunArgs& args) {
  auto content = ReadTopologyFile(args.experiment);
  if (!content.ok()) return env.Fail(content.status());
  // Checked here too, so a bad file fails before anything runs.
  auto spec = controller::experiment::ParseExperiment(args.experiment, *content);
  if (!spec.ok()) return env.Fail(spec.status());
  auto sweep = ParseParams(args.params);
  if (!sweep.ok()) return env.Fail(sweep.status());
  if (args.repeat < 1) return env.Fail("--repeat must be at least 1");
  std::string topology;
  if (spec->reset == "redeploy") {
    if (args.topology.empty()) {
      return env.Fail(absl::StrCat(
          args.experiment,
          ": reset: redeploy needs the lab's topology file: --topology FILE"));
    }
    auto t = ReadTopologyFile(args.topology);
    if (!t.ok()) return env.Fail(t.status());
    topology = *t;
  }
  const std::string dir =
      !args.results.empty()
          ? args.results
          : absl::StrCat("emu-results/", spec->name, "-",
                         absl::FormatTime("%Y%m%dT%H%M%S", absl::Now(),
                                          absl::UTCTimeZone()));
  absl::Status made = MakeDirs(dir);
  if (!made.ok()) return env.Fail(made);

  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  // The controller's own channel: one connection (and one SSH tunnel).
  auto stub = v1::ExperimentService::NewStub(c.channel());

  const std::vector<PlannedRun> planned = PlanSweep(*sweep, args.repeat);
  std::vector<v1::RunResult> results;
  InterruptWatcher interrupts;
  int failed = 0;
  const absl::Time sweep_start = absl::Now();
  for (const PlannedRun& run : planned) {
    if (interrupts.interrupted()) break;
    const std::string tag =
        planned.size() > 1
            ? absl::StrCat("[run ", run.index, "/", planned.size(),
                           run.params.empty() ? "" : " ", ParamText(run.params),
                           "] ")
            : "";
    if (spec->reset == "redeploy") {
      *env.out << tag << "redeploying lab " << args.lab << " from "
               << args.topology << std::endl;
      absl::Status s = Redeploy(env, c, args, topology, run.params);
      if (!s.ok()) {
        env.Fail(s);
        v1::RunResult r;
        r.set_lab(args.lab);
        r.set_experiment(spec->name);
        r.set_state(v1::RUN_FAILED);
        r.set_error(std::string(s.message()));
        for (const auto& [k, v] : run.params) (*r.mutable_params())[k] = v;
        results.push_back(r);
        ++failed;
        absl::Status w = WriteFile(
            absl::StrFormat("%s/run-%04d.json", dir, run.index),
            RunResultJson(run, r));
        if (w.ok()) {
          w = WriteFile(dir + "/summary.csv", SummaryCsv(planned, results));
        }
        if (!w.ok()) return env.Fail(w);
        if (absl::IsInvalidArgument(s)) break;  // every run would fail so
        continue;
      }
    }
    // A lab still converging (just deployed, tunnels reconnecting) is
    // waited for, bounded, instead of failing the run as "not RUNNING".
    absl::Status ready = WaitUntilLabReady(c, args.lab, *env.err);
    if (!ready.ok()) return env.Fail(ready);
    v1::RunExperimentRequest request;
    request.set_lab(args.lab);
    request.set_file_name(args.experiment);
    request.set_content(*content);
    for (const auto& [k, v] : run.params) (*request.mutable_params())[k] = v;
    auto context = c.NewContext(kStreamTimeout);
    RunCanceller canceller(&c, stub.get(), context.get());
    interrupts.Watch([&canceller] { canceller.Cancel(); });
    auto reader = stub->RunExperiment(context.get(), request);
    v1::ExperimentEvent event;
    EventPrinter printer(env.out, tag, args.quiet);
    bool ended = false;
    while (reader->Read(&event)) {
      ended = printer.Print(event) || ended;
      if (event.kind() == v1::ExperimentEvent::RUN_STARTED) {
        canceller.SetRunId(printer.run_id());
      }
    }
    grpc::Status s = reader->Finish();
    interrupts.Watch(nullptr);
    if (!ended && !interrupts.interrupted() && !printer.run_id().empty()) {
      // The stream broke mid-run: the controller restarted (it resumes the
      // run) or the connection dropped. Follow the run again.
      *env.err << tag << "emuctl: lost the controller ("
               << c.Describe(s, "RunExperiment") << "); following run "
               << printer.run_id() << " again (Ctrl-C stops it)" << std::endl;
      grpc::Status watched;
      ended = Reattach(env, printer.run_id(), printer, interrupts, &watched);
    }
    v1::RunResult result = printer.result();
    if (!ended) {
      result.set_lab(args.lab);
      result.set_experiment(spec->name);
      result.set_state(interrupts.interrupted() ? v1::RUN_CANCELLED
                                                : v1::RUN_FAILED);
      result.set_error(interrupts.interrupted()
                           ? "interrupted: the controller stopped the run's "
                             "commands on every node"
                           : c.Describe(s, "RunExperiment"));
      if (!interrupts.interrupted() && !printer.run_id().empty()) {
        // The stream broke mid-run (connection or SSH tunnel dropped): the
        // run goes on on the controller.
        result.set_id(printer.run_id());
        result.set_error(absl::StrCat(
            "lost the run's stream (", result.error(), "); run ",
            printer.run_id(),
            " goes on on the controller: follow it with `emuctl runs "
            "--follow ",
            printer.run_id(), "`"));
      }
      env.Fail(absl::StrCat(tag, result.error()));
    }
    for (const auto& [k, v] : run.params) (*result.mutable_params())[k] = v;
    if (result.state() != v1::RUN_SUCCEEDED) ++failed;
    results.push_back(result);
    absl::Status w = WriteFile(absl::StrFormat("%s/run-%04d.json", dir, run.index),
                               RunResultJson(run, result));
    if (w.ok()) w = WriteFile(dir + "/summary.csv", SummaryCsv(planned, results));
    if (!w.ok()) return env.Fail(w);
    if (!s.ok() && (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                    s.error_code() == grpc::StatusCode::NOT_FOUND ||
                    s.error_code() == grpc::StatusCode::FAILED_PRECONDITION)) {
      break;  // every other run would fail the same way
    }
  }
  *env.out << results.size() << " run" << (results.size() == 1 ? "" : "s")
           << ": " << results.size() - failed << " succeeded, " << failed
           << " failed (" << HumanDuration(absl::Now() - sweep_start)
           << "); results in " << dir << "/" << std::endl;
  if (interrupts.interrupted()) return kExitInterrupted;
  return failed == 0 && results.size() == planned.size() ? kExitOk
                                                         : kExitFailure;
}

// `runs --follow ID --add FILE`: what to add to the run before following.
struct AddArgs {
  std::string file;  // empty: nothing
  bool after_current = false;
};

// `runs --follow ID`: the run's events so far, then live, to its end;
// with --add, first the file's Tasks are added to the run.
int FollowRun(CommandEnv& env, const std::string& id, bool quiet,
              const AddArgs& add) {
  std::string add_content;
  if (!add.file.empty()) {
    auto content = ReadTopologyFile(add.file);
    if (!content.ok()) return env.Fail(content.status());
    add_content = *std::move(content);
  }
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  auto stub = v1::ExperimentService::NewStub(c.channel());
  if (!add.file.empty()) {
    v1::AddTasksRequest req;
    req.set_run_id(id);
    req.set_file_name(add.file);
    req.set_content(add_content);
    req.set_after_current(add.after_current);
    v1::AddTasksResponse resp;
    grpc::Status s =
        stub->AddTasks(c.NewContext(kUnaryTimeout).get(), req, &resp);
    if (!s.ok()) return env.Fail(c.Describe(s, "AddTasks"));
    *env.out << "added to run " << id << ": "
             << absl::StrJoin(resp.tasks(), ", ") << std::endl;
  }
  v1::WatchExperimentRunRequest request;
  request.set_run_id(id);
  auto context = c.NewContext(kStreamTimeout);
  InterruptWatcher interrupts;
  interrupts.Watch([call = context.get()] { call->TryCancel(); });
  auto reader = stub->WatchExperimentRun(context.get(), request);
  v1::ExperimentEvent event;
  EventPrinter printer(env.out, "", quiet);
  bool ended = false;
  while (reader->Read(&event)) ended = printer.Print(event) || ended;
  grpc::Status s = reader->Finish();
  interrupts.Watch(nullptr);
  if (ended) {
    return printer.result().state() == v1::RUN_SUCCEEDED ? kExitOk
                                                         : kExitFailure;
  }
  if (interrupts.interrupted()) {
    *env.err << "emuctl: detached from run " << id
             << "; it goes on on the controller (emuctl runs --follow " << id
             << ")" << std::endl;
    return kExitInterrupted;
  }
  return env.Fail(c.Describe(s, "WatchExperimentRun"));
}

int RunRuns(CommandEnv& env) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  auto stub = v1::ExperimentService::NewStub(c.channel());
  v1::ListExperimentRunsResponse runs;
  grpc::Status s = stub->ListExperimentRuns(c.NewContext(kUnaryTimeout).get(),
                                            {}, &runs);
  if (!s.ok()) return env.Fail(c.Describe(s, "ListExperimentRuns"));
  Table table({"RUN", "LAB", "EXPERIMENT", "STATE", "STARTED", "DURATION",
               "ERROR"});
  for (const auto& r : runs.runs()) {
    std::string state = v1::RunState_Name(r.state());
    if (absl::StartsWith(state, "RUN_")) state = state.substr(4);
    table.AddRow(
        {r.id(), r.lab(), r.experiment(), state,
         absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixMicros(r.start_unix_us()),
                          absl::UTCTimeZone()),
         r.end_unix_us() > 0
             ? HumanDuration(absl::Microseconds(r.end_unix_us() -
                                                r.start_unix_us()))
             : "-",
         r.error()});
  }
  *env.out << table.Render() << std::flush;
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, CommandEnv& env) {
  auto* runs = app.add_subcommand(
      "runs", "List the experiment runs the controller recorded");
  auto follow = std::make_shared<std::string>();
  auto follow_quiet = std::make_shared<bool>(false);
  runs->add_option("--follow", *follow,
                   "Follow run ID (from `emuctl runs`) to its end");
  runs->add_flag("-q,--quiet", *follow_quiet,
                 "With --follow: print only failed Tasks and the end");
  auto add = std::make_shared<AddArgs>();
  runs->add_option("--add", add->file,
                   "With --follow: first add the Tasks of FILE (a YAML file "
                   "with only `tasks:`) to the run, at its end");
  runs->add_flag("--after-current", add->after_current,
                 "With --add: insert them right after the running Task");
  runs->footer(
      "Newest first, also across controller restarts: a run cut by a\n"
      "restart shows FAILED with the reason.\n\n"
      "--follow ID reattaches to a run, e.g. after the `emuctl run` that\n"
      "started it was killed or lost its connection (the run goes on on the\n"
      "controller): prints the Tasks done so far, then each Task as it\n"
      "ends, as `run` does, and exits as `run` would have: 0 if the run\n"
      "succeeded, 1 otherwise. Ctrl-C only detaches (exit 130): the run\n"
      "goes on. It writes no results directory; the run's full record is in\n"
      "the last event (see docs/experiments.md).\n\n"
      "--follow ID --add FILE [--after-current] adds Tasks to a run in\n"
      "progress (checked like an experiment file, names and gotos against\n"
      "the run's own), then follows it. Needs the operator role on the lab.");
  runs->callback([&env, follow, follow_quiet, add] {
    if (follow->empty() && (!add->file.empty() || add->after_current)) {
      env.exit_code = env.Fail("--add and --after-current need --follow ID");
      return;
    }
    env.exit_code = follow->empty()
                        ? RunRuns(env)
                        : FollowRun(env, *follow, *follow_quiet, *add);
  });

  auto* cmd = app.add_subcommand(
      "run", "Run a barrier-synchronised experiment on a deployed lab");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("lab", args->lab, "Lab name")->required();
  cmd->add_option("experiment", args->experiment, "Experiment file (YAML)")
      ->required();
  cmd->add_option("--repeat", args->repeat,
                  "Run every parameter combination this many times")
      ->capture_default_str();
  cmd->add_option("--param", args->params,
                  "NAME=V1,V2,...: sweep ${NAME} over these values "
                  "(repeatable; every combination runs)");
  cmd->add_option("--results", args->results,
                  "Directory for run-NNNN.json and summary.csv (default "
                  "emu-results/EXPERIMENT-TIME)");
  cmd->add_option("--topology", args->topology,
                  "The lab's topology file, for experiments with "
                  "`reset: redeploy` (${NAME} substituted per run)");
  cmd->add_flag("-q,--quiet", args->quiet,
                "Print only failed Tasks and the end of each run");
  cmd->footer(
      "Prints one line per Task (released, passed/FAILED with its duration\n"
      "and start skew) and writes every run's full record (each command's\n"
      "output, exit status, start and end, each Task's skew) as JSON, plus\n"
      "summary.csv with one row per run. Exits 0 if every run succeeded, 1\n"
      "otherwise, 130 after Ctrl-C (which stops the run's commands on every\n"
      "node). If emuctl is killed or its connection drops, the run goes on\n"
      "on the controller: `emuctl runs --follow ID` follows it again. If the\n"
      "controller restarts (it resumes the run), run follows it again by\n"
      "itself for up to 90 s, and Ctrl-C still stops it.\n"
      "The format: docs/experiments.md.\n\n"
      "Examples:\n"
      "  emuctl run quickstart examples/experiments/quickstart-iperf.yaml\n"
      "  emuctl run quickstart examples/experiments/quickstart-iperf.yaml \\\n"
      "      --repeat 3 --param rate=10mbit,50mbit --results out/");
  cmd->callback([&env, args] { env.exit_code = RunRun(env, *args); });
}

}  // namespace emu::cli
