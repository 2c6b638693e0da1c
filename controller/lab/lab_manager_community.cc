// LabManager and community networks (docs/community.md): the attachments of
// a lab checked and expanded at deploy and apply, and kept in line with the
// exports while labs come and go. The graph itself is
// controller/community/attachments.h; this file only runs it against the
// store and the apply steps.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/community/attachments.h"
#include "controller/lab/lab_manager.h"

namespace emu::controller::lab {
namespace {

// The user name MayAttach knows a lab owner by ("admin" for the empty owner
// of the cluster administrator's labs).
std::string CallerName(const std::string& key_owner) {
  return key_owner.empty() ? std::string(community::kAdministrator) : key_owner;
}

}  // namespace

absl::Status LabManager::AttachCommunity(emu::v1::Topology* topology,
                                         const std::string& key_owner) const {
  if (topology->attachments().empty()) return absl::OkStatus();
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, store_->List());
  const std::vector<community::LiveExport> exports = community::ExportsOf(labs);
  const std::string caller = CallerName(key_owner);
  EMU_RETURN_IF_ERROR(community::CheckAttachments(*topology, caller, exports));
  community::KeepLocalInterfaces(topology);
  *topology = community::ExpandAttachments(*topology, caller, exports);
  return absl::OkStatus();
}

void LabManager::ReconcileCommunity(
    const std::function<void(const std::string&)>& log,
    absl::Duration busy_wait) {
  auto labs = store_->List();
  if (!labs.ok()) {
    log(absl::StrCat("community: ", labs.status().ToString()));
    return;
  }
  const std::vector<community::LiveExport> exports =
      community::ExportsOf(*labs);
  for (const emu::v1::Lab& listed : *labs) {
    if (listed.state() != emu::v1::RUNNING ||
        listed.topology().attachments().empty()) {
      continue;
    }
    // Most calls change nothing: no lease taken for those (a lease held
    // here would turn away the user's own operations on the lab).
    if (community::SameAttachments(
            listed.topology(),
            community::ExpandAttachments(listed.topology(),
                                         CallerName(listed.owner()), exports))) {
      continue;
    }
    Lease lease(this, listed.name());
    // Another reconcile may be changing it right now: wait for it, bounded.
    for (absl::Time give_up = absl::Now() + busy_wait;
         !lease.held() && absl::Now() < give_up;) {
      absl::SleepFor(absl::Milliseconds(50));
      lease.Retry();
    }
    if (!lease.held()) {
      log(absl::StrCat("community: lab ", listed.name(),
                       " is busy; its attachments change at the next "
                       "reconcile"));
      continue;
    }
    // Under the lease, from the store as it is now.
    auto all = store_->List();
    auto lab = store_->Get(listed.name());
    if (!all.ok() || !lab.ok() || lab->state() != emu::v1::RUNNING) continue;
    const std::string caller = CallerName(lab->owner());
    topology::ParsedTopology next;
    next.topology = community::ExpandAttachments(lab->topology(), caller,
                                                 community::ExportsOf(*all));
    if (community::SameAttachments(lab->topology(), next.topology)) continue;
    const size_t down = community::DownAttachments(next.topology).size();
    DeployAs as;
    as.owner = lab->owner();
    absl::Status s = ApplyLeased(std::move(next), as, /*dry_run=*/false,
                                 [](const emu::v1::DeployEvent&) {});
    log(absl::StrCat("community: lab ", listed.name(), ": ",
                     s.ok() ? absl::StrCat("attachments brought in line with "
                                           "the exports (",
                                           down, " down)")
                            : absl::StrCat("could not change attachments "
                                           "(retried): ",
                                           s.message())));
  }
}

}  // namespace emu::controller::lab
