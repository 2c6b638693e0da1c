// The barrier's own cost: Tasks of `true` on one node per agent, against
// the number of agents. Prints, per agent count:
//   round     time from one Task's release to the next one's (p50/p99)
//   overhead  round minus the longest command's own run time as its agent
//             measured it (p50/p99): what the barrier adds
//   skew      spread of the commands' actual start times in a Task (p50/p99)
//   tasks/s   Tasks completed per second
//   clk99     the largest error bound of a host's clock offset estimate
//             (the controller's NTP-style probes over the barrier stream)
//
//   bazel run -c opt //bench:barrier_bench -- --agents=1,4,16,64 --tasks=300
//
// BARRIER_BENCH_DETAIL=1 adds a line per agent count: the start margin, how
// late after the instant the last command started, and the time from the
// last command's end to the next release.
//
// First it prints what the machine itself allows, measured here and now:
// the load average (/proc/loadavg), the wall time of one process life
// (fork + exec of `true` + waitpid: what every Task costs per host at
// least) and the wake-up latency of an absolute CLOCK_REALTIME
// clock_nanosleep (how late after its instant a sleeping process runs:
// what the start skew cannot go below), under SCHED_FIFO when allowed as
// the executors use it, else SCHED_OTHER (cyclictest's measurement).
//
// Each agent is a separate process (this program re-run with
// --serve_agent) serving BarrierAgentService on a loopback port and running
// commands in its own namespace; the controller side is the real
// ExperimentRunner in this process. No root needed; the agent processes are
// started and ended here, by pid.
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/barrier/barrier_session.h"
#include "common/process_launcher.h"
#include "common/server_util.h"
#include "controller/experiment/experiment_runner.h"

ABSL_FLAG(std::string, agents, "1,4,16,64", "Agent counts to measure.");
ABSL_FLAG(int, tasks, 300, "Tasks per agent count (the first 10 warm up).");
ABSL_FLAG(std::string, serve_agent, "",
          "Internal: serve one agent, writing its port to this file.");

