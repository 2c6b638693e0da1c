#include "controller/topology/topology_validator.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "controller/topology/ip_prefix.h"
#include "controller/topology/stage_plan.h"
#include "controller/topology/topology_limits.h"
#include "google/protobuf/util/message_differencer.h"
#include "controller/community/community_access.h"
#include "controller/community/exports.h"
#include "linkemu/qdisc_plan.h"
#include "linkemu/units.h"
#include "proto/topology_names.h"

namespace emu::controller::topology {
namespace {

using ::emu::v1::Interface;
using ::emu::v1::Link;
using ::emu::v1::LinkParams;
using ::emu::v1::Node;
using ::emu::v1::Route;
using ::emu::v1::SourceRef;
using ::emu::v1::Topology;

constexpr size_t kMaxInterfaceNameBytes = 15;  // IFNAMSIZ - 1
constexpr uint32_t kMinMtu = 68;
constexpr uint32_t kMaxMtu = 65535;
constexpr uint32_t kDefaultMtu = 1500;

bool IsNameChar(char c, absl::string_view extra) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains(extra, c);
}

// Empty string when `name` follows the one name rule (emu::CheckName),
// else the cause.
std::string NameProblem(absl::string_view what, absl::string_view name) {
  absl::Status status = emu::CheckName(what, name);
  return status.ok() ? "" : std::string(status.message());
}

// Empty string when `image` can name a directory under the agent's image
// root, else the cause. Images are names, never paths: the root agent boots
// what the directory's image.conf names, so '/' or ".." would let a
// topology pick any directory of the host.
std::string CheckImageName(absl::string_view image) {
  constexpr size_t kMaxImageNameBytes = 64;
  bool ok = !image.empty() && image.size() <= kMaxImageNameBytes &&
            image[0] != '.' && image[0] != '-';
  for (char c : image) ok = ok && IsNameChar(c, "_.-");
  if (ok) return "";
  return absl::StrCat(
      "image '", image.substr(0, kMaxImageNameBytes),
      image.size() > kMaxImageNameBytes ? "..." : "",
      "' is not an image name: images are directories under the agent's "
      "image root, named by 1..",
      kMaxImageNameBytes,
      " letters, digits, '_', '.' and '-' (not starting with '.' or '-'; no "
      "paths)");
}

std::string CheckInterfaceName(absl::string_view name) {
  if (name.empty()) return "interface name is empty";
  if (name.size() > kMaxInterfaceNameBytes) {
    return absl::StrCat("interface name '", name, "' is longer than ",
                        kMaxInterfaceNameBytes, " bytes (Linux IFNAMSIZ)");
  }
  if (name == "lo") return "interface name 'lo' is the node's loopback";
  if (name == "." || name == "..") {
    return absl::StrCat("interface name '", name, "' is not allowed");
  }
  for (char c : name) {
    if (!IsNameChar(c, "_.-")) {
      return absl::StrCat("interface name '", name,
                          "' may use only letters, digits, '_', '.' and '-'");
    }
  }
  return "";
}

// Empty string when `mac` is a unicast, non-zero "xx:xx:xx:xx:xx:xx".
std::string CheckMac(absl::string_view mac, std::string* canonical) {
  std::vector<absl::string_view> octets = absl::StrSplit(mac, ':');
  bool ok = octets.size() == 6;
  uint8_t bytes[6] = {};
  for (size_t i = 0; ok && i < octets.size(); ++i) {
    ok = octets[i].size() == 2 &&
         absl::ascii_isxdigit(static_cast<unsigned char>(octets[i][0])) &&
         absl::ascii_isxdigit(static_cast<unsigned char>(octets[i][1]));
    int v = 0;
    ok = ok && absl::SimpleHexAtoi(octets[i], &v);
    if (ok) bytes[i] = static_cast<uint8_t>(v);
  }
  if (!ok) {
    return absl::StrCat("bad mac \"", mac,
                        "\": expected six hex octets like 02:00:00:00:00:01");
  }
  if (bytes[0] & 1) {
    return absl::StrCat("bad mac \"", mac,
                        "\": multicast address (lowest bit of the first octet "
                        "set); use e.g. 02:...");
  }
  if (std::all_of(std::begin(bytes), std::end(bytes),
                  [](uint8_t b) { return b == 0; })) {
    return absl::StrCat("bad mac \"", mac, "\": all zeros");
  }
  *canonical = absl::AsciiStrToLower(mac);
  return "";
}

// Empty string when `p` ("ADDR/LEN" on an interface) can be a host's
// address on a link, else the cause. The kernel takes all of these without
// a word and the lab then silently misroutes.
std::string HostAddressProblem(const IpPrefix& p) {
  const IpAddress& a = p.address;
  if (a.IsUnspecified()) {
    return "the unspecified address is not a host address";
  }
  if (p.length == 0) {
    return "a /0 prefix puts every address on this link";
  }
  if (a.IsMulticast()) {
    return "a multicast address is not a host address";
  }
  if (a.IsLoopback()) {
    return "a loopback address belongs on lo, not on a link";
  }
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (a.family == AF_INET && p.length <= 30) {
    if (!p.HasHostBits()) {
      return absl::StrCat("it is the network address of ",
                          p.Network().ToString(), ", not a host address");
    }
    if (p.AllHostBitsSet()) {
      return absl::StrCat("it is the broadcast address of ",
                          p.Network().ToString(), ", not a host address");
    }
  }
  return "";
}

// Where something was first seen, for "already used by ... at FILE:LINE".
// Points into the topology, which outlives the Validator: copying a
// SourceRef per object cost more than the checks (issue 14).
// A link owner keeps only the link: its name ("link a:x -- b:y", past the
// short-string size) is built when an error reports it, not twice per link.
struct Owner {
  std::string name;
  const SourceRef* source;
  const Link* link = nullptr;  // set: the owner is this link, name unused
};

std::string At(const Owner& owner) {
  std::string name = owner.link != nullptr
                         ? absl::StrCat("link ", LinkName(*owner.link))
                         : owner.name;
  std::string where = SourceText(*owner.source);
  return where.empty() ? name : absl::StrCat(name, " at ", where);
}

// Who uses a link end: a link or a community attachment. Two pointers, no
// name: the largest map of the check (two entries a link) holds one per
// end, and an Owner's std::string doubled what it touched.
struct EndUser {
  const Link* link = nullptr;
  const emu::v1::Attachment* attachment = nullptr;
  // Or a host or dummy link's end (Interface.host_end, .dummy): its node
  // and interface.
  const Node* node = nullptr;
  const Interface* special = nullptr;
};

std::string At(const EndUser& user) {
  if (user.link != nullptr) return At(Owner{"", &user.link->source(), user.link});
  if (user.special != nullptr) {
    return At(Owner{absl::StrCat(user.special->bridge()  ? "a bridge inside the node"
                                 : user.special->dummy() ? "a dummy link"
                                 : user.special->mgmt()  ? "the management network"
                                                         : "a host link",
                                 " (", user.node->name(), ":", user.special->name(),
                                 ")"),
                    &user.special->source()});
  }
  return At(Owner{absl::StrCat("link ", community::AttachmentName(*user.attachment)),
                  &user.attachment->source()});
}

// A link end: (node, interface), views of the topology's own strings.
using EndKey = std::pair<absl::string_view, absl::string_view>;

// What the check knows of one (node, interface): its declaration and who
// uses it. One table for both: a per-node map of interfaces (100k small
// tables) and a second table of used ends cost two hash lookups and an
// allocation per node and link end (issue 14).
struct EndEntry {
  const Interface* declared = nullptr;
  bool used = false;
  EndUser user;
};

struct ConnectedPrefix {
  std::string interface;
  IpPrefix prefix;
};

class Validator {
 public:
  explicit Validator(const Topology& topology) : topology_(topology) {}

