// A NodeDriver that records what the reconciler asks of it, for tests of
// the dispatch by node kind. Thread-safe.
#ifndef EMU_AGENT_NODE_TESTING_FAKE_NODE_DRIVER_H_
#define EMU_AGENT_NODE_TESTING_FAKE_NODE_DRIVER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/node/node_driver.h"

namespace emu::agent::node::testing {

class FakeNodeDriver : public NodeDriver {
 public:
  explicit FakeNodeDriver(emu::v1::NodeKind kind, bool shapes_own_egress)
      : kind_(kind), shapes_own_egress_(shapes_own_egress) {}

  emu::v1::NodeKind kind() const override { return kind_; }
  bool ShapesOwnEgress() const override { return shapes_own_egress_; }
  absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                      const std::vector<const emu::v1::Node*>& nodes,
                      const ProgressFn& progress) override {
    absl::MutexLock lock(&mu_);
    for (const auto* n : nodes) {
      ensured_.push_back(absl::StrCat(desired.lab(), "/", n->name()));
      held_.push_back(absl::StrCat(desired.lab(), "/", n->name()));
      progress(absl::StrCat("node ", n->name()), "fake");
    }
    return absl::OkStatus();
  }
  absl::Status ApplyEgress(const std::string& lab, const emu::v1::Node& node,
                           const std::string& interface,
                           const linkemu::QdiscPlan& plan) override {
    absl::MutexLock lock(&mu_);
    egress_.push_back(absl::StrCat(lab, "/", node.name(), ":", interface, " ",
                                   plan.DebugString()));
    return absl::OkStatus();
  }
  bool Holds(const std::string& lab, const std::string& node) override {
    absl::MutexLock lock(&mu_);
    const std::string key = absl::StrCat(lab, "/", node);
    for (const auto& h : held_) {
      if (h == key) return true;
    }
    return false;
  }
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req) override {
    absl::MutexLock lock(&mu_);
    execs_.push_back(absl::StrCat(req.lab(), "/", req.node()));
    emu::v1::ExecResponse resp;
    resp.set_stdout("from fake driver");
    return resp;
  }
  absl::StatusOr<int> Destroy(const std::string& lab) override {
    absl::MutexLock lock(&mu_);
    destroyed_.push_back(lab);
    int n = 0;
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->rfind(lab + "/", 0) == 0) {
        it = held_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }
  std::vector<emu::v1::OwnedResource> Observe(const std::string& lab) override {
    absl::MutexLock lock(&mu_);
    std::vector<emu::v1::OwnedResource> out;
    for (const auto& h : held_) {
      if (!lab.empty() && h.rfind(lab + "/", 0) != 0) continue;
      emu::v1::OwnedResource r;
      r.set_kind(emu::v1::OwnedResource::PROCESS);
      r.set_name(h);
      out.push_back(r);
    }
    return out;
  }
  int CollectGarbage(const std::vector<std::string>&) override { return 0; }
  // The part set by set_path_part ("node:interface"), nullopt when none;
  // every call recorded.
  std::optional<linkemu::BasePart> PathPart(
      const emu::v1::ApplyLabRequest& desired, const emu::v1::Node& node,
      const std::string& interface) override {
    absl::MutexLock lock(&mu_);
    const std::string end = absl::StrCat(node.name(), ":", interface);
    path_part_calls_.push_back(absl::StrCat(desired.lab(), "/", end));
    auto it = path_parts_.find(end);
    if (it == path_parts_.end()) return std::nullopt;
    return it->second;
  }
  void set_path_part(const std::string& end, linkemu::BasePart part) {
    absl::MutexLock lock(&mu_);
    path_parts_[end] = std::move(part);
  }
  std::vector<std::string> path_part_calls() {
    absl::MutexLock lock(&mu_);
    return path_part_calls_;
  }

  std::vector<std::string> ensured() {
    absl::MutexLock lock(&mu_);
    return ensured_;
  }
  std::vector<std::string> egress() {
    absl::MutexLock lock(&mu_);
    return egress_;
  }
  std::vector<std::string> execs() {
    absl::MutexLock lock(&mu_);
    return execs_;
  }
  std::vector<std::string> destroyed() {
    absl::MutexLock lock(&mu_);
    return destroyed_;
  }

 private:
  const emu::v1::NodeKind kind_;
  const bool shapes_own_egress_;
  absl::Mutex mu_;
  std::vector<std::string> ensured_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> egress_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> execs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> destroyed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, linkemu::BasePart> path_parts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> path_part_calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::node::testing

#endif  // EMU_AGENT_NODE_TESTING_FAKE_NODE_DRIVER_H_
