// The agent's reconciler: makes this host match the desired state of each
// lab (an ApplyLabRequest) and removes labs completely.
//
// Desired state is saved (LabSpecStore) before the kernel is touched; the
// observed state always comes from the kernel (HostNetwork), never from
// memory, so a restarted agent converges the same way a running one does.
// Applying the same spec twice makes no change the second time: existing
// namespaces and veths are kept, addresses/routes/qdiscs use replace
// semantics.
//
// Thread-safe: mutations of one lab are serialised; Exec runs concurrently.
#ifndef EMU_AGENT_RECONCILE_RECONCILER_H_
#define EMU_AGENT_RECONCILE_RECONCILER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/impair/engine_links.h"
#include "agent/net/host_network.h"
#include "agent/net/namespace_processes.h"
#include "agent/node/netns_driver.h"
#include "agent/node/node_driver.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/tunnel/tunnel_manager.h"
#include "common/process_launcher.h"
#include "linkemu/engine_choice.h"
#include "proto/agent.pb.h"

namespace emu::agent::reconcile {

// Cross-host links in kernel VXLAN devices (ApplyLabRequest.carrier
// "vxlan"; docs/tunnel.md, "Kernel VXLAN"; reconciler_remote_links.cc).
bool IsVxlanCarrier(const emu::v1::ApplyLabRequest& spec);
// The host of a "host:port" / "[v6]:port" address ("" if none).
std::string PeerHostOf(absl::string_view address);
// The alias of a VXLAN link end: LinkAlias plus " carrier=vxlan vni=N
// remote=PEER port=P", so a changed VNI, peer or port re-creates the device.
std::string VxlanAlias(absl::string_view lab, const emu::v1::RemoteLinkEnd& r,
                       uint16_t port);

using node::NetnsDriver;
using node::NodeDriver;

class Reconciler {
 public:
  using ProgressFn = std::function<void(const emu::v1::ApplyLabEvent&)>;

  // All pointers are borrowed and must outlive the reconciler. `features`
  // is what HostNetwork::ProbeKernel found at start-up. `tunnels` carries
  // cross-host links (ApplyLabRequest.remote_links); null: this agent
  // refuses them (FAILED_PRECONDITION). `engine_links` serves same-host
  // links whose conditions need the userspace engine
  // (linkemu/engine_choice.h); null: such links are refused.
  Reconciler(std::string host, net::HostNetwork* network,
             ProcessLauncher* launcher, net::NamespaceProcesses* procs,
             const LabSpecStore* store,
             net::HostNetwork::KernelFeatures features,
             tunnel::TunnelManager* tunnels = nullptr,
             impair::EngineLinks* engine_links = nullptr);

  // See AgentService.ApplyLab. FAILED_PRECONDITION (and nothing created)
  // when the spec needs something this host lacks; INVALID_ARGUMENT for a
  // malformed spec. A community anchor (Node.foreign_lab) whose segment
  // is absent (no namespace, or no bridge yet) is waited for up to
  // anchor_wait(); still absent,
  // FAILED_PRECONDITION naming the anchor and the segment, nothing changed
  // and the saved spec kept: the controller sends anchors only for exports
  // it holds RUNNING, so a lab must not come up without a port it was
  // promised (issue 8's 19-of-20 switch ports).
  absl::Status Apply(const emu::v1::ApplyLabRequest& desired,
                     const ProgressFn& progress);

  // How long Apply waits for an anchor's segment namespace (5 s).
  void set_anchor_wait(absl::Duration wait) { anchor_wait_ = wait; }
  absl::Duration anchor_wait() const { return anchor_wait_; }

  // The UDP port of the VXLAN devices of carrier "vxlan" (emu-agent
  // --vxlan_port, 4789): the same on every host of a cluster.
  void set_vxlan_port(uint16_t port) { vxlan_port_ = port; }

  // Re-applies one link's conditions and records them in the saved spec.
  absl::Status SetLinkParams(const emu::v1::SetLinkParamsRequest& req);

  // Removes every resource of `lab` on this host; returns how many.
  // Carries on past individual failures and reports the first.
  absl::StatusOr<int> Destroy(const std::string& lab);

  // Runs a command inside a node of a lab, or (ExecRequest.on_host) for a
  // netns node of a lab on this host, in the agent's own network namespace:
  // only after AllowHostCommands(true) (--allow_host_commands), else
  // PERMISSION_DENIED, whatever the caller sent.
  absl::StatusOr<emu::v1::ExecResponse> Exec(const emu::v1::ExecRequest& req);
  // containerlab's `target: host` stage commands (docs/security.md, "Host
  // commands"); off unless called. Call before serving.
  void AllowHostCommands(bool allow) { allow_host_commands_ = allow; }

