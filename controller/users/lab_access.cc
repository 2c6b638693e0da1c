#include "controller/users/lab_access.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "controller/users/quota.h"
#include "proto/topology_names.h"

namespace emu::controller::users {

emu::v1::Lab AsSeenBy(const Caller& caller, emu::v1::Lab lab) {
  const LabRef ref = RefFromKey(caller, lab.name());
  lab.set_name(ref.name);
  lab.set_owner(ref.owner);
  lab.mutable_topology()->set_name(ref.name);
  return lab;
}

absl::Status InCallerTerms(const absl::Status& status, const LabRef& ref) {
  if (status.ok() || ref.key == ref.display) return status;
  return absl::Status(status.code(),
                      absl::StrReplaceAll(status.message(),
                                          {{ref.key, ref.display}}));
}

std::function<absl::Status(const emu::v1::Topology&)> QuotaAdmission(
    const Caller& caller, const UserDirectory* users,
    std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()> list_labs) {
  return [caller, users, list_labs = std::move(list_labs)](
             const emu::v1::Topology& topology) -> absl::Status {
    absl::StatusOr<emu::v1::Quota> quota = users->QuotaOf(caller);
    if (!quota.ok()) return quota.status();
    absl::StatusOr<std::vector<emu::v1::Lab>> labs = list_labs();
    if (!labs.ok()) return labs.status();
    // The lab this topology replaces (a failed one redeployed, a running
    // one changed by apply) is counted once: as the topology.
    labs->erase(std::remove_if(labs->begin(), labs->end(),
                               [&](const emu::v1::Lab& l) {
                                 return l.name() == topology.name();
                               }),
                labs->end());
    const emu::v1::Usage in_use = InUse(*labs, KeyOwner(OwnLabsOwner(caller)));
    return CheckQuota(caller.name, *quota, in_use,
                      SplitLabKey(topology.name()).lab, UsageOf(topology));
  };
}

absl::StatusOr<std::vector<emu::v1::Lab>> VisibleLabs(
    const Caller& caller, const UserDirectory& users,
    std::vector<emu::v1::Lab> labs) {
  EMU_ASSIGN_OR_RETURN(std::vector<ShareRecord> shares, users.Shares());
  std::vector<emu::v1::Lab> out;
  for (auto& l : labs) {
    const Role role = UserDirectory::RoleOn(caller, l.name(), shares);
    if (!Allows(role, Verb::kView)) continue;
    out.push_back(AsSeenBy(caller, std::move(l)));
  }
  return out;
}

}  // namespace emu::controller::users