  absl::Status Run(std::vector<std::string>* warnings) {
    if (std::string cause = NameProblem("lab", topology_.name());
        !cause.empty()) {
      Error(topology_.source(), "lab", cause);
    }
    if (!CheckSizes()) return Finish(warnings);
    // Sized once: growing them by rehashing cost a tenth of the check at
    // 100k nodes / 200k links.
    nodes_.reserve(topology_.nodes_size());
    size_t interfaces = 0;
    for (const Node& node : topology_.nodes()) {
      interfaces += node.interfaces_size();
    }
    ends_.reserve(interfaces);
    CheckPlacement(topology_.placement());
    if (topology_.nodes().empty()) {
      Error(topology_.source(), "topology", "has no nodes");
    }
    for (const Node& node : topology_.nodes()) CheckNode(node);
    for (const Link& link : topology_.links()) CheckLink(link);
    CheckCommunity();
    CheckStages();
    CheckSharedNamespaces();
    for (const Node& node : topology_.nodes()) {
      for (const Interface& iface : node.interfaces()) {
        // The name only for a warning: built for every interface it cost
        // an allocation per link end (issue 14).
        auto end = ends_.find(EndKey(node.name(), iface.name()));
        if ((end == ends_.end() || !end->second.used) &&
            !iface.name().empty()) {
          Warn(iface.source(),
               absl::StrCat("interface ",
                            EndpointName(node.name(), iface.name())),
               "not connected to any link");
        }
      }
    }
    return Finish(warnings);
  }

 private:
  absl::Status Finish(std::vector<std::string>* warnings) {
    if (warnings != nullptr) {
      warnings->insert(warnings->end(), warnings_.begin(), warnings_.end());
    }
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
  }

  // The bounds of topology_limits.h, before any check whose cost grows with
  // the lab. False when the lab is too large to check further.
  bool CheckSizes() {
    bool ok = true;
    if (topology_.nodes_size() > kMaxNodes) {
      const Node& first_over = topology_.nodes(kMaxNodes);
      Error(first_over.source(), absl::StrCat("node ", first_over.name()),
            absl::StrCat("the lab has ", topology_.nodes_size(),
                         " nodes, more than ", kMaxNodes,
                         "; the limit is kMaxNodes"));
      ok = false;
    }
    if (topology_.links_size() > kMaxLinks) {
      const Link& first_over = topology_.links(kMaxLinks);
      Error(first_over.source(), absl::StrCat("link ", LinkName(first_over)),
            absl::StrCat("the lab has ", topology_.links_size(),
                         " links, more than ", kMaxLinks,
                         "; the limit is kMaxLinks"));
      ok = false;
    }
    for (const Node& node : topology_.nodes()) {
      if (node.interfaces_size() > kMaxInterfacesPerNode) {
        const Interface& first_over = node.interfaces(kMaxInterfacesPerNode);
        Error(first_over.source(), absl::StrCat("node ", node.name()),
              absl::StrCat("has ", node.interfaces_size(),
                           " interfaces (links included), more than ",
                           kMaxInterfacesPerNode,
                           "; the limit is kMaxInterfacesPerNode"));
        ok = false;
      }
      if (node.routes_size() > kMaxRoutesPerNode) {
        Error(node.routes(kMaxRoutesPerNode).source(),
              absl::StrCat("node ", node.name()),
              absl::StrCat("has ", node.routes_size(), " routes, more than ",
                           kMaxRoutesPerNode,
                           "; the limit is kMaxRoutesPerNode"));
        ok = false;
      }
    }
    return ok;
  }

  // Enum values and numbers that only the text/proto formats (or an API
  // client) can get wrong: the YAML parser never produces them.
  void CheckPlacement(const emu::v1::PlacementOptions& p) {
    if (!emu::v1::PlacementOptions::Strategy_IsValid(p.strategy())) {
      Error(topology_.source(), "placement",
            absl::StrCat("strategy ", p.strategy(),
                         " is not a strategy: use SPREAD or PACK"));
    }
    if (!(p.tolerance_percent() >= 0 && p.tolerance_percent() <= 100)) {
      Error(topology_.source(), "placement",
            absl::StrCat("tolerance ", p.tolerance_percent(),
                         "% is outside 0%..100%"));
    }
  }
  // The interface `name` of node `node`, or null when it declares none.
  const Interface* Declared(absl::string_view node,
                            absl::string_view name) const {
    auto it = ends_.find(EndKey(node, name));
    return it == ends_.end() ? nullptr : it->second.declared;
  }
  // Records `user` as the user of (node, name); its first user when it had
  // one already (then unchanged), else null.
  const EndUser* Use(absl::string_view node, absl::string_view name,
                     const EndUser& user) {
    EndEntry& entry = ends_[EndKey(node, name)];
    if (entry.used) return &entry.user;
    entry.used = true;
    entry.user = user;
    return nullptr;
  }

