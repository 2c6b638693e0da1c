// FakeHostNetwork: an in-memory HostNetwork for unit tests of code that
// drives the host's networking (the reconciler), with the same observable
// semantics as LibnlHostNetwork: ALREADY_EXISTS / NOT_FOUND /
// INVALID_ARGUMENT where the real one returns them, idempotent Set/Replace/
// Apply, lists sorted the same way. On top it counts calls, counts the calls
// that really changed something, and can make the Nth call of a method fail.
//
// What it models, beyond plain bookkeeping, because callers trip on it in
// the real kernel:
//  * A new namespace holds "lo" (ifindex 1, up, 127.0.0.1/8 and ::1/128);
//    so does the process's own namespace "", which always exists.
//  * Deleting a bridge releases its ports (their master becomes empty).
//  * Each veth end gets an IPv6 link-local address (fe80::/64 from its
//    MAC), as the kernel adds when the pair comes up; SetAddresses keeps it.
//  * Deleting a namespace or one veth end removes the peer end too.
//  * ReplaceRoute with a gateway not inside the subnet of an address on an
//    up interface of the namespace (on `dev` if given) fails with
//    FAILED_PRECONDITION, as the kernel refuses it.
//  * ApplyQdiscs for a plan needing a qdisc kind not in the features
//    (set_features; ProbeKernel returns them) fails with
//    FAILED_PRECONDITION "... this kernel has no sch_netem ...".
//  * ListQdiscs shows linkemu::LayoutFor(plan), or the kernel's default
//    {"noqueue", 0, root} when nothing is applied.
// Not modelled: which sysctl keys exist (any valid net.* key is accepted),
// traffic, timing.
//
// Thread-safe (one mutex). testonly.
#ifndef EMU_AGENT_NET_TESTING_FAKE_HOST_NETWORK_H_
#define EMU_AGENT_NET_TESTING_FAKE_HOST_NETWORK_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/net/host_network.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent::net {

class FakeHostNetwork : public HostNetwork {
 public:
  enum class Method {
    kCreateNamespace,
    kDeleteNamespace,
    kShareNamespace,
    kListNamespaces,
    kCreateVeth,
    kDeleteInterface,
    kListInterfaces,
    kSetAddresses,
    kReplaceRoute,
    kListRoutes,
    kSetSysctl,
    kApplyQdiscs,
    kListQdiscs,
    kProbeKernel,
    kCreateBridge,
    kSetMaster,
    kSetPortLearning,
    kCreateDummy,
    kCreateVxlan,
  };
  static const char* MethodName(Method m);  // "CreateVeth"

  // Features of a typical server: tbf, netem, htb, pfifo, fq_codel; veth,
  // bridge, vxlan.
  static KernelFeatures DefaultFeatures();

  FakeHostNetwork();

  // ---- HostNetwork ----
  absl::Status CreateNamespace(const std::string& ns) override;
  absl::Status DeleteNamespace(const std::string& ns) override;
  absl::Status ShareNamespace(const std::string& target,
                              const std::string& ns) override;
  absl::StatusOr<std::string> NamespaceId(const std::string& ns) override;
  absl::StatusOr<std::vector<std::string>> ListNamespaces(
      absl::string_view prefix) override;
  absl::Status CreateVeth(const VethEnd& a, const VethEnd& b,
                          const std::string& alias) override;
  absl::Status DeleteInterface(const std::string& ns,
                               const std::string& ifname) override;
  absl::Status CreateDummy(const DummySpec& spec,
                           const std::string& alias) override;
  absl::Status CreateBridge(const std::string& ns, const std::string& name,
                            const std::string& alias = "") override;
  // Kind "vxlan"; ALREADY_EXISTS for a name taken in `ns` or a VNI (on the
  // same port) another vxlan interface of any namespace has (the kernel
  // keeps them in one socket per port, in the agent's namespace).
  absl::Status CreateVxlan(const VxlanSpec& spec,
                           const std::string& alias) override;
  // The spec a vxlan interface was created with; nullopt for any other.
  std::optional<VxlanSpec> Vxlan(const std::string& ns,
                                 const std::string& ifname) const;
  absl::Status SetMaster(const std::string& ns, const std::string& ifname,
                         const std::string& master) override;
  absl::Status SetPortLearning(const std::string& ns, const std::string& ifname,
                               bool learning) override;
  absl::StatusOr<std::vector<InterfaceInfo>> ListInterfaces(
      const std::string& ns) override;
  absl::Status SetAddresses(const std::string& ns, const std::string& ifname,
                            const std::vector<std::string>& cidrs) override;
  absl::Status ReplaceRoute(const std::string& ns,
                            const RouteSpec& route) override;
  absl::StatusOr<std::vector<RouteInfo>> ListRoutes(
      const std::string& ns) override;
  absl::Status SetSysctl(const std::string& ns, const std::string& key,
                         const std::string& value) override;
  absl::Status ApplyQdiscs(const std::string& ns, const std::string& ifname,
                           const linkemu::QdiscPlan& plan) override;
  absl::StatusOr<std::vector<linkemu::QdiscInfo>> ListQdiscs(
      const std::string& ns, const std::string& ifname) override;
  absl::StatusOr<KernelFeatures> ProbeKernel() override;

