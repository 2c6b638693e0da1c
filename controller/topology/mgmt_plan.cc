#include "controller/topology/mgmt_plan.h"

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/topology/ip_prefix.h"

namespace emu::controller::topology {
namespace {

// One address family of the plan.
struct Family {
  const char* key;    // "ipv4", "ipv6": as the file's keys name it
  int family;         // AF_INET, AF_INET6
  int max_length;     // longest subnet with room for a gateway and a node
  std::string subnet_text;
  std::string gateway_text;  // as written
  std::string range_text;
  std::string MgmtAsk(const MgmtNodeAsk& n) const {
    return family == AF_INET ? n.ipv4 : n.ipv6;
  }
  int AskLine(const MgmtNodeAsk& n) const {
    return family == AF_INET ? n.ipv4_line : n.ipv6_line;
  }
};

class Planner {
 public:
  Planner(const MgmtSettings& settings, const std::vector<MgmtNodeAsk>& nodes)
      : settings_(settings), nodes_(nodes) {}

  MgmtPlan Run() {
    plan_.net = settings_.net;
    const emu::v1::ManagementNetwork& in = settings_.net;
    if (plan_.net.network().empty()) plan_.net.set_network(kDefaultMgmtNetwork);
    const bool defaults = in.ipv4_subnet().empty() && in.ipv6_subnet().empty();
    Family v4{"ipv4", AF_INET, 30,
              defaults ? kDefaultMgmtIpv4Subnet : in.ipv4_subnet(),
              in.ipv4_gateway(), settings_.ipv4_range};
    Family v6{"ipv6", AF_INET6, 126,
              defaults ? kDefaultMgmtIpv6Subnet : in.ipv6_subnet(),
              in.ipv6_gateway(), settings_.ipv6_range};
    plan_.net.clear_ipv4_subnet();
    plan_.net.clear_ipv6_subnet();
    plan_.net.clear_ipv4_gateway();
    plan_.net.clear_ipv6_gateway();
    for (const MgmtNodeAsk& n : nodes_) {
      if (!n.attached && (!n.ipv4.empty() || !n.ipv6.empty())) {
        Warn(n.ipv4.empty() ? n.ipv6_line : n.ipv4_line,
             absl::StrCat("node ", n.node),
             "mgmt-ipv4/mgmt-ipv6 ignored: the node has no management "
             "interface (it is not a netns node, shares another's "
             "namespace, or has network-mode host or none)");
      }
    }
    for (Family* f : {&v4, &v6}) PlanFamily(*f);
    return std::move(plan_);
  }

 private:
  int Line() const { return settings_.net.source().line(); }
  void Error(int line, std::string object, std::string cause) {
    plan_.errors.push_back({line, std::move(object), std::move(cause)});
  }
  void Warn(int line, std::string object, std::string cause) {
    plan_.warnings.push_back({line, std::move(object), std::move(cause)});
  }

