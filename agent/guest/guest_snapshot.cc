#include "agent/guest/guest_snapshot.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/guest/console_session.h"
#include "agent/guest/fnv1a.h"
#include "agent/guest/guest_config.h"

namespace emu::agent::guest {
namespace {

// Bumped when what a template runs or how it is saved changes.
constexpr int kFormat = 1;

}  // namespace

std::string SnapshotKey(const SnapshotShape& s) {
  return absl::StrCat(absl::Hex(Fnv1a(absl::StrCat(
                                    s.image_dir, "\x1f", s.cpus, "\x1f",
                                    s.memory_mib, "\x1f", s.nics, "\x1f",
                                    s.kvm ? "kvm" : "tcg", "\x1f",
                                    s.qemu_binary)),
                                absl::kZeroPad16));
}

absl::StatusOr<std::string> PosixSnapshotFs::Read(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": ", strerror(errno)));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool PosixSnapshotFs::Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string PosixSnapshotFs::FileIdentity(const std::string& path) {
  std::string p = path;
  if (p.find('/') == std::string::npos) {
    const char* env = getenv("PATH");
    p.clear();
    for (absl::string_view d : absl::StrSplit(env ? env : "", ':')) {
      std::string c = absl::StrCat(d, "/", path);
      if (access(c.c_str(), X_OK) == 0) {
        p = c;
        break;
      }
    }
    if (p.empty()) return "";
  }
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_ino, " ", st.st_size, " ", st.st_mtime);
}

BootDecision DecideBoot(bool enabled, const std::string& root,
                        const GuestImage& image, const SnapshotShape& shape,
                        SnapshotFs& fs) {
  BootDecision d;
  d.dir = absl::StrCat(root, "/", SnapshotKey(shape));
  if (!enabled) {
    d.reason = "snapshots off (--guest_snapshots=false)";
    return d;
  }
  if (image.console != "shell") {
    d.reason = "image has console=none (no shell to tell when it is ready)";
    return d;
  }
  if (!image.disk.empty()) {
    // Its memory would hold the template's view of a disk each guest
    // writes on its own.
    d.reason = "image has a disk";
    return d;
  }
  std::string kernel = fs.FileIdentity(image.kernel);
  std::string initrd =
      image.initrd.empty() ? "-" : fs.FileIdentity(image.initrd);
  std::string qemu = fs.FileIdentity(shape.qemu_binary);
  if (kernel.empty() || initrd.empty() || qemu.empty()) {
    d.reason = absl::StrCat(kernel.empty()   ? image.kernel
                            : initrd.empty() ? image.initrd
                                             : shape.qemu_binary,
                            " not found");
    return d;
  }
  d.identity = absl::StrCat("format=", kFormat, "\nkernel=", image.kernel, " ",
                            kernel, "\ninitrd=", image.initrd, " ", initrd,
                            "\nappend=", image.append, "\nqemu=",
                            shape.qemu_binary, " ", qemu, "\nshape=",
                            shape.cpus, " cpus, ", shape.memory_mib, " MiB, ",
                            shape.nics, " NICs, ", shape.kvm ? "kvm" : "tcg",
                            "\n");
  auto meta = fs.Read(d.dir + "/meta");
  if (!meta.ok() || !fs.Exists(d.dir + "/state") ||
      !fs.Exists(d.dir + "/ram")) {
    d.mode = BootMode::kMakeSnapshot;
    d.reason = "no snapshot yet";
    return d;
  }
  if (*meta != d.identity) {
    d.mode = BootMode::kMakeSnapshot;
    d.reason = "image or QEMU changed since the snapshot";
    return d;
  }
  d.mode = BootMode::kRestore;
  return d;
}

std::string TemplateMac(size_t index) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "02:e0:00:00:%02x:%02x",
                static_cast<unsigned>((index >> 8) & 0xff),
                static_cast<unsigned>(index & 0xff));
  return buf;
}

std::string RestoreIdentityScript(const std::vector<std::string>& macs,
                                  absl::Time now, const std::string& seed) {
  std::string s = "set -e\n";
  absl::StrAppend(&s, "date -u -s @", absl::ToUnixSeconds(now),
                  " >/dev/null\n");
  if (!seed.empty()) {
    absl::StrAppend(&s, "echo ", ShellQuote(seed), " > /dev/urandom\n");
  }
  if (macs.empty()) return s;
  absl::StrAppend(&s, kDevByMacShell);
  for (size_t i = 0; i < macs.size(); ++i) {
    absl::StrAppend(&s, "n", i, "=$(dev_by_mac ", TemplateMac(i), ")\n");
  }
  for (size_t i = 0; i < macs.size(); ++i) {
    absl::StrAppend(&s, "ip link set dev \"$n", i, "\" down\n",
                    "ip link set dev \"$n", i, "\" address ",
                    ShellQuote(macs[i]), "\n");
  }
  return s;
}

}  // namespace emu::agent::guest
