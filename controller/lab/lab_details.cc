#include "controller/lab/lab_details.h"

#include <set>
#include <string>
#include <utility>

namespace emu::controller::lab {

void LeaveOutDetails(uint32_t up_to, emu::v1::Lab* lab) {
  if (up_to == 0) return;
  const bool nodes = static_cast<uint32_t>(lab->nodes_size()) > up_to;
  const bool links = static_cast<uint32_t>(lab->links_size()) > up_to;
  if (nodes) {
    for (auto& n : *lab->mutable_nodes()) n.clear_interfaces();
    lab->add_details_left_out("nodes");
  }
  if (links) {
    for (auto& l : *lab->mutable_links()) {
      emu::v1::Endpoint a = std::move(*l.mutable_link()->mutable_a());
      emu::v1::Endpoint b = std::move(*l.mutable_link()->mutable_b());
      l.clear_link();
      *l.mutable_link()->mutable_a() = std::move(a);
      *l.mutable_link()->mutable_b() = std::move(b);
    }
    lab->add_details_left_out("links");
  }
  if (!nodes && !links) return;
  // The topology's nodes and links: only community anchors and their links.
  emu::v1::Topology* t = lab->mutable_topology();
  std::set<std::string> anchors;
  google::protobuf::RepeatedPtrField<emu::v1::Node> kept_nodes;
  for (auto& n : *t->mutable_nodes()) {
    if (n.foreign_lab().empty()) continue;
    anchors.insert(n.name());
    *kept_nodes.Add() = std::move(n);
  }
  google::protobuf::RepeatedPtrField<emu::v1::Link> kept_links;
  for (auto& l : *t->mutable_links()) {
    if (anchors.count(l.a().node()) == 0 && anchors.count(l.b().node()) == 0) {
      continue;
    }
    *kept_links.Add() = std::move(l);
  }
  t->mutable_nodes()->Swap(&kept_nodes);
  t->mutable_links()->Swap(&kept_links);
}

void OutlineLab(emu::v1::Lab* lab) {
  lab->set_node_count(lab->nodes_size() > 0 ? lab->nodes_size()
                                            : lab->topology().nodes_size());
  lab->set_link_count(lab->links_size() > 0 ? lab->links_size()
                                            : lab->topology().links_size());
  lab->clear_nodes();
  lab->clear_links();
  lab->mutable_topology()->clear_nodes();
  lab->mutable_topology()->clear_links();
}

}  // namespace emu::controller::lab
