#include "agent/net/testing/fake_host_network.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace emu::agent::net {
namespace {

// fe80::/64 from a MAC by modified EUI-64, as the kernel derives it.
std::string LinkLocalFor(const std::string& mac) {
  std::vector<std::string> parts = absl::StrSplit(mac, ':');
  uint32_t b[6] = {};
  for (int i = 0; i < 6 && i < static_cast<int>(parts.size()); ++i) {
    absl::SimpleHexAtoi(parts[i], &b[i]);
  }
  absl::StatusOr<Cidr> c = ParseCidr(absl::StrFormat(
      "fe80::%x:%x:%x:%x/64", ((b[0] ^ 0x02) << 8) | b[1], (b[2] << 8) | 0xff,
      0xfe00 | b[3], (b[4] << 8) | b[5]));
  return c.ok() ? c->ToString() : "fe80::1/64";
}

// True if `addr` lies inside `net`'s prefix.
bool Contains(const Cidr& net, const Cidr& addr) {
  return net.SamePrefix(addr, net.prefix_len);
}

}  // namespace

const char* FakeHostNetwork::MethodName(Method m) {
  switch (m) {
    case Method::kCreateNamespace: return "CreateNamespace";
    case Method::kDeleteNamespace: return "DeleteNamespace";
    case Method::kShareNamespace: return "ShareNamespace";
    case Method::kListNamespaces: return "ListNamespaces";
    case Method::kCreateVeth: return "CreateVeth";
    case Method::kCreateBridge: return "CreateBridge";
    case Method::kSetMaster: return "SetMaster";
    case Method::kSetPortLearning:
      return "SetPortLearning";
    case Method::kCreateDummy: return "CreateDummy";
    case Method::kCreateVxlan: return "CreateVxlan";
    case Method::kDeleteInterface: return "DeleteInterface";
    case Method::kListInterfaces: return "ListInterfaces";
    case Method::kSetAddresses: return "SetAddresses";
    case Method::kReplaceRoute: return "ReplaceRoute";
    case Method::kListRoutes: return "ListRoutes";
    case Method::kSetSysctl: return "SetSysctl";
    case Method::kApplyQdiscs: return "ApplyQdiscs";
    case Method::kListQdiscs: return "ListQdiscs";
    case Method::kProbeKernel: return "ProbeKernel";
  }
  return "?";
}

HostNetwork::KernelFeatures FakeHostNetwork::DefaultFeatures() {
  KernelFeatures f;
  f.qdiscs = {"tbf", "netem", "htb", "fq_codel", "pfifo"};
  f.veth = f.bridge = f.vxlan = f.dummy = f.ifb = true;
  return f;
}

FakeHostNetwork::FakeHostNetwork() : features_(DefaultFeatures()) {
  // The namespace the process runs in (""), with its loopback, as every
  // real process has one.
  absl::MutexLock lock(&mu_);
  namespaces_[""] = NewNamespace();
}

FakeHostNetwork::Namespace FakeHostNetwork::NewNamespace() {
  Namespace n;
  Iface lo;
  lo.info.name = "lo";
  lo.info.ifindex = 1;
  lo.info.up = true;
  lo.info.addresses = {"127.0.0.1/8", "::1/128"};
  lo.info.mac = "00:00:00:00:00:00";
  lo.info.mtu = 65536;
  n.ifaces["lo"] = lo;
  return n;
}

absl::Status FakeHostNetwork::Enter(Method m) {
  ++calls_[m];
  auto all = all_failures_.find(m);
  if (all != all_failures_.end()) return all->second;
  auto nth = nth_failures_.find(m);
  if (nth == nth_failures_.end()) return absl::OkStatus();
  absl::Status result;
  std::vector<PendingFailure>& pending = nth->second;
  for (auto it = pending.begin(); it != pending.end();) {
    if (it->remaining == 0) {
      if (result.ok()) result = it->status;
      it = pending.erase(it);
    } else {
      --it->remaining;
      ++it;
    }
  }
  return result;
}

