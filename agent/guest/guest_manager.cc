#include "agent/guest/guest_manager.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/guest/fnv1a.h"
#include "agent/guest/guest_config.h"
#include "agent/guest/qemu_argv.h"
#include "agent/net/resource_names.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "linkemu/impair/arp_path_probe.h"

namespace emu::agent::guest {
namespace {

constexpr absl::Duration kDefaultExecTimeout = absl::Seconds(60);
constexpr absl::Duration kConfigTimeout = absl::Seconds(60);

std::string ReadFileOr(const std::string& path, std::string fallback = "") {
  std::ifstream f(path);
  if (!f) return fallback;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Errors name the file and errno's text: what the guest's state files need
// to be trusted (a guest whose owner or pid file is missing is lost).
absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::trunc);
  f << data;
  f.close();
  if (!f) {
    return absl::InternalError(
        absl::StrCat("write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// mkdir that accepts an existing directory.
absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  return absl::InternalError(
      absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
}

// MakeDir after its missing parents (0755): the agent's run and snapshot
// directories' parents (/run/emu, /var/lib/emu) may not exist yet on a
// fresh host.
absl::Status MakeDirWithParents(const std::string& path, mode_t mode) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("mkdir ", parent.string(), ": ", ec.message()));
    }
  }
  return MakeDir(path, mode);
}

// The last `n` non-empty lines of a file, joined with " | ".
std::string Tail(const std::string& path, int n) {
  std::vector<std::string> lines = absl::StrSplit(
      ReadFileOr(path), absl::ByAnyChar("\r\n"), absl::SkipWhitespace());
  if (static_cast<int>(lines.size()) > n) {
    lines.erase(lines.begin(), lines.end() - n);
  }
  return absl::StrJoin(lines, " | ");
}

// Why the guest's QEMU is gone: what RunningPid recorded when it reaped
// it, else the end of its log.
std::string ExitReason(const std::string& dir) {
  std::string r = ReadFileOr(dir + "/exit_reason");
  if (!r.empty()) return r;
  r = Tail(dir + "/qemu.log", 2);
  return r.empty() ? "no exit status known (not started by this agent run)" : r;
}

// Removes the guest directory's files and the directory itself; with
// `keep_disk`, all but what outlives a restart of its QEMU: the disk overlay
// (what the guest wrote) and the owner, so `down` still finds them.
void RemoveTree(const std::string& dir, bool keep_disk = false) {
  DIR* d = opendir(dir.c_str());
  if (d != nullptr) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (keep_disk && (name == "owner" || name == "disk.qcow2" ||
                        name == "disk.qcow2.base")) {
        continue;
      }
      unlink(absl::StrCat(dir, "/", name).c_str());
    }
    closedir(d);
  }
  if (!keep_disk) rmdir(dir.c_str());
}

// The guest's NICs: every interface of the node that a link (local or
// cross-host) ends on, in topology order (declared interfaces first).
std::vector<std::string> NicNames(const emu::v1::ApplyLabRequest& desired,
                                  const emu::v1::Node& node) {
  std::vector<std::string> linked;
  auto add = [&](const emu::v1::Endpoint& e) {
    if (e.node() == node.name() && std::find(linked.begin(), linked.end(),
                                             e.interface()) == linked.end()) {
      linked.push_back(e.interface());
    }
  };
  for (const auto& l : desired.links()) {
    add(l.a());
    add(l.b());
  }
  for (const auto& r : desired.remote_links()) {
    add(r.local_is_a() ? r.link().a() : r.link().b());
  }
  std::vector<std::string> out;
  for (const auto& i : node.interfaces()) {
    if (std::find(linked.begin(), linked.end(), i.name()) != linked.end()) {
      out.push_back(i.name());
    }
  }
  for (const auto& n : linked) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

std::string MacFor(const std::string& lab, const emu::v1::Node& node,
                   const std::string& ifname) {
  for (const auto& i : node.interfaces()) {
    if (i.name() == ifname && !i.mac().empty()) return i.mac();
  }
  return GuestMac(lab, node.name(), ifname);
}

// The image a running guest was started from (recorded in its directory).
GuestImage ImageOf(const std::string& dir) {
  std::string image_dir = ReadFileOr(dir + "/image");
  auto image = ParseImageConf(image_dir, ReadFileOr(image_dir + "/image.conf"));
  if (!image.ok()) return GuestImage();  // console "shell"
  return *image;
}

// `n` random bytes from the kernel, as hex ("" when unreadable).
std::string RandomHex(size_t n) {
  std::string bytes(n, '\0');
  std::ifstream f("/dev/urandom", std::ios::binary);
  if (!f.read(&bytes[0], n)) return "";
  return absl::BytesToHexString(bytes);
}

// The vCPU thread ids in a query-cpus-fast reply, in vCPU order.
std::vector<int> ThreadIds(const std::string& reply) {
  std::vector<int> tids;
  const std::string key = "\"thread-id\":";
  for (size_t p = reply.find(key); p != std::string::npos;
       p = reply.find(key, p + 1)) {
    size_t q = p + key.size();
    while (q < reply.size() && reply[q] == ' ') ++q;
    int tid = 0;
    size_t e = q;
    while (e < reply.size() &&
           std::isdigit(static_cast<unsigned char>(reply[e])))
      ++e;
    if (absl::SimpleAtoi(reply.substr(q, e - q), &tid)) tids.push_back(tid);
  }
  return tids;
}

}  // namespace

