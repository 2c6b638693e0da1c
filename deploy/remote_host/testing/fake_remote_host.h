// A RemoteHost in memory for unit tests: files written by Copy are kept
// (content and mode), every command is recorded, and commands are answered
// by the test's handler (a simulated host). A command can be made to fail
// as if the connection dropped.
#ifndef EMU_DEPLOY_REMOTE_HOST_TESTING_FAKE_REMOTE_HOST_H_
#define EMU_DEPLOY_REMOTE_HOST_TESTING_FAKE_REMOTE_HOST_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/remote_host/remote_host.h"

namespace emu::deploy::remote_host {

class FakeRemoteHost : public RemoteHost {
 public:
  struct File {
    std::string content;
    int mode = 0;
  };
  using Handler = std::function<RunResult(const std::string& command)>;

  explicit FakeRemoteHost(Handler handler) : handler_(std::move(handler)) {}

  std::string Describe() const override { return "fake-host"; }
  absl::StatusOr<RunResult> Run(const std::string& command) override {
    commands.push_back(command);
    if (Broken(command)) return Unreachable();
    return handler_(command);
  }
  absl::Status Copy(const std::string& content, const std::string& path,
                    int mode) override {
    commands.push_back(absl::StrCat("copy ", path));
    if (Broken("copy " + path)) return Unreachable();
    files[path] = File{content, mode};
    return absl::OkStatus();
  }
  void UseSudo(bool sudo) override { sudo_used = sudo; }

  // From the first call whose command (or "copy PATH") contains
  // `fail_from`, every call fails UNAVAILABLE (a dropped connection).
  std::string fail_from;
  std::map<std::string, File> files;
  std::vector<std::string> commands;
  bool sudo_used = false;

 private:
  bool Broken(const std::string& command) {
    if (!broken_ && !fail_from.empty() &&
        absl::StrContains(command, fail_from)) {
      broken_ = true;
    }
    return broken_;
  }
  static absl::Status Unreachable() {
    return absl::UnavailableError("ssh fake-host failed: connection closed");
  }
  Handler handler_;
  bool broken_ = false;
};

}  // namespace emu::deploy::remote_host

#endif  // EMU_DEPLOY_REMOTE_HOST_TESTING_FAKE_REMOTE_HOST_H_
