#include "agent/guest/qemu_driver.h"

#include "agent/net/resource_names.h"
#include "common/status_macros.h"

namespace emu::agent::guest {

absl::Status QemuDriver::Ensure(const emu::v1::ApplyLabRequest& desired,
                                const std::vector<const emu::v1::Node*>& nodes,
                                const ProgressFn& progress) {
  // GuestManager boots and configures every guest of the lab together
  // (boots overlap); it finds them in `desired` itself.
  (void)nodes;
  return guests_->Ensure(desired, progress);
}

absl::Status QemuDriver::ApplyEgress(const std::string& lab,
                                     const emu::v1::Node& node,
                                     const std::string& interface,
                                     const linkemu::QdiscPlan& plan) {
  const bool in_guest = plan.needs_netem();
  EMU_RETURN_IF_ERROR(guests_->ApplyQdiscs(
      lab, node.name(), interface, in_guest ? plan : linkemu::QdiscPlan()));
  return net_->ApplyQdiscs(net::NamespaceName(host_, lab, node.name()),
                           interface, in_guest ? linkemu::QdiscPlan() : plan);
}

}  // namespace emu::agent::guest
