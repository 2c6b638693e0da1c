// HostNetwork: the agent's view of the host kernel's networking — network
// namespaces, veth pairs, addresses, routes, sysctls and qdiscs. The
// reconciler talks only to this interface; LibnlHostNetwork implements it
// with rtnetlink, FakeHostNetwork (agent/testing) in memory.
//
// Namespaces are named by their file under /run/netns, the same place
// `ip netns` uses, so `ip netns exec <ns> ...` works on them too. The empty
// name "" is the namespace this process runs in (the root namespace for
// emuctl; as ProcessSpec::netns does) wherever a call reaches interfaces;
// CreateNamespace/DeleteNamespace refuse it and ListNamespaces never lists
// it.
//
// Semantics every implementation keeps (the fake included):
//  * Create* returns ALREADY_EXISTS when the object is there already, and
//    changes nothing.
//  * Delete* is OK when the object is absent.
//  * Set*/Replace*/Apply* are idempotent: the same call twice leaves the
//    kernel as after the first.
//  * A call naming a namespace or interface that does not exist returns
//    NOT_FOUND (except Delete*). Malformed arguments (a CIDR, a sysctl
//    key) return INVALID_ARGUMENT before anything is touched.
//  * Errors name the object: "create veth ns1:eth1<->ns2:eth1: File exists".
//
// Implementations are thread-safe.
#ifndef EMU_AGENT_NET_HOST_NETWORK_H_
#define EMU_AGENT_NET_HOST_NETWORK_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent::net {

class HostNetwork {
 public:
  virtual ~HostNetwork() = default;

  // Creates /run/netns/<ns> holding a new network namespace (making
  // /run/netns a shared mount point first, as iproute2 does) and brings its
  // loopback up. ALREADY_EXISTS if the name is taken.
  virtual absl::Status CreateNamespace(const std::string& ns) = 0;

  // Unmounts and removes /run/netns/<ns>. The kernel frees the namespace,
  // and with it its interfaces (a veth's peer elsewhere goes too), once the
  // last process inside has exited; that can lag this call by a few ms.
  // OK if absent.
  virtual absl::Status DeleteNamespace(const std::string& ns) = 0;

  // Makes /run/netns/<ns> another name of the namespace /run/netns/<target>
  // names (a bind mount, as `ip netns attach` does): containerlab's
  // `network-mode: container:NODE` (Node.netns_of). Everything done
  // through either name is done in the one namespace; DeleteNamespace of
  // one name leaves the namespace to the other. ALREADY_EXISTS if the name
  // is taken, NOT_FOUND if target is not there.
  virtual absl::Status ShareNamespace(const std::string& target,
                                      const std::string& ns) = 0;

  // An identity of the namespace /run/netns/<ns> names ("dev:inode"): two
  // names with one identity name one namespace. NOT_FOUND if absent.
  virtual absl::StatusOr<std::string> NamespaceId(const std::string& ns) = 0;

