#include "controller/community/exports.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/topology_names.h"

namespace emu::controller::community {
namespace {

using emu::v1::Link;
using emu::v1::Node;
using emu::v1::Topology;

// The port of an interface-export bridge facing the exported interface.
constexpr char kExportedPort[] = "p0";

const Node* FindNode(const Topology& t, absl::string_view name) {
  for (const Node& n : t.nodes()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

bool SameEnd(const emu::v1::Endpoint& x, const emu::v1::Endpoint& y) {
  return x.node() == y.node() && x.interface() == y.interface();
}

}  // namespace

std::vector<std::string> ExportProblems(const Topology& topology,
                                        const emu::v1::Export& ex) {
  std::vector<std::string> out;
  if (std::string p = OfferedProblem(topology, ex); !p.empty()) {
    out.push_back(std::move(p));
  }
  if (ex.to().empty()) out.push_back("to: name the users who may attach, or all");
  for (const std::string& who : ex.to()) {
    if (!emu::IsValidName(who)) {
      out.push_back(absl::StrCat("to: user name '", who,
                                 "' may use only letters, digits, '_' and '-' "
                                 "(1 to 32 of them)"));
    }
  }
  return out;
}

std::string OfferedProblem(const Topology& topology, const emu::v1::Export& ex) {
  if (ex.has_interface()) {
    const emu::v1::Endpoint& e = ex.interface();
    const std::string name = EndpointName(e);
    const Node* node = FindNode(topology, e.node());
    if (node == nullptr || node->foreign_lab() != "" ||
        IsInterfaceExportNode(*node)) {
      return absl::StrCat("interface ", name, ": ", e.node(),
                          " is not a node of the lab");
    }
    if (IsSegmentKind(node->kind())) {
      return absl::StrCat("interface ", name, ": node ", e.node(),
                          " is a segment; export the segment itself "
                          "(segment: ",
                          e.node(), ")");
    }
    const bool declared =
        std::any_of(node->interfaces().begin(), node->interfaces().end(),
                    [&](const emu::v1::Interface& i) {
                      return i.name() == e.interface();
                    });
    if (!declared) {
      return absl::StrCat("interface ", name, ": node ", e.node(),
                          " declares no interface ", e.interface());
    }
    for (const Link& l : topology.links()) {
      const Node* other = nullptr;
      if (SameEnd(l.a(), e)) other = FindNode(topology, l.b().node());
      if (SameEnd(l.b(), e)) other = FindNode(topology, l.a().node());
      if (other == nullptr) continue;
      // The bridge carrying this very export (a stored, expanded lab).
      if (IsInterfaceExportNode(*other) &&
          other->interface_export() == ex.name()) {
        continue;
      }
      return absl::StrCat("interface ", name, " is used by link ",
                          LinkName(l), "; only a free interface is exported");
    }
    for (const emu::v1::Attachment& at : topology.attachments()) {
      if (SameEnd(at.local(), e)) {
        return absl::StrCat("interface ", name,
                            " is attached to community:", at.endpoint(),
                            "; only a free interface is exported");
      }
    }
    return "";
  }
  const Node* segment = FindNode(topology, ex.segment());
  if (segment == nullptr || segment->foreign_lab() != "") {
    return absl::StrCat("segment ", ex.segment(), " is not a node of the lab");
  }
  if (!IsSegmentKind(segment->kind())) {
    return absl::StrCat(
        "node ", ex.segment(), " is of kind ", NodeKindName(segment->kind()),
        "; only a switch, hub or bridge (or a free interface, interface: "
        "NODE:IFACE) can be exported");
  }
  return "";
}

uint32_t StableHash(absl::string_view text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string InterfaceExportSegment(absl::string_view lab_key,
                                   absl::string_view name) {
  return absl::StrFormat("e-%08x", StableHash(absl::StrCat(lab_key, "/", name)));
}

bool IsInterfaceExportNode(const Node& node) {
  return !node.interface_export().empty();
}

Topology StripInterfaceExports(Topology topology) {
  std::set<std::string> bridges;
  for (const Node& n : topology.nodes()) {
    if (IsInterfaceExportNode(n)) bridges.insert(n.name());
  }
  if (!bridges.empty()) {
    auto* nodes = topology.mutable_nodes();
    nodes->erase(std::remove_if(nodes->begin(), nodes->end(),
                                [](const Node& n) {
                                  return IsInterfaceExportNode(n);
                                }),
                 nodes->end());
    auto* links = topology.mutable_links();
    links->erase(std::remove_if(links->begin(), links->end(),
                                [&](const Link& l) {
                                  return bridges.count(l.a().node()) > 0 ||
                                         bridges.count(l.b().node()) > 0;
                                }),
                 links->end());
  }
  for (emu::v1::Export& ex : *topology.mutable_community()->mutable_exports()) {
    if (ex.has_interface()) ex.clear_segment();
  }
  return topology;
}

Topology ExpandInterfaceExports(Topology topology) {
  topology = StripInterfaceExports(std::move(topology));
  std::set<std::string> taken;
  for (const Node& n : topology.nodes()) taken.insert(n.name());
  for (emu::v1::Export& ex : *topology.mutable_community()->mutable_exports()) {
    if (!ex.has_interface()) continue;
    const Node* exported = FindNode(topology, ex.interface().node());
    if (exported == nullptr) continue;  // ExportProblem names it
    std::string name = InterfaceExportSegment(topology.name(), ex.name());
    // A node of the lab's own with that name: another, still stable name.
    while (taken.count(name) > 0) name = InterfaceExportSegment(name, ex.name());
    taken.insert(name);
    const std::string host = exported->host();  // with its interface if pinned
    Node* bridge = topology.add_nodes();
    bridge->set_name(name);
    bridge->set_kind(emu::v1::NODE_KIND_BRIDGE);
    bridge->set_host(host);
    bridge->set_interface_export(ex.name());
    bridge->add_interfaces()->set_name(kExportedPort);
    *bridge->mutable_source() = ex.source();
    Link* link = topology.add_links();
    *link->mutable_a() = ex.interface();
    link->mutable_b()->set_node(name);
    link->mutable_b()->set_interface(kExportedPort);
    *link->mutable_source() = ex.source();
    ex.set_segment(name);
  }
  return topology;
}

}  // namespace emu::controller::community