  void Error(const SourceRef& source, absl::string_view object,
             absl::string_view cause) {
    errors_.push_back(absl::StrCat(SourcePrefix(source), object, ": ", cause));
  }
  void Warn(const SourceRef& source, absl::string_view object,
            absl::string_view cause) {
    warnings_.push_back(
        absl::StrCat(SourcePrefix(source), object, ": ", cause));
  }

  void CheckNode(const Node& node) {
    const std::string object = absl::StrCat("node ", node.name());
    if (std::string cause = NameProblem("node", node.name()); !cause.empty()) {
      Error(node.source(), object, cause);
    }
    auto [it, inserted] =
        nodes_.emplace(node.name(), Owner{object, &node.source()});
    if (node.kind() == emu::v1::NODE_KIND_QEMU) guests_.insert(node.name());
    if (!inserted) {
      Error(node.source(), object,
            absl::StrCat("duplicate node: already defined at ",
                         SourceText(*it->second.source)));
      return;  // Its interfaces would only repeat the conflict.
    }
    if (node.kind() == emu::v1::NODE_KIND_UNSPECIFIED) {
      Error(node.source(), object,
            "kind is not set (netns, qemu, bridge, switch or hub)");
    } else if (!emu::v1::NodeKind_IsValid(node.kind())) {
      Error(node.source(), object,
            absl::StrCat(
                "kind ", node.kind(),
                " is not a node kind (netns, qemu, bridge, switch or hub)"));
    }
    if (node.kind() == emu::v1::NODE_KIND_QEMU && !node.image().empty()) {
      if (std::string cause = CheckImageName(node.image()); !cause.empty()) {
        Error(node.source(), object, cause);
      }
    }
    CheckResources(node, object);
    if (node.kind() == emu::v1::NODE_KIND_NETNS && !node.image().empty()) {
      Warn(node.source(), object,
           "image ignored: netns nodes share the host's file system");
    }
    if (IsSegmentKind(node.kind())) CheckSegment(node, object);

    std::vector<ConnectedPrefix> connected;
    for (const Interface& iface : node.interfaces()) {
      CheckInterface(node, iface, &connected);
    }
    CheckInNodeBridges(node);
    for (const Route& route : node.routes()) {
      CheckRoute(node, route, connected);
    }
    CheckDuplicateRoutes(node);
    for (const auto& [key, value] : node.sysctls()) {
      CheckSysctl(node, key, value);
    }
    // env reaches exec lines through `env NAME=value ...`: a name with '='
    // or a value with a NUL byte would not come through as written.
    std::vector<std::string> env_names;
    for (const auto& [name, value] : node.env()) env_names.push_back(name);
    std::sort(env_names.begin(), env_names.end());
    for (const std::string& name : env_names) {
      const bool valid_name =
          !name.empty() &&
          (absl::ascii_isalpha(static_cast<unsigned char>(name[0])) ||
           name[0] == '_') &&
          std::all_of(name.begin(), name.end(), [](char c) {
            return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                   c == '_';
          });
      if (!valid_name) {
        Error(
            node.source(), object,
            absl::StrCat("env: \"", absl::CHexEscape(name),
                         "\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"));
      } else if (node.env().at(name).find('\0') != std::string::npos) {
        Error(node.source(), object,
              absl::StrCat("env: the value of ", name, " holds a NUL byte"));
      }
    }
    for (int i = 0; i < node.exec_size(); ++i) {
      if (absl::StripAsciiWhitespace(node.exec(i)).empty()) {
        Error(node.source(), object,
              absl::StrCat("exec line ", i + 1, " is empty"));
      }
    }
  }

  void CheckResources(const Node& node, absl::string_view object) {
    const emu::v1::Resources& r = node.resources();
    if (r.cpus() > kMaxNodeCpus) {
      Error(node.source(), object,
            absl::StrCat("cpus ", r.cpus(), " is more than ", kMaxNodeCpus,
                         " (kMaxNodeCpus)"));
    }
    if (r.memory_mib() > kMaxNodeMemoryMib) {
      Error(node.source(), object,
            absl::StrCat("memory ", r.memory_mib(), " MiB is more than ",
                         linkemu::FormatSizeBytes(kMaxNodeMemoryMib << 20),
                         " (kMaxNodeMemoryMib)"));
    }
    constexpr uint32_t kMaxHostCpu = 4095;
    for (uint32_t cpu : node.cpu_set()) {
      if (cpu > kMaxHostCpu) {
        Error(node.source(), object,
              absl::StrCat("cpuset: ", cpu, " is not a host CPU number (0..",
                           kMaxHostCpu, ")"));
        break;
      }
    }
  }

