// Who may attach a lab to a community export (issue 8, "Community
// topologies"): THE one decision, so that users (branch `users`) wire it to
// real identities in one place.
//
// An export is a segment of one user's lab offered under a community name
// to named users or to all (`community: {export: [{name: ix1, segment: sw1,
// to: [bob, carol]}]}` in the topology file). Until users exist every lab's
// owner is the administrator, kAdministrator.
//
// Pure functions; thread-compatible.
#ifndef EMU_CONTROLLER_COMMUNITY_COMMUNITY_ACCESS_H_
#define EMU_CONTROLLER_COMMUNITY_COMMUNITY_ACCESS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace emu::controller::community {

// The owner of every lab and the one caller there is until users exist.
inline constexpr char kAdministrator[] = "admin";
// In an export's `to`: every user.
inline constexpr char kEveryone[] = "all";

struct Export {
  std::string owner;    // user whose lab exports
  std::string lab;      // that lab
  std::string name;     // community name, unique per owner: "ix1"
  std::string segment;  // a bridge/switch/hub node of the lab
  std::vector<std::string> to;  // user names, or kEveryone
};

// "alice/ix1": how every message names an export.
std::string ExportName(const Export& e);

// OK when `caller` may attach a lab of theirs to `e`: the owner, the
// administrator, a user named in `to`, anyone when `to` holds kEveryone.
// Otherwise NOT_FOUND, worded as for an export that does not exist
// ("community endpoint alice/ix1 does not exist or is not exported to
// bob"), so that a caller learns nothing of exports not offered to them.
absl::Status MayAttach(absl::string_view caller, const Export& e);

}  // namespace emu::controller::community

#endif  // EMU_CONTROLLER_COMMUNITY_COMMUNITY_ACCESS_H_