  // What this agent owns, observed in the kernel. Empty lab = all labs;
  // empty kinds = every kind. Namespaces are looked into (their interfaces,
  // qdiscs, processes) only when one of those kinds is asked for.
  absl::StatusOr<emu::v1::ListResourcesResponse> ListResources(
      const std::string& lab,
      const absl::flat_hash_set<int>& kinds = {});

  // Start-up: re-applies every saved lab so that what a crash or reboot
  // removed is re-created. Returns the labs recovered; failures are logged
  // through `log` and do not stop the others. Labs without anchors go
  // first (an exporter's segment exists before the ports attached to it);
  // an anchor whose segment is still absent is skipped, logged, without
  // waiting: its lab is not deployed here now, and the controller's next
  // ApplyLab (re-attach or resync) brings the port.
  std::vector<std::string> RecoverAll(
      const std::function<void(const std::string&)>& log);

  const std::string& host() const { return host_; }

  // Serves nodes of `driver->kind()` with `driver` (borrowed; must outlive
  // the reconciler). netns is built in; a kind without a driver is refused
  // (FAILED_PRECONDITION). Call before the first Apply.
  void AddDriver(node::NodeDriver* driver);

  // The built-in netns driver, for drivers of kinds that live in a plain
  // namespace too (segments) and delegate commands and port conditions.
  node::NetnsDriver* netns_driver() { return &netns_; }

 private:
  absl::Status CheckSpec(const emu::v1::ApplyLabRequest& desired) const;
  // What Apply does with an anchor whose segment namespace is absent.
  enum class AbsentAnchor {
    kWaitThenFail,  // Apply, SetLinkParams: the controller's requests
    kSkip,          // RecoverAll: its exporter may be gone from this host
  };
  absl::Status ApplyLocked(const emu::v1::ApplyLabRequest& desired,
                           const ProgressFn& progress,
                           AbsentAnchor absent = AbsentAnchor::kWaitThenFail);

  // The steps of ApplyLocked, in order.
  using NodeIndex = absl::flat_hash_map<std::string, const emu::v1::Node*>;
  using InterfaceIndex =
      absl::flat_hash_map<std::string,
                          std::vector<net::HostNetwork::InterfaceInfo>>;
  // Removes namespaces of nodes no longer wanted, creates missing ones.
  absl::Status ReconcileNamespaces(const emu::v1::ApplyLabRequest& desired,
                                   const ProgressFn& progress);
  // The name of a node that shares another's namespace (Node.netns_of):
  // made, or made anew when it names another namespace (`present`: the
  // name exists).
  absl::Status EnsureSharedNamespace(const std::string& lab,
                                     const emu::v1::Node& node, bool present);
  // Every node's interfaces, observed once.
  absl::StatusOr<InterfaceIndex> ObserveInterfaces(
      const emu::v1::ApplyLabRequest& desired);
  // Link name -> the engine of each direction (linkemu/engine_choice.h).
  using EngineIndex = absl::flat_hash_map<std::string, linkemu::LinkEngines>;
  // Removes link ends that the spec no longer names or that belong to
  // another link (or engine) now.
  absl::Status RemoveStaleLinkEnds(const emu::v1::ApplyLabRequest& desired,
                                   const InterfaceIndex& ifaces,
                                   const EngineIndex& engines,
                                   const ProgressFn& progress);
  // Creates the veth pairs (or, for links the userspace engine serves, the
  // two TAPs and the engine link) of links missing an end (a half-present
  // link is rebuilt whole).
  absl::Status CreateMissingLinks(const emu::v1::ApplyLabRequest& desired,
                                  const NodeIndex& nodes,
                                  const InterfaceIndex& ifaces,
                                  const EngineIndex& engines,
                                  const ProgressFn& progress);
  // Each kind's driver configures (and starts) its nodes.
  absl::Status EnsureNodes(const emu::v1::ApplyLabRequest& desired,
                           const ProgressFn& progress);
  // Link conditions, each on the sending side of its direction.
  absl::Status ApplyLinkConditions(const emu::v1::ApplyLabRequest& desired,
                                   const NodeIndex& nodes,
                                   const EngineIndex& engines,
                                   const ProgressFn& progress);
  // One link's conditions: qdiscs on the sending ends (kernel directions),
  // the engine's specs (userspace directions, compensated with the parts
  // their end nodes add: EnginePathParts). Returns what LINK_SHAPED says
  // ("" when the link has no conditions). `spec` is the lab's (its nodes).
  absl::StatusOr<std::string> ApplyOneLink(const emu::v1::ApplyLabRequest& spec,
                                           const emu::v1::Node* node_a,
                                           const emu::v1::Node* node_b,
                                           const emu::v1::Link& link,
                                           const linkemu::LinkEngines& engines);