  void CheckInterface(const Node& node, const Interface& iface,
                      std::vector<ConnectedPrefix>* connected) {
    if (std::string cause = CheckInterfaceName(iface.name()); !cause.empty()) {
      Error(iface.source(), absl::StrCat("node ", node.name()), cause);
    }
    EndEntry& entry = ends_[EndKey(node.name(), iface.name())];
    if (entry.declared != nullptr) {
      Error(iface.source(),
            absl::StrCat("interface ", EndpointName(node.name(), iface.name())),
            absl::StrCat("declared twice (first at ",
                         SourceText(entry.declared->source()), ")"));
      return;
    }
    entry.declared = &iface;
    // The names only where something needs them: built for every
    // interface they cost two allocations each (issue 14).
    if (!iface.has_host_end() && !iface.dummy() && !iface.mgmt() &&
        !iface.has_vxlan() && iface.mac().empty() &&
        iface.addresses().empty() &&
        (iface.mtu() == 0 || (iface.mtu() >= kMinMtu && iface.mtu() <= kMaxMtu))) {
      return;
    }
    const std::string endpoint = EndpointName(node.name(), iface.name());
    const std::string object = absl::StrCat("interface ", endpoint);
    if (iface.has_host_end() || iface.dummy() || iface.mgmt() ||
        iface.has_vxlan()) {
      CheckSpecialEnd(node, iface, endpoint, object);
    }
    if (iface.mtu() != 0 && (iface.mtu() < kMinMtu || iface.mtu() > kMaxMtu)) {
      Error(iface.source(), object,
            absl::StrCat("mtu ", iface.mtu(), " is outside ", kMinMtu, "..",
                         kMaxMtu));
    }
    if (!iface.mac().empty()) {
      std::string canonical;
      if (std::string cause = CheckMac(iface.mac(), &canonical);
          !cause.empty()) {
        Error(iface.source(), object, cause);
      } else {
        auto [mac_it, mac_new] =
            macs_.emplace(canonical, Owner{endpoint, &iface.source()});
        if (!mac_new) {
          Error(iface.source(), object,
                absl::StrCat("mac ", iface.mac(), " is already used by ",
                             At(mac_it->second)));
        }
      }
    }
    for (const std::string& text : iface.addresses()) {
      IpPrefix prefix;
      if (std::string cause = ParseIpPrefix(text, false, &prefix);
          !cause.empty()) {
        Error(iface.source(), object,
              absl::StrCat("bad address \"", text, "\": ", cause));
        continue;
      }
      if (std::string cause = HostAddressProblem(prefix); !cause.empty()) {
        Error(iface.source(), object,
              absl::StrCat("bad address \"", text, "\": ", cause));
        continue;
      }
      if (prefix.address.family == AF_INET6 && prefix.length < 127 &&
          !prefix.HasHostBits()) {
        Warn(iface.source(), object,
             absl::StrCat("address ", text,
                          " is the subnet-router anycast "
                          "address of its subnet (RFC 4291); a host address "
                          "usually has host bits set"));
      }
      for (const ConnectedPrefix& c : *connected) {
        if (c.interface == iface.name() ||
            c.prefix.address.family != prefix.address.family ||
            prefix.address.IsIpv6LinkLocal()) {
          continue;
        }
        if (c.prefix.Contains(prefix.address) ||
            prefix.Contains(c.prefix.address)) {
          Warn(iface.source(), object,
               absl::StrCat("address ", text, " is in the subnet of ",
                            c.prefix.ToString(), " on ", c.interface,
                            ": two interfaces of node ", node.name(),
                            " on one subnet make the kernel pick either "
                            "for replies (ARP flux)"));
          break;
        }
      }
      auto [addr_it, addr_new] =
          addresses_.emplace(prefix.address, Owner{endpoint, &iface.source()});
      if (!addr_new) {
        Error(iface.source(), object,
              addr_it->second.name == endpoint
                  ? absl::StrCat("address ", prefix.address.ToString(),
                                 " is listed twice")
                  : absl::StrCat("address conflict: ",
                                 prefix.address.ToString(),
                                 " is already on ", At(addr_it->second)));
        continue;
      }
      connected->push_back({iface.name(), prefix});
    }
  }

  // containerlab's stages (Node.stage_execs, stage_waits): what has a
  // moment in emu's deploy (stage_plan.h) runs then; the rest is refused
  // here, each at its line. Then the plan itself, for wait-for cycles.
  // Node.netns_of (containerlab's `network-mode: container:NODE`): the
  // target is another netns node of the lab that shares no namespace
  // itself, on the same host; the names in the shared namespace are
  // unique; routes are the namespace's and go on the target.
  void CheckSharedNamespaces() {
    absl::flat_hash_map<absl::string_view, const Node*> by_name;
    bool any = false;
    for (const Node& n : topology_.nodes()) {
      by_name.emplace(n.name(), &n);
      any = any || !n.netns_of().empty();
    }
    if (!any) return;
    // Interface name -> the node that declares it, per shared namespace
    // (keyed by its owner, the target).
    absl::flat_hash_map<std::string,
                        absl::flat_hash_map<std::string, const Node*>>
        names;
    auto claim = [&](const Node& owner, const Node& n) {
      auto& taken = names[owner.name()];
      for (const Interface& i : n.interfaces()) {
        auto [it, inserted] = taken.emplace(i.name(), &n);
        if (!inserted && it->second != &n) {
          Error(i.source(),
                absl::StrCat("interface ", EndpointName(n.name(), i.name())),
                absl::StrCat("node ", it->second->name(), " has an interface ",
                             i.name(), " too, in the network namespace they "
                             "share (", owner.name(),
                             "'s): rename one of them"));
        }
      }
    };
    for (const Node& n : topology_.nodes()) {
      if (n.netns_of().empty()) continue;
      const std::string object = absl::StrCat("node ", n.name());
      const std::string what =
          absl::StrCat("network-mode: container:", n.netns_of());
      auto it = by_name.find(n.netns_of());
      if (n.netns_of() == n.name()) {
        Error(n.source(), object, absl::StrCat(what, ": a node cannot share "
                                               "its own namespace"));
        continue;
      }
      if (it == by_name.end()) {
        Error(n.source(), object,
              absl::StrCat(what, ": there is no node ", n.netns_of(),
                           " in this lab"));
        continue;
      }
      const Node& target = *it->second;
      if (n.kind() != emu::v1::NODE_KIND_NETNS) {
        Error(n.source(), object,
              absl::StrCat(what, ": only a netns (linux) node can share "
                                 "another's namespace, not a ",
                           NodeKindName(n.kind())));
        continue;
      }
      if (target.kind() != emu::v1::NODE_KIND_NETNS ||
          !target.foreign_lab().empty()) {
        Error(n.source(), object,
              absl::StrCat(what, ": ", target.name(), " is a ",
                           target.foreign_lab().empty()
                               ? NodeKindName(target.kind())
                               : "community anchor",
                           " node; only a netns (linux) node's namespace can "
                           "be shared"));
        continue;
      }
      if (!target.netns_of().empty()) {
        Error(n.source(), object,
              absl::StrCat(what, ": ", target.name(),
                           " shares the namespace of ", target.netns_of(),
                           " itself; name that node"));
        continue;
      }
      if (!n.host().empty() && !target.host().empty() &&
          n.host() != target.host()) {
        Error(n.source(), object,
              absl::StrCat(what, ": pinned to host ", n.host(), " but ",
                           target.name(), " to ", target.host(),
                           "; a namespace is on one host"));
      }
      for (const Route& r : n.routes()) {
        Error(r.source(),
              absl::StrCat(object, ": route to ", r.destination()),
              absl::StrCat("routes are the shared namespace's: declare it "
                           "on ", target.name()));
      }
      for (const auto& [key, value] : n.sysctls()) {
        auto other = target.sysctls().find(key);
        if (other != target.sysctls().end() && other->second != value) {
          Error(n.source(), absl::StrCat(object, ": sysctl ", key),
                absl::StrCat("is ", value, " here but ", other->second,
                             " on ", target.name(),
                             ", whose namespace this node shares"));
        }
      }
      if (names.find(target.name()) == names.end()) claim(target, target);
      claim(target, n);
    }
  }

