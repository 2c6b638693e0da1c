// NetTapOpener: a FakeTapOpener whose TAPs also appear as interfaces in a
// FakeHostNetwork (as one end of a veth whose other end is in a namespace
// of its own, "tap-peers"), so the reconciler can observe, shape and delete
// them as it does real TAPs.
//
// Thread-safe as its parts. testonly.
#ifndef EMU_AGENT_RECONCILE_TESTING_NET_TAP_OPENER_H_
#define EMU_AGENT_RECONCILE_TESTING_NET_TAP_OPENER_H_

#include <string>

#include "agent/net/testing/fake_host_network.h"
#include "agent/tunnel/testing/fake_tap_opener.h"

namespace emu::agent::reconcile {

class NetTapOpener : public tunnel::FakeTapOpener {
 public:
  explicit NetTapOpener(net::FakeHostNetwork* net) : net_(net) {}
  absl::StatusOr<int> Open(const linkemu::TapSpec& spec) override {
    auto fd = tunnel::FakeTapOpener::Open(spec);
    if (!fd.ok()) return fd;
    net_->CreateNamespace("tap-peers").IgnoreError();
    net::HostNetwork::VethEnd tap{spec.netns, spec.ifname, spec.mac, spec.mtu};
    net::HostNetwork::VethEnd peer{"tap-peers", "p" + std::to_string(*fd), "",
                                   0};
    absl::Status s = net_->CreateVeth(tap, peer, spec.alias);
    if (!s.ok()) return s;
    return fd;
  }

 private:
  net::FakeHostNetwork* net_;
};

}  // namespace emu::agent::reconcile

#endif  // EMU_AGENT_RECONCILE_TESTING_NET_TAP_OPENER_H_
