// How every component names topology objects in messages and logs, so an
// error from the CLI, the controller or an agent reads the same:
// "r1:eth1", "r1:eth1<->r2:eth1", "lab.yaml:12: ".
#ifndef EMU_PROTO_TOPOLOGY_NAMES_H_
#define EMU_PROTO_TOPOLOGY_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "proto/topology.pb.h"

namespace emu {

// "r1:eth1".
std::string EndpointName(const emu::v1::Endpoint& endpoint);
std::string EndpointName(absl::string_view node, absl::string_view interface);

// "r1:eth1<->r2:eth1" (a first, as written in the topology).
std::string LinkName(const emu::v1::Link& link);

// "FILE:LINE" / "FILE" / "" when the source is unknown.
std::string SourceText(const emu::v1::SourceRef& source);

// SourceText plus ": " when it is not empty, ready to prefix a message:
// "lab.yaml:12: ".
std::string SourcePrefix(const emu::v1::SourceRef& source);

}  // namespace emu

#endif  // EMU_PROTO_TOPOLOGY_NAMES_H_
