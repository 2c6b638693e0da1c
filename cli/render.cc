#include "cli/render.h"

#include <algorithm>
#include <map>
#include <vector>

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
    const int nodes = lab.nodes_size() > 0 ? lab.nodes_size()
                                           : lab.topology().nodes_size();
    const int links = lab.links_size() > 0 ? lab.links_size()
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

std::string RenderLab(const v1::Lab& lab, absl::Time now) {
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

  const std::map<std::string, std::string> anchors = AnchorLabels(lab);
  // A node's name as shown; an anchor's ports (x + 8 hex digits) are not
  // the user's to know either.
  auto shown = [&anchors](const std::string& node) {
    auto it = anchors.find(node);
    return it == anchors.end() ? node : it->second;
  };
  auto shown_end = [&anchors](const v1::Endpoint& e) {
    auto it = anchors.find(e.node());
    return it == anchors.end() ? absl::StrCat(e.node(), ":", e.interface())
                               : it->second;
  };
  Table nodes({"NAME", "KIND", "HOST", "INTERFACE", "ADDRESSES"});
  auto add_node = [&nodes, &shown, &anchors](const std::string& raw_name,
                                   v1::NodeKind kind,
                           const std::string& host,
                           const google::protobuf::RepeatedPtrField<
                               v1::Interface>& interfaces,
                           const std::string& state = "",
                           const std::string& detail = "") {
    // A guest's state follows its kind: "qemu: ready", "qemu: exited
    // (killed by signal 9 (Killed))".
    const std::string name = shown(raw_name);
    std::string kind_name = NodeKindName(kind);
    if (!state.empty()) absl::StrAppend(&kind_name, ": ", state);
    if (!detail.empty()) absl::StrAppend(&kind_name, " (", detail, ")");
    if (interfaces.empty() || anchors.count(raw_name) > 0) {
      nodes.AddRow({name, kind_name, OrDash(host), "-", "-"});
      return;
    }
    bool first = true;
    for (const v1::Interface& iface : interfaces) {
      const std::string addresses =
          iface.addresses().empty() ? "-" : absl::StrJoin(iface.addresses(), ",");
      if (first) {
        nodes.AddRow({name, kind_name, OrDash(host), iface.name(), addresses});
      } else {
        nodes.AddRow({"", "", "", iface.name(), addresses});
      }
      first = false;
    }
  };
  if (lab.nodes_size() > 0) {
    for (const v1::NodeStatus& n : lab.nodes()) {
      add_node(n.name(), n.kind(), n.host(), n.interfaces(), n.state(),
               n.state_detail());
    }
  } else {
    for (const v1::Node& n : lab.topology().nodes()) {
      add_node(n.name(), n.kind(), n.host(), n.interfaces());
    }
  }

  // ENGINE: which engine applies each direction (kernel TBF/NetEm or the
  // userspace engine; docs/topology.md, "Choosing the engine").
  Table links({"LINK", "DIRECTION", "RATE", "DELAY", "LOSS", "OTHER", "ENGINE",
               "HOSTS"});
  auto add_link = [&links, &shown, &shown_end](
                      const v1::Link& link, const std::string& hosts,
                      const std::string& engine_ab = "",
                      const std::string& engine_ba = "") {
    const std::string name =
        absl::StrCat(shown_end(link.a()), "<->", shown_end(link.b()));
    const std::string a = shown(link.a().node());
    const std::string b = shown(link.b().node());
    links.AddRow(LinkRow(name, absl::StrCat(a, "->", b), link.a_to_b(),
                         engine_ab, hosts));
    links.AddRow(LinkRow("", absl::StrCat(b, "->", a), link.b_to_a(),
                         engine_ba, ""));
  };
  if (lab.links_size() > 0) {
    for (const v1::LinkStatus& l : lab.links()) {
      std::string hosts = l.host_a() == l.host_b()
                              ? OrDash(l.host_a())
                              : absl::StrCat(OrDash(l.host_a()), "/",
                                             OrDash(l.host_b()));
      // A link that is not working says why (host unreachable, tunnel
      // connecting...).
      if (!l.state().empty() && l.state() != "up") {
        absl::StrAppend(&hosts, " (", l.state(), ")");
      }
      add_link(l.link(), hosts, l.engine_a_to_b(), l.engine_b_to_a());
    }
  } else {
    for (const v1::Link& l : lab.topology().links()) add_link(l, "-");
  }

  absl::StrAppend(&out, "\nNODES\n");
  out += nodes.row_count() > 0 ? nodes.Render() : "(none)\n";
  absl::StrAppend(&out, "\nLINKS\n");
  out += links.row_count() > 0 ? links.Render() : "(none)\n";
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
