// The bounds on what one topology may be or expand to, in one place.
// docs/topology.md lists them for users; messages that refuse a file name
// the constant ("kMaxYamlValues") so a reader can find it here.
//
// Why bounds at all: a YAML file is a graph, not a tree. Aliases repeat
// what an anchor names, so a 28 KB file can stand for billions of values,
// and yaml-cpp's parser recurses once per nesting level. The controller
// parses files from any client that holds the token; without these bounds
// one file could take all of its memory or stack. Every bound is far above
// the largest lab the project runs (100k nodes validate and deploy), and is
// checked before the work it limits is done.
#ifndef EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_LIMITS_H_
#define EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace emu::controller::topology {

// The file itself, as sent by `emuctl up/validate/plan` (the controller's
// gRPC server accepts 64 MiB messages).
inline constexpr size_t kMaxTopologyFileBytes = 64 << 20;

// YAML: the values (scalars, nulls, lists and maps, each counted once per
// time an alias repeats it) the file expands to. A 100k-node lab with its
// links is about 2M values.
inline constexpr uint64_t kMaxYamlValues = 4'000'000;
// YAML: the bytes of scalar text the file expands to (aliases of one long
// string repeat its bytes).
inline constexpr uint64_t kMaxYamlScalarBytes = 64 << 20;
// YAML: nesting of lists and maps. emu's own format nests 6 deep
// (topology.links[].a-to-b.rate); the rest is margin.
inline constexpr size_t kMaxYamlDepth = 64;

// The lab (any format, also a topology received over the API).
inline constexpr int kMaxNodes = 100'000;
inline constexpr int kMaxLinks = 200'000;
inline constexpr int kMaxInterfacesPerNode = 4'096;
inline constexpr int kMaxRoutesPerNode = 4'096;

// One node's resources (the parser's `cpus:` and `memory:`).
inline constexpr uint32_t kMaxNodeCpus = 1'024;
inline constexpr uint64_t kMaxNodeMemoryMib = uint64_t{16} << 20;  // 16 TiB

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_LIMITS_H_