FakeHostNetwork::Iface FakeHostNetwork::NewIface(
    Namespace* n, const std::string& name, absl::string_view kind,
    const std::string& alias, uint32_t mtu, uint32_t default_mtu,
    const std::string& mac, absl::string_view mac_kind) {
  Iface i;
  i.info.name = name;
  i.info.ifindex = n->next_ifindex++;
  i.info.kind = std::string(kind);
  i.info.alias = alias;
  i.info.up = true;
  i.info.mtu = mtu != 0 ? mtu : default_mtu;
  if (!mac.empty()) {
    i.info.mac = absl::AsciiStrToLower(mac);
  } else {
    const int k = next_mac_++;
    i.info.mac = absl::StrFormat("02:%s:00:%02x:%02x:%02x", mac_kind,
                                 (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff);
  }
  return i;
}

absl::StatusOr<FakeHostNetwork::Namespace*> FakeHostNetwork::FindNs(
    const std::string& ns, absl::string_view what) {
  // "" is the process's own namespace, always there.
  if (!ns.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateNamespaceName(ns), what));
  }
  auto it = namespaces_.find(Resolve(ns));
  if (it == namespaces_.end()) {
    return absl::NotFoundError(
        absl::StrCat(what, ": namespace ", ns, " does not exist"));
  }
  return &it->second;
}

absl::StatusOr<FakeHostNetwork::Iface*> FakeHostNetwork::FindIface(
    const std::string& ns, const std::string& ifname, absl::string_view what) {
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(ns, what));
  auto it = n->ifaces.find(ifname);
  if (it == n->ifaces.end()) {
    return absl::NotFoundError(absl::StrCat(
        what, ": interface ", ifname, " not found in namespace ", ns));
  }
  return &it->second;
}

void FakeHostNetwork::RemoveIface(const std::string& ns,
                                  const std::string& ifname) {
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return;
  auto it = n->second.ifaces.find(ifname);
  if (it == n->second.ifaces.end()) return;
  const std::string peer_ns = it->second.peer_ns;
  const std::string peer_if = it->second.peer_ifname;
  const bool is_veth = it->second.info.kind == "veth";
  n->second.ifaces.erase(it);
  // As the kernel: a deleted bridge releases its ports.
  for (auto& [name, port] : n->second.ifaces) {
    if (port.info.master == ifname) port.info.master.clear();
  }
  if (is_veth) {
    auto pn = namespaces_.find(Resolve(peer_ns));
    if (pn != namespaces_.end()) pn->second.ifaces.erase(peer_if);
  }
}

absl::Status FakeHostNetwork::CreateNamespace(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kCreateNamespace));
  const std::string what = absl::StrCat("create namespace ", ns);
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  if (namespaces_.count(ns) || shares_.count(ns)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": already exists"));
  }
  namespaces_[ns] = NewNamespace();
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::DeleteNamespace(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kDeleteNamespace));
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  if (shares_.erase(ns) > 0) {  // only this name goes
    ++changes_;
    return absl::OkStatus();
  }
  auto it = namespaces_.find(ns);
  if (it == namespaces_.end()) return absl::OkStatus();
  // Another name still holds the namespace: it lives on under that name.
  for (auto& [name, target] : shares_) {
    if (target != ns) continue;
    const std::string heir = name;
    Namespace kept = std::move(it->second);
    namespaces_.erase(it);
    shares_.erase(heir);
    for (auto& [other, t] : shares_) {
      if (t == ns) t = heir;
    }
    namespaces_[heir] = std::move(kept);
    for (auto& [n, space] : namespaces_) {
      for (auto& [ifname, i] : space.ifaces) {
        if (i.peer_ns == ns) i.peer_ns = heir;
      }
    }
    ++changes_;
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (const auto& [name, iface] : it->second.ifaces) names.push_back(name);
  for (const std::string& name : names) RemoveIface(ns, name);
  namespaces_.erase(ns);
  ++changes_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FakeHostNetwork::ListNamespaces(
    absl::string_view prefix) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kListNamespaces));
  std::vector<std::string> out;
  for (const auto& [name, n] : namespaces_) {
    if (name.empty()) continue;  // the process's own: not under /run/netns
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  for (const auto& [name, target] : shares_) {
    if (absl::StartsWith(name, prefix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status FakeHostNetwork::ShareNamespace(const std::string& target,
                                             const std::string& ns) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kShareNamespace));
  const std::string what = absl::StrCat("share namespace ", target, " as ", ns);
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(target));
  if (namespaces_.count(ns) || shares_.count(ns)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": already exists"));
  }
  const std::string key = Resolve(target);
  if (!namespaces_.count(key)) {
    return absl::NotFoundError(
        absl::StrCat(what, ": namespace ", target, " does not exist"));
  }
  shares_[ns] = key;
  ++changes_;
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeHostNetwork::NamespaceId(
    const std::string& ns) {
  absl::MutexLock lock(&mu_);
  const std::string key = Resolve(ns);
  if (key.empty() || !namespaces_.count(key)) {
    return absl::NotFoundError(absl::StrCat("namespace ", ns, " does not exist"));
  }
  return absl::StrCat("fake:", key);
}