  void CheckStages() {
    bool any = false;
    absl::flat_hash_set<std::string> healthy_waited;
    for (const Node& node : topology_.nodes()) {
      for (const emu::v1::StageWait& w : node.stage_waits()) {
        if (w.node_stage() == emu::v1::NODE_STAGE_HEALTHY) {
          healthy_waited.insert(w.node());
        }
      }
    }
    // create and create-links commands (and waits that hold them back)
    // run after emu has made every node and link: one warning per file, at
    // the first.
    bool warned_early = false;
    auto early = [&](const emu::v1::SourceRef& source,
                     const std::string& object) {
      if (warned_early) return;
      warned_early = true;
      Warn(source, object,
           "stages: create and create-links commands and waits run in "
           "containerlab's order, but after emu has made the lab's nodes and "
           "their links: these commands run after the node's links exist");
    };
    for (const Node& node : topology_.nodes()) {
      const std::string object = absl::StrCat("node ", node.name());
      for (const emu::v1::StageExec& x : node.stage_execs()) {
        any = true;
        const std::string what =
            absl::StrCat("stages.", StageName(x.stage()),
                         x.on_exit() ? " on-exit" : " on-enter", " exec `",
                         x.command(), "`");
        if (x.stage() == emu::v1::NODE_STAGE_CREATE ||
            (x.stage() == emu::v1::NODE_STAGE_CREATE_LINKS && !x.on_exit())) {
          early(x.source(), object);
        } else if (x.stage() == emu::v1::NODE_STAGE_EXIT) {
          Error(x.source(), object,
                absl::StrCat(what,
                             ": a netns node does not exit while its lab is "
                             "up (`emuctl down` removes it)"));
        } else if (x.stage() == emu::v1::NODE_STAGE_HEALTHY &&
                   !healthy_waited.contains(node.name())) {
          Warn(x.source(), object,
               absl::StrCat(what,
                            ": never runs: as in containerlab, a node enters "
                            "its healthy stage only when another node waits "
                            "for it"));
        }
        if (node.kind() == emu::v1::NODE_KIND_QEMU) {
          Error(x.source(), object,
                absl::StrCat(what, ": stages are for netns (linux) nodes"));
        }
      }
      for (const emu::v1::StageWait& w : node.stage_waits()) {
        any = true;
        const std::string what =
            absl::StrCat("stages.", StageName(w.stage()), ".wait-for ",
                         w.node(), " (", StageName(w.node_stage()), ")");
        if (nodes_.count(w.node()) == 0) {
          Error(w.source(), object, absl::StrCat(what, ": no node ", w.node()));
        } else if (w.node_stage() == emu::v1::NODE_STAGE_EXIT ||
                   w.stage() == emu::v1::NODE_STAGE_EXIT) {
          Error(w.source(), object,
                absl::StrCat(what,
                             ": a netns node does not exit while its lab is "
                             "up"));
        } else if ((w.stage() == emu::v1::NODE_STAGE_CREATE ||
                    w.stage() == emu::v1::NODE_STAGE_CREATE_LINKS) &&
                   w.node_stage() != emu::v1::NODE_STAGE_CREATE &&
                   w.node_stage() != emu::v1::NODE_STAGE_CREATE_LINKS) {
          // Waiting for another node's configure or healthy holds back
          // this node's create commands (its namespace exists already).
          early(w.source(), object);
        }
      }
    }
    if (!any || !errors_.empty()) return;
    auto plan = PlanStages(topology_);
    if (!plan.ok()) {
      Error(topology_.source(), "lab", plan.status().message());
    }
  }

  // Bridges inside a node (Interface.bridge, containerlab's `kind: bridge`
  // with `network-mode: container:NODE`) and their ports (.master): a
  // netns node's; a bridge is no link's end and nothing else special; a
  // port's master is a bridge of the same node.
  void CheckInNodeBridges(const Node& node) {
    for (const Interface& iface : node.interfaces()) {
      if (!iface.bridge() && iface.master().empty()) continue;
      const std::string object = absl::StrCat(
          "interface ", EndpointName(node.name(), iface.name()));
      if (iface.bridge()) {
        if (node.kind() != emu::v1::NODE_KIND_NETNS ||
            !node.foreign_lab().empty()) {
          Error(iface.source(), object,
                "a bridge inside a node needs a netns (or linux) node");
        }
        if (iface.dummy() || iface.has_host_end() || !iface.master().empty()) {
          Error(iface.source(), object,
                "a bridge inside a node is not also a dummy, a host link's "
                "end or a port of another bridge");
        }
        Use(node.name(), iface.name(), EndUser{nullptr, nullptr, &node, &iface});
      }
      if (iface.master().empty()) continue;
      const Interface* master = Declared(node.name(), iface.master());
      if (master == nullptr || !master->bridge()) {
        Error(iface.source(), object,
              absl::StrCat("its master ", iface.master(),
                           " is not a bridge inside node ", node.name()));
      }
    }
  }

  // containerlab's vxlan / vxlan-stitch links (Interface.vxlan): a VTEP's
  // address, a VNI and a port, on an interface that is nothing else.
  void CheckVxlanEnd(const Interface& iface, const std::string& object) {
    const emu::v1::VxlanEnd& v = iface.vxlan();
    if (iface.has_host_end() || iface.dummy() || iface.mgmt() ||
        iface.bridge() || !iface.master().empty()) {
      Error(iface.source(), object,
            "is a vxlan link's end and also a host link's end, a dummy, on "
            "the management network or a bridge (port): one or the other");
    }
    IpAddress remote;
    if (!ParseIpAddress(v.remote(), &remote)) {
      Error(iface.source(), object,
            absl::StrCat("remote '", v.remote(),
                         "' is not an IPv4 or IPv6 address (the remote "
                         "VTEP's; emu resolves no host names)"));
    }
    if (v.vni() == 0 || v.vni() > (1u << 24) - 1) {
      Error(iface.source(), object,
            absl::StrCat("vni ", v.vni(), " is outside 1..16777215"));
    }
    if (v.port() == 0 || v.port() > 65535) {
      Error(iface.source(), object,
            absl::StrCat("dst-port ", v.port(), " is outside 1..65535"));
    }
  }

