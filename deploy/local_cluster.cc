#include "deploy/local_cluster.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/net/host_cleanup.h"
#include "common/auth.h"
#include "common/pki/pki.h"
#include "common/transport_security.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace emu::deploy {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kProbeTimeout = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kStopGrace = absl::Seconds(5);
constexpr absl::Duration kDestroyTimeout = absl::Minutes(5);
constexpr int kLogTailLines = 20;

// How long `local start` and `local stop` wait for the lock: the cluster's
// own supervisor holds it for a moment on each of its rounds (and while it
// restarts a daemon), which is not "another start/stop".
constexpr absl::Duration kLockWait = absl::Seconds(15);

// Holds an exclusive flock on <state_root>/.<id>.lock while alive.
class ClusterLock {
 public:
  // Waits up to `wait` for a holder to let go (0: one try).
  static absl::StatusOr<std::unique_ptr<ClusterLock>> Acquire(
      absl::string_view state_root, absl::string_view id,
      absl::Duration wait = absl::ZeroDuration()) {
    std::error_code ec;
    fs::create_directories(std::string(state_root), ec);
    if (ec) {
      return ErrnoToStatus(ec.value(),
                           absl::StrCat("create state root ", state_root));
    }
    const std::string path =
        absl::StrCat(absl::StripSuffix(state_root, "/"), "/.", id, ".lock");
    const absl::Time give_up = absl::Now() + wait;
    // A stop removes the file while it holds the lock: a lock taken on a
    // file that is no longer at `path` is worthless, so open it again.
    while (true) {
      absl::StatusOr<int> fd = LockAt(path, id, give_up);
      if (!fd.ok()) return fd.status();
      struct stat held, now;
      if (fstat(*fd, &held) == 0 && stat(path.c_str(), &now) == 0 &&
          held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
        return std::unique_ptr<ClusterLock>(new ClusterLock(*fd, path));
      }
      close(*fd);
    }
  }
  ~ClusterLock() { close(fd_); }  // releases the flock
  // Removes the lock file (held: whoever waits on it opens it again).
  void Remove() { unlink(path_.c_str()); }

 private:
  ClusterLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  // The locked descriptor of `path`, waiting for a holder until `give_up`.
  static absl::StatusOr<int> LockAt(const std::string& path,
                                    absl::string_view id, absl::Time give_up) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open lock ", path));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            "local cluster \"", id,
            "\": another `emuctl local start/stop` is working on it (lock ",
            path, ")"));
      }
      return ErrnoToStatus(err, absl::StrCat("lock ", path));
    }
    return fd;
  }
  int fd_;
  std::string path_;
};

std::string StopHint(absl::string_view id) {
  return id == kDefaultClusterId
             ? std::string("emuctl local stop")
             : absl::StrCat("emuctl local stop --name ", id);
}

std::string WithLogTail(absl::string_view message, const std::string& log) {
  std::string tail = TailOfFile(log, kLogTailLines);
  if (tail.empty()) return absl::StrCat(message, " (log ", log, " is empty)");
  std::string out = absl::StrCat(message, "; last lines of ", log, ":");
  for (absl::string_view line : absl::StrSplit(tail, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "\n  | ", line);
  }
  return out;
}

absl::Status MakeDir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    return ErrnoToStatus(ec.value(), absl::StrCat("create directory ", path));
  return absl::OkStatus();
}

