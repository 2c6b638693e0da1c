#include "agent/net/enter_namespace.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "agent/net/host_network.h"

namespace emu::agent::net {
namespace {

int Threads() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

}  // namespace

absl::StatusOr<std::string> EnterNamespaceAtStart(const std::string& netns_dir,
                                                  const std::string& name) {
  if (absl::Status s = ValidateNamespaceName(name); !s.ok()) return s;
  const std::string what = absl::StrCat("enter network namespace ", name);
  if (int n = Threads(); n != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the process has ", n, " threads; setns would move one"));
  }
  // Open for the process's life. ProcessLauncher opens ProcessSpec::netns
  // in this process, so close-on-exec does not hide it.
  const int original = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    return ErrnoToStatus(errno, absl::StrCat(what, ": open /proc/self/ns/net"));
  }
  const std::string path = absl::StrCat(netns_dir, "/", name);
  const int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    const int e = errno;
    close(original);
    return ErrnoToStatus(e, absl::StrCat(what, ": open ", path));
  }
  const int r = setns(target, CLONE_NEWNET);
  const int e = errno;
  close(target);
  if (r != 0) {
    close(original);
    return ErrnoToStatus(e, absl::StrCat(what, ": setns"));
  }
  return absl::StrCat("/proc/self/fd/", original);
}

}  // namespace emu::agent::net