struct GuestManager::Guest {
  std::shared_ptr<SocketConsole> console;
  std::unique_ptr<ShellSession> session;
  // The shell answered (set by Ensure after configuring, or by Exec's own
  // probe): until then Exec is FAILED_PRECONDITION, not a lost command.
  std::atomic<bool> ready{false};
  // The configuration script last run in this guest. Ensure skips a
  // running, ready guest whose script is unchanged: running it again takes
  // every NIC down and flushes its addresses, which an apply that does not
  // change the guest must not do. Written by Ensure only (under the lab's
  // lock in the reconciler, one thread per guest).
  std::string configured;
  // NicPathPart's figures by interface, kept for this QEMU's life.
  absl::Mutex parts_mu;
  absl::flat_hash_map<std::string, linkemu::BasePart> parts
      ABSL_GUARDED_BY(parts_mu);
};

GuestManager::GuestManager(std::string host, ProcessLauncher* launcher,
                           Options options)
    : host_(std::move(host)),
      launcher_(launcher),
      options_(std::move(options)) {}

GuestManager::~GuestManager() = default;

std::string GuestManager::DirFor(const std::string& lab,
                                 const std::string& node) const {
  uint64_t h = Fnv1a(absl::StrCat(host_, " ", lab, " ", node));
  return absl::StrCat(options_.run_dir, "/", absl::Hex(h, absl::kZeroPad16));
}

std::vector<GuestManager::Found> GuestManager::Scan() {
  std::vector<Found> out;
  DIR* d = opendir(options_.run_dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string dir = absl::StrCat(options_.run_dir, "/", name);
    std::vector<std::string> owner = absl::StrSplit(
        absl::StripAsciiWhitespace(ReadFileOr(dir + "/owner")), ' ');
    if (owner.size() != 3 || owner[0] != host_) continue;
    out.push_back({dir, owner[1], owner[2]});
  }
  closedir(d);
  return out;
}

bool GuestManager::Has(const std::string& lab, const std::string& node) {
  struct stat st;
  return stat((DirFor(lab, node) + "/owner").c_str(), &st) == 0;
}

pid_t GuestManager::RunningPid(const std::string& dir) {
  int pid = 0;
  if (!absl::SimpleAtoi(
          absl::StripAsciiWhitespace(ReadFileOr(dir + "/qemu.pid")), &pid) ||
      pid <= 0) {
    return 0;
  }
  // A QEMU that is our child and has exited: keep why (WNOWAIT peeks), then
  // IsRunning reaps it (a zombie's cmdline is empty, so the check below
  // would not).
  siginfo_t info{};
  if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == pid) {
    std::string why = info.si_code == CLD_EXITED
                          ? absl::StrCat("exited with status ", info.si_status)
                          : absl::StrCat("killed by signal ", info.si_status,
                                         " (", strsignal(info.si_status), ")");
    std::string log = Tail(dir + "/qemu.log", 1);
    if (!log.empty()) absl::StrAppend(&why, ": ", log);
    // Without the file the guest still reads "exited", only without why;
    // the log keeps the reason.
    absl::Status kept = WriteFile(dir + "/exit_reason", why);
    if (!kept.ok()) Log("guest ", dir, " ", why, "; ", kept.message());
  }
  if (!launcher_->IsRunning(pid)) return 0;
  std::string cmdline = ReadFileOr(absl::StrCat("/proc/", pid, "/cmdline"));
  if (cmdline.find("qemu") == std::string::npos ||
      cmdline.find(dir) == std::string::npos) {
    return 0;  // the pid was reused by something else
  }
  return pid;
}

absl::Status GuestManager::Wire(const std::string& lab, const std::string& node,
                                const std::vector<std::string>& nics) {
  std::string ns = net::NamespaceName(host_, lab, node);
  std::string what = absl::StrCat("guest ", node);
  // One TAP per NIC, joined to the link end by two mirred redirects. Only
  // what is missing is (re)made: a link end re-created (a tunnel TAP after
  // an agent restart) loses its ingress filter and gets it back here.
  std::string script = "set -e\n";
  for (size_t i = 0; i < nics.size(); ++i) {
    std::string tap = absl::StrCat("gt", i);
    std::string dev = ShellQuote(nics[i]);
    absl::StrAppend(&script, "ip link show ", tap,
                    " >/dev/null 2>&1 || ip tuntap add dev ", tap,
                    " mode tap\n", "ip link set ", tap, " up\nip link set ",
                    dev, " up\n");
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{dev, tap},
                                                          {tap, dev}}) {
      absl::StrAppend(
          &script, "tc filter show dev ", from,
          " parent ffff: 2>/dev/null | grep -q 'Redirect to device ", to,
          ")' || { tc qdisc del dev ", from, " ingress 2>/dev/null || true; ",
          "tc qdisc add dev ", from, " ingress; tc filter add dev ", from,
          " parent ffff: protocol all u32 match u32 0 0 action mirred egress "
          "redirect dev ",
          to, "; }\n");
    }
  }
  ProcessSpec wire;
  wire.argv = {"sh", "-c", script};
  wire.netns = ns;
  wire.timeout = absl::Seconds(20);
  EMU_ASSIGN_OR_RETURN(ProcessResult wired, launcher_->Run(wire));
  if (wired.exit_code != 0) {
    return absl::InternalError(absl::StrCat(what, ": joining TAPs to links in ",
                                            ns, ": ", wired.stderr_data));
  }
  return absl::OkStatus();
}

