#include "cli/graph_dot.h"

#include <map>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/format.h"
#include "cli/render.h"
#include "proto/topology_names.h"

namespace emu::cli {
namespace {

// Pastel fills, one per host in name order (cycled past twelve hosts);
// their cluster frames use the same hue.
constexpr const char* kHostColors[] = {
    "#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99",
    "#8dd3c7", "#bebada", "#80b1d3", "#fccde5", "#d9d9d9", "#ccebc5"};
constexpr char kNoHostColor[] = "#ffffff";
constexpr char kTunnelColor[] = "#c0392b";

// A DOT double-quoted string.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Shape(const v1::Node& node) {
  if (!node.foreign_lab().empty()) return "doubleoctagon";
  switch (node.kind()) {
    case v1::NODE_KIND_QEMU:
      return "box3d";
    case v1::NODE_KIND_BRIDGE:
    case v1::NODE_KIND_SWITCH:
    case v1::NODE_KIND_HUB:
      return "ellipse";
    default:
      return "box";
  }
}

std::string NodeLabel(const v1::Node& node) {
  if (!node.foreign_lab().empty()) {
    // An attachment's anchor stands for another user's segment.
    return absl::StrCat("community\n", node.foreign_lab(), ":",
                        node.foreign_node());
  }
  std::string label = node.name();
  if (node.kind() != v1::NODE_KIND_NETNS &&
      node.kind() != v1::NODE_KIND_UNSPECIFIED) {
    absl::StrAppend(&label, "\n(", NodeKindName(node.kind()), ")");
  }
  return label;
}

// The graph's id of a node's special end (a dummy, a bridge inside it):
// node names have no '/', so it is no node's.
std::string EndId(const v1::Node& node, const v1::Interface& i) {
  return absl::StrCat(node.name(), "/", i.name());
}

// The host's namespace, one per host ("" for a file without hosts).
std::string HostId(const std::string& host) {
  return absl::StrCat("host/", host);
}

bool SameConditions(const v1::LinkParams& a, const v1::LinkParams& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

std::string DefaultLayout(int nodes) {
  return nodes > kLargeGraphNodes ? "sfdp" : "dot";
}

std::string ConditionsLabel(const v1::LinkParams& p) {
  std::vector<std::string> parts;
  if (p.rate_bps() != 0) parts.push_back(FormatRate(p.rate_bps()));
  if (p.delay_us() != 0 || p.jitter_us() != 0) {
    std::string delay = FormatMicros(p.delay_us());
    if (p.jitter_us() != 0) absl::StrAppend(&delay, "±", FormatMicros(p.jitter_us()));
    parts.push_back(delay);
  }
  if (p.loss_percent() != 0 || p.has_gilbert_elliott()) {
    parts.push_back(p.has_gilbert_elliott()
                        ? "loss GE"
                        : absl::StrCat("loss ", FormatPercent(p.loss_percent())));
  }
  if (p.duplicate_percent() != 0) {
    parts.push_back(absl::StrCat("dup ", FormatPercent(p.duplicate_percent())));
  }
  if (p.reorder_percent() != 0) {
    parts.push_back(
        absl::StrCat("reorder ", FormatPercent(p.reorder_percent())));
  }
  if (p.corrupt_percent() != 0 || p.bit_error_rate() != 0) {
    parts.push_back("corrupt");
  }
  return absl::StrJoin(parts, " ");
}

std::string LabToDot(const v1::Lab& lab) {
  const v1::Topology& topology = lab.topology();
  // Where each node runs: the controller's status, else the file's pins.
  absl::flat_hash_map<std::string, std::string> host_of;
  for (const v1::Node& n : topology.nodes()) host_of[n.name()] = n.host();
  for (const v1::NodeStatus& n : lab.nodes()) {
    if (!n.host().empty()) host_of[n.name()] = n.host();
  }
  std::set<std::string> hosts;
  for (const auto& [node, host] : host_of) {
    if (!host.empty()) hosts.insert(host);
  }
  std::map<std::string, std::string> color_of_host;
  int next_color = 0;
  for (const std::string& host : hosts) {
    color_of_host[host] =
        kHostColors[next_color++ % (sizeof(kHostColors) / sizeof(*kHostColors))];
  }

  std::string out = absl::StrCat("graph ", Quote(lab.name().empty()
                                                     ? topology.name()
                                                     : lab.name()),
                                 " {\n");
  absl::StrAppend(&out,
                  "  graph [fontname=\"Helvetica\" fontsize=11 "
                  "overlap=false splines=true labelloc=t label=",
                  Quote(absl::StrCat(lab.name().empty() ? topology.name()
                                                        : lab.name(),
                                     hosts.empty() ? "" : "  (hosts: ",
                                     absl::StrJoin(hosts, ", "),
                                     hosts.empty() ? "" : ")")),
                  "];\n"
                  "  node [fontname=\"Helvetica\" fontsize=10 style=filled "
                  "fillcolor=\"",
                  kNoHostColor,
                  "\"];\n"
                  "  edge [fontname=\"Helvetica\" fontsize=8];\n");

  // Nodes, one cluster per host (nodes without a host at top level).
  std::map<std::string, std::vector<const v1::Node*>> by_host;
  for (const v1::Node& n : topology.nodes()) {
    by_host[host_of[n.name()]].push_back(&n);
  }
  for (const auto& [host, nodes] : by_host) {
    std::string indent = "  ";
    if (!host.empty()) {
      absl::StrAppend(&out, "  subgraph ", Quote(absl::StrCat("cluster_", host)),
                      " {\n    label=", Quote(host),
                      " style=\"rounded,dashed\" color=\"#7f8c8d\";\n");
      indent = "    ";
    }
    const std::string fill =
        host.empty() ? kNoHostColor : color_of_host[host];
    bool host_ends = false;
    for (const v1::Node* n : nodes) {
      absl::StrAppend(&out, indent, Quote(n->name()), " [label=",
                      Quote(NodeLabel(*n)), " shape=", Shape(*n),
                      " fillcolor=\"", fill, "\"];\n");
      // An interface's end that is no node: the host's namespace (one
      // house per host), a dummy, a bridge inside the node.
      for (const v1::Interface& i : n->interfaces()) {
        if (i.has_host_end()) host_ends = true;
        if (i.dummy()) {
          absl::StrAppend(&out, indent, Quote(EndId(*n, i)),
                          " [label=\"dummy\" shape=plaintext style=\"\"];\n");
        } else if (i.has_vxlan()) {
          // The remote VTEP, outside the lab.
          absl::StrAppend(
              &out, indent, Quote(EndId(*n, i)), " [label=",
              Quote(absl::StrCat("VTEP ", i.vxlan().remote(), "\nvni ",
                                 i.vxlan().vni())),
              " shape=cds style=\"\"];\n");
        } else if (i.bridge()) {
          absl::StrAppend(&out, indent, Quote(EndId(*n, i)), " [label=",
                          Quote(absl::StrCat(i.name(), "\n(bridge in ",
                                             n->name(), ")")),
                          " shape=ellipse fillcolor=\"", fill, "\"];\n");
        }
      }
    }
    if (host_ends) {
      absl::StrAppend(&out, indent, Quote(HostId(host)), " [label=",
                      Quote(host.empty() ? "host"
                                         : absl::StrCat("host\n", host)),
                      " shape=house fillcolor=\"", fill, "\"];\n");
    }
    if (!host.empty()) absl::StrAppend(&out, "  }\n");
  }

  // Special ends' edges: dotted, the interface at the node, the host end's
  // name at the house.
  for (const v1::Node& n : topology.nodes()) {
    for (const v1::Interface& i : n.interfaces()) {
      if (i.has_host_end()) {
        absl::StrAppend(&out, "  ", Quote(n.name()), " -- ",
                        Quote(HostId(host_of[n.name()])),
                        " [taillabel=", Quote(i.name()),
                        " headlabel=", Quote(i.host_end().name()),
                        " style=dotted tooltip=",
                        Quote(absl::StrCat("host link ", n.name(), ":",
                                           i.name(), "<->host:",
                                           i.host_end().name())),
                        "];\n");
      } else if (i.dummy()) {
        absl::StrAppend(&out, "  ", Quote(n.name()), " -- ",
                        Quote(EndId(n, i)), " [taillabel=", Quote(i.name()),
                        " style=dotted];\n");
      } else if (i.has_vxlan()) {
        absl::StrAppend(
            &out, "  ", Quote(n.name()), " -- ", Quote(EndId(n, i)),
            " [taillabel=", Quote(i.name()), " style=dashed tooltip=",
            Quote(absl::StrCat("link ", n.name(), ":", i.name(), " (",
                               VxlanEndText(i.vxlan()), ")")),
            "];\n");
      } else if (i.bridge()) {
        absl::StrAppend(&out, "  ", Quote(n.name()), " -- ",
                        Quote(EndId(n, i)), " [style=bold];\n");
      }
    }
  }
  // A link end that is a port of a bridge inside its node is drawn at the
  // bridge.
  absl::flat_hash_map<std::string, std::string> bridge_of_port;
  for (const v1::Node& n : topology.nodes()) {
    for (const v1::Interface& i : n.interfaces()) {
      if (i.master().empty()) continue;
      v1::Interface bridge;
      bridge.set_name(i.master());
      bridge_of_port[absl::StrCat(n.name(), ":", i.name())] = EndId(n, bridge);
    }
  }
  auto drawn_at = [&](const v1::Endpoint& e) {
    auto it = bridge_of_port.find(absl::StrCat(e.node(), ":", e.interface()));
    return it == bridge_of_port.end() ? e.node() : it->second;
  };

  // Links: conditions as the label, interfaces at the ends; cross-host
  // links (tunnels) bold, dashed and red.
  for (const v1::Link& l : topology.links()) {
    const std::string ab = ConditionsLabel(l.a_to_b());
    const std::string ba = ConditionsLabel(l.b_to_a());
    std::string label;
    if (SameConditions(l.a_to_b(), l.b_to_a())) {
      label = ab;
    } else {
      std::vector<std::string> lines;
      if (!ab.empty()) lines.push_back(absl::StrCat("→", l.b().node(), ": ", ab));
      if (!ba.empty()) lines.push_back(absl::StrCat("→", l.a().node(), ": ", ba));
      label = absl::StrJoin(lines, "\n");
    }
    const std::string& host_a = host_of[l.a().node()];
    const std::string& host_b = host_of[l.b().node()];
    const bool cross = !host_a.empty() && !host_b.empty() && host_a != host_b;
    absl::StrAppend(&out, "  ", Quote(drawn_at(l.a())), " -- ",
                    Quote(drawn_at(l.b())),
                    " [taillabel=", Quote(l.a().interface()),
                    " headlabel=", Quote(l.b().interface()));
    if (!label.empty()) absl::StrAppend(&out, " label=", Quote(label));
    if (cross) {
      absl::StrAppend(&out, " style=\"bold,dashed\" color=\"", kTunnelColor,
                      "\" tooltip=", Quote(absl::StrCat("tunnel ", host_a, " <-> ", host_b)));
    }
    absl::StrAppend(&out, "];\n");
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace emu::cli
