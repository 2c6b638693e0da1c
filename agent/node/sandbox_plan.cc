#include "agent/node/sandbox_plan.h"

#include <linux/capability.h>
#include <sys/mount.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace emu::agent::node {
namespace {

MountStep Step(MountStep::Kind kind, std::string target) {
  MountStep s;
  s.kind = kind;
  s.target = std::move(target);
  return s;
}

MountStep NewFs(std::string target, std::string fstype, std::string source,
                unsigned long flags, std::string data = "") {
  MountStep s = Step(MountStep::Kind::kMount, std::move(target));
  s.fstype = std::move(fstype);
  s.source = std::move(source);
  s.flags = flags;
  s.data = std::move(data);
  return s;
}

MountStep Bind(std::string source, std::string target, bool read_only,
               bool optional) {
  MountStep s = Step(MountStep::Kind::kBind, std::move(target));
  s.source = std::move(source);
  s.read_only = read_only;
  s.optional = optional;
  return s;
}

MountStep Mask(std::string target) {
  MountStep s = Step(MountStep::Kind::kMask, std::move(target));
  s.optional = true;
  return s;
}

}  // namespace

std::vector<MountStep> BuildSandboxMounts(const SandboxOptions& options) {
  using K = MountStep::Kind;
  std::vector<MountStep> steps;
  // Nothing the node mounts reaches the host, and nothing of the host's
  // later mounts (other labs' namespaces under /run/netns) reaches it.
  steps.push_back(Step(K::kPrivateTree, "/"));
  steps.push_back(Step(K::kReadOnlyTree, "/"));
  // /proc of the node's PID namespace (this process mounts it as its init).
  steps.push_back(NewFs("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  // Kernel-wide knobs stay read-only; the network's are the node's own.
  steps.push_back(Bind("/proc/sys", "/proc/sys", true, false));
  steps.push_back(Bind("/proc/sys/net", "/proc/sys/net", false, false));
  for (const char* ro : {"/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
                         "/proc/fs"}) {
    steps.push_back(Bind(ro, ro, true, true));
  }
  // /sys of the node's network namespace: its interfaces only.
  steps.push_back(NewFs("/sys", "sysfs", "sysfs",
                        MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  // /dev: the harmless devices, made here (the node may not make more).
  steps.push_back(NewFs("/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC,
                        "mode=755,size=1m"));
  struct Dev {
    const char* name;
    unsigned major, minor;
  };
  for (const Dev& d : {Dev{"null", 1, 3}, Dev{"zero", 1, 5}, Dev{"full", 1, 7},
                       Dev{"random", 1, 8}, Dev{"urandom", 1, 9},
                       Dev{"tty", 5, 0}}) {
    MountStep s = Step(K::kMknod, absl::StrCat("/dev/", d.name));
    s.mode = 0666;
    s.major = d.major;
    s.minor = d.minor;
    steps.push_back(s);
  }
  for (const auto& [link, to] :
       {std::pair<const char*, const char*>{"/dev/fd", "/proc/self/fd"},
        {"/dev/stdin", "/proc/self/fd/0"},
        {"/dev/stdout", "/proc/self/fd/1"},
        {"/dev/stderr", "/proc/self/fd/2"},
        {"/dev/ptmx", "pts/ptmx"}}) {
    MountStep s = Step(K::kSymlink, link);
    s.source = to;
    steps.push_back(s);
  }
  for (const char* dir : {"/dev/pts", "/dev/shm"}) {
    MountStep s = Step(K::kMkdir, dir);
    s.mode = 0755;
    steps.push_back(s);
  }
  steps.push_back(NewFs("/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                        "newinstance,ptmxmode=0666,mode=620"));
  steps.push_back(NewFs("/dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NODEV,
                        "mode=1777,size=64m"));
  steps.push_back(NewFs("/tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                        "mode=1777,size=256m"));
  steps.push_back(NewFs("/run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                        "mode=755,size=64m"));
  // What the kernel shows that a node has no business reading.
  for (const char* m : {"/proc/kcore", "/proc/keys", "/proc/timer_list",
                        "/proc/sched_debug", "/proc/acpi", "/proc/scsi",
                        "/sys/firmware"}) {
    steps.push_back(Mask(m));
  }
  // The host's secrets that root may read whatever its capabilities (it
  // owns them): password hashes, the SSH host keys, TLS private keys. Until
  // a node's root is a user namespace's, not the host's (docs/security.md).
  for (const char* m : {"/etc/shadow", "/etc/shadow-", "/etc/gshadow",
                        "/etc/gshadow-", "/etc/ssh", "/etc/ssl/private"}) {
    steps.push_back(Mask(m));
  }
  for (const std::string& m : options.masked_paths) steps.push_back(Mask(m));
  return steps;
}

uint64_t NodeCapabilities() {
  uint64_t caps = 0;
  for (int cap : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
                  CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP,
                  CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_NET_ADMIN,
                  CAP_NET_BROADCAST, CAP_SYS_CHROOT, CAP_AUDIT_WRITE,
                  CAP_SETFCAP}) {
    caps |= uint64_t{1} << cap;
  }
  return caps;
}

absl::Status ValidateSandboxOptions(const SandboxOptions& options) {
  if (options.masked_paths.size() > static_cast<size_t>(kMaxMaskedPaths)) {
    return absl::InvalidArgumentError(
        absl::StrCat("node sandbox: ", options.masked_paths.size(),
                     " masked paths, at most ", kMaxMaskedPaths));
  }
  for (const std::string& p : options.masked_paths) {
    const bool dotdot = absl::StrContains(absl::StrCat(p, "/"), "/../") ||
                        absl::StrContains(absl::StrCat(p, "/"), "/./");
    if (p.size() < 2 || p[0] != '/' || dotdot ||
        p.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node sandbox: masked path \"", p,
          "\": want an absolute path other than / without . or .."));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> HolderArgv(const std::string& netns,
                                    const SandboxOptions& options) {
  std::vector<std::string> argv = {kHolderMarker, netns};
  for (const std::string& m : options.masked_paths) {
    argv.push_back(absl::StrCat("--mask=", m));
  }
  return argv;
}

absl::StatusOr<HolderArgs> ParseHolderArgv(
    const std::vector<std::string>& argv) {
  if (argv.size() < 2 || argv[0] != kHolderMarker || argv[1].empty() ||
      argv[1].find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node sandbox holder: want ", kHolderMarker, " NETNS [--mask=PATH]..."));
  }
  HolderArgs args;
  args.netns = argv[1];
  for (size_t i = 2; i < argv.size(); ++i) {
    if (!absl::StartsWith(argv[i], "--mask=")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node sandbox holder: unknown argument \"", argv[i], "\""));
    }
    args.options.masked_paths.push_back(argv[i].substr(7));
  }
  if (absl::Status s = ValidateSandboxOptions(args.options); !s.ok()) return s;
  return args;
}

}  // namespace emu::agent::node
