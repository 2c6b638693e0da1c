#include "controller/community/attachments.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/community/exports.h"
#include "proto/topology_names.h"

namespace emu::controller::community {
namespace {

using emu::v1::Attachment;
using emu::v1::Lab;
using emu::v1::Link;
using emu::v1::Node;
using emu::v1::Topology;

// The user name of a stored lab's owner ("admin" for the empty owner).
std::string OwnerOf(const Lab& lab) {
  return lab.owner().empty() ? std::string(kAdministrator) : lab.owner();
}

std::string SourcePrefix(const emu::v1::SourceRef& s) {
  if (s.file().empty()) return "";
  return s.line() > 0 ? absl::StrCat(s.file(), ":", s.line(), ": ")
                      : absl::StrCat(s.file(), ": ");
}

bool IsAnchorLink(const Link& link, const std::set<std::string>& anchors) {
  return anchors.count(link.a().node()) > 0 ||
         anchors.count(link.b().node()) > 0;
}

std::set<std::string> AnchorNames(const Topology& t) {
  std::set<std::string> out;
  for (const Node& n : t.nodes()) {
    if (IsAnchor(n)) out.insert(n.name());
  }
  return out;
}

}  // namespace

std::vector<LiveExport> ExportsOf(const std::vector<Lab>& labs) {
  std::vector<LiveExport> out;
  for (const Lab& lab : labs) {
    if (lab.state() == emu::v1::FAILED || lab.state() == emu::v1::DESTROYED) {
      continue;
    }
    for (const emu::v1::Export& ex : lab.topology().community().exports()) {
      LiveExport live;
      live.spec.owner = OwnerOf(lab);
      live.spec.lab = SplitLabKey(lab.name()).lab;
      live.spec.name = ex.name();
      live.spec.segment = ex.segment();
      live.spec.to.assign(ex.to().begin(), ex.to().end());
      live.lab_key = lab.name();
      live.state = lab.state();
      live.interface = ex.has_interface();
      live.interface_end = ex.interface();
      for (const Node& n : lab.topology().nodes()) {
        if (n.name() == ex.segment()) live.kind = n.kind();
      }
      for (const auto& n : lab.nodes()) {
        if (n.name() == ex.segment()) live.host = n.host();
      }
      out.push_back(std::move(live));
    }
  }
  return out;
}

absl::StatusOr<const LiveExport*> Resolve(
    const std::vector<LiveExport>& exports, absl::string_view caller,
    const Attachment& at) {
  const std::string where = absl::StrCat(SourcePrefix(at.source()), "link ",
                                         AttachmentName(at), ": ");
  std::string owner, name;
  if (absl::Status s = SplitEndpoint(at.endpoint(), caller, &owner, &name);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, s.message()));
  }
  for (const LiveExport& e : exports) {
    if (e.spec.owner != owner || e.spec.name != name) continue;
    absl::Status may = MayAttach(caller, e.spec);
    if (!may.ok())
      return absl::NotFoundError(absl::StrCat(where, may.message()));
    return &e;
  }
  // Worded as MayAttach words a refusal: nobody learns what is not offered.
  Export missing{owner, "", name, "", {}};
  return absl::NotFoundError(
      absl::StrCat(where, NotOffered(caller, missing).message()));
}

