#include "cli/render.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cli/format.h"
#include "cli/table.h"
#include "google/protobuf/util/json_util.h"
#include "proto/topology_names.h"

namespace emu::cli {
namespace {

constexpr char kYellow[] = "\033[33m";
constexpr char kReset[] = "\033[0m";

// Anchor node -> "community:OWNER/NAME": a community attachment's anchor
// (Node.foreign_lab set, docs/community.md) is shown as the endpoint the
// file named, not as its internal name ("c-" + 8 hex digits). Found through
// the attachment whose local end is linked to the anchor.
std::map<std::string, std::string> AnchorLabels(const v1::Lab& lab) {
  std::map<std::string, std::string> out;
  const std::string owner = lab.owner().empty() ? "admin" : lab.owner();
  for (const v1::Node& n : lab.topology().nodes()) {
    if (n.foreign_lab().empty()) continue;
    for (const v1::Link& l : lab.topology().links()) {
      if (l.b().node() != n.name()) continue;
      for (const v1::Attachment& at : lab.topology().attachments()) {
        if (at.local().node() != l.a().node() ||
            at.local().interface() != l.a().interface()) {
          continue;
        }
        out.emplace(n.name(),
                    absl::StrCat("community:",
                                 absl::StrContains(at.endpoint(), "/")
                                     ? at.endpoint()
                                     : absl::StrCat(owner, "/", at.endpoint())));
      }
    }
    // No attachment names it (never expected): say what it is.
    out.emplace(n.name(),
                absl::StrCat("community:", n.foreign_lab(), "/",
                             n.foreign_node()));
  }
  return out;
}

// Names as status shows them: an anchor as its community endpoint; its
// ports (x + 8 hex digits) are not the user's to know either.
class ShownNames {
 public:
  explicit ShownNames(std::map<std::string, std::string> anchors)
      : anchors_(std::move(anchors)) {}
  bool IsAnchor(const std::string& node) const {
    return anchors_.count(node) > 0;
  }
  std::string Node(const std::string& node) const {
    auto it = anchors_.find(node);
    return it == anchors_.end() ? node : it->second;
  }
  std::string End(const v1::Endpoint& e) const {
    auto it = anchors_.find(e.node());
    return it == anchors_.end() ? absl::StrCat(e.node(), ":", e.interface())
                                : it->second;
  }
  std::string Link(const v1::Link& link) const {
    return absl::StrCat(End(link.a()), "<->", End(link.b()));
  }