  // containerlab's host and dummy links (Interface.host_end, .dummy): the
  // interface is their end, so no link may use it; the host end's name is
  // the lab's once (the agent refuses one that exists on the host and is
  // not the lab's), its addresses and MAC are checked as an interface's.
  void CheckSpecialEnd(const Node& node, const Interface& iface,
                       const std::string& endpoint,
                       const std::string& object) {
    const char* what = iface.dummy()       ? "a dummy link"
                       : iface.mgmt()      ? "the management network"
                       : iface.has_vxlan() ? "a vxlan link"
                                           : "a host link";
    if (iface.has_vxlan()) CheckVxlanEnd(iface, object);
    if (iface.mgmt() && (!iface.has_host_end() || iface.dummy())) {
      Error(iface.source(), object,
            "is on the management network but is no veth to it (mgmt needs "
            "host_end, and no dummy)");
    }
    if (iface.mgmt() && !topology_.has_mgmt()) {
      Error(iface.source(), object,
            "is on the management network, but the lab has none (mgmt:)");
    }
    if (iface.has_host_end() && iface.dummy()) {
      Error(iface.source(), object,
            "is both a dummy interface and a host link's end: one or the "
            "other");
    }
    if (node.kind() != emu::v1::NODE_KIND_NETNS) {
      Error(iface.source(), object,
            absl::StrCat(what, " needs a netns (or linux) node; node ",
                         node.name(), " is ",
                         absl::AsciiStrToLower(absl::StripPrefix(
                             emu::v1::NodeKind_Name(node.kind()),
                             "NODE_KIND_"))));
    }
    Use(node.name(), iface.name(), EndUser{nullptr, nullptr, &node, &iface});
    if (!iface.has_host_end()) return;
    const emu::v1::HostEnd& host = iface.host_end();
    const std::string host_name = absl::StrCat("host:", host.name());
    // A node's management eth0: its host end is named by the agent.
    if (iface.mgmt() && host.name().empty() && host.addresses().empty() &&
        host.mac().empty()) {
      return;
    }
    if (std::string cause = CheckInterfaceName(host.name()); !cause.empty()) {
      Error(iface.source(), object,
            absl::StrCat("host-interface: ", cause));
      return;
    }
    auto [it, inserted] = host_ends_.emplace(
        host.name(), Owner{absl::StrCat("interface ", endpoint),
                           &iface.source()});
    if (!inserted) {
      Error(iface.source(), object,
            absl::StrCat("host interface ", host.name(),
                         " is already the host end of ", At(it->second)));
    }
    if (!host.mac().empty()) {
      std::string canonical;
      if (std::string cause = CheckMac(host.mac(), &canonical);
          !cause.empty()) {
        Error(iface.source(), object, absl::StrCat(host_name, ": ", cause));
      } else if (auto [mac_it, mac_new] = macs_.emplace(
                     canonical, Owner{host_name, &iface.source()});
                 !mac_new) {
        Error(iface.source(), object,
              absl::StrCat(host_name, ": mac ", host.mac(),
                           " is already used by ", At(mac_it->second)));
      }
    }
    for (const std::string& text : host.addresses()) {
      IpPrefix prefix;
      std::string cause = ParseIpPrefix(text, false, &prefix);
      if (cause.empty()) cause = HostAddressProblem(prefix);
      if (!cause.empty()) {
        Error(iface.source(), object,
              absl::StrCat(host_name, ": bad address \"", text, "\": ",
                           cause));
        continue;
      }
      auto [addr_it, addr_new] =
          addresses_.emplace(prefix.address, Owner{host_name, &iface.source()});
      if (!addr_new) {
        Error(iface.source(), object,
              absl::StrCat(host_name, ": address conflict: ",
                           prefix.address.ToString(), " is already on ",
                           At(addr_it->second)));
      }
    }
  }

  void CheckRoute(const Node& node, const Route& route,
                  const std::vector<ConnectedPrefix>& connected) {
    const std::string object =
        absl::StrCat("node ", node.name(), ": route to ",
                     route.destination().empty() ? "(none)"
                                                 : route.destination());
    IpPrefix destination;
    bool destination_ok = true;
    if (route.destination() == "default") {
      ParseIpPrefix("0.0.0.0/0", false, &destination);
    } else if (route.destination() == "default6") {
      ParseIpPrefix("::/0", false, &destination);
    } else if (route.destination().empty()) {
      Error(route.source(), object,
            "destination is missing (a CIDR, default or default6)");
      destination_ok = false;
    } else if (std::string cause =
                   ParseIpPrefix(route.destination(), true, &destination);
               !cause.empty()) {
      Error(route.source(), object,
            absl::StrCat("bad destination: ", cause,
                         " (or write default / default6)"));
      destination_ok = false;
    } else if (destination.HasHostBits()) {
      Error(route.source(), object,
            absl::StrCat("destination has host bits set; did you mean ",
                         destination.Network().ToString(), "?"));
    }
    if (!route.dev().empty() &&
        Declared(node.name(), route.dev()) == nullptr) {
      Error(route.source(), object,
            absl::StrCat("dev ", route.dev(), " is not an interface of node ",
                         node.name()));
    }
    if (route.via().empty()) {
      if (route.dev().empty()) {
        Error(route.source(), object, "needs via (a gateway) or dev");
      }
      return;
    }
    IpAddress via;
    if (!ParseIpAddress(route.via(), &via)) {
      Error(route.source(), object,
            absl::StrCat("via '", route.via(),
                         "' is not an IPv4 or IPv6 address"));
      return;
    }
    if (destination_ok && via.family != destination.address.family) {
      Error(route.source(), object,
            absl::StrCat("via ", route.via(), " is ",
                         via.family == AF_INET ? "IPv4" : "IPv6",
                         " but the destination is not",
                         route.destination() == "default" ||
                                 route.destination() == "default6"
                             ? " (default is IPv4, default6 is IPv6)"
                             : ""));
      return;
    }
    if (via.IsIpv6LinkLocal()) {
      if (route.dev().empty()) {
        Error(route.source(), object,
              absl::StrCat("via ", route.via(),
                           " is link-local and needs dev"));
      }
      return;
    }
    std::vector<std::string> subnets;
    bool reachable = false;
    for (const ConnectedPrefix& c : connected) {
      if (!route.dev().empty() && c.interface != route.dev()) continue;
      if (c.prefix.address == via) {
        Error(route.source(), object,
              absl::StrCat("via ", route.via(), " is node ", node.name(),
                           "'s own address on ", c.interface));
        return;
      }
      if (c.prefix.address.family != via.family) continue;
      subnets.push_back(
          absl::StrCat(c.prefix.Network().ToString(), " on ", c.interface));
      if (c.prefix.Contains(via)) reachable = true;
    }
    if (!reachable) {
      Error(route.source(), object,
            absl::StrCat(
                "gateway ", route.via(), " is not in a subnet node ",
                node.name(), " is connected to",
                route.dev().empty() ? "" : absl::StrCat(" through ", route.dev()),
                subnets.empty()
                    ? absl::StrCat(" (it has no ",
                                   via.family == AF_INET ? "IPv4" : "IPv6",
                                   " address)")
                    : absl::StrCat(" (", absl::StrJoin(subnets, ", "), ")")));
    }
  }

