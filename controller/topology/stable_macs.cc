#include "controller/topology/stable_macs.h"

#include <cstdint>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace emu::controller::topology {

std::string StableMac(const std::string& lab, const std::string& node,
                      const std::string& interface) {
  uint64_t h = 14695981039346656037ull;
  for (const std::string* part : {&lab, &node, &interface}) {
    for (unsigned char c : *part) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= '/';
    h *= 1099511628211ull;
  }
  return absl::StrFormat("02:%02x:%02x:%02x:%02x:%02x", (h >> 32) & 0xff,
                         (h >> 24) & 0xff, (h >> 16) & 0xff, (h >> 8) & 0xff,
                         h & 0xff);
}

void AssignStableMacs(emu::v1::Topology* topology) {
  std::map<std::string, emu::v1::Node*> nodes;
  for (auto& n : *topology->mutable_nodes()) nodes[n.name()] = &n;
  for (const auto& link : topology->links()) {
    for (const emu::v1::Endpoint* e : {&link.a(), &link.b()}) {
      auto it = nodes.find(e->node());
      if (it == nodes.end()) continue;
      emu::v1::Interface* iface = nullptr;
      for (auto& i : *it->second->mutable_interfaces()) {
        if (i.name() == e->interface()) iface = &i;
      }
      if (iface == nullptr) {
        iface = it->second->add_interfaces();
        iface->set_name(e->interface());
      }
      if (iface->mac().empty()) {
        iface->set_mac(StableMac(topology->name(), e->node(), e->interface()));
      }
    }
  }
}

}  // namespace emu::controller::topology
