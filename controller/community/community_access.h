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
#include "proto/topology.pb.h"

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

// "r1:eth1<->community:alice/ix1": how every message names an attachment
// (the link as the file wrote it, local end first).
std::string AttachmentName(const emu::v1::Attachment& at);

// The export an attachment names, as (owner, name): "alice/ix1" ->
// (alice, ix1); "ix1" -> (`caller`, ix1). INVALID_ARGUMENT naming the
// endpoint when a part is not a valid name.
absl::Status SplitEndpoint(absl::string_view endpoint, absl::string_view caller,
                           std::string* owner, std::string* name);

// OK when `caller` may attach a lab of theirs to `e`: the owner, the
// administrator, a user named in `to`, anyone when `to` holds kEveryone.
// Otherwise NOT_FOUND, worded as for an export that does not exist
// ("community endpoint alice/ix1 does not exist or is not exported to
// bob"), so that a caller learns nothing of exports not offered to them.
absl::Status MayAttach(absl::string_view caller, const Export& e);

// MayAttach's refusal, also for an export that does not exist.
absl::Status NotOffered(absl::string_view caller, const Export& e);

}  // namespace emu::controller::community

#endif  // EMU_CONTROLLER_COMMUNITY_COMMUNITY_ACCESS_H_