  // What each engine direction of `link` crosses beyond the engine path
  // whose base the agent measured, for the directions that will be
  // compensated (`ab`, `ba`: as the engine gets them): each end node's
  // NodeDriver::PathPart (a guest's NIC), asked only where one is needed.
  impair::EngineLinks::PathParts EnginePathParts(
      const emu::v1::ApplyLabRequest& spec, const emu::v1::Node* node_a,
      const emu::v1::Node* node_b, const emu::v1::Link& link,
      const emu::v1::LinkParams& ab, const emu::v1::LinkParams& ba);

  // Whether `node`'s driver shapes its own egress (a QEMU guest); false
  // for null or a kind without a driver.
  bool ShapesOwnEgress(const emu::v1::Node* node) const;
  // Nodes whose driver shapes their own egress (QEMU guests).
  absl::flat_hash_set<std::string> GuestNodes(
      const emu::v1::ApplyLabRequest& desired) const;
  // The engines of one same-host link on this host; FAILED_PRECONDITION
  // naming the link, direction and host when they cannot be served.
  absl::StatusOr<linkemu::LinkEngines> EnginesFor(
      const emu::v1::ApplyLabRequest& desired, const emu::v1::Link& link,
      const absl::flat_hash_set<std::string>& guests) const;
  absl::StatusOr<EngineIndex> EnginesOf(
      const emu::v1::ApplyLabRequest& desired) const;
  bool HasNetem() const;
  // This agent runs the userspace engine (Capabilities.userspace_engine):
  // same-host engine links and cross-host tunnel egress pipelines.
  bool EngineAvailable() const;

  // Community attachments (docs/community.md). The namespace `node` lives
  // in: its own, or for an anchor (Node.foreign_lab) the other lab's.
  std::string NamespaceOf(const std::string& lab,
                          const emu::v1::Node& node) const;
  // The anchors of `spec` whose segment is not ready now: no namespace, or
  // (NodeDriver::AcceptsAttachments) no bridge in it yet.
  absl::StatusOr<std::vector<const emu::v1::Node*>> AbsentAnchors(
      const emu::v1::ApplyLabRequest& spec);
  // Waits (up to anchor_wait_) until every anchor's segment is ready;
  // FAILED_PRECONDITION naming those still absent.
  absl::Status WaitForAnchors(const emu::v1::ApplyLabRequest& spec);
  // `spec` without the anchors named in `absent` and the links to them.
  static emu::v1::ApplyLabRequest WithoutAnchors(
      const emu::v1::ApplyLabRequest& spec,
      const std::vector<const emu::v1::Node*>& absent);

  // The driver of `node`'s kind; null when this agent has none.
  node::NodeDriver* DriverFor(const emu::v1::Node& node) const;
  // Programs one link end's egress through its node's driver (netns when
  // the node is unknown).
  absl::Status ApplyEgress(const std::string& lab, const emu::v1::Node* node,
                           const emu::v1::Endpoint& end,
                           const linkemu::QdiscPlan& plan);
  absl::StatusOr<int> DestroyLocked(const std::string& lab);
  absl::Mutex* LabMutex(const std::string& lab);

  // Cross-host link ends (reconciler_remote_links.cc).
  absl::Status CheckRemoteLinks(const emu::v1::ApplyLabRequest& desired,
                                const absl::flat_hash_set<std::string>& nodes,
                                bool has_netem) const;
  // TAPs and tunnels of the spec's remote links (closing the others).
  // Carrier vxlan: the VXLAN devices and their sending qdiscs.
  absl::Status ApplyRemoteLinks(
      const emu::v1::ApplyLabRequest& desired,
      const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
      const ProgressFn& progress);
  // Each tunneled remote link's sending conditions: qdiscs on its TAP or
  // the tunnel's egress pipeline. After the nodes (as same-host links'
  // conditions): a guest's NIC part of a compensated base is measured
  // through the running guest (RemoteSendingParts).
  absl::Status ApplyRemoteLinkConditions(
      const emu::v1::ApplyLabRequest& desired,
      const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
      const ProgressFn& progress);
  // What the sending direction of `r` crosses beyond the tunnel's echo
  // base, where it is compensated (`use` userspace, a delay, compensate
  // wanted): this host's TAP-and-stack path (the engine path probe's
  // figure: the sender's stack, TAP and read wake-up and, standing in for
  // the peer's, the receiver's TAP write and stack), and the local end's
  // node part (a guest's NIC, NodeDriver::PathPart). `node` may be null.
  std::vector<linkemu::BasePart> RemoteSendingParts(
      const emu::v1::ApplyLabRequest& spec, const emu::v1::RemoteLinkEnd& r,
      const emu::v1::Node* node, linkemu::EngineUse use);
  // Carrier vxlan: each remote link end a VXLAN device in its node's
  // namespace (kept when its alias matches), its sending qdiscs on it.
  absl::Status ApplyVxlanLinks(
      const emu::v1::ApplyLabRequest& desired,
      const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
      const ProgressFn& progress);
  // SetLinkParams for a remote link of `spec` (saved and applied);
  // NOT_FOUND when `spec` has no such link.
  absl::Status SetRemoteLinkParams(const emu::v1::SetLinkParamsRequest& req,
                                   emu::v1::ApplyLabRequest* spec);
  void AddTunnelResources(const std::string& lab,
                          emu::v1::ListResourcesResponse* resp);
  // ListResources' look into the lab's namespaces: each one, its
  // interfaces, their qdiscs and its processes.
  absl::Status AddNamespaceResources(const std::string& lab,
                                     emu::v1::ListResourcesResponse* resp);