  void CheckDuplicateRoutes(const Node& node) {
    std::map<std::pair<std::string, uint32_t>, const Route*> seen;
    for (const Route& route : node.routes()) {
      if (route.destination().empty()) continue;
      auto [it, inserted] =
          seen.emplace(std::make_pair(route.destination(), route.metric()),
                       &route);
      if (!inserted) {
        Error(route.source(),
              absl::StrCat("node ", node.name(), ": route to ",
                           route.destination()),
              absl::StrCat("duplicate route (same destination and metric as ",
                           SourceText(it->second->source()), ")"));
      }
    }
  }

  void CheckSysctl(const Node& node, const std::string& key,
                   const std::string& value) {
    const std::string object =
        absl::StrCat("node ", node.name(), ": sysctl ", key);
    bool chars_ok = !key.empty();
    for (char c : key) chars_ok = chars_ok && IsNameChar(c, "_./-");
    if (!chars_ok || absl::StrContains(key, "..") || key[0] == '.' ||
        key[0] == '/') {
      Error(node.source(), object,
            "bad key: use dotted names like net.ipv4.ip_forward");
      return;
    }
    if ((node.kind() == emu::v1::NODE_KIND_NETNS ||
         IsSegmentKind(node.kind())) &&
        !absl::StartsWith(key, "net.") && !absl::StartsWith(key, "net/")) {
      Error(node.source(), object,
            "only net.* sysctls belong to a network namespace; setting this "
            "one on a netns node would change the host");
    }
    if (value.empty() || absl::StrContains(value, '\n')) {
      Error(node.source(), object, "value must be one non-empty line");
    }
  }

  // A segment is a bridge: its ports carry frames, they have no addresses,
  // it routes nothing and runs no image.
  void CheckSegment(const Node& node, const std::string& object) {
    const std::string kind = NodeKindName(node.kind());
    if (!node.image().empty()) {
      Error(node.source(), object,
            absl::StrCat("a ", kind, " has no image; remove it"));
    }
    if (!node.routes().empty()) {
      Error(node.routes(0).source(), object,
            absl::StrCat("a ", kind, " routes nothing; remove its routes"));
    }
    for (const Interface& iface : node.interfaces()) {
      if (!iface.addresses().empty()) {
        Error(iface.source(),
              absl::StrCat(object, ": interface ", iface.name()),
              absl::StrCat("a port of a ", kind,
                           " has no address; give it to the node at the "
                           "link's other end"));
      }
      if (iface.name() == kSegmentBridgeName) {
        Error(iface.source(),
              absl::StrCat(object, ": interface ", iface.name()),
              absl::StrCat("the name ", kSegmentBridgeName,
                           " is the segment's own bridge; name the port "
                           "otherwise"));
      }
    }
  }

  void CheckLink(const Link& link) {
    // Built only for a message: per link it cost an allocation (issue 14).
    auto object = [&link] { return absl::StrCat("link ", LinkName(link)); };
    bool endpoints_ok = true;
    for (const emu::v1::Endpoint* e : {&link.a(), &link.b()}) {
      if (e->node().empty() || e->interface().empty()) {
        Error(link.source(), object(),
              "an endpoint needs both a node and an interface (node:iface)");
        endpoints_ok = false;
      }
    }
    if (!endpoints_ok) return;
    if (link.a().node() == link.b().node() &&
        link.a().interface() == link.b().interface()) {
      Error(link.source(), object(),
            absl::StrCat("connects ", EndpointName(link.a()), " to itself"));
      return;
    }
    const Interface* ends[2] = {nullptr, nullptr};
    int i = 0;
    for (const emu::v1::Endpoint* e : {&link.a(), &link.b()}) {
      const int index = i++;
      // One lookup: a declared interface's node exists.
      auto end = ends_.find(EndKey(e->node(), e->interface()));
      if (end == ends_.end() || end->second.declared == nullptr) {
        if (nodes_.count(e->node()) == 0) {
          Error(link.source(), object(),
                absl::StrCat("unknown node ", e->node()));
        } else {
          Error(link.source(), object(),
                absl::StrCat("node ", e->node(), " declares no interface ",
                             e->interface()));
        }
        continue;
      }
      EndEntry& entry = end->second;
      ends[index] = entry.declared;
      if (entry.used) {
        Error(link.source(), object(),
              absl::StrCat("duplicate interface ", EndpointName(*e),
                           ": already used by ", At(entry.user)));
      } else {
        entry.used = true;
        entry.user = EndUser{&link, nullptr};
      }
    }
    const uint32_t mtu_a =
        ends[0] != nullptr && ends[0]->mtu() != 0 ? ends[0]->mtu() : kDefaultMtu;
    const uint32_t mtu_b =
        ends[1] != nullptr && ends[1]->mtu() != 0 ? ends[1]->mtu() : kDefaultMtu;
    if (ends[0] != nullptr && ends[1] != nullptr) {
      if (mtu_a != mtu_b) {
        Warn(link.source(), object(),
             absl::StrCat("the ends have different MTUs (", mtu_a, " and ",
                          mtu_b, ")"));
      }
      CheckSharedSubnet(link, object, *ends[0], *ends[1]);
    }
    // Bytes, not MessageDifferencer: its reflection cost more per link than
    // all the checks (issue 14). Equal directions serialize alike; the
    // buffers are reused from link to link.
    link.a_to_b().SerializeToString(&a_to_b_bytes_);
    link.b_to_a().SerializeToString(&b_to_a_bytes_);
    const bool guest_a = guests_.contains(link.a().node());
    const bool guest_b = guests_.contains(link.b().node());
    if (a_to_b_bytes_ == b_to_a_bytes_) {
      CheckParams(link, object, link.a_to_b(), std::min(mtu_a, mtu_b),
                  guest_a && guest_b);
    } else {
      CheckParams(
          link, [&] { return absl::StrCat(object(), ": a-to-b"); },
          link.a_to_b(), mtu_a, guest_a);
      CheckParams(
          link, [&] { return absl::StrCat(object(), ": b-to-a"); },
          link.b_to_a(), mtu_b, guest_b);
    }
  }

