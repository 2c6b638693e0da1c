#include "agent/reconcile/lab_spec_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/errno_status.h"

namespace emu::agent::reconcile {
namespace {

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      cur = path.substr(0, i);
      if (mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoToStatus(errno, absl::StrCat("mkdir ", cur));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LabSpecStore> LabSpecStore::Open(const std::string& state_dir) {
  std::string dir = absl::StrCat(state_dir, "/labs");
  absl::Status s = MakeDirs(dir);
  if (!s.ok()) return s;
  return LabSpecStore(dir);
}

std::string LabSpecStore::PathFor(const std::string& lab) const {
  return absl::StrCat(dir_, "/", lab, ".pb");
}

absl::Status LabSpecStore::Save(const emu::v1::ApplyLabRequest& spec) const {
  std::string path = PathFor(spec.lab());
  std::string tmp = absl::StrCat(path, ".tmp");
  std::string data;
  spec.SerializeToString(&data);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("write ", tmp));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoToStatus(err, absl::StrCat("write ", tmp));
    }
    off += n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("sync ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", tmp));
  }
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::ApplyLabRequest> LabSpecStore::Load(
    const std::string& lab) const {
  std::string path = PathFor(lab);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("lab spec ", path));
  emu::v1::ApplyLabRequest spec;
  if (!spec.ParseFromIstream(&in)) {
    return absl::DataLossError(absl::StrCat("lab spec ", path, ": corrupt"));
  }
  return spec;
}

absl::Status LabSpecStore::Remove(const std::string& lab) const {
  std::string path = PathFor(lab);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(errno, absl::StrCat("remove ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LabSpecStore::List() const {
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return ErrnoToStatus(errno, absl::StrCat("list ", dir_));
  std::vector<std::string> labs;
  while (dirent* e = readdir(d)) {
    absl::string_view name(e->d_name);
    if (absl::ConsumeSuffix(&name, ".pb")) labs.emplace_back(name);
  }
  closedir(d);
  std::sort(labs.begin(), labs.end());
  return labs;
}

}  // namespace emu::agent::reconcile