linkemu::BasePart GuestManager::NicPathPart(
    const emu::v1::ApplyLabRequest& desired, const emu::v1::Node& node,
    const std::string& interface) {
  const std::string who = absl::StrCat("guest ", node.name(), ":", interface);
  auto not_probed = [&](absl::string_view why) {
    linkemu::BasePart part;
    part.source = absl::StrCat(who, " not probed: ", why);
    return part;
  };
  const std::vector<std::string> nics = NicNames(desired, node);
  const auto at = std::find(nics.begin(), nics.end(), interface);
  if (at == nics.end()) return not_probed("no NIC of the guest");
  absl::StatusOr<std::shared_ptr<Guest>> guest =
      Attach(desired.lab(), node.name());
  if (!guest.ok()) return not_probed(guest.status().message());
  if (!(*guest)->ready) return not_probed("the guest is not ready yet");
  // Held while probing: one probe per NIC, whoever asks at once.
  absl::MutexLock lock(&(*guest)->parts_mu);
  if (auto it = (*guest)->parts.find(interface); it != (*guest)->parts.end()) {
    return it->second;
  }
  linkemu::BasePart part;
  const std::string ip = ArpProbeAddress(node, interface);
  if (ip.empty()) {
    part = not_probed("no IPv4 address to ARP for");
  } else {
    const std::string tap = absl::StrCat("gt", at - nics.begin());
    absl::StatusOr<std::vector<int64_t>> rtts = linkemu::ArpRoundTripsNs(
        net::NamespaceName(host_, desired.lab(), node.name()), tap, ip, {});
    if (!rtts.ok()) {
      part = not_probed(rtts.status().message());
    } else {
      const int64_t min = *std::min_element(rtts->begin(), rtts->end());
      part.measured = true;
      part.ns = linkemu::BaseFromMinRttNs(absl::Nanoseconds(min));
      part.source = absl::StrCat(who, " ARP min RTT/2");
    }
  }
  Log(who, " of lab ", desired.lab(), ": ",
      part.measured ? absl::StrCat("path part ", part.ns / 1000,
                                   " us (half the minimum ARP round trip)")
                    : part.source);
  (*guest)->parts[interface] = part;
  return part;
}

absl::StatusOr<GuestImage> GuestManager::ImageFor(const emu::v1::Node& node) {
  std::string what = absl::StrCat("guest ", node.name());
  std::string image_name = node.image().empty() ? "default" : node.image();
  std::string image_dir =
      image_name[0] == '/' ? image_name
                           : absl::StrCat(options_.image_root, "/", image_name);
  std::string conf = ReadFileOr(image_dir + "/image.conf", "\x01");
  if (conf == "\x01") {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": image '", image_name, "' not found on host ",
                     host_, " (", image_dir,
                     "/image.conf; build it with `emuctl image build ",
                     image_name, "`)"));
  }
  return ParseImageConf(image_dir, conf);
}

SnapshotShape GuestManager::ShapeFor(const emu::v1::Node& node,
                                     const GuestImage& image,
                                     size_t nics) const {
  SnapshotShape shape;
  shape.image_dir = image.dir;
  shape.cpus = node.resources().cpus() > 0 ? node.resources().cpus()
                                           : options_.default_cpus;
  shape.memory_mib = node.resources().memory_mib() > 0
                         ? node.resources().memory_mib()
                         : options_.default_memory_mib;
  shape.nics = nics;
  shape.kvm = options_.kvm;
  shape.qemu_binary = options_.qemu_binary;
  return shape;
}

absl::Status GuestManager::Start(const std::string& lab,
                                 const emu::v1::Node& node,
                                 const std::vector<std::string>& nics,
                                 const std::string& snapshot) {
  std::string dir = DirFor(lab, node.name());
  std::string ns = net::NamespaceName(host_, lab, node.name());
  std::string what = absl::StrCat("guest ", node.name());
  EMU_ASSIGN_OR_RETURN(GuestImage image, ImageFor(node));
  const std::string& image_dir = image.dir;

  GuestSpec spec;
  spec.name = absl::StrCat("emu.", lab, ".", node.name());
  spec.qemu_binary = options_.qemu_binary;
  spec.kvm = options_.kvm;
  spec.cpus = node.resources().cpus() > 0 ? node.resources().cpus()
                                          : options_.default_cpus;
  spec.memory_mib = node.resources().memory_mib() > 0
                        ? node.resources().memory_mib()
                        : options_.default_memory_mib;
  spec.image = image;
  if (!image.disk.empty()) spec.overlay = dir + "/disk.qcow2";
  for (size_t i = 0; i < nics.size(); ++i) {
    // A restored NIC has its template's MAC (the saved device state says
    // so) until the identity script sets the node's own, which QEMU's
    // device then takes over (virtio-net's control queue).
    spec.nics.push_back({absl::StrCat("gt", i), snapshot.empty()
                                                    ? MacFor(lab, node, nics[i])
                                                    : TemplateMac(i)});
  }
  if (!snapshot.empty()) {
    spec.memory_file = snapshot + "/ram";  // private: copy on write
    spec.incoming = true;
  }
  spec.qmp_socket = dir + "/qmp.sock";
  spec.console_socket = dir + "/console.sock";
  spec.pid_file = dir + "/qemu.pid";
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildQemuArgv(spec));

  EMU_RETURN_IF_ERROR(Annotate(MakeDirWithParents(options_.run_dir, 0755), what));
  EMU_RETURN_IF_ERROR(Annotate(MakeDir(dir, 0700), what));
  EMU_RETURN_IF_ERROR(Annotate(WriteFile(dir + "/image", image_dir), what));
  if (!spec.overlay.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(EnsureOverlay(image, spec.overlay), what));
  }
  EMU_RETURN_IF_ERROR(
      Annotate(WriteFile(dir + "/owner",
                         absl::StrCat(host_, " ", lab, " ", node.name(), "\n")),
               what));
  unlink((dir + "/exit_reason").c_str());
  unlink((dir + "/boot").c_str());
  unlink(spec.console_socket.c_str());
  unlink(spec.qmp_socket.c_str());
  {
    absl::MutexLock lock(&mu_);
    guests_.erase(absl::StrCat(lab, "/", node.name()));
  }
  ProcessSpec run;
  run.argv = argv;
  run.netns = ns;
  EMU_ASSIGN_OR_RETURN(pid_t pid, launcher_->Spawn(run, dir + "/qemu.log"));
  // QEMU writes its -pidfile too, but only once it runs; the guest is
  // tracked through this file from now on, so a QEMU we cannot track is
  // stopped rather than left running unseen.
  absl::Status tracked = WriteFile(spec.pid_file, absl::StrCat(pid, "\n"));
  if (!tracked.ok()) {
    absl::Status stopped = launcher_->Terminate(pid, absl::Seconds(2));
    return absl::InternalError(absl::StrCat(
        what, ": ", tracked.message(), "; QEMU pid ", pid,
        stopped.ok() ? " stopped"
                     : absl::StrCat(" not stopped: ", stopped.message())));
  }
  return absl::OkStatus();
}