  // Community exports and attachments (docs/community.md). An export names
  // a segment or a free interface of this lab; an attachment's local end is an interface no link
  // uses; OWNER/NAME are names. Whether the endpoint exists and may be used
  // is the controller's question at deploy (community/attachments.h).
  void CheckCommunity() {
    std::map<std::string, Owner> exports;
    for (const emu::v1::Export& ex : topology_.community().exports()) {
      const std::string object = absl::StrCat("community export ", ex.name());
      if (std::string cause = NameProblem("community name", ex.name());
          !cause.empty()) {
        Error(ex.source(), object, cause);
      }
      auto [first, inserted] =
          exports.emplace(ex.name(), Owner{object, &ex.source()});
      if (!inserted) {
        Error(ex.source(), object,
              absl::StrCat("exported twice (first: ", At(first->second), ")"));
      }
      // The segment or free interface, and `to`: one check for files and
      // for `emuctl community export` (community/exports.h).
      for (const std::string& cause :
           community::ExportProblems(topology_, ex)) {
        Error(ex.source(), object, cause);
      }
    }
    for (const emu::v1::Attachment& at : topology_.attachments()) {
      const std::string object =
          absl::StrCat("link ", community::AttachmentName(at));
      std::string owner, name;
      if (absl::Status s = community::SplitEndpoint(at.endpoint(), "self",
                                                    &owner, &name);
          !s.ok()) {
        Error(at.source(), object, s.message());
      }
      const emu::v1::Endpoint& e = at.local();
      if (nodes_.count(e.node()) == 0) {
        Error(at.source(), object, absl::StrCat("unknown node ", e.node()));
        continue;
      }
      if (Declared(e.node(), e.interface()) == nullptr) {
        Error(at.source(), object,
              absl::StrCat("node ", e.node(), " declares no interface ",
                           e.interface()));
        continue;
      }
      if (const EndUser* first =
              Use(e.node(), e.interface(), EndUser{nullptr, &at});
          first != nullptr) {
        Error(at.source(), object,
              absl::StrCat("duplicate interface ", EndpointName(e),
                           ": already used by ", At(*first)));
      }
      const uint32_t mtu = kDefaultMtu;
      Link as_link;
      *as_link.mutable_source() = at.source();
      CheckParams(
          as_link, [&] { return absl::StrCat(object, ": to community"); },
          at.to_community(), mtu);
      CheckParams(
          as_link, [&] { return absl::StrCat(object, ": from community"); },
          at.from_community(), mtu);
    }
    for (const Node& node : topology_.nodes()) {
      if (!node.foreign_lab().empty() || !node.foreign_node().empty() ||
          community::IsInterfaceExportNode(node)) {
        Error(node.source(), absl::StrCat("node ", node.name()),
              "foreign_lab/foreign_node/interface_export are set by the "
              "controller for community attachments and exports, not by a "
              "topology file; attach with a link to community:OWNER/NAME");
      }
    }
  }

  // Both ends numbered in one family but in no common subnet is legal and
  // almost always a typo.
  void CheckSharedSubnet(const Link& link,
                         absl::FunctionRef<std::string()> object,
                         const Interface& a, const Interface& b) {
    for (int family : {AF_INET, AF_INET6}) {
      std::vector<IpPrefix> pa, pb;
      for (const auto& [list, out] :
           {std::make_pair(&a, &pa), std::make_pair(&b, &pb)}) {
        for (const std::string& text : list->addresses()) {
          IpPrefix p;
          if (ParseIpPrefix(text, false, &p).empty() &&
              p.address.family == family && !p.address.IsIpv6LinkLocal()) {
            out->push_back(p);
          }
        }
      }
      if (pa.empty() || pb.empty()) continue;
      bool shared = false;
      for (const IpPrefix& x : pa) {
        for (const IpPrefix& y : pb) {
          shared = shared || x.Contains(y.address) || y.Contains(x.address);
        }
      }
      if (!shared) {
        Warn(link.source(), object(),
             absl::StrCat("the ends share no ",
                          family == AF_INET ? "IPv4" : "IPv6", " subnet (",
                          pa.front().ToString(), " vs ", pb.front().ToString(),
                          ")"));
      }
    }
  }

  // `object` is called only for a message.
  // `guest_sender`: a QEMU guest sends the direction (its own NetEm).
  void CheckParams(const Link& link, absl::FunctionRef<std::string()> object,
                   const LinkParams& p, uint32_t mtu,
                   bool guest_sender = false) {
    // Exactly what the agent will refuse (it plans qdiscs with the same
    // function), so validate and plan say what up would.
    for (const std::string& problem :
         linkemu::LinkParamsProblems(p, topology_.engine(), guest_sender)) {
      Error(link.source(), object(), problem);
    }
    // A topology-level rule the agent cannot see: the bucket must hold one
    // packet of the link's own MTU.
    if (p.rate_bps() > 0 && p.burst_bytes() >= linkemu::kFullFrameBytes &&
        p.burst_bytes() < mtu) {
      Error(link.source(), object(),
            absl::StrCat("burst ", linkemu::FormatSizeBytes(p.burst_bytes()),
                         " is smaller than the MTU (", mtu,
                         " bytes): full-size packets could never be sent"));
    }
  }

  const Topology& topology_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
  // Hash maps keyed by views of the topology's own strings: a 100k-node
  // lab is checked without a copy of a name per lookup.
  absl::flat_hash_map<absl::string_view, Owner> nodes_;
  // QEMU guests: the directions they send may use their own NetEm's extras.
  absl::flat_hash_set<absl::string_view> guests_;
  // (node, interface) -> its declaration and its user.
  absl::flat_hash_map<EndKey, EndEntry> ends_;
  std::map<IpAddress, Owner> addresses_;
  std::map<std::string, Owner> macs_;
  // Host link ends (Interface.host_end.name) -> the node's interface.
  std::map<std::string, Owner> host_ends_;
  // CheckLink's serialized directions, reused from link to link.
  std::string a_to_b_bytes_, b_to_a_bytes_;
};

}  // namespace

absl::Status ValidateTopology(const Topology& topology,
                              std::vector<std::string>* warnings) {
  return Validator(topology).Run(warnings);
}

}  // namespace emu::controller::topology