  // containerlab's host and dummy links (reconciler_special_ends.cc).
  // The alias of the interface's end(s).
  std::string SpecialEndAlias(const std::string& lab,
                              const emu::v1::Node& node,
                              const emu::v1::Interface& i) const;
  // Host ends and dummies only on netns nodes; dummies need the kernel's
  // dummy or ifb driver.
  absl::Status CheckSpecialEnds(const emu::v1::ApplyLabRequest& desired) const;
  // FAILED_PRECONDITION when a host end's name is taken in the root
  // namespace by anything but this agent's end of this lab.
  absl::Status CheckHostEndsFree(const emu::v1::ApplyLabRequest& desired);
  // Removes this lab's host ends no longer wanted, creates the missing
  // host veths and dummies, sets the host ends' addresses.
  absl::Status ReconcileSpecialEnds(const emu::v1::ApplyLabRequest& desired,
                                    const ProgressFn& progress);
  // containerlab's bridges inside a node (Interface.bridge): made (up) in
  // the node's namespace where absent, and the interfaces naming one as
  // their master (link ends already made) enslaved to it. A bridge the spec
  // drops stays until its node goes (nothing marks it as the lab's).
  absl::Status ReconcileNodeBridges(const emu::v1::ApplyLabRequest& desired,
                                    const ProgressFn& progress);
  // Deletes this agent's host ends of `lab`; returns how many, the first
  // failure in `first`.
  int RemoveHostEnds(const std::string& lab, absl::Status* first);

  // The management network (reconciler_mgmt.cc). Whether any interface of
  // `spec` is on it (Interface.mgmt).
  static bool HasMgmtPorts(const emu::v1::ApplyLabRequest& spec);
  // The lab's management bridge on this host: mgmt.bridge, else
  // net::MgmtBridgeName.
  std::string MgmtBridgeOf(const emu::v1::ApplyLabRequest& spec) const;
  // Whether a management interface's host end is unnamed (a node's eth0:
  // the controller leaves it to the agent), and `spec` with those named
  // (net::MgmtHostEndName).
  static bool NeedsMgmtEndNames(const emu::v1::ApplyLabRequest& spec);
  emu::v1::ApplyLabRequest WithMgmtEndNames(
      const emu::v1::ApplyLabRequest& spec) const;
  // INVALID_ARGUMENT for management ports without mgmt settings, a bad
  // bridge name or gateway; FAILED_PRECONDITION without a bridge driver.
  absl::Status CheckMgmtSpec(const emu::v1::ApplyLabRequest& desired) const;
  // FAILED_PRECONDITION when the bridge's name is taken in the host
  // namespace by anything but this lab's bridge, or a management subnet
  // overlaps an address (a connected route) on an interface there that is
  // not this lab's.
  absl::Status CheckMgmtFree(const emu::v1::ApplyLabRequest& desired);
  // Makes the lab's bridge (up, tagged, the gateways its only addresses)
  // when it has management ports here; removes this lab's bridges no
  // longer wanted.
  absl::Status ReconcileMgmtBridge(const emu::v1::ApplyLabRequest& desired,
                                   const ProgressFn& progress);
  void AddHostEndResources(const std::string& lab,
                           emu::v1::ListResourcesResponse* resp);

  const std::string host_;
  net::HostNetwork* const net_;
  ProcessLauncher* const launcher_;
  net::NamespaceProcesses* const procs_;
  const LabSpecStore* const store_;
  const net::HostNetwork::KernelFeatures features_;
  absl::Duration anchor_wait_ = absl::Seconds(5);
  uint16_t vxlan_port_ = 4789;
  tunnel::TunnelManager* const tunnels_;
  impair::EngineLinks* const engine_links_;
  node::NetnsDriver netns_;
  bool allow_host_commands_ = false;
  // Node kind -> driver; netns_ is always there.
  absl::flat_hash_map<int, node::NodeDriver*> drivers_;

  absl::Mutex mu_;  // guards lab_mu_ (the map, not the labs)
  absl::flat_hash_map<std::string, std::unique_ptr<absl::Mutex>> lab_mu_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::reconcile

#endif  // EMU_AGENT_RECONCILE_RECONCILER_H_