absl::Status GuestManager::MakeSnapshot(const BootDecision& decision,
                                        const GuestImage& image,
                                        const SnapshotShape& shape) {
  absl::MutexLock lock(&snapshot_mu_);
  // A valid snapshot of this shape is in place: made by another guest of
  // this agent while we waited, or by another agent of the machine.
  auto made_meanwhile = [&] {
    return DecideBoot(true, options_.snapshot_dir, image, shape, snapshot_fs_)
               .mode == BootMode::kRestore;
  };
  if (made_meanwhile()) return absl::OkStatus();
  const std::string what = absl::StrCat("snapshot ", decision.dir);
  // Beside the final directory, per process (agents of several emulated
  // hosts share a machine's snapshots), moved into place once complete.
  const std::string tmp = absl::StrCat(decision.dir, ".tmp", getpid());
  EMU_RETURN_IF_ERROR(Annotate(MakeDirWithParents(options_.snapshot_dir, 0755), what));
  RemoveTree(tmp);
  EMU_RETURN_IF_ERROR(Annotate(MakeDir(tmp, 0700), what));
  GuestSpec spec;
  spec.name = absl::StrCat("emu.snapshot.", SnapshotKey(shape));
  spec.qemu_binary = options_.qemu_binary;
  spec.kvm = options_.kvm;
  spec.cpus = shape.cpus;
  spec.memory_mib = shape.memory_mib;
  spec.image = image;
  // NICs without a backend: the template needs no namespace or TAP, and
  // offers no offloads a restored guest's TAP might lack.
  for (size_t i = 0; i < shape.nics; ++i) spec.nics.push_back({"", TemplateMac(i)});
  spec.qmp_socket = tmp + "/qmp.sock";
  spec.console_socket = tmp + "/console.sock";
  spec.pid_file = tmp + "/qemu.pid";
  spec.memory_file = tmp + "/ram";
  spec.memory_shared = true;
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> argv, BuildQemuArgv(spec));
  ProcessSpec run;
  run.argv = argv;
  EMU_ASSIGN_OR_RETURN(pid_t pid, launcher_->Spawn(run, tmp + "/qemu.log"));
  auto fail = [&](absl::Status s) {
    (void)launcher_->Terminate(pid, absl::Seconds(2));
    std::string log = Tail(tmp + "/qemu.log", 2);
    RemoveTree(tmp);
    return Annotate(s, absl::StrCat(what, log.empty() ? "" : " (QEMU: " + log + ")"));
  };
  {
    auto console = SocketConsole::Connect(spec.console_socket,
                                          tmp + "/console.log", absl::Seconds(10));
    if (!console.ok()) return fail(console.status());
    ShellSession session(console->get());
    absl::Status ready =
        session.WaitReady(options_.boot_timeout, absl::Milliseconds(500));
    if (!ready.ok()) return fail(ready);
  }
  const absl::Duration qmp_timeout = absl::Seconds(5);
  for (const std::string& c : std::vector<std::string>{
           "stop",
           R"({"execute": "migrate-set-capabilities", "arguments": )"
           R"({"capabilities": [{"capability": "x-ignore-shared", )"
           R"("state": true}]}})",
           absl::StrCat(R"({"execute": "migrate", "arguments": {"uri": )",
                        R"("exec:cat > )", tmp, R"(/state"}})")}) {
    auto r = qmp_.Execute(spec.qmp_socket, c, qmp_timeout);
    if (!r.ok()) return fail(r.status());
    if (r->find("\"error\"") != std::string::npos) {
      return fail(absl::InternalError(absl::StrCat("QMP ", c, ": ", *r)));
    }
  }
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    auto r = qmp_.Execute(spec.qmp_socket, "query-migrate", qmp_timeout);
    if (!r.ok()) return fail(r.status());
    if (r->find("\"completed\"") != std::string::npos) break;
    if (r->find("\"failed\"") != std::string::npos ||
        absl::Now() > deadline) {
      return fail(absl::InternalError(absl::StrCat("saving failed: ", *r)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  (void)qmp_.Execute(spec.qmp_socket, "quit", qmp_timeout);
  (void)launcher_->Terminate(pid, absl::Seconds(3));
  // Only the RAM and the device state stay; the identity goes last.
  for (const char* f : {"qmp.sock", "console.sock", "qemu.pid", "qemu.log",
                        "console.log"}) {
    unlink(absl::StrCat(tmp, "/", f).c_str());
  }
  EMU_RETURN_IF_ERROR(Annotate(WriteFile(tmp + "/meta", decision.identity), what));
  // The agents of a machine's emulated hosts share the directory (the mutex
  // above is this process's): another one may have put the same snapshot in
  // place meanwhile, and its guests may be restoring from it. Keep it.
  if (made_meanwhile()) {
    RemoveTree(tmp);
    return absl::OkStatus();
  }
  // A stale snapshot goes (restored guests keep their mapping of its RAM:
  // the file is unlinked, never rewritten).
  RemoveTree(decision.dir);
  if (rename(tmp.c_str(), decision.dir.c_str()) != 0) {
    const int e = errno;
    std::string err = strerror(e);
    RemoveTree(tmp);
    // rename(2) does not replace a non-empty directory: one that another
    // agent moved in between the check and here serves as well.
    if ((e == ENOTEMPTY || e == EEXIST) && made_meanwhile()) {
      return absl::OkStatus();
    }
    return absl::InternalError(absl::StrCat(what, ": rename: ", err));
  }
  return absl::OkStatus();
}

int GuestManager::RemoveSnapshots(const std::string& snapshot_dir) {
  int removed = 0;
  DIR* d = opendir(snapshot_dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> dirs;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    // Only what MakeSnapshot makes: 16 hex digits, optionally ".tmp<pid>".
    if (name.size() < 16 ||
        !std::all_of(name.begin(), name.begin() + 16, [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        }) ||
        (name.size() > 16 && name.compare(16, 4, ".tmp") != 0)) {
      continue;
    }
    dirs.push_back(absl::StrCat(snapshot_dir, "/", name));
  }
  closedir(d);
  for (const std::string& dir : dirs) {
    RemoveTree(dir);
    ++removed;
  }
  rmdir(snapshot_dir.c_str());  // when empty
  return removed;
}

absl::Status GuestManager::Restore(const std::string& dir,
                                   const std::string& snapshot) {
  const absl::Duration qmp_timeout = absl::Seconds(5);
  const std::string qmp = dir + "/qmp.sock";
  absl::Time deadline = absl::Now() + options_.restore_timeout;
  struct stat st;
  while (stat(qmp.c_str(), &st) != 0) {
    if (RunningPid(dir) == 0) {
      return absl::InternalError(
          absl::StrCat("QEMU exited: ", Tail(dir + "/qemu.log", 2)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("QEMU's QMP socket did not appear");
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  for (const std::string& c : std::vector<std::string>{
           R"({"execute": "migrate-set-capabilities", "arguments": )"
           R"({"capabilities": [{"capability": "x-ignore-shared", )"
           R"("state": true}]}})",
           absl::StrCat(R"({"execute": "migrate-incoming", "arguments": )",
                        R"({"uri": "exec:cat )", snapshot, R"(/state"}})")}) {
    EMU_ASSIGN_OR_RETURN(std::string r, qmp_.Execute(qmp, c, qmp_timeout));
    if (r.find("\"error\"") != std::string::npos) {
      return absl::InternalError(absl::StrCat("QMP: ", r));
    }
  }
  while (true) {
    auto r = qmp_.Execute(qmp, "query-status", qmp_timeout);
    // {"status": "running", ...}; "inmigrate" while the state loads, then
    // "paused" (the template was stopped to be saved, and the saved run
    // state says so): continue it.
    if (r.ok() && r->find("\"status\": \"running\"") != std::string::npos) {
      break;
    }
    if (r.ok() && r->find("\"status\": \"paused\"") != std::string::npos) {
      EMU_ASSIGN_OR_RETURN(std::string c, qmp_.Execute(qmp, "cont", qmp_timeout));
      if (c.find("\"error\"") != std::string::npos) {
        return absl::InternalError(absl::StrCat("QMP cont: ", c));
      }
      continue;
    }
    if (RunningPid(dir) == 0) {
      return absl::InternalError(
          absl::StrCat("QEMU exited: ", Tail(dir + "/qemu.log", 2)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "not running after ", absl::FormatDuration(options_.restore_timeout),
          r.ok() ? ": " + *r : ""));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::OkStatus();
}

absl::Status GuestManager::EnsureOverlay(const GuestImage& image,
                                         const std::string& overlay) {
  struct stat base;
  if (stat(image.disk.c_str(), &base) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "image disk ", image.disk, " (", image.dir, "/image.conf): ",
        strerror(errno), " on host ", host_));
  }
  // What the overlay was made over: a rebuilt image is a new file (the
  // build scripts move a complete image into place), and an overlay over a
  // different base would show the guest a corrupt file system.
  std::string identity = absl::StrCat(image.disk, " ", base.st_ino, " ",
                                      base.st_size, " ", base.st_mtime, "\n");
  std::string stamp = overlay + ".base";
  struct stat st;
  if (stat(overlay.c_str(), &st) == 0 && ReadFileOr(stamp) == identity) {
    return absl::OkStatus();
  }
  unlink(overlay.c_str());
  ProcessSpec run;
  run.argv = {options_.qemu_img_binary, "create", "-q", "-f", "qcow2",
              "-F", image.disk_format, "-b", image.disk, overlay};
  run.timeout = absl::Seconds(30);
  EMU_ASSIGN_OR_RETURN(ProcessResult r, launcher_->Run(run));
  if (r.exit_code != 0) {
    unlink(overlay.c_str());
    return absl::InternalError(absl::StrCat(
        "qemu-img create of overlay ", overlay, " over ", image.disk,
        " failed (exit ", r.exit_code, "): ",
        absl::StripAsciiWhitespace(r.stderr_data)));
  }
  return WriteFile(stamp, identity);
}

absl::StatusOr<std::shared_ptr<GuestManager::Guest>> GuestManager::Attach(
    const std::string& lab, const std::string& node) {
  std::string key = absl::StrCat(lab, "/", node);
  {
    absl::MutexLock lock(&mu_);
    auto it = guests_.find(key);
    if (it != guests_.end()) return it->second;
  }
  // One connection per QEMU console (its socket serves one client): the
  // slow path is serialised and re-checks the map.
  absl::MutexLock attach_lock(&attach_mu_);
  {
    absl::MutexLock lock(&mu_);
    auto it = guests_.find(key);
    if (it != guests_.end()) return it->second;
  }
  std::string dir = DirFor(lab, node);
  if (RunningPid(dir) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "guest ", node, " of lab ", lab, ": QEMU is not running",
        Has(lab, node) ? absl::StrCat(" (", ExitReason(dir),
                                      "); `emuctl restart` starts it again")
                       : ""));
  }
  auto guest = std::make_shared<Guest>();
  EMU_ASSIGN_OR_RETURN(
      guest->console,
      SocketConsole::Connect(dir + "/console.sock", dir + "/console.log",
                             absl::Seconds(10)));
  guest->session = std::make_unique<ShellSession>(guest->console.get());
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = guests_.emplace(key, guest);
  return it->second;
}

absl::Status GuestManager::Ensure(const emu::v1::ApplyLabRequest& desired,
                                  const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  struct Todo {
    const emu::v1::Node* node;
    std::vector<std::string> nics;
    bool started = false;
    std::string snapshot;     // restoring from this snapshot directory
    std::string cold_reason;  // why a started guest boots cold
    std::string made;         // "snapshot made in 4.9s" when this Ensure made it
    absl::Time spawned;
  };
  std::vector<Todo> todo;
  for (const auto& node : desired.nodes()) {
    if (!IsGuest(node)) continue;
    Todo t{&node, NicNames(desired, node)};
    std::string dir = DirFor(lab, node.name());
    EMU_RETURN_IF_ERROR(Wire(lab, node.name(), t.nics));
    if (RunningPid(dir) == 0) {
      std::string before = Has(lab, node.name()) ? ExitReason(dir) : "";
      EMU_ASSIGN_OR_RETURN(GuestImage image, ImageFor(node));
      SnapshotShape shape = ShapeFor(node, image, t.nics.size());
      BootDecision d = DecideBoot(options_.snapshots, options_.snapshot_dir,
                                  image, shape, snapshot_fs_);
      if (d.mode == BootMode::kMakeSnapshot) {
        progress(absl::StrCat("node ", node.name()),
                 absl::StrCat("making a snapshot of image ", image.dir, " (",
                              d.reason, ")"));
        absl::Time m0 = absl::Now();
        absl::Status made = MakeSnapshot(d, image, shape);
        if (made.ok()) {
          d.mode = BootMode::kRestore;
          t.made = absl::StrCat(
              "snapshot made in ",
              absl::FormatDuration(
                  absl::Trunc(absl::Now() - m0, absl::Milliseconds(10))));
        } else {
          d.mode = BootMode::kColdBoot;
          d.reason = absl::StrCat("making a snapshot failed: ", made.message());
          Log("guest ", node.name(), " of lab ", lab, ": ", d.reason);
        }
      }
      if (d.mode == BootMode::kRestore) {
        t.snapshot = d.dir;
      } else {
        t.cold_reason = d.reason;
      }
      t.spawned = absl::Now();
      EMU_RETURN_IF_ERROR(Start(lab, node, t.nics, t.snapshot));
      t.started = true;
      progress(
          absl::StrCat("node ", node.name()),
          absl::StrCat(
              "QEMU started (", options_.kvm ? "kvm" : "tcg", ", ",
              t.nics.size(), " NICs, ",
              t.snapshot.empty() ? absl::StrCat("cold boot: ", t.cold_reason)
                                 : absl::StrCat("restoring ", t.snapshot),
              ")",
              before.empty() ? "" : absl::StrCat("; it had exited: ", before)));
    }
    todo.push_back(std::move(t));
  }
  // Boot and configure in parallel: boot time dominates.
  std::vector<absl::Status> results(todo.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < todo.size(); ++k) {
    threads.emplace_back([&, k] {
      const Todo& t = todo[k];
      const std::string& name = t.node->name();
      std::string dir = DirFor(lab, name);
      absl::Time t0 = t.started ? t.spawned : absl::Now();
      std::string cold_reason = t.cold_reason;
      bool restored = false;
      // A restore that fails becomes a cold boot of the same guest.
      auto cold = [&](const absl::Status& why) {
        cold_reason = absl::StrCat("restore failed: ", why.message());
        progress(absl::StrCat("node ", name),
                 absl::StrCat(cold_reason, "; cold boot"));
        restored = false;
        absl::Status s = Stop({dir, lab, name}, /*keep_disk=*/true);
        return s.ok() ? Start(lab, *t.node, t.nics) : s;
      };
      if (!t.snapshot.empty()) {
        absl::Status r = Restore(dir, t.snapshot);
        if (r.ok()) {
          restored = true;
        } else if (absl::Status c = cold(r); !c.ok()) {
          results[k] = c;
          return;
        }
      }
      auto guest = Attach(lab, name);
      if (guest.ok() && restored) {
        absl::Status s = (*guest)->session->WaitReady(options_.restore_timeout,
                                                      absl::Milliseconds(200));
        if (!s.ok()) {
          if (absl::Status c = cold(s); !c.ok()) {
            results[k] = c;
            return;
          }
          guest = Attach(lab, name);
        }
      }
      if (!guest.ok()) {
        results[k] = guest.status();
        return;
      }
      if (GuestImage image = ImageOf(dir); image.console == "none") {
        // Not scriptable: ready when its ready text shows (or now).
        absl::Time deadline = absl::Now() + options_.boot_timeout;
        while (!image.ready_text.empty() &&
               ReadFileOr(dir + "/console.log").find(image.ready_text) ==
                   std::string::npos) {
          if (absl::Now() > deadline || RunningPid(dir) == 0) {
            results[k] = absl::DeadlineExceededError(
                absl::StrCat("guest ", name, ": '", image.ready_text,
                             "' did not appear on its console within ",
                             absl::FormatDuration(options_.boot_timeout)));
            return;
          }
          absl::SleepFor(absl::Milliseconds(100));
        }
        progress(absl::StrCat("node ", name),
                 "guest running (image console=none: not configured by emu)");
        return;
      }
      std::vector<GuestNicName> nics;
      for (const auto& n : t.nics) {
        GuestNicName g{n, MacFor(lab, *t.node, n), 0};
        for (const auto& i : t.node->interfaces()) {
          if (i.name() == n) g.mtu = i.mtu();
        }
        nics.push_back(g);
      }
      const std::string script = GuestConfigScript(*t.node, nics);
      if (!t.started && (*guest)->ready && (*guest)->configured == script) {
        progress(absl::StrCat("node ", name),
                 "guest running, configuration unchanged");
        return;
      }
      absl::Status s =
          restored ? absl::OkStatus()
                   : (*guest)->session->WaitReady(options_.boot_timeout,
                                                  absl::Milliseconds(500));
      if (!s.ok()) {
        results[k] = absl::DeadlineExceededError(absl::StrCat(
            "guest ", name, ": console did not answer within ",
            absl::FormatDuration(options_.boot_timeout), " (",
            RunningPid(dir) == 0
                ? absl::StrCat("QEMU exited: ", Tail(dir + "/qemu.log", 2))
                : absl::StrCat("last console lines: ",
                               Tail(dir + "/console.log", 3)),
            ")"));
        return;
      }
      absl::Duration answered = absl::Now() - t0;
      std::vector<std::string> macs;
      for (const auto& n : nics) macs.push_back(n.mac);
      auto r = (*guest)->session->Run(
          restored ? absl::StrCat(RestoreIdentityScript(macs, absl::Now(),
                                                        RandomHex(32)),
                                  script)
                   : script,
          kConfigTimeout);
      if (!r.ok()) {
        results[k] = r.status();
      } else if (r->timed_out || r->exit_code != 0) {
        results[k] = absl::InternalError(absl::StrCat(
            "guest ", name, ": configuration failed (exit ", r->exit_code,
            r->timed_out ? ", timed out" : "", "): ", r->stderr_data));
      } else if (absl::Status p = Pin(dir, *t.node); !p.ok()) {
        results[k] = Annotate(p, absl::StrCat("guest ", name));
      } else {
        (*guest)->configured = script;
        (*guest)->ready = true;
        if (t.started) {
          // How it came up, for `emuctl status` (List's detail).
          std::string took = absl::FormatDuration(
              absl::Trunc(absl::Now() - t0, absl::Milliseconds(10)));
          std::string how =
              restored ? absl::StrCat("restored ", took,
                                      t.made.empty() ? "" : "; " + t.made)
                       : absl::StrCat("cold boot ", took, ": ", cold_reason);
          absl::Status kept = WriteFile(dir + "/boot", how);
          if (!kept.ok()) Log("guest ", name, ": ", kept.message());
        }
        progress(
            absl::StrCat("node ", name),
            absl::StrCat(
                restored ? "guest restored and configured"
                         : "guest ready and configured",
                t.started ? absl::StrCat(
                                " ",
                                absl::FormatDuration(absl::Trunc(
                                    absl::Now() - t0, absl::Milliseconds(1))),
                                " after start (console answered after ",
                                absl::FormatDuration(absl::Trunc(
                                    answered, absl::Milliseconds(1))),
                                ")")
                          : ""));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status GuestManager::Pin(const std::string& dir,
                               const emu::v1::Node& node) {
  if (node.cpu_set().empty()) return absl::OkStatus();
  EMU_ASSIGN_OR_RETURN(
      std::string reply,
      qmp_.Execute(dir + "/qmp.sock", "query-cpus-fast", absl::Seconds(5)));
  std::vector<int> tids = ThreadIds(reply);
  if (tids.empty()) {
    return absl::InternalError(
        absl::StrCat("pin vCPUs: no thread ids in QMP reply: ", reply));
  }
  for (size_t i = 0; i < tids.size(); ++i) {
    uint32_t cpu = node.cpu_set(i % node.cpu_set_size());
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tids[i], sizeof(set), &set) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("pin vCPU ", i, " (thread ", tids[i], ") to host CPU ",
                       cpu, ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::ExecResponse> GuestManager::Exec(
    const emu::v1::ExecRequest& req, std::function<bool()> cancelled) {
  if (!req.stdin().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guest ", req.node(), ": exec through the console takes no stdin"));
  }
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Guest> guest,
                       Attach(req.lab(), req.node()));
  if (ImageOf(DirFor(req.lab(), req.node())).console == "none") {
    return absl::FailedPreconditionError(absl::StrCat(
        "guest ", req.node(), " of lab ", req.lab(),
        ": its image has console=none (no shell emu can drive); use "
        "`emuctl console`"));
  }
  if (!guest->ready) {
    // Booting, or found after an agent restart: one quick probe decides.
    if (!guest->session->WaitReady(absl::Seconds(2), absl::Seconds(1)).ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "guest ", req.node(), " of lab ", req.lab(),
          " is still booting (its console shell does not answer yet)"));
    }
    guest->ready = true;
  }
  std::vector<std::string> quoted;
  for (const auto& a : req.argv()) quoted.push_back(ShellQuote(a));
  absl::Duration timeout = req.timeout_ms() > 0
                               ? absl::Milliseconds(req.timeout_ms())
                               : kDefaultExecTimeout;
  absl::Time start = absl::Now();
  auto r = guest->session->Run(absl::StrJoin(quoted, " "), timeout,
                               std::move(cancelled));
  if (!r.ok()) {
    if (absl::IsUnavailable(r.status())) {  // the console closed
      {
        absl::MutexLock lock(&mu_);
        guests_.erase(absl::StrCat(req.lab(), "/", req.node()));
      }
      absl::SleepFor(absl::Milliseconds(100));  // let QEMU's exit land
      std::string dir = DirFor(req.lab(), req.node());
      if (RunningPid(dir) == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("guest ", req.node(), " of lab ", req.lab(),
                         ": QEMU exited during the command (", ExitReason(dir),
                         "); `emuctl restart` starts it again"));
      }
    }
    return Annotate(r.status(), absl::StrCat("guest ", req.node()));
  }
  emu::v1::ExecResponse resp;
  resp.set_exit_code(r->exit_code);
  resp.set_stdout(std::move(r->stdout_data));
  resp.set_stderr(std::move(r->stderr_data));
  resp.set_timed_out(r->timed_out);
  resp.set_start_unix_us(absl::ToUnixMicros(start));
  resp.set_end_unix_us(absl::ToUnixMicros(absl::Now()));
  return resp;
}

absl::StatusOr<std::shared_ptr<SocketConsole>> GuestManager::ConsoleOf(
    const std::string& lab, const std::string& node) {
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Guest> guest, Attach(lab, node));
  return guest->console;
}

absl::StatusOr<std::string> GuestManager::Kill(const std::string& lab,
                                               const std::string& node) {
  if (!Has(lab, node)) {
    return absl::NotFoundError(absl::StrCat("node ", node, " of lab ", lab,
                                            " is not a guest on host ", host_));
  }
  Found g{DirFor(lab, node), lab, node};
  std::string reason = RunningPid(g.dir) == 0 ? ExitReason(g.dir) : "";
  EMU_RETURN_IF_ERROR(Stop(g, /*keep_disk=*/true));
  return reason;
}

absl::Status GuestManager::ApplyQdiscs(const std::string& lab,
                                       const std::string& node,
                                       const std::string& dev,
                                       const linkemu::QdiscPlan& plan) {
  if (ImageOf(DirFor(lab, node)).console == "none") {
    if (plan.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "guest ", node, ": NetEm on ", dev,
        " is programmed inside the guest, "
        "but its image has console=none; shape this direction from the other "
        "end or use an image with a shell"));
  }
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Guest> guest, Attach(lab, node));
  EMU_ASSIGN_OR_RETURN(
      ShellResult r,
      guest->session->Run(absl::StrCat("set -e\n", GuestQdiscScript(dev, plan)),
                          kConfigTimeout));
  if (r.timed_out || r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("guest ", node, ": tc on ", dev, " (", plan.DebugString(),
                     ") failed with exit ", r.exit_code, ": ", r.stderr_data));
  }
  return absl::OkStatus();
}

absl::Status GuestManager::Stop(const Found& g, bool keep_disk) {
  {
    absl::MutexLock lock(&mu_);
    guests_.erase(absl::StrCat(g.lab, "/", g.node));
  }
  pid_t pid = RunningPid(g.dir);
  if (pid > 0) {
    (void)qmp_.Execute(g.dir + "/qmp.sock", "quit", absl::Seconds(2));
    absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (RunningPid(g.dir) > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (RunningPid(g.dir) > 0) {
      kill(pid, SIGKILL);
      deadline = absl::Now() + absl::Seconds(3);
      while (RunningPid(g.dir) > 0 && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (RunningPid(g.dir) > 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("guest ", g.node, " of lab ", g.lab, ": QEMU pid ",
                         pid, " survives SIGKILL"));
      }
    }
  }
  RemoveTree(g.dir, keep_disk);
  if (keep_disk) {
    return WriteFile(g.dir + "/exit_reason", "stopped to be restarted");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GuestManager::DestroyLab(const std::string& lab) {
  int removed = 0;
  absl::Status first;
  for (const Found& g : Scan()) {
    if (g.lab != lab) continue;
    absl::Status s = Stop(g);
    if (s.ok()) {
      ++removed;
    } else if (first.ok()) {
      first = s;
    }
  }
  if (!first.ok()) return first;
  return removed;
}

int GuestManager::CollectGarbage(const std::vector<std::string>& known_labs) {
  int removed = 0;
  for (const Found& g : Scan()) {
    if (std::find(known_labs.begin(), known_labs.end(), g.lab) !=
        known_labs.end()) {
      continue;
    }
    if (Stop(g).ok()) ++removed;
  }
  return removed;
}

std::vector<emu::v1::OwnedResource> GuestManager::List(const std::string& lab) {
  std::vector<emu::v1::OwnedResource> out;
  for (const Found& g : Scan()) {
    if (!lab.empty() && g.lab != lab) continue;
    emu::v1::OwnedResource r;
    r.set_lab(g.lab);
    r.set_node(g.node);
    r.set_kind(emu::v1::OwnedResource::STATE_FILE);
    pid_t pid = RunningPid(g.dir);
    // A dead guest's directory says why: "<dir> (QEMU exited: ...)".
    r.set_name(pid > 0 ? g.dir
                       : absl::StrCat(
                             g.dir, " (QEMU exited: ", ExitReason(g.dir), ")"));
    // The guest's state rides on its directory resource.
    if (pid == 0) {
      r.set_state("exited");
      r.set_detail(ExitReason(g.dir));
    } else {
      absl::MutexLock lock(&mu_);
      auto it = guests_.find(absl::StrCat(g.lab, "/", g.node));
      r.set_state(it != guests_.end() && it->second->ready ? "ready"
                                                           : "booting");
      // "restored 0.62s" / "cold boot 4.31s: no snapshot ..." once ready.
      r.set_detail(ReadFileOr(g.dir + "/boot"));
    }
    out.push_back(r);
    r.clear_state();
    r.clear_detail();
    if (pid > 0) {
      r.set_kind(emu::v1::OwnedResource::PROCESS);
      r.set_name(absl::StrCat("qemu ", pid));
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace emu::agent::guest