std::string FakeHostNetwork::Resolve(const std::string& ns) const {
  auto it = shares_.find(ns);
  return it == shares_.end() ? ns : it->second;
}

absl::Status FakeHostNetwork::CreateVeth(const VethEnd& a, const VethEnd& b,
                                         const std::string& alias) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kCreateVeth));
  const std::string what = VethWhat(a, b);
  EMU_RETURN_IF_ERROR(ValidateVeth(a, b));
  EMU_ASSIGN_OR_RETURN(Namespace * na, FindNs(a.ns, what));
  EMU_ASSIGN_OR_RETURN(Namespace * nb, FindNs(b.ns, what));
  if (na->ifaces.count(a.ifname) || nb->ifaces.count(b.ifname)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": File exists"));
  }
  auto make = [&](Namespace* n, const VethEnd& end, const VethEnd& peer) {
    Iface i =
        NewIface(n, end.ifname, "veth", alias, end.mtu, 1500, end.mac, "fa");
    i.info.addresses = {LinkLocalFor(i.info.mac)};
    i.peer_ns = Resolve(peer.ns);
    i.peer_ifname = peer.ifname;
    n->ifaces[end.ifname] = std::move(i);
  };
  make(na, a, b);
  make(nb, b, a);
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::CreateDummy(const DummySpec& spec,
                                          const std::string& alias) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kCreateDummy));
  const std::string what =
      absl::StrCat("create ", spec.kind, " ", spec.ns, ":", spec.ifname);
  if (spec.kind != "dummy" && spec.kind != "ifb") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": kind must be dummy or ifb"));
  }
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(spec.ifname), what));
  if (!spec.mac.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateMac(spec.mac), what));
  }
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(spec.ns, what));
  if (n->ifaces.count(spec.ifname)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": File exists"));
  }
  Iface i = NewIface(n, spec.ifname, spec.kind, alias, spec.mtu, 1500,
                     spec.mac, "fd");
  n->ifaces[spec.ifname] = std::move(i);
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::CreateVxlan(const VxlanSpec& spec,
                                          const std::string& alias) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kCreateVxlan));
  const std::string what =
      absl::StrCat("create vxlan ", spec.ns, ":", spec.ifname);
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(spec.ifname), what));
  if (!spec.mac.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateMac(spec.mac), what));
  }
  if (spec.vni == 0 || spec.vni > 0xFFFFFF || spec.remote.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": needs a VNI in 1..16777215 and a remote"));
  }
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(spec.ns, what));
  if (n->ifaces.count(spec.ifname)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": File exists"));
  }
  for (const auto& [name, other] : namespaces_) {
    for (const auto& [ifname, i] : other.ifaces) {
      if (i.vxlan && i.vxlan->vni == spec.vni && i.vxlan->port == spec.port) {
        return absl::AlreadyExistsError(absl::StrCat(
            what, ": A VXLAN device with the specified VNI already exists"));
      }
    }
  }
  Iface i = NewIface(n, spec.ifname, "vxlan", alias, spec.mtu, 1450,
                     spec.mac, "fd");
  i.vxlan = spec;
  n->ifaces[spec.ifname] = std::move(i);
  ++changes_;
  return absl::OkStatus();
}