namespace {

int ServeAgent(const std::string& port_file) {
  setenv("GRPC_ENABLE_FORK_SUPPORT", "false", 0);  // as emu-agent does
  emu::BlockTerminationSignals();
  emu::PosixProcessLauncher launcher;
  (void)emu::PosixProcessLauncher::StartPrepareServer();  // as emu-agent does
  emu::agent::barrier::HostTaskCommandRunner runner(&launcher);
  emu::agent::barrier::BarrierAgentServiceImpl service("bench", "", &runner);
  int port = 0;
  auto server = emu::StartServer("127.0.0.1:0", {&service},
                                 emu::TransportSecurity::Plaintext(),
                                 port_file, &port);
  if (!server.ok()) {
    std::fprintf(stderr, "agent: %s\n", server.status().ToString().c_str());
    return 1;
  }
  emu::WaitForTerminationSignal();
  (*server)->Shutdown(absl::ToChronoTime(absl::Now()));
  return 0;
}

class NoLinks : public emu::controller::experiment::LinkApplier {
 public:
  absl::Status SetLinkParams(const std::string&,
                             const emu::v1::SetLinkParamsRequest&) override {
    return absl::OkStatus();
  }
  absl::Status SetInterfaceUp(const std::string&, const std::string&,
                              const std::string&, const std::string&,
                              bool) override {
    return absl::OkStatus();
  }
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Agents {
  std::vector<pid_t> pids;
  std::map<std::string, std::string> addresses;
  ~Agents() {
    for (pid_t pid : pids) kill(pid, SIGTERM);
    for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  }
};

bool StartAgents(int n, Agents* agents) {
  const std::string dir = absl::StrCat("/tmp/emu-barrier-bench.", getpid());
  mkdir(dir.c_str(), 0700);
  for (int i = 0; i < n; ++i) {
    const std::string port_file = absl::StrCat(dir, "/port", i);
    unlink(port_file.c_str());
    pid_t pid = fork();
    if (pid == 0) {
      const std::string flag = absl::StrCat("--serve_agent=", port_file);
      execl("/proc/self/exe", "barrier_bench", flag.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    agents->pids.push_back(pid);
    std::string port;
    for (int t = 0; t < 500 && port.empty(); ++t) {
      std::ifstream in(port_file);
      std::getline(in, port);
      if (port.empty()) absl::SleepFor(absl::Milliseconds(10));
    }
    if (port.empty()) {
      std::fprintf(stderr, "agent %d did not start\n", i);
      return false;
    }
    unlink(port_file.c_str());
    agents->addresses[absl::StrCat("h", i)] = absl::StrCat("127.0.0.1:", port);
  }
  rmdir(dir.c_str());
  return true;
}

void Measure(int n, int tasks) {
  Agents agents;
  if (!StartAgents(n, &agents)) return;
  emu::v1::Lab lab;
  lab.set_name("bench");
  std::string yaml = absl::StrCat("experiment: barrier-bench\nmax_steps: ",
                                  tasks + 1, "\ntasks:\n");
  for (int t = 0; t < tasks; ++t) {
    absl::StrAppend(&yaml, "  - commands:\n");
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&yaml, "      - {node: n", i, ", argv: [true]}\n");
    }
  }
  for (int i = 0; i < n; ++i) {
    auto* node = lab.add_nodes();
    node->set_name(absl::StrCat("n", i));
    node->set_host(absl::StrCat("h", i));
  }
  auto spec = emu::controller::experiment::ParseExperiment("bench.yaml", yaml);
  if (!spec.ok()) {
    std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
    return;
  }
  emu::RealClock clock;
  emu::controller::experiment::GrpcBarrierLinkFactory factory(
      "", emu::TransportSecurity::Plaintext());
  NoLinks links;
  emu::controller::experiment::ExperimentRunner runner(
      "bench", *spec, lab, agents.addresses, {}, 0,
      {&clock, &factory, &links, nullptr});
  auto result = runner.Run([](const emu::v1::ExperimentEvent&) {});
  if (result.state() != emu::v1::RUN_SUCCEEDED) {
    std::fprintf(stderr, "run failed: %s\n", result.error().c_str());
    return;
  }
  std::vector<double> round, overhead, skew, margin, late, tail;
  const int warmup = std::min(10, tasks / 10);
  for (int t = warmup; t + 1 < result.tasks_size(); ++t) {
    const auto& task = result.tasks(t);
    double r = result.tasks(t + 1).release_unix_us() - task.release_unix_us();
    int64_t longest = 0;
    for (const auto& c : task.commands()) {
      longest = std::max(longest, c.end_unix_us() - c.start_unix_us());
    }
    int64_t last_start = 0, last_end = 0;
    for (const auto& c : task.commands()) {
      last_start = std::max(last_start, c.start_unix_us());
      last_end = std::max(last_end, c.end_unix_us());
    }
    margin.push_back(
        (task.planned_start_unix_us() - task.release_unix_us()) / 1000.0);
    late.push_back((last_start - task.planned_start_unix_us()) / 1000.0);
    tail.push_back(
        (result.tasks(t + 1).release_unix_us() - last_end) / 1000.0);
    round.push_back(r / 1000.0);
    overhead.push_back((r - longest) / 1000.0);
    skew.push_back(task.skew_us() / 1000.0);
  }
  const double span_s =
      (result.tasks(result.tasks_size() - 1).release_unix_us() -
       result.tasks(warmup).release_unix_us()) /
      1e6;
  std::vector<double> bounds;
  for (const auto& c : result.host_clocks()) {
    bounds.push_back(c.bound_us() / 1000.0);
  }
  std::printf("%6d %8.3f %8.3f %9.3f %9.3f %8.3f %8.3f %9.0f %8.3f\n", n,
              Pct(round, 0.5), Pct(round, 0.99), Pct(overhead, 0.5),
              Pct(overhead, 0.99), Pct(skew, 0.5), Pct(skew, 0.99),
              (result.tasks_size() - 1 - warmup) / span_s, Pct(bounds, 0.99));
  if (getenv("BARRIER_BENCH_DETAIL") != nullptr) {
    std::printf("       margin p50 %.3f, last start after instant p50 %.3f "
                "p99 %.3f, last end to next release p50 %.3f p99 %.3f\n",
                Pct(margin, 0.5), Pct(late, 0.5), Pct(late, 0.99),
                Pct(tail, 0.5), Pct(tail, 0.99));
  }
  std::fflush(stdout);
}

// What the machine allows (see the file comment); times in ms.
void MeasureMachine() {
  std::ifstream loadavg("/proc/loadavg");
  std::string l1, l5, l15;
  loadavg >> l1 >> l5 >> l15;
  std::vector<double> life;
  for (int i = 0; i < 200; ++i) {
    const absl::Time t0 = absl::Now();
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", nullptr);
      _exit(127);
    }
    if (pid < 0) break;
    int status = 0;
    waitpid(pid, &status, 0);
    life.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  // Wake-up latency: 1000 absolute sleeps 1 ms apart, as a start instant.
  struct sched_param rt = {};
  rt.sched_priority = 1;
  const bool fifo = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
  std::vector<double> wake;
  for (int i = 0; i < 1000; ++i) {
    const absl::Time at = absl::Now() + absl::Milliseconds(1);
    const struct timespec ts = absl::ToTimespec(at);
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) != 0) {
    }
    wake.push_back(absl::ToDoubleMilliseconds(absl::Now() - at));
  }
  if (fifo) {
    struct sched_param normal = {};
    sched_setscheduler(0, SCHED_OTHER, &normal);
  }
  std::printf("machine: load average %s %s %s; process life (fork+exec "
              "true+wait) p50 %.3f p99 %.3f; wake-up latency (%s) p50 %.3f "
              "p99 %.3f max %.3f (ms)\n",
              l1.c_str(), l5.c_str(), l15.c_str(), Pct(life, 0.5),
              Pct(life, 0.99), fifo ? "SCHED_FIFO" : "SCHED_OTHER",
              Pct(wake, 0.5), Pct(wake, 0.99), Pct(wake, 1.0));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_serve_agent).empty()) {
    return ServeAgent(absl::GetFlag(FLAGS_serve_agent));
  }
  MeasureMachine();
  std::printf("barrier round / overhead / start skew, Tasks of `true` on one "
              "node per agent, %d Tasks each (ms)\n",
              absl::GetFlag(FLAGS_tasks));
  std::printf("%6s %8s %8s %9s %9s %8s %8s %9s %8s\n", "agents", "round50",
              "round99", "overh50", "overh99", "skew50", "skew99", "tasks/s",
              "clk99");
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_agents), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) continue;
    Measure(n, absl::GetFlag(FLAGS_tasks));
  }
  return 0;
}
