#include "controller/guest/guest_agents.h"

#include "absl/strings/str_cat.h"
#include "common/channel_reconnect.h"

namespace emu::controller::guest {

absl::StatusOr<std::string> GuestHost(const emu::v1::Lab& lab,
                                      absl::string_view lab_name,
                                      absl::string_view node) {
  for (const auto& n : lab.nodes()) {
    if (n.name() != node) continue;
    if (n.kind() != emu::v1::NODE_KIND_QEMU) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", node, " of lab ", lab_name,
          " is not a qemu guest (console and restart are for guests; use "
          "`emuctl exec` for namespaces)"));
    }
    if (n.host().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", node, " of lab ", lab_name, " has no host yet (lab ",
          emu::v1::LabState_Name(lab.state()), ")"));
    }
    return n.host();
  }
  return absl::NotFoundError(
      absl::StrCat("lab ", lab_name, " has no node ", node));
}

absl::StatusOr<std::shared_ptr<emu::v1::GuestService::StubInterface>>
GrpcGuestAgents::Stub(const std::string& host) {
  std::string address;
  for (const auto& h : hosts_->Snapshot()) {
    if (h.name() == host) address = h.address();
  }
  if (address.empty()) {
    return absl::NotFoundError(
        absl::StrCat("host ", host, " is not known to the controller"));
  }
  std::shared_ptr<grpc::Channel> channel;
  std::shared_ptr<emu::v1::GuestService::StubInterface> stub;
  {
    absl::MutexLock lock(&mu_);
    Entry& e = stubs_[host];
    if (e.stub == nullptr || e.address != address) {
      e.address = address;
      e.channel = NewChannel(transport_, address, host);
      e.stub = emu::v1::GuestService::NewStub(e.channel);
    }
    channel = e.channel;
    stub = e.stub;
  }
  ReconnectNow(*channel, kReconnectWait);
  return stub;
}

}  // namespace emu::controller::guest