std::optional<HostNetwork::VxlanSpec> FakeHostNetwork::Vxlan(
    const std::string& ns, const std::string& ifname) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto i = n->second.ifaces.find(ifname);
  if (i == n->second.ifaces.end()) return std::nullopt;
  return i->second.vxlan;
}

absl::Status FakeHostNetwork::CreateBridge(const std::string& ns,
                                           const std::string& name,
                                           const std::string& alias) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kCreateBridge));
  const std::string what = absl::StrCat("create bridge ", ns, ":", name);
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(name), what));
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(ns, what));
  if (n->ifaces.count(name)) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": File exists"));
  }
  Iface i = NewIface(n, name, "bridge", alias, 0, 1500, "", "fb");
  n->ifaces[name] = std::move(i);
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::SetMaster(const std::string& ns,
                                        const std::string& ifname,
                                        const std::string& master) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kSetMaster));
  const std::string what = absl::StrCat("make ", ns, ":", ifname,
                                        " a port of bridge ", master);
  for (const std::string* name : {&ifname, &master}) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(*name), what));
  }
  EMU_ASSIGN_OR_RETURN(Iface * bridge, FindIface(ns, master, what));
  if (bridge->info.kind != "bridge") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", master, " is not a bridge"));
  }
  EMU_ASSIGN_OR_RETURN(Iface * port, FindIface(ns, ifname, what));
  if (port->info.master != master) {
    port->info.master = master;
    ++changes_;
  }
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::SetPortLearning(const std::string& ns,
                                              const std::string& ifname,
                                              bool learning) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kSetPortLearning));
  const std::string what =
      absl::StrCat("set learning ", learning ? "on" : "off", " on bridge port ",
                   ns, ":", ifname);
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(ifname), what));
  EMU_ASSIGN_OR_RETURN(Iface * port, FindIface(ns, ifname, what));
  if (port->info.master.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": not a bridge port"));
  }
  if (port->learning != learning) {
    port->learning = learning;
    ++changes_;
  }
  return absl::OkStatus();
}

std::optional<bool> FakeHostNetwork::PortLearning(
    const std::string& ns, const std::string& ifname) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto i = n->second.ifaces.find(ifname);
  if (i == n->second.ifaces.end() || i->second.info.master.empty()) {
    return std::nullopt;
  }
  return i->second.learning;
}

absl::Status FakeHostNetwork::DeleteInterface(const std::string& ns,
                                              const std::string& ifname) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kDeleteInterface));
  const std::string what = absl::StrCat("delete interface ", ns, ":", ifname);
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(ifname), what));
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end() || !n->second.ifaces.count(ifname)) {
    return absl::OkStatus();
  }
  if (ifname == "lo") {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": loopback cannot be deleted"));
  }
  RemoveIface(ns, ifname);
  ++changes_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HostNetwork::RouteInfo>>
FakeHostNetwork::ListRoutes(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kListRoutes));
  EMU_ASSIGN_OR_RETURN(Namespace * n,
                       FindNs(ns, absl::StrCat("list routes of ", ns)));
  // The routes ReplaceRoute made (this fake keeps no connected ones).
  std::vector<RouteInfo> out;
  for (const auto& [key, r] : n->routes) {
    absl::StatusOr<Cidr> dst = ParseRouteDestination(r.destination);
    if (dst.ok()) out.push_back({dst->ToString(), r.dev});
  }
  return out;
}

absl::StatusOr<std::vector<HostNetwork::InterfaceInfo>>
FakeHostNetwork::ListInterfaces(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kListInterfaces));
  EMU_ASSIGN_OR_RETURN(Namespace * n,
                       FindNs(ns, absl::StrCat("list interfaces of ", ns)));
  std::vector<InterfaceInfo> out;
  for (const auto& [name, i] : n->ifaces) out.push_back(i.info);
  std::sort(out.begin(), out.end(),
            [](const InterfaceInfo& x, const InterfaceInfo& y) {
              return x.ifindex < y.ifindex;
            });
  return out;
}