  // Names of the namespaces under /run/netns starting with `prefix`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListNamespaces(
      absl::string_view prefix) = 0;

  // One end of a veth pair.
  struct VethEnd {
    std::string ns;      // namespace name (under /run/netns)
    std::string ifname;  // final name inside it, 1..15 bytes
    std::string mac;     // "02:00:00:00:00:01"; empty = kernel's random one
    uint32_t mtu = 0;    // 0 = kernel default (1500)
  };

  // Creates the pair with both ends directly inside their namespaces under
  // their final names (never a temporary name in the host namespace),
  // tags both with IFLA_IFALIAS = `alias` (the owner tag) and sets both up.
  // ALREADY_EXISTS if either name is taken in its namespace.
  virtual absl::Status CreateVeth(const VethEnd& a, const VethEnd& b,
                                  const std::string& alias) = 0;

  // Deletes the interface (for a veth, both ends). OK if the interface or
  // the namespace is absent.
  virtual absl::Status DeleteInterface(const std::string& ns,
                                       const std::string& ifname) = 0;

  // An interface without a peer (containerlab's `type: dummy`).
  struct DummySpec {
    std::string ns;
    std::string ifname;  // 1..15 bytes
    // "dummy" (the kernel's dummy driver) or "ifb" (for kernels without
    // it: up, no carrier loss, drops what is sent to it, as dummy does).
    std::string kind = "dummy";
    std::string mac;   // empty = kernel's random one
    uint32_t mtu = 0;  // 0 = kernel default
  };

  // Creates it with its MAC and MTU, tags it with IFLA_IFALIAS = `alias`
  // and sets it up. ALREADY_EXISTS if the name is taken in `ns`.
  virtual absl::Status CreateDummy(const DummySpec& spec,
                                   const std::string& alias) = 0;

  // A kernel VXLAN device carrying one cross-host link (the lab's carrier
  // "vxlan"; docs/tunnel.md).
  struct VxlanSpec {
    std::string ns;      // the node's namespace, where the device goes
    std::string ifname;  // its final name there, 1..15 bytes
    std::string mac;     // empty = kernel's random one
    uint32_t mtu = 0;    // 0 = kernel default (the underlay's MTU - 50)
    uint32_t vni = 0;    // 1 .. 2^24 - 1
    std::string remote;  // the peer host's address (IPv4 or IPv6 literal)
    uint16_t port = 4789;  // UDP destination port, the same on both hosts
  };

  // Creates the device directly inside `spec.ns` under its final name, with
  // its UDP socket in the namespace this process runs in (the host's
  // network: IFLA_NET_NS_FD, as `ip link add ... type vxlan ... netns NS`),
  // unicast to `remote`; tags it with IFLA_IFALIAS = `alias` and sets it up.
  // ALREADY_EXISTS if the name is taken in `ns` or another device of this
  // host already has the VNI on that port. The default refuses
  // (UNIMPLEMENTED).
  virtual absl::Status CreateVxlan(const VxlanSpec& spec,
                                   const std::string& alias) {
    (void)spec;
    (void)alias;
    return absl::UnimplementedError("VXLAN devices are not supported here");
  }

  // Creates a bridge named `name` in `ns` and sets it up, with `alias`
  // (IFLA_IFALIAS) when not empty. ALREADY_EXISTS if the name is taken in
  // that namespace.
  virtual absl::Status CreateBridge(const std::string& ns,
                                    const std::string& name,
                                    const std::string& alias = "") = 0;

  // Makes interface `ifname` a port of bridge `master`, both in `ns`.
  // NOT_FOUND if either is absent. Idempotent.
  virtual absl::Status SetMaster(const std::string& ns,
                                 const std::string& ifname,
                                 const std::string& master) = 0;

  // Turns address learning on or off on bridge port `ifname` in `ns`. A
  // bridge whose ports learn nothing floods every frame to every port: a
  // hub. NOT_FOUND if absent, FAILED_PRECONDITION if not a bridge port.
  // Idempotent.
  virtual absl::Status SetPortLearning(const std::string& ns,
                                       const std::string& ifname,
                                       bool learning) = 0;

  struct InterfaceInfo {
    std::string name;
    int ifindex = 0;
    std::string kind;   // "veth", "bridge", ...; empty for loopback/physical
    std::string alias;  // IFLA_IFALIAS; empty if none
    bool up = false;    // administratively up (IFF_UP)
    // CIDRs as the kernel normalises them ("10.0.0.1/24", "fd00::1/64"),
    // IPv6 link-local ones included.
    std::vector<std::string> addresses;
    std::string mac;  // "aa:bb:cc:dd:ee:ff"
    uint32_t mtu = 0;
    std::string master;  // the bridge it is a port of; empty if none
  };

  // Every interface in the namespace, loopback included, by ifindex.
  virtual absl::StatusOr<std::vector<InterfaceInfo>> ListInterfaces(
      const std::string& ns) = 0;

  // Makes the interface's addresses exactly `cidrs` ("10.0.0.1/24",
  // "fd00::1/64"; a missing prefix length means a host address): adds the
  // missing ones, removes the others except IPv6 link-local (fe80::/10).
  // IPv6 addresses are added without duplicate address detection, so they
  // are usable at once. Idempotent.
  virtual absl::Status SetAddresses(const std::string& ns,
                                    const std::string& ifname,
                                    const std::vector<std::string>& cidrs) = 0;

  struct RouteSpec {
    // CIDR, or "default" (0.0.0.0/0) / "default6" (::/0). Host bits must be
    // zero ("10.1.0.0/16", not "10.1.2.3/16").
    std::string destination;
    std::string via;      // gateway address; empty for an on-link route
    std::string dev;      // output interface; needed when via is empty
    uint32_t metric = 0;  // route priority
  };

  struct RouteInfo {
    std::string destination;  // canonical CIDR; "0.0.0.0/0", "::/0" default
    std::string dev;          // the first nexthop's interface; "" if none
  };
  // The routes of the main table in `ns` that take traffic (unicast,
  // blackhole, unreachable, prohibit), IPv4 and IPv6, connected ones
  // included. For checks that a subnet is free (the management
  // network).
  virtual absl::StatusOr<std::vector<RouteInfo>> ListRoutes(
      const std::string& ns) = 0;

  // Adds or replaces (NLM_F_REPLACE) the route to `destination` with this
  // metric in the main table. Idempotent. FAILED_PRECONDITION when the
  // gateway is not reachable yet (no address in its subnet on an up
  // interface): set addresses first.
  virtual absl::Status ReplaceRoute(const std::string& ns,
                                    const RouteSpec& route) = 0;

  // Writes /proc/sys/<key with '.' as '/'> inside the namespace, e.g.
  // "net.ipv4.ip_forward" = "1". Only "net." keys: the others are not per
  // namespace and would change the whole host (INVALID_ARGUMENT).
  virtual absl::Status SetSysctl(const std::string& ns, const std::string& key,
                                 const std::string& value) = 0;

  // Makes the interface's egress qdiscs match `plan` (see
  // linkemu/libnl_qdisc.h for layout and semantics). An empty plan removes
  // ours. FAILED_PRECONDITION when the kernel lacks a qdisc kind the plan
  // needs ("... this kernel has no sch_netem ...").
  virtual absl::Status ApplyQdiscs(const std::string& ns,
                                   const std::string& ifname,
                                   const linkemu::QdiscPlan& plan) = 0;

  // The qdiscs the kernel reports on the interface, its default root
  // (handle 0, e.g. "noqueue") included.
  virtual absl::StatusOr<std::vector<linkemu::QdiscInfo>> ListQdiscs(
      const std::string& ns, const std::string& ifname) = 0;

  struct KernelFeatures {
    // Qdisc kinds the kernel accepted, from: tbf, netem, htb, fq_codel,
    // pfifo, red, sfq, prio, cake.
    std::vector<std::string> qdiscs;
    bool bridge = false;  // could create a bridge link
    bool vxlan = false;   // could create a vxlan link
    bool veth = false;    // could create a veth pair
    bool dummy = false;   // could create a dummy interface (CONFIG_DUMMY)
    bool ifb = false;     // could create an ifb interface (CONFIG_IFB)
  };

  // Tries each feature in a scratch namespace (unique name, always removed)
  // and reports what the kernel accepted. A missing feature is a false /
  // absent entry, not an error; errors mean the probe itself could not run.
  virtual absl::StatusOr<KernelFeatures> ProbeKernel() = 0;
};

