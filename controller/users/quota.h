// Per-user quotas: what a lab uses (nodes, vCPUs, memory, guests, counted
// as placement counts them) and the check a deploy passes before anything
// is created.
#ifndef EMU_CONTROLLER_USERS_QUOTA_H_
#define EMU_CONTROLLER_USERS_QUOTA_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include <vector>

#include "proto/controller.pb.h"
#include "proto/topology.pb.h"
#include "proto/users.pb.h"

namespace emu::controller::users {

// What one lab of this topology uses (labs = 1).
emu::v1::Usage UsageOf(const emu::v1::Topology& topology);
// What the labs of `key_owner` (Lab.owner; "" is the cluster
// administrator) use among `labs`: those not FAILED or DESTROYED.
emu::v1::Usage InUse(const std::vector<emu::v1::Lab>& labs,
                     absl::string_view key_owner);
// a + b, field by field.
emu::v1::Usage Sum(const emu::v1::Usage& a, const emu::v1::Usage& b);

// OK when `in_use` plus `lab` stays within `quota`; otherwise
// RESOURCE_EXHAUSTED naming the first quota exceeded, what the lab needs
// and what the user already uses: "quota nodes: lab core needs 12, alice
// has 3 of 10 in use".
absl::Status CheckQuota(absl::string_view user, const emu::v1::Quota& quota,
                        const emu::v1::Usage& in_use,
                        absl::string_view lab_name,
                        const emu::v1::Usage& lab);

// "labs=2,nodes=10,..." for the fields set; "none" when none is.
std::string QuotaText(const emu::v1::Quota& quota);
// Parses "labs=N,nodes=N,vcpus=N,memory=N,guests=N" (any subset; memory in
// MiB). INVALID_ARGUMENT naming the bad item.
absl::Status ParseQuota(absl::string_view text, emu::v1::Quota* quota);

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_QUOTA_H_
