// Parsers for the output of the iproute2 commands the local cluster runs to
// see what exists (`ip netns list`, `ip -o link show`, `ip -o -4 addr
// show`). Pure.
#ifndef EMU_DEPLOY_IP_OUTPUT_H_
#define EMU_DEPLOY_IP_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace emu::deploy {

// Namespace names from `ip netns list` ("name (id: 3)" or "name" lines).
std::vector<std::string> ParseNetnsList(absl::string_view output);

// Interface names from `ip -o link show` ("5: emuv-local-1@if2: <...> ..."),
// without the "@peer" suffix.
std::vector<std::string> ParseLinkNames(absl::string_view output);

struct InterfaceAddress {
  std::string ifname;
  std::string cidr;  // "198.18.0.1/24"
};

// IPv4 addresses from `ip -o -4 addr show` ("3: br0    inet 10.0.0.1/24 ...").
std::vector<InterfaceAddress> ParseIpv4Addresses(absl::string_view output);

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_IP_OUTPUT_H_
