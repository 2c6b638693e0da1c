// One kind of node (netns, qemu, and the kinds to come) behind one interface,
// as containerlab puts each node kind behind its node interface.
//
// The reconciler owns what every node has whatever its kind: the node's
// network namespace (a QEMU guest runs inside one), the links between nodes
// and the desired state. A driver owns what differs per kind: starting and
// configuring the node, shaping what it sends, running commands in it,
// observing and ending what it runs. A new kind is a new driver registered
// with the reconciler, not new branches in it.
//
// Implementations are thread-safe: the reconciler serialises the mutations of
// one lab, but calls for different labs (and Exec) run concurrently.
#ifndef EMU_AGENT_NODE_NODE_DRIVER_H_
#define EMU_AGENT_NODE_NODE_DRIVER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/qdisc_plan.h"
#include "proto/agent.pb.h"

namespace emu::agent::node {

class NodeDriver {
 public:
  // (object, detail) of a step done, e.g. ("node r1", "2 interfaces").
  using ProgressFn =
      std::function<void(const std::string& object, const std::string& detail)>;

  virtual ~NodeDriver() = default;

  // The kind this driver serves.
  virtual emu::v1::NodeKind kind() const = 0;

  // True when the node's own kernel can emulate delay, jitter and loss on
  // what it sends (NetEm), whatever the host kernel has.
  virtual bool ShapesOwnEgress() const = 0;

  // Brings `nodes` (every node of this kind in this host's share of the lab
  // `desired`) to their desired configuration: started, sysctls, addresses,
  // routes. Called after the nodes' namespaces and links exist. Idempotent.
  virtual absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                              const std::vector<const emu::v1::Node*>& nodes,
                              const ProgressFn& progress) = 0;

  // Community attachments (docs/community.md): makes `lab`'s link ends in
  // `ns`, the namespace of a node of this kind that ANOTHER lab owns (an
  // anchor, Node.foreign_lab), ports of that node, leaving everything else
  // in it alone. Called after those link ends exist. Idempotent. Kinds that
  // take no attachments keep the default, FAILED_PRECONDITION.
  // True when the node of this kind in `ns` (another lab's, which exists)
  // is ready to take attached ports: for a segment, its bridge is there.
  // Kinds that take no attachments keep the default, false.
  virtual absl::StatusOr<bool> AcceptsAttachments(const std::string& ns) {
    (void)ns;
    return false;
  }
  virtual absl::Status EnsureAttachedPorts(const std::string& lab,
                                           const std::string& ns) {
    return absl::FailedPreconditionError(
        absl::StrCat("node kind ", emu::v1::NodeKind_Name(kind()), " in ", ns,
                     " takes no community attachments (lab ", lab, ")"));
  }

  // Programs the conditions of what `node` sends on `interface` (an empty
  // plan removes them).
  virtual absl::Status ApplyEgress(const std::string& lab,
                                   const emu::v1::Node& node,
                                   const std::string& interface,
                                   const linkemu::QdiscPlan& plan) = 0;

  // The part of a link direction's path that `node` adds at its link end
  // `interface` beyond what a namespace's own stack costs (a QEMU guest's
  // NIC: its host-side TAP, QEMU, virtio and the guest's kernel), for
  // delay compensation (linkemu::BasePart, docs/linkemu.md): measured once
  // per node interface and kept while the node runs; a part that cannot be
  // measured says why (BasePart::measured false). nullopt for kinds whose
  // link ends are the host kernel's own interfaces (netns): nothing to add.
  // `desired` is the lab's spec (the node's interfaces and addresses).
  virtual std::optional<linkemu::BasePart> PathPart(
      const emu::v1::ApplyLabRequest& desired, const emu::v1::Node& node,
      const std::string& interface) {
    (void)desired;
    (void)node;
    (void)interface;
    return std::nullopt;
  }

  // True when this driver runs `node` of `lab` on this host.
  virtual bool Holds(const std::string& lab, const std::string& node) = 0;

  // Runs a command in a node this driver holds.
  virtual absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req) = 0;

  // Ends what the driver runs for `lab` (the namespaces are the
  // reconciler's); returns how many objects it removed.
  virtual absl::StatusOr<int> Destroy(const std::string& lab) = 0;

  // What the driver runs for `lab` ("" = every lab), observed.
  virtual std::vector<emu::v1::OwnedResource> Observe(
      const std::string& lab) = 0;

  // Ends what belongs to labs not in `live`; returns how many.
  virtual int CollectGarbage(const std::vector<std::string>& live) = 0;
};

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_NODE_DRIVER_H_
