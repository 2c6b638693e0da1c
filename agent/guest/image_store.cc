#include "agent/guest/image_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/guest/qemu_argv.h"
#include "deploy/images/image_recipes.h"

namespace emu::agent::guest {
namespace {

constexpr int kLogTailLines = 15;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// Bytes the directory's files take on disk (disks are sparse).
uint64_t DiskUse(const std::string& dir) {
  uint64_t total = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    struct stat st;
    if (e->d_name[0] == '.') continue;
    if (stat(absl::StrCat(dir, "/", e->d_name).c_str(), &st) == 0 &&
        S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  closedir(d);
  return total;
}

std::string Tail(const std::string& text, int lines) {
  std::vector<absl::string_view> all =
      absl::StrSplit(text, '\n', absl::SkipWhitespace());
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + from, all.end(), "\n");
}

}  // namespace

ImageStore::ImageStore(std::string host, ProcessLauncher* launcher,
                       Options options)
    : host_(std::move(host)), launcher_(launcher), options_(std::move(options)) {}

absl::StatusOr<std::vector<emu::v1::GuestImageInfo>> ImageStore::List() const {
  std::vector<emu::v1::GuestImageInfo> images;
  DIR* d = opendir(options_.image_root.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return images;  // no image built yet
    return absl::InternalError(absl::StrCat(
        "image directory ", options_.image_root, ": ", strerror(errno)));
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st;
    std::string path = absl::StrCat(options_.image_root, "/", e->d_name);
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      names.emplace_back(e->d_name);
    }
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string dir = absl::StrCat(options_.image_root, "/", name);
    emu::v1::GuestImageInfo info;
    info.set_host(host_);
    info.set_name(name);
    info.set_size_bytes(DiskUse(dir));
    std::string conf;
    if (!ReadFile(dir + "/image.conf", &conf)) {
      info.set_problem(absl::StrCat("no ", dir, "/image.conf"));
      images.push_back(std::move(info));
      continue;
    }
    absl::StatusOr<GuestImage> image = ParseImageConf(dir, conf);
    if (!image.ok()) {
      info.set_problem(std::string(image.status().message()));
      images.push_back(std::move(info));
      continue;
    }
    info.set_kind(image->disk.empty() ? "initramfs" : "disk");
    info.set_kernel_release(image->kernel_release);
    info.set_packages(image->packages);
    info.set_console(image->console);
    std::vector<std::string> missing;
    for (const std::string* f : {&image->kernel, &image->initrd, &image->disk}) {
      struct stat st;
      if (!f->empty() && stat(f->c_str(), &st) != 0) missing.push_back(*f);
    }
    if (!missing.empty()) {
      info.set_problem(absl::StrCat("missing ", absl::StrJoin(missing, ", ")));
    }
    images.push_back(std::move(info));
  }
  return images;
}

absl::StatusOr<emu::v1::BuildImageResponse> ImageStore::Build(
    const emu::v1::BuildImageRequest& request) {
  const std::string recipe =
      request.recipe().empty() ? "default" : request.recipe();
  const std::string what =
      absl::StrCat("image ", request.name(), " on host ", host_);
  absl::string_view script = images::RecipeScript(recipe);
  if (script.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unknown recipe '", recipe, "' (recipes: ",
                     absl::StrJoin(images::RecipeNames(), ", "), ")"));
  }
  if (request.packages_size() > 0 && recipe != "debian") {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": recipe ", recipe,
        " takes no packages (the debian recipe installs them)"));
  }
  if (!build_mu_.TryLock()) {
    return absl::AbortedError(absl::StrCat(
        what, ": another image is being built on this host; try again when it "
              "is done"));
  }
  struct Unlock {
    absl::Mutex* mu;
    ~Unlock() { mu->Unlock(); }
  } unlock{&build_mu_};

  ProcessSpec run;
  run.argv = {options_.shell, "-s", "--",
              absl::StrCat(options_.image_root, "/", request.name())};
  run.stdin_data = std::string(script);
  run.timeout = options_.build_timeout;
  run.max_output_bytes = 1 << 20;
  if (!options_.build_netns.empty()) {
    run.netns = options_.build_netns;
    run.share_mounts = true;  // the image lands where the agent reads it
  }
  if (request.packages_size() > 0) {
    run.extra_env.push_back(absl::StrCat("EMU_IMAGE_PACKAGES=",
                                         absl::StrJoin(request.packages(), ",")));
  }
  if (request.rebuild()) run.extra_env.push_back("EMU_IMAGE_REBUILD=1");
  absl::Time start = absl::Now();
  absl::StatusOr<ProcessResult> r = launcher_->Run(run);
  if (!r.ok()) return r.status();
  std::string log = absl::StrCat(r->stdout_data, r->stderr_data);
  if (r->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": recipe ", recipe, " did not finish within ",
                     absl::FormatDuration(options_.build_timeout), ":\n",
                     Tail(log, kLogTailLines)));
  }
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": recipe ", recipe, " failed (exit ", r->exit_code,
                     "):\n", Tail(log, kLogTailLines)));
  }
  emu::v1::BuildImageResponse response;
  response.set_host(host_);
  response.set_name(request.name());
  response.set_up_to_date(absl::StrContains(r->stderr_data, " up to date"));
  response.set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  response.set_log_tail(Tail(log, kLogTailLines));
  return response;
}

}  // namespace emu::agent::guest
