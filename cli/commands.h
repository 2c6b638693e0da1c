// emuctl's verbs: each verb file adds one CLI11 subcommand whose callback
// runs the verb and stores its exit status in CommandEnv. The verbs write
// only to the streams in CommandEnv, so tests can run them in-process.
#ifndef EMU_CLI_COMMANDS_H_
#define EMU_CLI_COMMANDS_H_

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/connection.h"

namespace emu::cli {

// Exit statuses (see `emuctl --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // the RPC or the operation failed
inline constexpr int kExitUsage = 2;       // bad command line
inline constexpr int kExitTimedOut = 124;  // exec: the command timed out

// Deadlines of calls to the controller.
inline constexpr absl::Duration kUnaryTimeout = absl::Seconds(30);
inline constexpr absl::Duration kStreamTimeout = absl::Minutes(30);
// exec: how much longer than the command's own timeout the RPC may take.
inline constexpr absl::Duration kExecGrace = absl::Seconds(30);

// What every verb shares. Not thread-safe; one per emuctl run.
struct CommandEnv {
  ConnectionFlags connection;
  std::string env_cluster;              // $EMU_CLUSTER
  ConnectionEnv connection_env;         // $EMU_CLUSTER, $EMU_SSH, remotes
  ProcessLauncher* launcher = nullptr;  // starts ssh for --ssh
  std::string self_exe;        // /proc/self/exe, to find emu-agent & co.
  std::string path_env;        // $PATH
  bool color = false;          // highlight warnings (stdout is a terminal)
  std::istream* in = nullptr;  // exec --stdin reads this
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  int exit_code = kExitOk;

  // Prints "emuctl: <message>" on err and returns kExitFailure.
  int Fail(absl::string_view message) const;
  int Fail(const absl::Status& status) const { return Fail(status.message()); }

  // Resolves the controller (flags, SSH gateway, cluster file) and opens a
  // channel, through an SSH tunnel when asked (see OpenConnection).
  absl::StatusOr<std::unique_ptr<ControllerConnection>> Connect() const;
};

void AddUpCommand(CLI::App& app, CommandEnv& env);
void AddApplyCommand(CLI::App& app, CommandEnv& env);
void AddValidateCommand(CLI::App& app, CommandEnv& env);
void AddStatusCommand(CLI::App& app, CommandEnv& env);
void AddExecCommand(CLI::App& app, CommandEnv& env);
// `capture` (capture.cc) and `stats` (stats.cc): docs/observability.md.
void AddCaptureCommand(CLI::App& app, CommandEnv& env);
void AddStatsCommand(CLI::App& app, CommandEnv& env);
void AddConsoleCommand(CLI::App& app, CommandEnv& env);
void AddRestartCommand(CLI::App& app, CommandEnv& env);
// `link set` (link.cc).
void AddLinkCommand(CLI::App& app, CommandEnv& env);
// `linktest` (linktest.cc): configured versus measured link conditions.
void AddLinktestCommand(CLI::App& app, CommandEnv& env);
void AddDownCommand(CLI::App& app, CommandEnv& env);
void AddHostsCommand(CLI::App& app, CommandEnv& env);
void AddLocalCommand(CLI::App& app, CommandEnv& env);
void AddRunCommand(CLI::App& app, CommandEnv& env);
void AddPlanCommand(CLI::App& app, CommandEnv& env);
void AddRemoteCommand(CLI::App& app, CommandEnv& env);
void AddClusterCommand(CLI::App& app, CommandEnv& env);
void AddUserCommand(CLI::App& app, CommandEnv& env);
// `share` and `unshare`.
void AddShareCommands(CLI::App& app, CommandEnv& env);
// `graph` (graph.cc).
void AddGraphCommand(CLI::App& app, CommandEnv& env);
// `plot` (plot.cc): a sweep's summary.csv drawn by gnuplot.
void AddPlotCommand(CLI::App& app, CommandEnv& env);
// `image ls|build` (image.cc).
void AddImageCommand(CLI::App& app, CommandEnv& env);
// `community ls`.
void AddCommunityCommand(CLI::App& app, CommandEnv& env);
// `cluster add` and `cluster remove` (cluster_host.cc).
void AddClusterHostCommands(CLI::App& cluster, CommandEnv& env);

// Prints a ValidateTopology answer's errors on env.err (the first
// kMaxProblemsShown, then how many more) and returns true when the topology
// is refused; false (nothing printed) when it is valid.
bool ReportRefusal(CommandEnv& env,
                   const v1::ValidateTopologyResponse& response);

// Reads a topology file for upload. Errors name the path; a file larger
// than a message may carry (kMaxMessageBytes) is refused here.
absl::StatusOr<std::string> ReadTopologyFile(const std::string& path);

// Fills `file` for upload: its name, content, and the values (from this
// process's environment) of the ${NAME} variables the content names, which
// the controller expands with (controller/topology/env_subst.h).
void SetTopologyFile(const std::string& path, const std::string& content,
                     v1::TopologyFile* file);

// Looks variables up in this process's environment.
std::optional<std::string> ProcessEnv(const std::string& name);

}  // namespace emu::cli

#endif  // EMU_CLI_COMMANDS_H_