  // ---- Counting ----
  // Calls of `m` since construction or ResetCounts, failed ones included.
  int calls(Method m) const;
  // Calls (of any method) that changed the modelled state. Re-applying the
  // same desired state should leave this unchanged.
  int changes() const;
  void ResetCounts();

  // ---- Failure injection ----
  // The `n`-th call of `m` from now (n >= 1) returns `status` and changes
  // nothing. Several may be pending for one method.
  void FailNthCall(Method m, int n, absl::Status status);
  // Every call of `m` from now returns `status` until ClearFailures.
  void FailAllCalls(Method m, absl::Status status);
  void ClearFailures();

  // What ProbeKernel reports and ApplyQdiscs accepts.
  void set_features(KernelFeatures features);

  // ---- Inspection (no counting, no failures) ----
  bool HasNamespace(const std::string& ns) const;
  std::optional<InterfaceInfo> GetInterface(const std::string& ns,
                                            const std::string& ifname) const;
  // The other end of a veth: {ns, ifname}.
  std::optional<std::pair<std::string, std::string>> Peer(
      const std::string& ns, const std::string& ifname) const;
  // Routes of `ns`, by (canonical destination, metric).
  std::vector<RouteSpec> Routes(const std::string& ns) const;
  std::optional<std::string> Sysctl(const std::string& ns,
                                    const std::string& key) const;
  // Whether bridge port `ifname` learns addresses; nullopt if it is absent
  // or no bridge port.
  std::optional<bool> PortLearning(const std::string& ns,
                                   const std::string& ifname) const;
  // The last plan applied to the interface; nullopt if none (or empty).
  std::optional<linkemu::QdiscPlan> AppliedPlan(
      const std::string& ns, const std::string& ifname) const;

 private:
  struct Iface {
    InterfaceInfo info;
    // Veth peer (kind "veth" only; "" is a real namespace).
    std::string peer_ns;
    std::string peer_ifname;
    linkemu::QdiscPlan plan;
    bool learning = true;  // as a bridge port
    std::optional<VxlanSpec> vxlan;  // kind "vxlan" only
  };
  struct Namespace {
    std::map<std::string, Iface> ifaces;  // by name
    // By (canonical destination, metric).
    std::map<std::pair<std::string, uint32_t>, RouteSpec> routes;
    std::map<std::string, std::string> sysctls;
    int next_ifindex = 2;
  };
  struct PendingFailure {
    int remaining;  // calls to let through first
    absl::Status status;
  };

  // An empty namespace holding only "lo" (ifindex 1, up).
  static Namespace NewNamespace();
  // Counts the call and returns an injected failure, if one is due.
  absl::Status Enter(Method m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new interface of `n`, up, with the next ifindex, `mtu` (default_mtu
  // when 0) and `mac` (lowercased), or when it is empty the next made-up
  // MAC "02:<mac_kind>:00:xx:xx:xx", as the kernel picks one.
  Iface NewIface(Namespace* n, const std::string& name, absl::string_view kind,
                 const std::string& alias, uint32_t mtu, uint32_t default_mtu,
                 const std::string& mac, absl::string_view mac_kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Namespace*> FindNs(const std::string& ns,
                                    absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Iface*> FindIface(const std::string& ns,
                                   const std::string& ifname,
                                   absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveIface(const std::string& ns, const std::string& ifname)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The namespace a name stands for: itself, or for a name made by
  // ShareNamespace the name it shares.
  std::string Resolve(const std::string& ns) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Namespace> namespaces_ ABSL_GUARDED_BY(mu_);
  // Names made by ShareNamespace -> the key in namespaces_ they stand for.
  std::map<std::string, std::string> shares_ ABSL_GUARDED_BY(mu_);
  KernelFeatures features_ ABSL_GUARDED_BY(mu_);
  std::map<Method, int> calls_ ABSL_GUARDED_BY(mu_);
  int changes_ ABSL_GUARDED_BY(mu_) = 0;
  int next_mac_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<Method, std::vector<PendingFailure>> nth_failures_
      ABSL_GUARDED_BY(mu_);
  std::map<Method, absl::Status> all_failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_TESTING_FAKE_HOST_NETWORK_H_
