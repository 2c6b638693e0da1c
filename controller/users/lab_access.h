// What a caller sees of labs and what they may deploy: stored labs (keyed
// by emu::LabKey) shown in the caller's terms, and the quota admission of a
// deploy.
#ifndef EMU_CONTROLLER_USERS_LAB_ACCESS_H_
#define EMU_CONTROLLER_USERS_LAB_ACCESS_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/auth.h"
#include "controller/users/lab_ref.h"
#include "controller/users/user_directory.h"
#include "proto/controller.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::users {

// The stored lab as `caller` sees it: name and topology name the owner's
// short name, owner the owner's user name ("admin" for the cluster's).
emu::v1::Lab AsSeenBy(const Caller& caller, emu::v1::Lab lab);

// The labs of `labs` (the store's, by key) that `caller` may view, as they
// see them (AsSeenBy): ListLabs and the web view's lab list.
absl::StatusOr<std::vector<emu::v1::Lab>> VisibleLabs(
    const Caller& caller, const UserDirectory& users,
    std::vector<emu::v1::Lab> labs);

// `status` with the lab's key replaced by the name the caller used
// ("lab alice+core: not found" -> "lab core: not found").
absl::Status InCallerTerms(const absl::Status& status, const LabRef& ref);

// LabManager::DeployAs::admit for `caller`: refuses a topology that would
// take the caller's live labs (listed by `list_labs`) beyond their quota
// (quota.h's message). A listed lab of the topology's own name (the one
// it replaces or changes) is not counted. Borrows `users`.
std::function<absl::Status(const emu::v1::Topology&)> QuotaAdmission(
    const Caller& caller, const UserDirectory* users,
    std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()> list_labs);

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_LAB_ACCESS_H_