absl::Status FakeHostNetwork::SetAddresses(
    const std::string& ns, const std::string& ifname,
    const std::vector<std::string>& cidrs) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kSetAddresses));
  const std::string what = absl::StrCat("set addresses on ", ns, ":", ifname);
  std::vector<std::string> want;
  for (const std::string& text : cidrs) {
    absl::StatusOr<Cidr> c = ParseCidr(text);
    if (!c.ok()) return Annotate(c.status(), what);
    if (std::find(want.begin(), want.end(), c->ToString()) == want.end()) {
      want.push_back(c->ToString());
    }
  }
  EMU_ASSIGN_OR_RETURN(Iface * i, FindIface(ns, ifname, what));
  std::vector<std::string> next;
  for (const std::string& have : i->info.addresses) {
    absl::StatusOr<Cidr> c = ParseCidr(have);
    if (c.ok() && c->IsIpv6LinkLocal() &&
        std::find(want.begin(), want.end(), have) == want.end()) {
      next.push_back(have);
    }
  }
  next.insert(next.end(), want.begin(), want.end());
  std::vector<std::string> before = i->info.addresses;
  std::vector<std::string> after = next;
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  if (before != after) {
    i->info.addresses = std::move(next);
    ++changes_;
  }
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::ReplaceRoute(const std::string& ns,
                                           const RouteSpec& r) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kReplaceRoute));
  const std::string what =
      absl::StrCat("replace route ", r.destination, " in ", ns);
  {
    absl::Status s = ValidateRoute(r);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("in ", ns, ": ", s.message()));
    }
  }
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(ns, what));
  if (!r.dev.empty()) {
    EMU_RETURN_IF_ERROR(FindIface(ns, r.dev, what).status());
  }
  if (!r.via.empty()) {
    absl::StatusOr<Cidr> via = ParseCidr(r.via);
    bool reachable = false;
    for (const auto& [name, i] : n->ifaces) {
      if (!i.info.up || (!r.dev.empty() && name != r.dev)) continue;
      for (const std::string& a : i.info.addresses) {
        absl::StatusOr<Cidr> net = ParseCidr(a);
        reachable = reachable || (net.ok() && via.ok() && Contains(*net, *via));
      }
    }
    if (!reachable) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": gateway ", r.via, " is not reachable",
          r.dev.empty() ? "" : absl::StrCat(" via ", r.dev),
          " (no address in its subnet?)"));
    }
  }
  const std::string key = ParseRouteDestination(r.destination)->ToString();
  auto it = n->routes.find({key, r.metric});
  if (it != n->routes.end() && it->second.via == r.via &&
      it->second.dev == r.dev) {
    return absl::OkStatus();
  }
  n->routes[{key, r.metric}] = r;
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::SetSysctl(const std::string& ns,
                                        const std::string& key,
                                        const std::string& value) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kSetSysctl));
  const std::string what =
      absl::StrCat("set sysctl ", key, "=", value, " in ", ns);
  absl::StatusOr<std::string> path = SysctlPath(key);
  if (!path.ok()) return Annotate(path.status(), absl::StrCat("in ", ns));
  if (value.empty() || value.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": value must be one non-empty line"));
  }
  EMU_ASSIGN_OR_RETURN(Namespace * n, FindNs(ns, what));
  auto it = n->sysctls.find(key);
  if (it != n->sysctls.end() && it->second == value) return absl::OkStatus();
  n->sysctls[key] = value;
  ++changes_;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::ApplyQdiscs(const std::string& ns,
                                          const std::string& ifname,
                                          const linkemu::QdiscPlan& plan) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kApplyQdiscs));
  const std::string where = absl::StrCat(ns, ":", ifname);
  EMU_ASSIGN_OR_RETURN(Iface * i,
                       FindIface(ns, ifname, absl::StrCat("set qdiscs on ",
                                                          where)));
  if (i->plan == plan) return absl::OkStatus();
  // As the real one: a layout change removes the old root first.
  if (linkemu::LayoutFor(i->plan) != linkemu::LayoutFor(plan) &&
      !i->plan.empty()) {
    i->plan = linkemu::QdiscPlan();
    ++changes_;
  }
  auto has = [&](const char* kind) {
    return std::find(features_.qdiscs.begin(), features_.qdiscs.end(),
                     kind) != features_.qdiscs.end();
  };
  for (const auto& [needed, kind] :
       {std::make_pair(plan.netem.has_value(), "netem"),
        std::make_pair(plan.tbf.has_value(), "tbf")}) {
    if (needed && !has(kind)) {
      return absl::FailedPreconditionError(
          absl::StrCat("set ", kind, " on ", where, ": this kernel has no sch_",
                       kind, " (Specified qdisc kind is unknown)"));
    }
  }
  i->plan = plan;
  ++changes_;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<linkemu::QdiscInfo>> FakeHostNetwork::ListQdiscs(
    const std::string& ns, const std::string& ifname) {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kListQdiscs));
  EMU_ASSIGN_OR_RETURN(
      Iface * i,
      FindIface(ns, ifname, absl::StrCat("list qdiscs on ", ns, ":", ifname)));
  if (i->plan.empty()) {
    return std::vector<linkemu::QdiscInfo>{
        {"noqueue", 0, linkemu::kRootParent}};
  }
  return linkemu::LayoutFor(i->plan);
}