  void PlanFamily(const Family& f) {
    const std::string subnet_key = absl::StrCat(f.key, "-subnet");
    if (f.subnet_text.empty()) {
      // A lab without this family: an address asked in it is an error.
      for (const MgmtNodeAsk& n : nodes_) {
        if (n.attached && !f.MgmtAsk(n).empty()) {
          Error(f.AskLine(n), absl::StrCat("node ", n.node),
                absl::StrCat("mgmt-", f.key, " ", f.MgmtAsk(n),
                             ": the management network has no ", f.key,
                             " subnet (mgmt: ", subnet_key, ")"));
        }
      }
      if (!f.gateway_text.empty() || !f.range_text.empty()) {
        Error(Line(), "mgmt",
              absl::StrCat(f.key, "-gw/", f.key, "-range need an ",
                           subnet_key));
      }
      return;
    }
    IpPrefix subnet;
    if (std::string cause = ParseIpPrefix(f.subnet_text, false, &subnet);
        !cause.empty()) {
      Error(Line(), "mgmt",
            absl::StrCat(subnet_key, " \"", f.subnet_text, "\": ", cause));
      return;
    }
    if (subnet.address.family != f.family) {
      Error(Line(), "mgmt",
            absl::StrCat(subnet_key, " \"", f.subnet_text, "\" is not an ",
                         f.family == AF_INET ? "IPv4" : "IPv6", " subnet"));
      return;
    }
    if (subnet.length > f.max_length || subnet.length < 8) {
      Error(Line(), "mgmt",
            absl::StrCat(subnet_key, " ", f.subnet_text,
                         ": the prefix length must be 8..", f.max_length,
                         " (room for a gateway and nodes)"));
      return;
    }
    if (subnet.HasHostBits()) {
      Error(Line(), "mgmt",
            absl::StrCat(subnet_key, " ", f.subnet_text,
                         " has host bits set: did you mean ",
                         subnet.Network().ToString(), "?"));
      return;
    }
    const std::string len = absl::StrCat("/", subnet.length);
    // Addresses that are no node's: the network address, IPv4's broadcast
    // and the gateway.
    IpAddress broadcast = subnet.address;
    for (int bit = subnet.length; bit < subnet.address.bits(); ++bit) {
      broadcast.bytes[bit / 8] |= 0x80 >> (bit % 8);
    }
    IpAddress gateway = subnet.address;
    AddToAddress(&gateway, 1);
    if (!f.gateway_text.empty()) {
      IpPrefix gw;
      std::string cause = ParseIpPrefix(f.gateway_text, true, &gw);
      if (cause.empty() && !subnet.Contains(gw.address)) {
        cause = absl::StrCat("is outside ", subnet.ToString());
      }
      if (cause.empty() && (gw.address == subnet.address ||
                            (f.family == AF_INET && gw.address == broadcast))) {
        cause = "is not a host address of the subnet";
      }
      if (!cause.empty()) {
        Error(Line(), "mgmt",
              absl::StrCat(f.key, "-gw ", f.gateway_text, ": ", cause));
        return;
      }
      gateway = gw.address;
    }
    const std::string subnet_canonical = subnet.ToString();
    if (f.family == AF_INET) {
      plan_.net.set_ipv4_subnet(subnet_canonical);
      plan_.net.set_ipv4_gateway(gateway.ToString() + len);
    } else {
      plan_.net.set_ipv6_subnet(subnet_canonical);
      plan_.net.set_ipv6_gateway(gateway.ToString() + len);
    }
    IpPrefix pool = subnet;
    if (!f.range_text.empty()) {
      std::string cause = ParseIpPrefix(f.range_text, false, &pool);
      if (cause.empty() &&
          (pool.address.family != f.family || pool.length < subnet.length ||
           !subnet.Contains(pool.address))) {
        cause = absl::StrCat("is not inside ", subnet_canonical);
      }
      if (!cause.empty()) {
        Error(Line(), "mgmt",
              absl::StrCat(f.key, "-range ", f.range_text, ": ", cause));
        return;
      }
      pool = pool.Network();
    }
    auto reserved = [&](const IpAddress& a) {
      return a == subnet.address || a == gateway ||
             (f.family == AF_INET && a == broadcast);
    };
    // The file's own addresses first: Docker gives a fixed address before
    // handing out the free ones.
    std::map<IpAddress, std::string> taken;  // address -> node
    std::vector<const MgmtNodeAsk*> dynamic;
    for (const MgmtNodeAsk& n : nodes_) {
      if (!n.attached) continue;
      const std::string text = f.MgmtAsk(n);
      if (text.empty()) {
        dynamic.push_back(&n);
        continue;
      }
      const std::string object = absl::StrCat("node ", n.node);
      const std::string what = absl::StrCat("mgmt-", f.key, " ", text);
      IpPrefix asked;
      std::string cause = ParseIpPrefix(text, true, &asked);
      if (cause.empty() && asked.address.family != f.family) {
        cause = absl::StrCat("is not an ",
                             f.family == AF_INET ? "IPv4" : "IPv6",
                             " address");
      }
      if (cause.empty() && absl::StrContains(text, '/') &&
          asked.length != subnet.length) {
        cause = absl::StrCat("has prefix length ", asked.length,
                             "; the management subnet's is ", subnet.length,
                             " (write the bare address)");
      }
      if (cause.empty() && !subnet.Contains(asked.address)) {
        cause = absl::StrCat("is outside the management subnet ",
                             subnet_canonical,
                             " (mgmt: ", subnet_key, ")");
      }
      if (cause.empty() && asked.address == gateway) {
        cause = absl::StrCat("is the management network's gateway (on its "
                             "bridge, in the host's namespace)");
      } else if (cause.empty() && reserved(asked.address)) {
        cause = absl::StrCat("is the ",
                             asked.address == subnet.address ? "network"
                                                             : "broadcast",
                             " address of ", subnet_canonical);
      }
      if (cause.empty()) {
        auto [it, fresh] = taken.emplace(asked.address, n.node);
        if (!fresh) {
          cause = absl::StrCat("is already node ", it->second,
                               "'s management address");
        }
      }
      if (!cause.empty()) {
        Error(f.AskLine(n), object, absl::StrCat(what, ": ", cause));
        continue;
      }
      plan_.addresses[n.node].push_back(asked.address.ToString() + len);
    }
    // Then the lowest free ones of the pool, in file order.
    IpAddress next = pool.address;
    bool exhausted = false;
    for (const MgmtNodeAsk* n : dynamic) {
      while (!exhausted && (reserved(next) || taken.count(next) != 0)) {
        exhausted = !AddToAddress(&next, 1) || !pool.Contains(next);
      }
      if (exhausted) {
        Error(n->line, absl::StrCat("node ", n->node),
              absl::StrCat("no free ", f.key, " management address left in ",
                           f.range_text.empty() ? subnet_canonical
                                                : pool.ToString(),
                           " (mgmt: ",
                           f.range_text.empty() ? subnet_key
                                                : absl::StrCat(f.key, "-range"),
                           ")"));
        continue;
      }
      taken.emplace(next, n->node);
      plan_.addresses[n->node].push_back(next.ToString() + len);
    }
  }

  const MgmtSettings& settings_;
  const std::vector<MgmtNodeAsk>& nodes_;
  MgmtPlan plan_;
};

}  // namespace

MgmtPlan PlanManagementNetwork(const MgmtSettings& settings,
                               const std::vector<MgmtNodeAsk>& nodes) {
  return Planner(settings, nodes).Run();
}

}  // namespace emu::controller::topology