 private:
  std::map<std::string, std::string> anchors_;
};

std::string DelayCell(const v1::LinkParams& p) {
  if (p.delay_us() == 0 && p.jitter_us() == 0) return "-";
  std::string cell = FormatMicros(p.delay_us());
  if (p.delay_us() == 0) cell = "0";
  if (p.jitter_us() != 0) absl::StrAppend(&cell, "+-", FormatMicros(p.jitter_us()));
  return cell;
}

std::string OtherCell(const v1::LinkParams& p) {
  std::vector<std::string> parts;
  if (p.duplicate_percent() != 0) {
    parts.push_back(absl::StrCat("dup ", FormatPercent(p.duplicate_percent())));
  }
  if (p.reorder_percent() != 0) {
    parts.push_back(
        absl::StrCat("reorder ", FormatPercent(p.reorder_percent())));
  }
  if (p.corrupt_percent() != 0) {
    parts.push_back(
        absl::StrCat("corrupt ", FormatPercent(p.corrupt_percent())));
  }
  if (p.limit_packets() != 0) {
    parts.push_back(absl::StrCat("limit ", p.limit_packets(), "p"));
  }
  if (p.burst_bytes() != 0) {
    parts.push_back(absl::StrCat("burst ", p.burst_bytes(), "B"));
  }
  // The userspace engine's own conditions.
  if (p.delay_distribution() != v1::DELAY_DISTRIBUTION_UNSPECIFIED &&
      p.delay_distribution() != v1::DELAY_DISTRIBUTION_UNIFORM) {
    parts.push_back(absl::AsciiStrToLower(absl::StripPrefix(
        v1::DelayDistributionKind_Name(p.delay_distribution()),
        "DELAY_DISTRIBUTION_")));
  }
  if (p.has_gilbert_elliott()) {
    parts.push_back(
        absl::StrCat("ge p ", FormatPercent(p.gilbert_elliott().p_percent()),
                     " r ", FormatPercent(p.gilbert_elliott().r_percent())));
  }
  if (p.bit_error_rate() != 0) {
    parts.push_back(absl::StrFormat("ber %g", p.bit_error_rate()));
  }
  if (p.reorder_gap() != 0) {
    parts.push_back(absl::StrCat("gap ", p.reorder_gap()));
  }
  if (p.limit_bytes() != 0) {
    parts.push_back(absl::StrCat("limit ", p.limit_bytes(), "B"));
  }
  if (p.overhead_bytes() != 0) {
    parts.push_back(absl::StrCat("overhead ", p.overhead_bytes(), "B"));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, " ");
}

std::vector<std::string> LinkRow(const std::string& name,
                                 const std::string& direction,
                                 const v1::LinkParams& p,
                                 const std::string& engine,
                                 const std::string& hosts) {
  return {name,           direction,    FormatRate(p.rate_bps()),
          DelayCell(p),   FormatPercent(p.loss_percent()),
          OtherCell(p),   engine.empty() ? "-" : engine,
          hosts};
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace

std::string LinkName(const v1::Link& link) {
  return absl::StrCat(link.a().node(), ":", link.a().interface(), "<->",
                      link.b().node(), ":", link.b().interface());
}

std::string LabStateName(v1::LabState state) {
  if (state == v1::LAB_STATE_UNSPECIFIED || !v1::LabState_IsValid(state)) {
    return "UNKNOWN";
  }
  return v1::LabState_Name(state);
}

std::string NodeKindName(v1::NodeKind kind) {
  if (kind == v1::NODE_KIND_UNSPECIFIED || !v1::NodeKind_IsValid(kind)) {
    return "?";
  }
  return absl::AsciiStrToLower(
      absl::StripPrefix(v1::NodeKind_Name(kind), "NODE_KIND_"));
}

std::string ProgressPrinter::Render(const v1::DeployEvent& event,
                                    absl::Duration elapsed) {
  const std::string prefix = absl::StrCat("[", FormatElapsed(elapsed), "] ");
  std::string out;
  if (!event.message().empty()) {
    absl::StrAppend(&out, prefix);
    if (!event.host().empty()) absl::StrAppend(&out, event.host(), ": ");
    absl::StrAppend(&out, event.message(), "\n");
  }
  for (const std::string& warning : event.warnings()) {
    absl::StrAppend(&out, Warning(event.host(), warning, elapsed));
  }
  if (event.state() != v1::LAB_STATE_UNSPECIFIED &&
      event.state() != last_state_) {
    last_state_ = event.state();
    absl::StrAppend(&out, prefix, "lab is ", LabStateName(last_state_), "\n");
  }
  return out;
}

std::string ProgressPrinter::Warning(absl::string_view host,
                                     absl::string_view warning,
                                     absl::Duration elapsed) {
  // Keyed by text alone: validation reports a warning without a host that
  // the deploy stream may repeat with one.
  if (!shown_warnings_.insert(std::string(warning)).second) {
    return "";
  }
  ++warning_count_;
  std::string out = absl::StrCat("[", FormatElapsed(elapsed), "] ",
                                 color_ ? kYellow : "", "WARNING",
                                 color_ ? kReset : "", ": ");
  if (!host.empty()) absl::StrAppend(&out, host, ": ");
  absl::StrAppend(&out, warning, "\n");
  return out;
}

std::string RenderLabList(const v1::ListLabsResponse& labs, absl::Time now) {
  // An administrator, or a user with labs shared with them, sees labs of
  // several owners: an OWNER column then says whose each is.
  bool owners = labs.caller_admin();
  for (const v1::Lab& lab : labs.labs()) {
    if (!lab.owner().empty() && lab.owner() != labs.caller()) owners = true;
  }
  Table table(owners ? std::vector<std::string>{"OWNER", "NAME", "STATE",
                                                "NODES", "LINKS", "AGE"}
                     : std::vector<std::string>{"NAME", "STATE", "NODES",
                                                "LINKS", "AGE"});
  for (const v1::Lab& lab : labs.labs()) {
    // An outline (node_count) from ListLabs; a whole lab elsewhere.
    const int nodes = lab.node_count() > 0   ? lab.node_count()
                      : lab.nodes_size() > 0 ? lab.nodes_size()
                                             : lab.topology().nodes_size();
    const int links = lab.link_count() > 0   ? lab.link_count()
                      : lab.links_size() > 0 ? lab.links_size()
                                             : lab.topology().links_size();
    const std::string age =
        lab.created_unix_us() == 0
            ? "-"
            : FormatAge(now - absl::FromUnixMicros(lab.created_unix_us()));
    std::vector<std::string> row = {lab.name(), LabStateName(lab.state()),
                                    absl::StrCat(nodes), absl::StrCat(links),
                                    age};
    if (owners) row.insert(row.begin(), lab.owner().empty() ? "admin" : lab.owner());
    table.AddRow(std::move(row));
  }
  if (labs.labs_size() == 0) return "no labs\n";
  return table.Render();
}

namespace {

// One node or link of a lab as status shows it, from the controller's
// status or, when it sent none, from the topology.
struct NodeEntry {
  const std::string* name;
  v1::NodeKind kind;
  const std::string* host;
  const google::protobuf::RepeatedPtrField<v1::Interface>* interfaces;
  std::string state;
  std::string detail;
  const std::string* netns_of;
};

struct LinkEntry {
  const v1::Link* link;
  std::string host_a;
  std::string host_b;
  std::string state;
  std::string engine_ab;
  std::string engine_ba;
};

// A guest that is not ready, a link that is not up; netns nodes have no
// state of their own.
bool NodeProblem(const NodeEntry& n) {
  return !n.state.empty() && n.state != "ready";
}
bool LinkProblem(const LinkEntry& l) {
  return !l.state.empty() && l.state != "up";
}

bool GlobMatches(const std::string& glob, const std::string& name) {
  return glob.empty() || fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::string HostsCell(const LinkEntry& l) {
  return l.host_a == l.host_b
             ? OrDash(l.host_a)
             : absl::StrCat(OrDash(l.host_a), "/", OrDash(l.host_b));
}

std::string KindCell(const NodeEntry& n) {
  // A guest's state follows its kind: "qemu: ready", "qemu: exited
  // (killed by signal 9 (Killed))".
  std::string kind_name = NodeKindName(n.kind);
  if (!n.state.empty()) absl::StrAppend(&kind_name, ": ", n.state);
  if (!n.detail.empty()) absl::StrAppend(&kind_name, " (", n.detail, ")");
  if (!n.netns_of->empty()) {
    absl::StrAppend(&kind_name, " (", *n.netns_of, "'s namespace)");
  }
  return kind_name;
}

// "netns 620, qemu 5": counts in the order of the map.
std::string CountsCell(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [name, count] : counts) {
    parts.push_back(absl::StrCat(name, " ", count));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, ", ");
}

constexpr int kMaxProblemLines = 10;

// An interface's name, and where it goes when that is no link of the lab
// (containerlab's host, dummy, vxlan and management ends, a bridge inside
// the node): "eth1 (vxlan 100 to 192.0.2.10:14789)".
std::string InterfaceCell(const v1::Interface& i) {
  std::string to;
  if (i.has_vxlan()) {
    to = VxlanEndText(i.vxlan());
  } else if (i.mgmt()) {
    to = i.host_end().name().empty()
             ? "management"
             : absl::StrCat("mgmt-net:", i.host_end().name());
  } else if (i.has_host_end()) {
    to = absl::StrCat("host:", i.host_end().name());
  } else if (i.dummy()) {
    to = "dummy";
  } else if (i.bridge()) {
    to = "bridge";
  }
  return to.empty() ? i.name() : absl::StrCat(i.name(), " (", to, ")");
}

std::string NodeTable(const std::vector<NodeEntry>& entries,
                      const ShownNames& names) {
  Table nodes({"NAME", "KIND", "HOST", "INTERFACE", "ADDRESSES"});
  for (const NodeEntry& n : entries) {
    const std::string kind_name = KindCell(n);
    const std::string name = names.Node(*n.name);
    if (n.interfaces->empty() || names.IsAnchor(*n.name)) {
      nodes.AddRow({name, kind_name, OrDash(*n.host), "-", "-"});
      continue;
    }
    bool first = true;
    for (const v1::Interface& iface : *n.interfaces) {
      const std::string addresses =
          iface.addresses().empty() ? "-" : absl::StrJoin(iface.addresses(), ",");
      if (first) {
        nodes.AddRow(
            {name, kind_name, OrDash(*n.host), InterfaceCell(iface), addresses});
      } else {
        nodes.AddRow({"", "", "", InterfaceCell(iface), addresses});
      }
      first = false;
    }
  }
  return nodes.row_count() > 0 ? nodes.Render() : "(none)\n";
}

std::string NodeSummary(const std::vector<NodeEntry>& entries,
                        const ShownNames& names) {
  struct PerHost {
    int nodes = 0;
    std::map<std::string, int> kinds;
    int not_ready = 0;
  };
  std::map<std::string, PerHost> hosts;
  std::vector<const NodeEntry*> problems;
  for (const NodeEntry& n : entries) {
    PerHost& h = hosts[OrDash(*n.host)];
    ++h.nodes;
    ++h.kinds[NodeKindName(n.kind)];
    if (NodeProblem(n)) {
      ++h.not_ready;
      problems.push_back(&n);
    }
  }
  Table table({"HOST", "NODES", "KINDS", "NOT READY"});
  for (const auto& [host, h] : hosts) {
    table.AddRow({host, absl::StrCat(h.nodes), CountsCell(h.kinds),
                  absl::StrCat(h.not_ready)});
  }
  std::string out = table.Render();
  for (size_t i = 0; i < problems.size() && i < kMaxProblemLines; ++i) {
    absl::StrAppend(&out, "not ready: ", names.Node(*problems[i]->name), " (",
                    KindCell(*problems[i]), ")\n");
  }
  if (problems.size() > kMaxProblemLines) {
    absl::StrAppend(&out, "... and ", problems.size() - kMaxProblemLines,
                    " more not ready (--problems --nodes lists them)\n");
  }
  return out;
}

std::string LinkTable(const std::vector<LinkEntry>& entries,
                      const ShownNames& names) {
  // ENGINE: which engine applies each direction (kernel TBF/NetEm or the
  // userspace engine; docs/topology.md, "Choosing the engine").
  Table links({"LINK", "DIRECTION", "RATE", "DELAY", "LOSS", "OTHER", "ENGINE",
               "HOSTS"});
  for (const LinkEntry& l : entries) {
    const v1::Link& link = *l.link;
    std::string hosts = HostsCell(l);
    // A link that is not working says why (host unreachable, tunnel
    // connecting...).
    if (LinkProblem(l)) absl::StrAppend(&hosts, " (", l.state, ")");
    const std::string a = names.Node(link.a().node());
    const std::string b = names.Node(link.b().node());
    links.AddRow(LinkRow(names.Link(link), absl::StrCat(a, "->", b),
                         link.a_to_b(), l.engine_ab, hosts));
    links.AddRow(LinkRow("", absl::StrCat(b, "->", a), link.b_to_a(),
                         l.engine_ba, ""));
  }
  return links.row_count() > 0 ? links.Render() : "(none)\n";
}

std::string LinkSummary(const std::vector<LinkEntry>& entries,
                        const ShownNames& names) {
  struct PerHosts {
    int links = 0;
    std::map<std::string, int> engines;  // per direction
    int not_up = 0;
  };
  std::map<std::string, PerHosts> groups;
  std::vector<const LinkEntry*> problems;
  for (const LinkEntry& l : entries) {
    // A pair of hosts is one group whichever end is `a`.
    PerHosts& g = groups[l.host_a <= l.host_b
                             ? HostsCell(l)
                             : HostsCell({l.link, l.host_b, l.host_a})];
    ++g.links;
    ++g.engines[OrDash(l.engine_ab)];
    ++g.engines[OrDash(l.engine_ba)];
    if (LinkProblem(l)) {
      ++g.not_up;
      problems.push_back(&l);
    }
  }
  Table table({"HOSTS", "LINKS", "ENGINES (directions)", "NOT UP"});
  for (const auto& [hosts, g] : groups) {
    table.AddRow({hosts, absl::StrCat(g.links), CountsCell(g.engines),
                  absl::StrCat(g.not_up)});
  }
  std::string out = table.Render();
  for (size_t i = 0; i < problems.size() && i < kMaxProblemLines; ++i) {
    absl::StrAppend(&out, "not up: ", names.Link(*problems[i]->link), " (",
                    HostsCell(*problems[i]), "): ", problems[i]->state, "\n");
  }
  if (problems.size() > kMaxProblemLines) {
    absl::StrAppend(&out, "... and ", problems.size() - kMaxProblemLines,
                    " more not up (--problems --links lists them)\n");
  }
  return out;
}

// The nodes and links a view of `lab` shows, and whether each part is a
// summary.
struct Selection {
  std::vector<NodeEntry> all_nodes;
  std::vector<LinkEntry> all_links;
  std::vector<NodeEntry> nodes;  // those the view keeps
  std::vector<LinkEntry> links;
  bool filtered = false;
  bool nodes_summary = false;
  bool links_summary = false;
};

Selection Select(const v1::Lab& lab, const LabView& view) {
  // Every node and link, then the ones the view keeps.
  Selection out;
  std::vector<NodeEntry>& all_nodes = out.all_nodes;
  if (lab.nodes_size() > 0) {
    all_nodes.reserve(lab.nodes_size());
    for (const v1::NodeStatus& n : lab.nodes()) {
      all_nodes.push_back({&n.name(), n.kind(), &n.host(), &n.interfaces(),
                           n.state(), n.state_detail(), &n.netns_of()});
    }
  } else {
    all_nodes.reserve(lab.topology().nodes_size());
    for (const v1::Node& n : lab.topology().nodes()) {
      all_nodes.push_back({&n.name(), n.kind(), &n.host(), &n.interfaces(),
                           "", "", &n.netns_of()});
    }
  }
  std::vector<LinkEntry>& all_links = out.all_links;
  if (lab.links_size() > 0) {
    all_links.reserve(lab.links_size());
    for (const v1::LinkStatus& l : lab.links()) {
      // A link in a kernel VXLAN device says so: only the kernel shapes it
      // (docs/tunnel.md, "Kernel VXLAN").
      auto engine = [&](const std::string& e) {
        return l.carrier() == "vxlan" && !e.empty() ? e + " (vxlan)" : e;
      };
      all_links.push_back({&l.link(), l.host_a(), l.host_b(), l.state(),
                           engine(l.engine_a_to_b()),
                           engine(l.engine_b_to_a())});
    }
  } else {
    // The topology's own placement, where the file pinned nodes.
    absl::flat_hash_map<std::string, std::string> node_host;
    for (const NodeEntry& n : all_nodes) node_host[*n.name] = *n.host;
    all_links.reserve(lab.topology().links_size());
    for (const v1::Link& l : lab.topology().links()) {
      all_links.push_back({&l, node_host[l.a().node()], node_host[l.b().node()],
                           "", "", ""});
    }
  }

  out.filtered =
      !view.host.empty() || !view.node_glob.empty() || view.problems;
  std::vector<NodeEntry>& nodes = out.nodes;
  for (const NodeEntry& n : all_nodes) {
    if (!view.host.empty() && *n.host != view.host) continue;
    if (!GlobMatches(view.node_glob, *n.name)) continue;
    if (view.problems && !NodeProblem(n)) continue;
    nodes.push_back(n);
  }
  std::vector<LinkEntry>& links = out.links;
  for (const LinkEntry& l : all_links) {
    if (!view.host.empty() && l.host_a != view.host && l.host_b != view.host) {
      continue;
    }
    if (!GlobMatches(view.node_glob, l.link->a().node()) &&
        !GlobMatches(view.node_glob, l.link->b().node())) {
      continue;
    }
    if (view.problems && !LinkProblem(l)) continue;
    links.push_back(l);
  }

  out.nodes_summary =
      !view.list_nodes && static_cast<int>(nodes.size()) > view.max_nodes;
  out.links_summary =
      !view.list_links && static_cast<int>(links.size()) > view.max_links;
  return out;
}

}  // namespace

bool RenderNeedsDetails(const v1::Lab& lab, const LabView& view) {
  const auto left_out = [&lab](const char* part) {
    return std::find(lab.details_left_out().begin(),
                     lab.details_left_out().end(),
                     part) != lab.details_left_out().end();
  };
  if (lab.details_left_out().empty()) return false;
  const Selection selected = Select(lab, view);
  // A table lists entries: an empty one needs no details either.
  return (!selected.nodes_summary && !selected.nodes.empty() &&
          left_out("nodes")) ||
         (!selected.links_summary && !selected.links.empty() &&
          left_out("links"));
}

std::string RenderLab(const v1::Lab& lab, absl::Time now, const LabView& view) {
  std::string out;
  absl::StrAppend(&out, "Lab:    ", lab.name(), "\n");
  if (!lab.owner().empty()) absl::StrAppend(&out, "Owner:  ", lab.owner(), "\n");
  absl::StrAppend(&out, "State:  ", LabStateName(lab.state()), "\n");
  if (!lab.error().empty()) absl::StrAppend(&out, "Error:  ", lab.error(), "\n");
  if (lab.created_unix_us() != 0) {
    const absl::Time created = absl::FromUnixMicros(lab.created_unix_us());
    absl::StrAppend(&out, "Age:    ", FormatAge(now - created), " (created ",
                    absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", created,
                                     absl::UTCTimeZone()),
                    ")\n");
  }
  if (!lab.topology().source().file().empty()) {
    absl::StrAppend(&out, "Source: ", lab.topology().source().file(), "\n");
  }

  const ShownNames names(AnchorLabels(lab));
  // Every node and link, then the ones the view keeps.
  const Selection selected = Select(lab, view);
  const std::vector<NodeEntry>& all_nodes = selected.all_nodes;
  const std::vector<LinkEntry>& all_links = selected.all_links;
  const std::vector<NodeEntry>& nodes = selected.nodes;
  const std::vector<LinkEntry>& links = selected.links;
  const bool filtered = selected.filtered;
  const bool nodes_summary = selected.nodes_summary;
  const bool links_summary = selected.links_summary;
  auto heading = [&](const char* what, size_t shown, size_t total,
                     bool summary) {
    std::string h = absl::StrCat("\n", what);
    if (filtered) absl::StrAppend(&h, " (", shown, " of ", total, ")");
    if (summary) {
      absl::StrAppend(&h, filtered ? "" : absl::StrCat(" (", shown, ")"),
                      ", summarised: --", absl::AsciiStrToLower(what),
                      " lists them");
    }
    return absl::StrCat(h, "\n");
  };
  absl::StrAppend(&out, heading("NODES", nodes.size(), all_nodes.size(),
                                nodes_summary));
  out += nodes_summary ? NodeSummary(nodes, names) : NodeTable(nodes, names);
  if (!view.host.empty()) {
    // A mistyped host matches nothing: say which hosts the lab is on.
    std::set<std::string> hosts;
    for (const NodeEntry& n : all_nodes) {
      if (!n.host->empty()) hosts.insert(*n.host);
    }
    if (!hosts.empty() && hosts.count(view.host) == 0) {
      absl::StrAppend(&out, "(no node is on host ", view.host,
                      "; the lab's hosts: ", absl::StrJoin(hosts, ", "), ")\n");
    }
  }
  absl::StrAppend(&out, heading("LINKS", links.size(), all_links.size(),
                                links_summary));
  out += links_summary ? LinkSummary(links, names) : LinkTable(links, names);
  return out;
}

std::string RenderHosts(const v1::ListHostsResponse& hosts) {
  if (hosts.hosts_size() == 0) return "no hosts\n";
  Table table({"HOST", "ADDRESS", "REACHABLE", "CPUS", "MEM", "KVM", "QEMU",
               "NETEM", "QDISCS"});
  std::string notes;
  for (const v1::HostStatus& h : hosts.hosts()) {
    if (!h.reachable()) {
      table.AddRow({h.name(), OrDash(h.address()), "no", "-", "-", "-", "-",
                    "-", "-"});
      absl::StrAppend(&notes, h.name(), ": ",
                      h.error().empty() ? "unreachable" : h.error(), "\n");
      continue;
    }
    const v1::Capabilities& c = h.capabilities();
    table.AddRow({h.name(), OrDash(h.address()), "yes",
                  c.cpus() == 0 ? "-" : absl::StrCat(c.cpus()),
                  FormatMib(c.memory_mib()), YesNo(c.kvm()), YesNo(c.qemu()),
                  YesNo(c.netem()),
                  c.qdiscs().empty() ? "-" : absl::StrJoin(c.qdiscs(), ",")});
  }
  return notes.empty() ? table.Render() : absl::StrCat(table.Render(), "\n", notes);
}

std::string RenderImages(const v1::ListImagesResponse& images) {
  std::string notes;
  for (const std::string& u : images.unreachable()) {
    absl::StrAppend(&notes, u, "\n");
  }
  if (images.images_size() == 0) {
    return absl::StrCat("no images (build one: emuctl image build default)\n",
                        notes.empty() ? "" : "\n", notes);
  }
  Table table({"HOST", "IMAGE", "KIND", "KERNEL", "SIZE", "PACKAGES"});
  for (const v1::GuestImageInfo& i : images.images()) {
    // The recipes' base set is the same in every debian image; show what
    // was asked on top of it only when it is short.
    std::string packages = i.packages().size() > 40
                               ? absl::StrCat(i.packages().substr(0, 37), "...")
                               : i.packages();
    table.AddRow({i.host(), i.name(), OrDash(i.kind()),
                  OrDash(i.kernel_release()),
                  FormatMib(i.size_bytes() >> 20), OrDash(packages)});
    if (!i.problem().empty()) {
      absl::StrAppend(&notes, i.host(), ": image ", i.name(), ": ",
                      i.problem(), "\n");
    }
  }
  return notes.empty() ? table.Render()
                       : absl::StrCat(table.Render(), "\n", notes);
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat(
        "render ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

std::string ProblemLine(const v1::Problem& problem) {
  std::string out =
      problem.severity() == v1::Problem::WARNING ? "warning: " : "";
  if (!problem.file().empty()) {
    absl::StrAppend(&out, problem.file(), ":");
    if (problem.line() > 0) absl::StrAppend(&out, problem.line(), ":");
    absl::StrAppend(&out, " ");
  }
  if (!problem.object().empty()) absl::StrAppend(&out, problem.object(), ": ");
  absl::StrAppend(&out, problem.message());
  return out;
}

std::string RenderProblems(
    const google::protobuf::RepeatedPtrField<v1::Problem>& problems,
    int max_shown) {
  std::string out;
  const int shown = std::min(problems.size(), max_shown);
  for (int i = 0; i < shown; ++i) {
    absl::StrAppend(&out, ProblemLine(problems[i]), "\n");
  }
  if (problems.size() > shown) {
    const int more = problems.size() - shown;
    absl::StrAppend(&out, "... and ", more, " more problem",
                    more == 1 ? "" : "s", "\n");
  }
  return out;
}

}  // namespace emu::cli