absl::Status CheckAttachments(const Topology& topology,
                              absl::string_view caller,
                              const std::vector<LiveExport>& exports) {
  std::vector<std::string> problems;
  for (const Attachment& at : topology.attachments()) {
    auto found = Resolve(exports, caller, at);
    if (!found.ok()) problems.emplace_back(found.status().message());
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::Status CheckInterfaceExportsFree(const Topology& topology,
                                       absl::string_view caller,
                                       const std::vector<LiveExport>& exports,
                                       const std::vector<Lab>& labs) {
  // OWNER/NAME of an interface export -> who takes it.
  std::map<std::string, std::string> taken;
  auto interface_export = [&](const Attachment& at,
                              absl::string_view as) -> const LiveExport* {
    auto found = Resolve(exports, as, at);
    if (!found.ok() || !(*found)->interface) return nullptr;
    return *found;
  };
  for (const Lab& lab : labs) {
    if (lab.name() == topology.name() || lab.state() == emu::v1::FAILED ||
        lab.state() == emu::v1::DESTROYED) {
      continue;
    }
    const std::string owner = OwnerOf(lab);
    for (const Attachment& at : lab.topology().attachments()) {
      if (const LiveExport* e = interface_export(at, owner)) {
        taken.emplace(ExportName(e->spec),
                      absl::StrCat("lab ", owner, "/",
                                   SplitLabKey(lab.name()).lab));
      }
    }
  }
  std::vector<std::string> problems;
  for (const Attachment& at : topology.attachments()) {
    const LiveExport* e = interface_export(at, caller);
    if (e == nullptr) continue;
    auto [it, free] = taken.emplace(
        ExportName(e->spec),
        absl::StrCat("link ", AttachmentName(at), " of this lab"));
    if (free) continue;
    problems.push_back(absl::StrCat(
        SourcePrefix(at.source()), "link ", AttachmentName(at),
        ": community endpoint ", ExportName(e->spec), " is the interface ",
        EndpointName(e->interface_end), " of ", e->spec.owner, "/",
        e->spec.lab, ", which takes one attachment at a time; ", it->second,
        " has it"));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

std::string ForeignAnchorName(absl::string_view exporter_lab_key,
                              absl::string_view segment,
                              absl::string_view host) {
  return absl::StrFormat(
      "c-%08x", StableHash(absl::StrCat(exporter_lab_key, "/", segment, "@", host)));
}

std::string PortName(absl::string_view attacher_lab_key,
                     const emu::v1::Endpoint& local) {
  return absl::StrFormat(
      "x%08x", StableHash(absl::StrCat(attacher_lab_key, "/", EndpointName(local))));
}

bool IsAnchor(const Node& node) { return !node.foreign_lab().empty(); }

Topology StripAttachments(Topology topology) {
  const std::set<std::string> anchors = AnchorNames(topology);
  if (anchors.empty()) return topology;
  auto* nodes = topology.mutable_nodes();
  nodes->erase(std::remove_if(nodes->begin(), nodes->end(),
                              [](const Node& n) { return IsAnchor(n); }),
               nodes->end());
  auto* links = topology.mutable_links();
  links->erase(
      std::remove_if(links->begin(), links->end(),
                     [&](const Link& l) { return IsAnchorLink(l, anchors); }),
      links->end());
  return topology;
}

Topology AsDeclared(Topology stored) {
  Topology out = StripInterfaceExports(StripAttachments(std::move(stored)));
  for (const Attachment& at : out.attachments()) {
    if (!at.has_local_interface()) continue;
    for (Node& n : *out.mutable_nodes()) {
      if (n.name() != at.local().node()) continue;
      const bool declared = std::any_of(
          n.interfaces().begin(), n.interfaces().end(),
          [&](const emu::v1::Interface& i) {
            return i.name() == at.local().interface();
          });
      if (!declared) *n.add_interfaces() = at.local_interface();
    }
  }
  return out;
}

void KeepLocalInterfaces(Topology* topology) {
  for (Attachment& at : *topology->mutable_attachments()) {
    for (const Node& n : topology->nodes()) {
      if (n.name() != at.local().node()) continue;
      for (const auto& i : n.interfaces()) {
        if (i.name() == at.local().interface()) {
          *at.mutable_local_interface() = i;
        }
      }
    }
  }
}

Topology ExpandAttachments(const Topology& topology, absl::string_view caller,
                           const std::vector<LiveExport>& exports) {
  Topology out = StripAttachments(topology);
  std::set<std::string> taken;
  for (const Node& n : out.nodes()) taken.insert(n.name());
  std::map<std::string, std::string> anchor_of;  // export lab/segment@host
  // The local interface exists only while attached (a node's declared
  // interface must exist on the agent); it comes back as declared.
  auto local_interface = [&](const Attachment& at, bool attached) {
    for (Node& n : *out.mutable_nodes()) {
      if (n.name() != at.local().node()) continue;
      auto* ifaces = n.mutable_interfaces();
      auto it = std::find_if(ifaces->begin(), ifaces->end(),
                             [&](const emu::v1::Interface& i) {
                               return i.name() == at.local().interface();
                             });
      if (!attached && it != ifaces->end()) ifaces->erase(it);
      if (attached && it == ifaces->end() && at.has_local_interface()) {
        *n.add_interfaces() = at.local_interface();
      }
    }
  };
  for (const Attachment& at : topology.attachments()) {
    auto found = Resolve(exports, caller, at);
    const bool attached = found.ok() && (*found)->running();
    local_interface(at, attached);
    if (!attached) continue;
    const LiveExport& e = **found;
    const std::string key =
        absl::StrCat(e.lab_key, "/", e.spec.segment, "@", e.host);
    auto it = anchor_of.find(key);
    if (it == anchor_of.end()) {
      std::string name = ForeignAnchorName(e.lab_key, e.spec.segment, e.host);
      // A node of the lab's own with that name: another, still stable name.
      while (taken.count(name) > 0) {
        name = ForeignAnchorName(name, e.spec.segment, e.host);
      }
      taken.insert(name);
      it = anchor_of.emplace(key, name).first;
      Node* anchor = out.add_nodes();
      anchor->set_name(name);
      anchor->set_kind(e.kind);
      anchor->set_host(e.host);
      anchor->set_foreign_lab(e.lab_key);
      anchor->set_foreign_node(e.spec.segment);
      *anchor->mutable_source() = at.source();
    }
    Link* link = out.add_links();
    *link->mutable_a() = at.local();
    link->mutable_b()->set_node(it->second);
    link->mutable_b()->set_interface(PortName(topology.name(), at.local()));
    *link->mutable_a_to_b() = at.to_community();
    *link->mutable_b_to_a() = at.from_community();
    *link->mutable_source() = at.source();
    // The anchor declares its port, as the parser declares link ends.
    for (Node& n : *out.mutable_nodes()) {
      if (n.name() == it->second) {
        n.add_interfaces()->set_name(link->b().interface());
      }
    }
  }
  return out;
}

std::vector<std::string> DownAttachments(const Topology& topology) {
  const std::set<std::string> anchors = AnchorNames(topology);
  std::set<std::string> attached;
  for (const Link& l : topology.links()) {
    if (anchors.count(l.b().node()) > 0) attached.insert(EndpointName(l.a()));
  }
  std::vector<std::string> down;
  for (const Attachment& at : topology.attachments()) {
    if (attached.count(EndpointName(at.local())) == 0) {
      down.push_back(AttachmentName(at));
    }
  }
  return down;
}

std::map<std::string, std::string> ShownAttachmentNames(
    const Topology& topology, absl::string_view owner) {
  std::map<std::string, std::string> out;
  const std::set<std::string> anchors = AnchorNames(topology);
  for (const Link& l : topology.links()) {
    if (anchors.count(l.b().node()) == 0) continue;
    for (const Attachment& at : topology.attachments()) {
      if (EndpointName(at.local()) != EndpointName(l.a())) continue;
      const std::string shown = absl::StrCat(
          "community:", absl::StrContains(at.endpoint(), "/")
                            ? at.endpoint()
                            : absl::StrCat(owner, "/", at.endpoint()));
      out[EndpointName(l.b())] = shown;
      out.emplace(l.b().node(), shown);
    }
  }
  return out;
}

std::string WithShownNames(std::string line,
                           const std::map<std::string, std::string>& names) {
  std::vector<const std::pair<const std::string, std::string>*> order;
  for (const auto& kv : names) order.push_back(&kv);
  std::sort(order.begin(), order.end(), [](const auto* x, const auto* y) {
    return x->first.size() > y->first.size();
  });
  for (const auto* kv : order) {
    for (size_t at = line.find(kv->first); at != std::string::npos;
         at = line.find(kv->first, at + kv->second.size())) {
      line.replace(at, kv->first.size(), kv->second);
    }
  }
  return line;
}

bool SameAttachments(const Topology& a, const Topology& b) {
  auto pieces = [](const Topology& t) {
    const std::set<std::string> anchors = AnchorNames(t);
    std::set<std::string> out;
    for (const Node& n : t.nodes()) {
      if (IsAnchor(n)) {
        out.insert(absl::StrCat("node ", n.name(), " ", n.host(), " ",
                                n.foreign_lab(), " ", n.foreign_node()));
      }
    }
    for (const Link& l : t.links()) {
      if (IsAnchorLink(l, anchors)) out.insert(LinkName(l));
    }
    return out;
  };
  return pieces(a) == pieces(b);
}

std::vector<emu::v1::CommunityEndpoint> VisibleEndpoints(
    const std::vector<Lab>& labs, absl::string_view caller, bool admin) {
  std::vector<emu::v1::CommunityEndpoint> out;
  const std::vector<LiveExport> exports = ExportsOf(labs);
  for (const LiveExport& e : exports) {
    if (!admin && !MayAttach(caller, e.spec).ok()) continue;
    emu::v1::CommunityEndpoint ep;
    ep.set_owner(e.spec.owner);
    ep.set_lab(e.spec.lab);
    ep.set_name(e.spec.name);
    // An interface export shows its interface, not the bridge carrying it.
    ep.set_segment(e.interface ? EndpointName(e.interface_end)
                               : e.spec.segment);
    for (const auto& who : e.spec.to) ep.add_to(who);
    ep.set_state(e.running() ? "up" : LabState_Name(e.state));
    for (const Lab& lab : labs) {
      if (lab.state() == emu::v1::FAILED || lab.state() == emu::v1::DESTROYED) {
        continue;
      }
      const std::string owner = OwnerOf(lab);
      const std::vector<std::string> down = DownAttachments(lab.topology());
      for (const Attachment& at : lab.topology().attachments()) {
        std::string ex_owner, ex_name;
        if (!SplitEndpoint(at.endpoint(), owner, &ex_owner, &ex_name).ok() ||
            ex_owner != e.spec.owner || ex_name != e.spec.name) {
          continue;
        }
        auto* a = ep.add_attached();
        a->set_owner(owner);
        a->set_lab(SplitLabKey(lab.name()).lab);
        a->set_endpoint(EndpointName(at.local()));
        const bool is_down = std::find(down.begin(), down.end(),
                                       AttachmentName(at)) != down.end();
        a->set_state(!is_down ? "attached"
                     : e.running()
                         ? "detached (re-attaching)"
                         : "detached: the exporting lab is not running");
      }
    }
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace emu::controller::community
