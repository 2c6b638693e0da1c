// FakeTapOpener: TapOpener without a kernel TAP. Each Open returns one end
// of an AF_UNIX SOCK_SEQPACKET pair (one read = one frame, like a TAP) and
// keeps the other end as the "node side", which tests read and write.
//
// Thread-safe. Owns the node-side fds.
#ifndef EMU_AGENT_TUNNEL_TESTING_FAKE_TAP_OPENER_H_
#define EMU_AGENT_TUNNEL_TESTING_FAKE_TAP_OPENER_H_

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/tunnel/tunnel_manager.h"

namespace emu::agent::tunnel {

class FakeTapOpener : public TapOpener {
 public:
  ~FakeTapOpener() override {
    for (auto& [name, fd] : node_side_) close(fd);
  }

  absl::StatusOr<int> Open(const linkemu::TapSpec& spec) override {
    absl::MutexLock lock(&mu_);
    ++opens_;
    if (fail_next_) {
      fail_next_ = false;
      return absl::InternalError("create tap: injected failure");
    }
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      return absl::InternalError("socketpair");
    }
    std::string name = Name(spec.netns, spec.ifname);
    auto old = node_side_.find(name);
    if (old != node_side_.end()) close(old->second);
    node_side_[name] = fds[0];
    specs_[name] = spec;
    pump_side_[name] = fds[1];
    return fds[1];
  }

  bool IsAlive(int fd) override {
    absl::MutexLock lock(&mu_);
    return !dead_.contains(fd);
  }

  // The node-side fd of the TAP `ifname` in `netns`; -1 if never opened.
  int NodeSide(const std::string& netns, const std::string& ifname) {
    absl::MutexLock lock(&mu_);
    auto it = node_side_.find(Name(netns, ifname));
    return it == node_side_.end() ? -1 : it->second;
  }
  // The fd Open returned for that TAP (owned by the manager).
  int PumpSide(const std::string& netns, const std::string& ifname) {
    absl::MutexLock lock(&mu_);
    auto it = pump_side_.find(Name(netns, ifname));
    return it == pump_side_.end() ? -1 : it->second;
  }
  linkemu::TapSpec SpecOf(const std::string& netns, const std::string& ifname) {
    absl::MutexLock lock(&mu_);
    return specs_[Name(netns, ifname)];
  }
  // Makes IsAlive(fd) false, as when the device's namespace was deleted.
  void Kill(int pump_side_fd) {
    absl::MutexLock lock(&mu_);
    dead_.insert(pump_side_fd);
  }
  void FailNextOpen() {
    absl::MutexLock lock(&mu_);
    fail_next_ = true;
  }
  int opens() {
    absl::MutexLock lock(&mu_);
    return opens_;
  }

 private:
  static std::string Name(const std::string& netns, const std::string& ifname) {
    return absl::StrCat(netns, ":", ifname);
  }
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> node_side_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> pump_side_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, linkemu::TapSpec> specs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<int> dead_ ABSL_GUARDED_BY(mu_);
  bool fail_next_ ABSL_GUARDED_BY(mu_) = false;
  int opens_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emu::agent::tunnel

#endif  // EMU_AGENT_TUNNEL_TESTING_FAKE_TAP_OPENER_H_
