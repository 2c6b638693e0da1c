// `emuctl run LAB EXPERIMENT`: runs a barrier-synchronised experiment
// (docs/experiments.md) once, or many times (--repeat, --param sweeps),
// printing progress per Task and writing one JSON per run and a CSV
// summary. Exits 1 if any run failed. Ctrl-C cancels the run in progress:
// the controller kills its commands on every node.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
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

// Ctrl-C (SIGINT/SIGTERM) while a run is in flight cancels its call. The
// handler only writes to a pipe; a thread does the cancelling.
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
        if (current_ != nullptr) current_->TryCancel();
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
  void Watch(grpc::ClientContext* context) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = context;
    if (interrupted_ && context != nullptr) context->TryCancel();
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
  grpc::ClientContext* current_ = nullptr;
  bool interrupted_ = false;
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
    interrupts.Watch(context.get());
    auto reader = stub->RunExperiment(context.get(), request);
    v1::ExperimentEvent event;
    v1::RunResult result;
    bool ended = false;
    const absl::Time start = absl::Now();
    while (reader->Read(&event)) {
      const std::string when =
          absl::StrCat("[", FormatElapsed(absl::Now() - start), "] ");
      switch (event.kind()) {
        case v1::ExperimentEvent::TASK_RELEASED:
          if (!args.quiet) *env.out << tag << when << event.message() << "\n";
          break;
        case v1::ExperimentEvent::TASK_ENDED: {
          const auto& t = event.task();
          std::string extra;
          if (t.status() != v1::TaskResult::SKIPPED &&
              t.commands_size() > 0) {
            extra = absl::StrFormat(
                " (%s, skew %.3f ms)",
                HumanDuration(absl::Microseconds(t.end_unix_us() -
                                                 t.release_unix_us())),
                t.skew_us() / 1000.0);
          }
          if (!args.quiet || t.status() == v1::TaskResult::FAILED) {
            *env.out << tag << when << event.message() << extra << "\n";
          }
          break;
        }
        case v1::ExperimentEvent::RUN_ENDED:
          result = event.run();
          ended = true;
          *env.out << tag << when << event.message() << "\n";
          break;
        default:
          break;
      }
      env.out->flush();
    }
    grpc::Status s = reader->Finish();
    interrupts.Watch(nullptr);
    if (!ended) {
      result.set_lab(args.lab);
      result.set_experiment(spec->name);
      result.set_state(interrupts.interrupted() ? v1::RUN_CANCELLED
                                                : v1::RUN_FAILED);
      result.set_error(interrupts.interrupted()
                           ? "interrupted: the controller stopped the run's "
                             "commands on every node"
                           : c.Describe(s, "RunExperiment"));
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
  runs->footer(
      "Newest first, also across controller restarts: a run cut by a\n"
      "restart shows FAILED with the reason.");
  runs->callback([&env] { env.exit_code = RunRuns(env); });

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
      "node). The format: docs/experiments.md.\n\n"
      "Examples:\n"
      "  emuctl run quickstart examples/experiments/quickstart-iperf.yaml\n"
      "  emuctl run quickstart examples/experiments/quickstart-iperf.yaml \\\n"
      "      --repeat 3 --param rate=10mbit,50mbit --results out/");
  cmd->callback([&env, args] { env.exit_code = RunRun(env, *args); });
}

}  // namespace emu::cli