// ---------------------------------------------------------------------------
// Validation and parsing shared by every implementation (pure, thread-safe).

// A namespace name: 1..200 bytes (emu.<host>.<lab key>.<node> with 32-byte
// names fits) of [A-Za-z0-9_.+-] ('+' joins a user's lab key, "alice+core"),
// not "." or "..".
absl::Status ValidateNamespaceName(absl::string_view ns);

// An interface name as the kernel takes it: 1..15 bytes, no '/', ':' or
// whitespace, not "." or "..".
absl::Status ValidateInterfaceName(absl::string_view ifname);

// "aa:bb:cc:dd:ee:ff" (hex, either case); unicast (bit 0 of the first byte
// clear).
absl::Status ValidateMac(absl::string_view mac);

// "create veth ns1:eth1<->ns2:eth1", the prefix of CreateVeth's errors.
std::string VethWhat(const HostNetwork::VethEnd& a,
                     const HostNetwork::VethEnd& b);
// CreateVeth's argument checks (names, MACs, distinct ends), annotated with
// VethWhat.
absl::Status ValidateVeth(const HostNetwork::VethEnd& a,
                          const HostNetwork::VethEnd& b);

// An address with its prefix length.
struct Cidr {
  int family = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // first 4 used for AF_INET
  int prefix_len = 0;

  int byte_len() const;  // 4 or 16
  // Canonical text: "10.0.0.1/24", "fd00::1/64" (inet_ntop form).
  std::string ToString() const;
  // Address without prefix: "10.0.0.1".
  std::string AddressString() const;
  bool HostBitsZero() const;
  bool IsIpv6LinkLocal() const;
  // True when `o` is of the same family and its first `bits` bits equal
  // this one's (Contains: bits = prefix_len; an overlap of two prefixes:
  // the shorter of the two).
  bool SamePrefix(const Cidr& o, int bits) const;
  bool operator==(const Cidr& o) const {
    return family == o.family && bytes == o.bytes && prefix_len == o.prefix_len;
  }
};

// Parses "10.0.0.1/24", "fd00::1/64", "10.0.0.1" (= /32), "fd00::1"
// (= /128). INVALID_ARGUMENT naming the text otherwise.
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);

// Parses a route destination: a CIDR, "default" or "default6".
absl::StatusOr<Cidr> ParseRouteDestination(absl::string_view text);

// Checks a RouteSpec: destination parses with zero host bits, via (if set)
// is an address of the same family, and at least one of via/dev is set.
absl::Status ValidateRoute(const HostNetwork::RouteSpec& route);

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward". Only keys
// under "net." made of [A-Za-z0-9_-] segments separated by single dots.
absl::StatusOr<std::string> SysctlPath(absl::string_view key);

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_HOST_NETWORK_H_