absl::StatusOr<HostNetwork::KernelFeatures> FakeHostNetwork::ProbeKernel() {
  absl::MutexLock lock(&mu_);
  EMU_RETURN_IF_ERROR(Enter(Method::kProbeKernel));
  return features_;
}

int FakeHostNetwork::calls(Method m) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(m);
  return it == calls_.end() ? 0 : it->second;
}

int FakeHostNetwork::changes() const {
  absl::MutexLock lock(&mu_);
  return changes_;
}

void FakeHostNetwork::ResetCounts() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
  changes_ = 0;
}

void FakeHostNetwork::FailNthCall(Method m, int n, absl::Status status) {
  absl::MutexLock lock(&mu_);
  nth_failures_[m].push_back(PendingFailure{std::max(n, 1) - 1, status});
}

void FakeHostNetwork::FailAllCalls(Method m, absl::Status status) {
  absl::MutexLock lock(&mu_);
  all_failures_[m] = status;
}

void FakeHostNetwork::ClearFailures() {
  absl::MutexLock lock(&mu_);
  nth_failures_.clear();
  all_failures_.clear();
}

void FakeHostNetwork::set_features(KernelFeatures features) {
  absl::MutexLock lock(&mu_);
  features_ = std::move(features);
}

bool FakeHostNetwork::HasNamespace(const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  return namespaces_.count(Resolve(ns)) > 0;
}

std::optional<HostNetwork::InterfaceInfo> FakeHostNetwork::GetInterface(
    const std::string& ns, const std::string& ifname) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto i = n->second.ifaces.find(ifname);
  if (i == n->second.ifaces.end()) return std::nullopt;
  return i->second.info;
}

std::optional<std::pair<std::string, std::string>> FakeHostNetwork::Peer(
    const std::string& ns, const std::string& ifname) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto i = n->second.ifaces.find(ifname);
  if (i == n->second.ifaces.end() || i->second.info.kind != "veth") {
    return std::nullopt;
  }
  return std::make_pair(i->second.peer_ns, i->second.peer_ifname);
}

std::vector<HostNetwork::RouteSpec> FakeHostNetwork::Routes(
    const std::string& ns) const {
  absl::MutexLock lock(&mu_);
  std::vector<RouteSpec> out;
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return out;
  for (const auto& [key, r] : n->second.routes) out.push_back(r);
  return out;
}

std::optional<std::string> FakeHostNetwork::Sysctl(
    const std::string& ns, const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto it = n->second.sysctls.find(key);
  if (it == n->second.sysctls.end()) return std::nullopt;
  return it->second;
}

std::optional<linkemu::QdiscPlan> FakeHostNetwork::AppliedPlan(
    const std::string& ns, const std::string& ifname) const {
  absl::MutexLock lock(&mu_);
  auto n = namespaces_.find(Resolve(ns));
  if (n == namespaces_.end()) return std::nullopt;
  auto i = n->second.ifaces.find(ifname);
  if (i == n->second.ifaces.end() || i->second.plan.empty()) {
    return std::nullopt;
  }
  return i->second.plan;
}

}  // namespace emu::agent::net