absl::Status WriteSecretFile(const std::string& path,
                             absl::string_view content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create ", path));
  // The umask cannot widen 0600, but an inherited ACL default might.
  if (fchmod(fd, 0600) != 0) {
    int err = errno;
    close(fd);
    return ErrnoToStatus(err, absl::StrCat("chmod 600 ", path));
  }
  std::string data(content);
  ssize_t n = write(fd, data.data(), data.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(data.size())) {
    return ErrnoToStatus(n < 0 ? err : EIO, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

// The port in a port file: "40123", "40123\n" or "127.0.0.1:40123".
std::optional<int> ReadPortFile(const std::string& path) {
  std::ifstream in(path);
  std::string content;
  if (!in || !std::getline(in, content)) return std::nullopt;
  absl::string_view text = absl::StripAsciiWhitespace(content);
  size_t colon = text.rfind(':');
  if (colon != absl::string_view::npos) text = text.substr(colon + 1);
  int port = 0;
  if (!absl::SimpleAtoi(text, &port) || port <= 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// `emuctl local supervise --name ID --state-root ROOT` of the cluster whose
// state dir is `dir`.
bool IsSupervisorArgv(const std::vector<std::string>& argv,
                      const std::string& dir) {
  if (std::find(argv.begin(), argv.end(), "supervise") == argv.end()) {
    return false;
  }
  std::string id, root;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--name") id = argv[i + 1];
    if (argv[i] == "--state-root") root = argv[i + 1];
  }
  return !id.empty() && !root.empty() && ClusterStateDir(root, id) == dir;
}

bool IsRetryableProbeError(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

// A new CA in <dir>/pki (whatever a dead cluster of this id left there is
// replaced), the controller's certificate and one per agent, for its host
// name and address.
absl::Status CreateClusterPki(const LocalClusterLayout& layout) {
  std::error_code ec;
  std::filesystem::remove_all(layout.pki_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("remove old ", layout.pki_dir, ": ", ec.message()));
  }
  EMU_RETURN_IF_ERROR(
      common::pki::InitCluster(layout.pki_dir, layout.id, {}));
  for (const LocalHostLayout& h : layout.hosts) {
    EMU_RETURN_IF_ERROR(
        common::pki::IssueAgent(layout.pki_dir, h.name, {h.address}));
  }
  return absl::OkStatus();
}

// The daemons' transport flag for a cluster as recorded.
std::string TransportFlag(const ClusterFile& record) {
  return record.pki_dir.empty() ? "--insecure_plaintext"
                                : absl::StrCat("--pki_dir=", record.pki_dir);
}

// What the cluster's own calls present: the token and the controller's
// certificate (the only one agents accept), or plain text.
absl::StatusOr<ClusterAuth> LoadClusterAuth(const std::string& token,
                                            const ClusterFile& record) {
  ClusterAuth auth;
  auth.token = token;
  EMU_ASSIGN_OR_RETURN(
      auth.transport,
      LoadDaemonTransport(record.pki_dir, common::pki::Role::kController, "",
                          /*insecure_plaintext=*/record.pki_dir.empty()));
  return auth;
}

}  // namespace

bool LocalClusterStatus::all_running() const {
  if (daemons.empty()) return false;
  for (const DaemonStatus& d : daemons) {
    if (!d.running) return false;
  }
  return true;
}

absl::StatusOr<DaemonBinaries> FindDaemonBinaries(const std::string& bin_dir,
                                                  const std::string& self_exe,
                                                  const std::string& path_env) {
  struct Wanted {
    const char* name;
    const char* bazel_dir;  // sibling directory in bazel-bin
    std::string* out;
  };
  DaemonBinaries found;
  const Wanted wanted[] = {
      {kAgentBinaryName, "agent", &found.agent},
      {kControllerBinaryName, "controller", &found.controller},
  };
  for (const Wanted& w : wanted) {
    std::vector<std::string> candidates;
    if (!bin_dir.empty()) {
      candidates.push_back(absl::StrCat(bin_dir, "/", w.name));
    } else {
      if (!self_exe.empty()) {
        const fs::path dir = fs::path(self_exe).parent_path();
        candidates.push_back((dir / w.name).lexically_normal().string());
        candidates.push_back(
            (dir / ".." / w.bazel_dir / w.name).lexically_normal().string());
      }
      for (absl::string_view entry : absl::StrSplit(path_env, ':')) {
        if (absl::StartsWith(entry, "/")) {
          candidates.push_back(absl::StrCat(entry, "/", w.name));
        }
      }
    }
    for (const std::string& c : candidates) {
      if (IsExecutableFile(c)) {
        *w.out = fs::absolute(c).lexically_normal().string();
        break;
      }
    }
    if (w.out->empty()) {
      return absl::NotFoundError(absl::StrCat(
          w.name, " not found (looked for ", absl::StrJoin(candidates, ", "),
          "); build it with `bazel build //", w.bazel_dir, ":", w.name,
          "` or pass --bin-dir"));
    }
  }
  return found;
}

absl::StatusOr<std::string> GenerateToken() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::string bytes(32, '\0');
  if (!in.read(bytes.data(), bytes.size())) {
    return absl::InternalError(
        "generate token: cannot read 32 bytes from /dev/urandom");
  }
  return absl::BytesToHexString(bytes);
}

std::string TailOfFile(const std::string& path, int lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  return absl::StrJoin(last, "\n");
}

LocalCluster::LocalCluster(ProcessLauncher* launcher, ClusterRpc* rpc,
                           ProcessTable* processes,
                           agent::net::HostNetwork* net,
                           agent::net::NamespaceProcesses* ns_processes,
                           ProgressFn progress)
    : launcher_(launcher),
      rpc_(rpc),
      processes_(processes),
      net_(net),
      ns_processes_(ns_processes),
      progress_(progress ? std::move(progress) : [](absl::string_view) {}) {}

bool LocalCluster::IsRecordedDaemon(int pid, uint64_t start_time,
                                    const std::string& binary_path,
                                    absl::string_view default_name) {
  if (pid <= 0) return false;
  if (own_daemons_.count(pid) > 0) return launcher_->IsRunning(pid);
  std::optional<ProcessIdentity> identity = processes_->Lookup(pid);
  if (!identity.has_value()) return false;
  absl::string_view name =
      binary_path.empty() ? default_name : Basename(binary_path);
  return IsRecordedProcess(*identity, start_time, name);
}

absl::Status LocalCluster::CheckSubnetFree(const LocalClusterLayout& layout) {
  EMU_ASSIGN_OR_RETURN(Ipv4Net subnet, ParseIpv4Net(layout.subnet));
  EMU_ASSIGN_OR_RETURN(
      std::vector<agent::net::HostNetwork::InterfaceInfo> interfaces,
      net_->ListInterfaces(""));
  for (const agent::net::HostNetwork::InterfaceInfo& i : interfaces) {
    for (const std::string& cidr : i.addresses) {
      // IPv6 addresses do not parse as IPv4 and cannot overlap.
      absl::StatusOr<Ipv4Net> net = ParseIpv4Net(cidr);
      if (net.ok() && Overlaps(*net, subnet)) {
        return absl::FailedPreconditionError(
            absl::StrCat("local cluster \"", layout.id, "\": subnet ",
                         layout.subnet, " overlaps ", cidr, " on interface ",
                         i.name, "; choose another with --subnet"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterFile> LocalCluster::Start(
    const LocalClusterStartOptions& options) {
  EMU_ASSIGN_OR_RETURN(LocalClusterLayout layout,
                       MakeLocalClusterLayout(options.cluster));
  if (options.binaries.agent.empty() || options.binaries.controller.empty()) {
    return absl::InvalidArgumentError(
        "local cluster start: paths of emu-agent and emu-controller are "
        "required");
  }
  EMU_ASSIGN_OR_RETURN(
      std::unique_ptr<ClusterLock> lock,
      ClusterLock::Acquire(options.cluster.state_root, layout.id, kLockWait));

  // Refuse to start twice; clear what a dead cluster of this id left.
  absl::StatusOr<ClusterFile> existing = ReadClusterFile(layout.cluster_file);
  if (existing.ok()) {
    const bool controller_alive = IsRecordedDaemon(
        existing->controller_pid, existing->controller_start_time,
        existing->controller_binary, kControllerBinaryName);
    int agents_alive = 0;
    for (const ClusterFileHost& h : existing->hosts) {
      if (IsRecordedDaemon(h.pid, h.start_time, existing->agent_binary,
                           kAgentBinaryName)) {
        ++agents_alive;
      }
    }
    const bool supervisor_alive = IsRecordedDaemon(
        existing->supervisor_pid, existing->supervisor_start_time,
        existing->supervisor_binary, kSupervisorBinaryName);
    const bool all_alive =
        controller_alive &&
        agents_alive == static_cast<int>(existing->hosts.size()) &&
        (supervisor_alive || options.supervisor_argv.empty());
    if (!all_alive && existing->state == kClusterStateRunning &&
        (controller_alive || agents_alive > 0)) {
      // Partly running: its labs live in the running daemons' state; start
      // only what is missing instead of removing everything.
      progress_(absl::StrCat(
          "local cluster \"", layout.id, "\" is partly running (",
          controller_alive ? "controller up, " : "controller down, ",
          agents_alive, " of ", existing->hosts.size(),
          " agents alive): starting what is missing"));
      EMU_ASSIGN_OR_RETURN(
          std::vector<std::string> restarted,
          RestartDeadLocked(options.cluster.state_root, *existing,
                            options.binaries, options.ready_timeout,
                            [](const std::string&) { return true; }));
      EMU_ASSIGN_OR_RETURN(ClusterFile record,
                           ReadClusterFile(layout.cluster_file));
      if (!supervisor_alive && !options.supervisor_argv.empty()) {
        EMU_RETURN_IF_ERROR(
            SpawnSupervisor(layout, options.supervisor_argv, record));
        restarted.push_back("supervisor");
      }
      progress_(absl::StrCat("started ", absl::StrJoin(restarted, ", ")));
      return record;
    }
    if (controller_alive || agents_alive > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "local cluster \"", layout.id, "\" is already running (",
          controller_alive
              ? absl::StrCat("controller pid ", existing->controller_pid,
                             " at ", existing->controller, ", ")
              : std::string(),
          agents_alive, " of ", existing->hosts.size(),
          " agents alive); stop it first with `", StopHint(layout.id), "`"));
    }
    progress_(absl::StrCat("removing what a previous, dead local cluster \"",
                           layout.id, "\" left"));
  } else if (!absl::IsNotFound(existing.status())) {
    progress_(absl::StrCat("ignoring unreadable ", layout.cluster_file, ": ",
                           existing.status().message()));
  }
  int leftovers = 0;
  EMU_RETURN_IF_ERROR(StopLocked(layout.id, options.cluster.state_root,
                                 /*rollback=*/false, &leftovers));
  EMU_RETURN_IF_ERROR(CheckSubnetFree(layout));

  // State dir, token and the first record, before anything is created, so a
  // crash of this process from here on leaves a file `stop` can follow.
  EMU_RETURN_IF_ERROR(MakeDir(layout.log_dir));
  for (const LocalHostLayout& h : layout.hosts) {
    EMU_RETURN_IF_ERROR(MakeDir(h.state_dir));
  }
  EMU_ASSIGN_OR_RETURN(std::string token, GenerateToken());
  EMU_RETURN_IF_ERROR(WriteSecretFile(layout.token_file, token + "\n"));
  if (!options.cluster.insecure_plaintext) {
    EMU_RETURN_IF_ERROR(CreateClusterPki(layout));
  }

  ClusterFile record;
  record.id = layout.id;
  record.state = kClusterStateStarting;
  record.state_dir = layout.state_dir;
  record.controller_log = layout.controller_log;
  record.token_file = layout.token_file;
  if (!options.cluster.insecure_plaintext) record.pki_dir = layout.pki_dir;
  record.tunnel_carrier = options.cluster.tunnel_carrier;
  record.tunnel_ssh_config = options.cluster.tunnel_ssh_config;
  record.metrics = options.cluster.metrics;
  record.allow_host_commands = options.cluster.allow_host_commands;
  record.engine_threads = options.cluster.engine_threads;
  record.engine_nice = options.cluster.engine_nice;
  record.web = options.cluster.web;
  record.bridge = layout.bridge;
  record.subnet = layout.subnet;
  record.log_dir = layout.log_dir;
  record.agent_binary = options.binaries.agent;
  record.controller_binary = options.binaries.controller;
  for (const LocalHostLayout& h : layout.hosts) {
    ClusterFileHost host;
    host.name = h.name;
    host.netns = h.netns;
    host.veth = h.veth;
    host.address = h.agent_address;
    host.log = h.log_path;
    record.hosts.push_back(std::move(host));
  }
  EMU_RETURN_IF_ERROR(WriteClusterFile(layout.cluster_file, record));

  absl::StatusOr<ClusterFile> started = [&]() -> absl::StatusOr<ClusterFile> {
    EMU_ASSIGN_OR_RETURN(ClusterAuth auth, LoadClusterAuth(token, record));
    return StartLocked(options, layout, auth, record);
  }();
  if (started.ok()) return started;

  progress_("start failed; removing what was created");
  int undone = 0;
  absl::Status rollback = StopLocked(layout.id, options.cluster.state_root,
                                     /*rollback=*/true, &undone);
  std::string message = absl::StrCat("start local cluster \"", layout.id,
                                     "\": ", started.status().message(),
                                     "\n(logs kept in ", layout.log_dir, ")");
  if (!rollback.ok()) {
    absl::StrAppend(&message, "\nrollback incomplete: ", rollback.message());
  }
  return absl::Status(started.status().code(), message);
}

absl::StatusOr<ClusterFile> LocalCluster::StartLocked(
    const LocalClusterStartOptions& options, const LocalClusterLayout& layout,
    const ClusterAuth& auth, ClusterFile& record) {
  progress_(
      absl::StrCat("creating bridge ", layout.bridge, " ", layout.bridge_cidr));
  const std::string bridge_what = absl::StrCat("create bridge ", layout.bridge);
  // "" is the root namespace, where emuctl runs. CreateBridge sets it up.
  EMU_RETURN_IF_ERROR(
      Annotate(net_->CreateBridge("", layout.bridge), bridge_what));
  EMU_RETURN_IF_ERROR(
      Annotate(net_->SetAddresses("", layout.bridge, {layout.bridge_cidr}),
               bridge_what));
  // Tags the bridge ports; ownership itself goes by name (emuv-<id>-<N>).
  const std::string alias = absl::StrCat("emu local-cluster=", layout.id);

  for (const LocalHostLayout& h : layout.hosts) {
    progress_(absl::StrCat("creating host ", h.name, ": namespace ", h.netns,
                           ", ", kHostNic, " ", h.cidr, ", bridge port ",
                           h.veth));
    const std::string what =
        absl::StrCat("create host ", h.name, " (namespace ", h.netns, ")");
    // CreateNamespace brings lo up; CreateVeth brings both ends up.
    EMU_RETURN_IF_ERROR(Annotate(net_->CreateNamespace(h.netns), what));
    EMU_RETURN_IF_ERROR(Annotate(
        net_->CreateVeth({"", h.veth}, {h.netns, kHostNic}, alias), what));
    EMU_RETURN_IF_ERROR(
        Annotate(net_->SetMaster("", h.veth, layout.bridge), what));
    EMU_RETURN_IF_ERROR(
        Annotate(net_->SetAddresses(h.netns, kHostNic, {h.cidr}), what));
  }

  // All agents start at once; then each must answer within ready_timeout.
  for (size_t i = 0; i < layout.hosts.size(); ++i) {
    EMU_RETURN_IF_ERROR(
        SpawnAgent(layout, i, options.binaries.agent, record).status());
  }
  const absl::Time agents_deadline = absl::Now() + options.ready_timeout;
  for (size_t i = 0; i < layout.hosts.size(); ++i) {
    EMU_RETURN_IF_ERROR(WaitForAgent(layout.hosts[i], record.hosts[i].pid,
                                     auth, agents_deadline));
    progress_(absl::StrCat("agent ", layout.hosts[i].name, " answers at ",
                           layout.hosts[i].agent_address));
  }
  EMU_RETURN_IF_ERROR(StartController(layout, options.binaries.controller,
                                      auth, options.ready_timeout, record));

  record.state = kClusterStateRunning;
  if (!options.supervisor_argv.empty()) {
    EMU_RETURN_IF_ERROR(
        SpawnSupervisor(layout, options.supervisor_argv, record));
  }
  EMU_RETURN_IF_ERROR(WriteClusterFile(layout.cluster_file, record));
  return record;
}

absl::StatusOr<pid_t> LocalCluster::SpawnAgent(const LocalClusterLayout& layout,
                                               size_t i,
                                               const std::string& binary,
                                               ClusterFile& record) {
  const LocalHostLayout& h = layout.hosts[i];
  ProcessSpec spec;
  spec.argv = {binary,
               absl::StrCat("--listen=", h.agent_address),
               absl::StrCat("--host_name=", h.name),
               absl::StrCat("--state_dir=", h.state_dir),
               absl::StrCat("--token_file=", layout.token_file),
               absl::StrCat("--port_file=", h.port_file),
               TransportFlag(record),
               // The cluster's own guest snapshots, shared by its hosts and
               // removed with it by `local stop` (a machine's agent keeps
               // them in /var/lib/emu/snapshots across labs).
               absl::StrCat("--guest_snapshot_dir=", layout.state_dir,
                            "/snapshots"),
               // The agent enters its host's namespace itself and keeps the
               // machine's for image builds, which download (the emulated
               // host has no route out).
               absl::StrCat("--netns=", h.netns)};
  if (!record.tunnel_carrier.empty()) {
    spec.argv.push_back(
        absl::StrCat("--tunnel_carrier=", record.tunnel_carrier));
  }
  if (!record.tunnel_ssh_config.empty()) {
    spec.argv.push_back(
        absl::StrCat("--tunnel_ssh_config=", record.tunnel_ssh_config));
  }
  if (record.allow_host_commands) {
    spec.argv.push_back("--allow_host_commands");
  }
  if (record.engine_threads >= 0) {
    spec.argv.push_back(
        absl::StrCat("--engine_threads=", record.engine_threads));
  }
  if (record.engine_nice != 0) {
    spec.argv.push_back(absl::StrCat("--engine_nice=", record.engine_nice));
  }
  if (record.metrics) {
    // On the host's own address: reachable from the root namespace over the
    // cluster's bridge, like the agent's gRPC port.
    spec.argv.push_back(absl::StrCat("--metrics=", h.address, ":0"));
    spec.argv.push_back(
        absl::StrCat("--metrics_port_file=", h.metrics_port_file));
  }
  // Started in the machine's namespace (--netns above), in the machine's
  // mount namespace: the agent bind-mounts node namespaces under
  // /run/netns, which must be visible to everyone and outlive the agent
  // (recovery after kill -9).
  absl::StatusOr<pid_t> pid = launcher_->Spawn(spec, h.log_path);
  if (!pid.ok()) {
    return Annotate(pid.status(), absl::StrCat("start agent ", h.name));
  }
  own_daemons_.insert(*pid);
  record.hosts[i].pid = *pid;
  record.hosts[i].start_time = 0;
  if (auto identity = processes_->Lookup(*pid); identity.has_value()) {
    record.hosts[i].start_time = identity->start_time;
  }
  progress_(absl::StrCat("started agent ", h.name, " (pid ", *pid, ") in ",
                         h.netns, ", log ", h.log_path));
  EMU_RETURN_IF_ERROR(WriteClusterFile(layout.cluster_file, record));
  return *pid;
}

absl::Status LocalCluster::StartController(const LocalClusterLayout& layout,
                                           const std::string& binary,
                                           const ClusterAuth& auth,
                                           absl::Duration ready_timeout,
                                           ClusterFile& record) {
  std::vector<std::string> agents;
  for (const LocalHostLayout& h : layout.hosts) {
    agents.push_back(absl::StrCat(h.name, "=", h.agent_address));
  }
  // A dead controller's port file would send the first probes to its old
  // port.
  unlink(layout.controller_port_file.c_str());
  ProcessSpec spec;
  spec.argv = {binary,
               "--listen=127.0.0.1:0",
               absl::StrCat("--agents=", absl::StrJoin(agents, ",")),
               absl::StrCat("--db=", layout.controller_db),
               absl::StrCat("--token_file=", layout.token_file),
               absl::StrCat("--port_file=", layout.controller_port_file),
               TransportFlag(record)};
  if (record.metrics) {
    spec.argv.push_back("--metrics=127.0.0.1:0");
    spec.argv.push_back(absl::StrCat("--metrics_port_file=",
                                     layout.controller_metrics_port_file));
  }
  if (record.web) {
    spec.argv.push_back("--web=127.0.0.1:0");
    spec.argv.push_back(
        absl::StrCat("--web_port_file=", layout.controller_web_port_file));
  }
  absl::StatusOr<pid_t> pid = launcher_->Spawn(spec, layout.controller_log);
  if (!pid.ok()) return Annotate(pid.status(), "start controller");
  own_daemons_.insert(*pid);
  record.controller_pid = *pid;
  record.controller_start_time = 0;
  if (auto identity = processes_->Lookup(*pid); identity.has_value()) {
    record.controller_start_time = identity->start_time;
  }
  progress_(absl::StrCat("started controller (pid ", *pid, "), log ",
                         layout.controller_log));
  EMU_RETURN_IF_ERROR(WriteClusterFile(layout.cluster_file, record));
  EMU_ASSIGN_OR_RETURN(
      record.controller,
      WaitForController(layout, *pid, auth, absl::Now() + ready_timeout));
  progress_(absl::StrCat("controller answers at ", record.controller));
  return WriteClusterFile(layout.cluster_file, record);
}

absl::Status LocalCluster::SpawnSupervisor(
    const LocalClusterLayout& layout,
    const std::vector<std::string>& supervisor_argv, ClusterFile& record) {
  ProcessSpec spec;
  spec.argv = supervisor_argv;
  const std::string log = absl::StrCat(layout.log_dir, "/supervisor.log");
  absl::StatusOr<pid_t> pid = launcher_->Spawn(spec, log);
  if (!pid.ok()) return Annotate(pid.status(), "start supervisor");
  own_daemons_.insert(*pid);
  record.supervisor_pid = *pid;
  record.supervisor_start_time = 0;
  if (auto identity = processes_->Lookup(*pid); identity.has_value()) {
    record.supervisor_start_time = identity->start_time;
  }
  record.supervisor_binary = supervisor_argv[0];
  progress_(absl::StrCat("started supervisor (pid ", *pid, "), log ", log));
  return WriteClusterFile(layout.cluster_file, record);
}

absl::StatusOr<std::vector<std::string>> LocalCluster::RestartDeadLocked(
    absl::string_view state_root, const ClusterFile& existing,
    const DaemonBinaries& binaries, absl::Duration ready_timeout,
    const std::function<bool(const std::string&)>& may_restart) {
  LocalClusterOptions opts;
  opts.id = existing.id;
  opts.hosts = static_cast<int>(existing.hosts.size());
  opts.subnet = existing.subnet;
  opts.state_root = std::string(state_root);
  EMU_ASSIGN_OR_RETURN(LocalClusterLayout layout, MakeLocalClusterLayout(opts));
  EMU_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(layout.token_file));
  EMU_ASSIGN_OR_RETURN(ClusterAuth auth, LoadClusterAuth(token, existing));
  ClusterFile record = existing;
  std::vector<std::string> restarted;
  const absl::Time deadline = absl::Now() + ready_timeout;
  std::vector<size_t> started_agents;
  for (size_t i = 0; i < record.hosts.size(); ++i) {
    const ClusterFileHost& h = record.hosts[i];
    if (IsRecordedDaemon(h.pid, h.start_time, record.agent_binary,
                         kAgentBinaryName) ||
        !may_restart(h.name)) {
      continue;
    }
    EMU_RETURN_IF_ERROR(SpawnAgent(layout, i, binaries.agent, record).status());
    started_agents.push_back(i);
    restarted.push_back(h.name);
  }
  for (size_t i : started_agents) {
    EMU_RETURN_IF_ERROR(
        WaitForAgent(layout.hosts[i], record.hosts[i].pid, auth, deadline));
    progress_(absl::StrCat("agent ", layout.hosts[i].name, " answers at ",
                           layout.hosts[i].agent_address));
  }
  if (!IsRecordedDaemon(record.controller_pid, record.controller_start_time,
                        record.controller_binary, kControllerBinaryName) &&
      may_restart("controller")) {
    EMU_RETURN_IF_ERROR(StartController(layout, binaries.controller, auth,
                                        ready_timeout, record));
    restarted.push_back("controller");
  }
  return restarted;
}

absl::Status LocalCluster::WaitForAgent(const LocalHostLayout& host, int pid,
                                        const ClusterAuth& auth,
                                        absl::Time deadline) {
  for (;;) {
    if (!launcher_->IsRunning(pid)) {
      return absl::UnavailableError(
          WithLogTail(absl::StrCat("agent ", host.name, " (pid ", pid,
                                   ") exited during startup"),
                      host.log_path));
    }
    absl::Status probe =
        rpc_->ProbeAgent(host.agent_address, auth, kProbeTimeout);
    if (probe.ok()) return absl::OkStatus();
    if (!IsRetryableProbeError(probe)) {
      return absl::Status(probe.code(),
                          WithLogTail(absl::StrCat("agent ", host.name,
                                                   " refused the first call: ",
                                                   probe.message()),
                                      host.log_path));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          WithLogTail(absl::StrCat("agent ", host.name, " (pid ", pid,
                                   ") did not answer at ", host.agent_address,
                                   " in time: ", probe.message()),
                      host.log_path));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::StatusOr<std::string> LocalCluster::WaitForController(
    const LocalClusterLayout& layout, int pid, const ClusterAuth& auth,
    absl::Time deadline) {
  absl::Status last = absl::UnavailableError(
      absl::StrCat("no port in ", layout.controller_port_file, " yet"));
  for (;;) {
    if (!launcher_->IsRunning(pid)) {
      return absl::UnavailableError(WithLogTail(
          absl::StrCat("controller (pid ", pid, ") exited during startup"),
          layout.controller_log));
    }
    if (std::optional<int> port = ReadPortFile(layout.controller_port_file)) {
      const std::string address = absl::StrCat("127.0.0.1:", *port);
      last = rpc_->ProbeController(address, auth, kProbeTimeout);
      if (last.ok()) return address;
      if (!IsRetryableProbeError(last)) {
        return absl::Status(
            last.code(),
            WithLogTail(absl::StrCat("controller refused the first call: ",
                                     last.message()),
                        layout.controller_log));
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(WithLogTail(
          absl::StrCat("controller (pid ", pid,
                       ") did not answer in time: ", last.message()),
          layout.controller_log));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status LocalCluster::Stop(absl::string_view id,
                                absl::string_view state_root) {
  EMU_RETURN_IF_ERROR(ValidateClusterId(id));
  EMU_ASSIGN_OR_RETURN(std::unique_ptr<ClusterLock> lock,
                       ClusterLock::Acquire(state_root, id, kLockWait));
  int actions = 0;
  EMU_RETURN_IF_ERROR(StopLocked(id, state_root, /*rollback=*/false, &actions));
  lock->Remove();  // the cluster is gone: so is its lock file
  if (actions == 0) {
    progress_(absl::StrCat("local cluster \"", id, "\": nothing to stop"));
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::StopLocked(absl::string_view id,
                                      absl::string_view state_root,
                                      bool rollback, int* actions) {
  const std::string dir = ClusterStateDir(state_root, id);
  std::vector<std::string> failures;
  *actions = 0;
  auto done = [&](const std::string& line) {
    ++*actions;
    progress_(line);
  };

  ClusterFile record;
  absl::StatusOr<ClusterFile> file =
      ReadClusterFile(ClusterFilePath(state_root, id));
  if (file.ok()) {
    record = *std::move(file);
  } else if (!absl::IsNotFound(file.status())) {
    progress_(absl::StrCat("warning: ", file.status().message(),
                           "; removing by names only"));
  }

  ClusterAuth auth;
  const std::string token_file = record.token_file.empty()
                                     ? absl::StrCat(dir, "/token")
                                     : record.token_file;
  if (access(token_file.c_str(), F_OK) == 0) {
    absl::StatusOr<std::string> t = ReadTokenFile(token_file);
    if (t.ok()) {
      auth.token = *t;
    } else {
      progress_(absl::StrCat("warning: ", t.status().message()));
    }
  }
  if (absl::StatusOr<ClusterAuth> a = LoadClusterAuth(auth.token, record);
      a.ok()) {
    auth = *std::move(a);
  } else {
    progress_(absl::StrCat("warning: ", a.status().message()));
  }

  // The supervisor first, or it would start again what is stopped below.
  if (record.supervisor_pid > 0) {
    if (IsRecordedDaemon(record.supervisor_pid, record.supervisor_start_time,
                         record.supervisor_binary, kSupervisorBinaryName)) {
      absl::Status s = launcher_->Terminate(record.supervisor_pid, kStopGrace);
      if (s.ok()) {
        done(absl::StrCat("stopped supervisor (pid ", record.supervisor_pid,
                          ")"));
      } else {
        failures.push_back(absl::StrCat("stop supervisor: ", s.message()));
      }
    }
  }
  // Labs first, while the daemons that know them still run.
  const bool controller_alive =
      IsRecordedDaemon(record.controller_pid, record.controller_start_time,
                       record.controller_binary, kControllerBinaryName);
  if (controller_alive && !record.controller.empty() && !rollback) {
    absl::StatusOr<std::vector<std::string>> labs =
        rpc_->DestroyControllerLabs(record.controller, auth, kDestroyTimeout);
    if (labs.ok()) {
      for (const std::string& lab : *labs)
        done(absl::StrCat("destroyed lab ", lab));
    } else {
      progress_(absl::StrCat("warning: ", labs.status().message(),
                             "; asking the agents directly"));
    }
  }
  std::vector<bool> agent_alive;
  for (const ClusterFileHost& h : record.hosts) {
    agent_alive.push_back(IsRecordedDaemon(
        h.pid, h.start_time, record.agent_binary, kAgentBinaryName));
    if (!agent_alive.back() || h.address.empty() || rollback) continue;
    absl::StatusOr<std::vector<std::string>> labs =
        rpc_->DestroyAgentLabs(h.address, auth, kDestroyTimeout);
    if (labs.ok()) {
      for (const std::string& lab : *labs) {
        done(absl::StrCat("destroyed what was left of lab ", lab, " on ",
                          h.name));
      }
    } else if (absl::IsUnavailable(labs.status()) ||
               absl::IsDeadlineExceeded(labs.status())) {
      // A hung agent cannot clean up; what it leaves is reported below.
      progress_(absl::StrCat("warning: ", labs.status().message()));
    } else {
      failures.push_back(std::string(labs.status().message()));
    }
  }

  // Then the daemons: only recorded pids still running the recorded binary.
  auto end_daemon = [&](const std::string& name, int pid, bool alive) {
    if (pid <= 0) return;
    if (!alive) {
      if (processes_->Lookup(pid).has_value()) {
        progress_(absl::StrCat("pid ", pid, " recorded for ", name,
                               " now runs something else; left alone"));
      }
      return;
    }
    absl::Status s = launcher_->Terminate(pid, kStopGrace);
    if (s.ok()) {
      done(absl::StrCat("stopped ", name, " (pid ", pid, ")"));
    } else {
      failures.push_back(absl::StrCat("stop ", name, ": ", s.message()));
    }
  };
  end_daemon("controller", record.controller_pid, controller_alive);
  for (size_t i = 0; i < record.hosts.size(); ++i) {
    end_daemon(absl::StrCat("agent ", record.hosts[i].name),
               record.hosts[i].pid, agent_alive[i]);
  }
  // Daemons the record does not name (it was lost or rewritten by a later
  // start): their command lines prove they belong to this cluster.
  for (int pid : FindClusterDaemons(dir)) {
    absl::Status s = launcher_->Terminate(pid, kStopGrace);
    if (s.ok()) {
      done(absl::StrCat("stopped unrecorded daemon of this cluster (pid ", pid,
                        ")"));
    } else {
      failures.push_back(absl::StrCat("stop pid ", pid, ": ", s.message()));
    }
  }

  // What the agents made and could not remove (dead agent, failed destroy):
  // by the host prefix, since no daemon is left to ask.
  RemoveNodeNamespaces(id, done, &failures);

  // Namespaces, veths and the bridge: by the names this id owns.
  absl::StatusOr<std::vector<std::string>> namespaces =
      net_->ListNamespaces("emuhost-");
  if (!namespaces.ok()) {
    failures.push_back(
        absl::StrCat("list namespaces: ", namespaces.status().message()));
    namespaces = std::vector<std::string>();
  }
  for (const std::string& ns : *namespaces) {
    if (!ParseHostNetns(id, ns).has_value()) continue;
    absl::Status s = Annotate(net_->DeleteNamespace(ns),
                              absl::StrCat("delete namespace ", ns));
    if (s.ok()) {
      done(absl::StrCat("deleted namespace ", ns));
    } else {
      failures.push_back(std::string(s.message()));
    }
  }
  absl::StatusOr<std::vector<agent::net::HostNetwork::InterfaceInfo>>
      interfaces = net_->ListInterfaces("");
  if (interfaces.ok()) {
    const std::string bridge = BridgeName(id);
    std::vector<std::string> links;
    for (const auto& i : *interfaces) links.push_back(i.name);
    // Veths before the bridge they are enslaved to.
    std::stable_partition(
        links.begin(), links.end(),
        [&bridge](const std::string& l) { return l != bridge; });
    for (const std::string& link : links) {
      if (link != bridge && !ParseHostVeth(id, link).has_value()) continue;
      // A veth whose peer namespace just went is gone too; DeleteInterface
      // is OK on an absent interface.
      absl::Status s = net_->DeleteInterface("", link);
      if (s.ok()) {
        done(absl::StrCat("deleted interface ", link));
      } else {
        failures.push_back(std::string(s.message()));
      }
    }
  } else {
    failures.push_back(
        absl::StrCat("list interfaces: ", interfaces.status().message()));
  }

  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (rollback) {
      for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().filename() == "logs") continue;
        fs::remove_all(entry.path(), ec);
        if (ec) {
          failures.push_back(absl::StrCat("remove ", entry.path().string(),
                                          ": ", ec.message()));
        }
      }
    } else {
      fs::remove_all(dir, ec);
      if (ec) {
        failures.push_back(absl::StrCat("remove ", dir, ": ", ec.message()));
      } else {
        done(absl::StrCat("removed ", dir));
      }
    }
  }

  if (!failures.empty()) {
    return absl::InternalError(absl::StrCat(
        "stop local cluster \"", id, "\": ", absl::StrJoin(failures, "; ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LocalCluster::CollectGarbage(
    absl::string_view state_root) {
  std::set<std::string> ids;
  auto consider = [&ids](absl::string_view id) {
    if (ValidateClusterId(id).ok()) ids.insert(std::string(id));
  };
  // "<id>-h<N>" → id; the default cluster's hosts ("h<N>") are not told
  // apart from a real host of that name, so they only count with other
  // evidence of the cluster "local" (below).
  auto id_of_host = [](absl::string_view host) -> absl::string_view {
    size_t dash = host.rfind("-h");
    return dash == absl::string_view::npos ? absl::string_view()
                                           : host.substr(0, dash);
  };
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> namespaces,
                       net_->ListNamespaces(""));
  for (const std::string& ns : namespaces) {
    absl::string_view rest = ns;
    if (absl::ConsumePrefix(&rest, "emuhost-")) {
      consider(id_of_host(rest));
    } else if (absl::ConsumePrefix(&rest, "emu.")) {
      consider(id_of_host(rest.substr(0, rest.find('.'))));
    }
  }
  EMU_ASSIGN_OR_RETURN(
      std::vector<agent::net::HostNetwork::InterfaceInfo> interfaces,
      net_->ListInterfaces(""));
  for (const agent::net::HostNetwork::InterfaceInfo& i : interfaces) {
    absl::string_view rest = i.name;
    if (absl::ConsumePrefix(&rest, "emubr-")) {
      consider(rest);
    } else if (absl::ConsumePrefix(&rest, "emuv-")) {
      consider(rest.substr(0, rest.rfind('-')));
    }
  }
  std::error_code ec;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(std::string(state_root), ec)) {
    std::string name = entry.path().filename().string();
    absl::string_view lock_id = name;
    if (entry.is_directory(ec)) {
      // A cluster's directory, not another user of the state root (the
      // agents' default guest run directory is /run/emu/guests).
      if (fs::exists(entry.path() / "cluster.json", ec) ||
          fs::exists(entry.path() / "agents", ec) ||
          fs::exists(entry.path() / "logs", ec)) {
        consider(name);
      }
    } else if (absl::ConsumePrefix(&lock_id, ".") &&
               absl::ConsumeSuffix(&lock_id, ".lock")) {
      consider(lock_id);  // a lock file left by an older emuctl
    }
  }

  std::vector<std::string> stopped;
  for (const std::string& id : ids) {
    const std::string dir = ClusterStateDir(state_root, id);
    std::vector<int> live = FindClusterDaemons(dir);
    absl::StatusOr<ClusterFile> record =
        ReadClusterFile(ClusterFilePath(state_root, id));
    if (record.ok()) {
      if (IsRecordedDaemon(record->controller_pid,
                           record->controller_start_time,
                           record->controller_binary, kControllerBinaryName)) {
        live.push_back(record->controller_pid);
      }
      for (const ClusterFileHost& h : record->hosts) {
        if (IsRecordedDaemon(h.pid, h.start_time, record->agent_binary,
                             kAgentBinaryName)) {
          live.push_back(h.pid);
        }
      }
    }
    if (!live.empty()) {
      progress_(absl::StrCat("local cluster \"", id, "\" is running (pid ",
                             absl::StrJoin(live, ","), "); left alone (",
                             StopHint(id), " removes it)"));
      continue;
    }
    absl::StatusOr<std::unique_ptr<ClusterLock>> lock =
        ClusterLock::Acquire(state_root, id);
    if (!lock.ok()) {
      progress_(absl::StrCat("warning: ", lock.status().message()));
      continue;
    }
    progress_(absl::StrCat("local cluster \"", id,
                           "\" has no live daemon: removing what it left"));
    int actions = 0;
    absl::Status s = StopLocked(id, state_root, /*rollback=*/false, &actions);
    if (!s.ok()) return s;
    (*lock)->Remove();
    if (actions > 0) stopped.push_back(id);
  }
  return stopped;
}

std::vector<int> LocalCluster::FindClusterDaemons(const std::string& dir) {
  const std::string token_flag = absl::StrCat("--token_file=", dir, "/token");
  std::vector<int> found;
  for (pid_t pid : processes_->List()) {
    if (pid == getpid()) continue;
    std::optional<ProcessIdentity> p = processes_->Lookup(pid);
    if (!p.has_value()) continue;
    if (ArgvRunsBinary(p->argv, kSupervisorBinaryName) &&
        IsSupervisorArgv(p->argv, dir)) {
      found.push_back(pid);
      continue;
    }
    if (!ArgvRunsBinary(p->argv, kAgentBinaryName) &&
        !ArgvRunsBinary(p->argv, kControllerBinaryName)) {
      continue;
    }
    if (std::find(p->argv.begin(), p->argv.end(), token_flag) !=
        p->argv.end()) {
      found.push_back(pid);
    }
  }
  return found;
}

void LocalCluster::RemoveNodeNamespaces(
    absl::string_view id, const std::function<void(const std::string&)>& done,
    std::vector<std::string>* failures) {
  absl::StatusOr<std::vector<std::string>> all = net_->ListNamespaces("emu.");
  if (!all.ok()) {
    failures->push_back(
        absl::StrCat("list node namespaces: ", all.status().message()));
    return;
  }
  std::set<std::string> hosts;
  for (const std::string& ns : *all) {
    std::vector<std::string> parts = absl::StrSplit(ns, '.');
    if (parts.size() == 4 && ParseClusterHostName(id, parts[1]).has_value()) {
      hosts.insert(parts[1]);
    }
  }
  if (hosts.empty()) return;
  // An agent serving one of these hosts that is still alive now was not
  // started for this cluster (ours were all ended above): leave its labs.
  std::set<std::string> served;
  for (pid_t pid : processes_->List()) {
    std::optional<ProcessIdentity> p = processes_->Lookup(pid);
    if (!p.has_value()) continue;
    for (const std::string& host : hosts) {
      if (agent::net::ArgvIsAgentOf(p->argv, host)) served.insert(host);
    }
  }
  for (const std::string& host : hosts) {
    if (served.count(host) > 0) {
      progress_(absl::StrCat("warning: namespaces emu.", host,
                             ".* are left: an emu-agent not of this cluster "
                             "serves host ",
                             host));
      continue;
    }
    agent::net::HostCleanupResult r =
        agent::net::RemoveHostResources(host, net_, ns_processes_, kStopGrace);
    for (const std::string& name : r.removed_host_ends) {
      done(absl::StrCat("deleted host interface ", name,
                        " (a host link's end, host ", host, ")"));
    }
    for (const std::string& ns : r.removed) {
      done(absl::StrCat("deleted namespace ", ns, " (lab node on host ", host,
                        ")"));
    }
    if (!r.status.ok()) failures->push_back(std::string(r.status.message()));
  }
}

absl::Status LocalCluster::Supervise(absl::string_view id,
                                     absl::string_view state_root,
                                     const SuperviseOptions& options,
                                     const std::function<bool()>& stopping) {
  EMU_RETURN_IF_ERROR(ValidateClusterId(id));
  struct Backoff {
    absl::Duration delay;
    absl::Time not_before = absl::InfinitePast();
    absl::Time restarted = absl::InfinitePast();
  };
  std::map<std::string, Backoff> backoff;
  const std::string path = ClusterFilePath(state_root, id);
  while (!stopping()) {
    absl::StatusOr<ClusterFile> record = ReadClusterFile(path);
    if (absl::IsNotFound(record.status())) {
      progress_(absl::StrCat("supervisor: ", path, " is gone; exiting"));
      return absl::OkStatus();
    }
    if (record.ok() && record->state == kClusterStateRunning) {
      // A start or stop holds the lock: they own the daemons meanwhile.
      absl::StatusOr<std::unique_ptr<ClusterLock>> lock =
          ClusterLock::Acquire(state_root, id);
      if (lock.ok()) {
        const absl::Time now = absl::Now();
        auto may_restart = [&](const std::string& name) {
          Backoff& b = backoff[name];
          if (b.delay == absl::ZeroDuration()) b.delay = options.min_backoff;
          // Up long enough since the last restart: a fresh failure, not a
          // crash loop.
          if (now - b.restarted > options.stable_after) {
            b.delay = options.min_backoff;
          }
          if (now < b.not_before) return false;
          b.restarted = now;
          b.not_before = now + b.delay;
          b.delay = std::min(b.delay * 2, options.max_backoff);
          return true;
        };
        DaemonBinaries binaries{record->agent_binary,
                                record->controller_binary};
        absl::StatusOr<std::vector<std::string>> restarted = RestartDeadLocked(
            state_root, *record, binaries, options.ready_timeout, may_restart);
        if (!restarted.ok()) {
          progress_(absl::StrCat("supervisor: restart failed: ",
                                 restarted.status().message()));
        } else if (!restarted->empty()) {
          progress_(absl::StrCat("supervisor: restarted ",
                                 absl::StrJoin(*restarted, ", ")));
        }
      }
    }
    absl::SleepFor(options.interval);
  }
  return absl::OkStatus();
}

absl::StatusOr<LocalClusterStatus> LocalCluster::Status(
    absl::string_view id, absl::string_view state_root) {
  EMU_RETURN_IF_ERROR(ValidateClusterId(id));
  const std::string path = ClusterFilePath(state_root, id);
  absl::StatusOr<ClusterFile> file = ReadClusterFile(path);
  if (absl::IsNotFound(file.status())) {
    return absl::NotFoundError(absl::StrCat(
        "no local cluster \"", id, "\" (no ", path,
        "); start one with `emuctl local start",
        id == kDefaultClusterId ? "" : absl::StrCat(" --name ", id), "`"));
  }
  if (!file.ok()) return file.status();
  LocalClusterStatus status;
  status.file = *std::move(file);
  const ClusterFile& f = status.file;
  DaemonStatus controller;
  controller.name = "controller";
  controller.pid = f.controller_pid;
  controller.running =
      IsRecordedDaemon(f.controller_pid, f.controller_start_time,
                       f.controller_binary, kControllerBinaryName);
  controller.address = f.controller;
  controller.log = f.controller_log;
  status.daemons.push_back(controller);
  if (f.supervisor_pid > 0) {
    DaemonStatus supervisor;
    supervisor.name = "supervisor";
    supervisor.pid = f.supervisor_pid;
    supervisor.running =
        IsRecordedDaemon(f.supervisor_pid, f.supervisor_start_time,
                         f.supervisor_binary, kSupervisorBinaryName);
    supervisor.log = absl::StrCat(f.log_dir, "/supervisor.log");
    status.daemons.push_back(supervisor);
  }
  for (const ClusterFileHost& h : f.hosts) {
    DaemonStatus agent;
    agent.name = h.name;
    agent.pid = h.pid;
    agent.running =
        IsRecordedDaemon(h.pid, h.start_time, f.agent_binary, kAgentBinaryName);
    agent.address = h.address;
    agent.netns = h.netns;
    agent.log = h.log;
    status.daemons.push_back(agent);
  }
  return status;
}

}  // namespace emu::deploy
