// The qemu node kind: a QEMU guest inside the node's namespace, run by the
// GuestManager (console, QMP, post-boot configuration).
//
// What a guest sends is shaped inside the guest when the plan needs NetEm
// (the guest kernel has sch_netem even where the host's has not), else on
// the host side of its NIC like any netns node; the other place is cleared.
//
// Thread-safe (GuestManager and HostNetwork are).
#ifndef EMU_AGENT_GUEST_QEMU_DRIVER_H_
#define EMU_AGENT_GUEST_QEMU_DRIVER_H_

#include <string>
#include <vector>

#include "agent/guest/guest_manager.h"
#include "agent/net/host_network.h"
#include "agent/node/node_driver.h"

namespace emu::agent::guest {

class QemuDriver : public node::NodeDriver {
 public:
  // Pointers are borrowed and must outlive the driver.
  QemuDriver(std::string host, GuestManager* guests, net::HostNetwork* network)
      : host_(std::move(host)), guests_(guests), net_(network) {}

  emu::v1::NodeKind kind() const override { return emu::v1::NODE_KIND_QEMU; }
  bool ShapesOwnEgress() const override { return true; }
  absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                      const std::vector<const emu::v1::Node*>& nodes,
                      const ProgressFn& progress) override;
  absl::Status ApplyEgress(const std::string& lab, const emu::v1::Node& node,
                           const std::string& interface,
                           const linkemu::QdiscPlan& plan) override;
  std::optional<linkemu::BasePart> PathPart(
      const emu::v1::ApplyLabRequest& desired, const emu::v1::Node& node,
      const std::string& interface) override {
    return guests_->NicPathPart(desired, node, interface);
  }
  bool Holds(const std::string& lab, const std::string& node) override {
    return guests_->Has(lab, node);
  }
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req) override {
    return guests_->Exec(req);  // through the guest's console
  }
  absl::StatusOr<int> Destroy(const std::string& lab) override {
    return guests_->DestroyLab(lab);
  }
  std::vector<emu::v1::OwnedResource> Observe(const std::string& lab) override {
    return guests_->List(lab);
  }
  int CollectGarbage(const std::vector<std::string>& live) override {
    return guests_->CollectGarbage(live);
  }

 private:
  const std::string host_;
  GuestManager* const guests_;
  net::HostNetwork* const net_;
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_QEMU_DRIVER_H_
