// The hash the guest code derives stable names from (NIC MACs, snapshot
// keys, per-guest numbers): the same on every build and machine, which
// absl::Hash is not.
#ifndef EMU_AGENT_GUEST_FNV1A_H_
#define EMU_AGENT_GUEST_FNV1A_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace emu::agent::guest {

// FNV-1a over `s`. The offset basis is one digit short of FNV's own
// (14695981039346656037); kept as it has always been here, since guests'
// MACs and snapshot keys come from it and must not change on upgrade.
inline uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_FNV1A_H_
