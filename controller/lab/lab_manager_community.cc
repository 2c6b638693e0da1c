// LabManager and community networks (docs/community.md): the attachments of
// a lab checked and expanded at deploy and apply, and kept in line with the
// exports while labs come and go. The graph itself is
// controller/community/attachments.h; this file only runs it against the
// store and the apply steps.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/community/attachments.h"
#include "controller/community/exports.h"
#include "controller/lab/lab_manager.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {
namespace {

// The user name MayAttach knows a lab owner by ("admin" for the empty owner
// of the cluster administrator's labs).
std::string CallerName(const std::string& key_owner) {
  return key_owner.empty() ? std::string(community::kAdministrator) : key_owner;
}

}  // namespace

absl::Status LabManager::AttachCommunity(emu::v1::Topology* topology,
                                         const std::string& key_owner,
                                         const emu::v1::Lab* running) const {
  if (topology->attachments().empty()) return absl::OkStatus();
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, store_->List());
  const std::vector<community::LiveExport> exports = community::ExportsOf(labs);
  const std::string caller = CallerName(key_owner);
  // Only attachments the running lab does not have yet must resolve now.
  emu::v1::Topology added = *topology;
  if (running != nullptr && running->state() == emu::v1::RUNNING) {
    std::set<std::string> had;
    for (const auto& at : running->topology().attachments()) {
      had.insert(community::AttachmentName(at));
    }
    auto* ats = added.mutable_attachments();
    ats->erase(std::remove_if(ats->begin(), ats->end(),
                              [&](const emu::v1::Attachment& at) {
                                return had.count(
                                           community::AttachmentName(at)) > 0;
                              }),
               ats->end());
  }
  EMU_RETURN_IF_ERROR(community::CheckAttachments(added, caller, exports));
  EMU_RETURN_IF_ERROR(
      community::CheckInterfaceExportsFree(*topology, caller, exports, labs));
  community::KeepLocalInterfaces(topology);
  *topology = community::ExpandAttachments(*topology, caller, exports);
  return absl::OkStatus();
}

absl::Status LabManager::CheckInterfaceExportsStillFree(
    const emu::v1::Topology& topology, const std::string& key_owner) const {
  if (topology.attachments().empty()) return absl::OkStatus();
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, store_->List());
  return community::CheckInterfaceExportsFree(topology, CallerName(key_owner),
                                              community::ExportsOf(labs),
                                              labs);
}

absl::Status LabManager::PrepareExports(emu::v1::Topology* topology,
                                        const emu::v1::Lab* running) const {
  if (running != nullptr && running->state() == emu::v1::RUNNING) {
    std::vector<std::string> problems;
    for (const emu::v1::Export& ex : running->topology().community().exports()) {
      if (!ex.runtime()) continue;
      bool named = false;
      for (const emu::v1::Export& mine : topology->community().exports()) {
        named = named || mine.name() == ex.name();
      }
      if (named) continue;  // the file's own export of that name wins
      if (std::string cause = community::OfferedProblem(*topology, ex);
          !cause.empty()) {
        problems.push_back(absl::StrCat(
            "community export ", ex.name(), " (made by `emuctl community "
            "export`): ", cause, "; `emuctl community unexport ",
            SplitLabKey(running->name()).lab, " ", ex.name(), "` first"));
        continue;
      }
      *topology->mutable_community()->add_exports() = ex;
    }
    if (!problems.empty()) {
      return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    }
  }
  *topology = community::ExpandInterfaceExports(std::move(*topology));
  return absl::OkStatus();
}

void LabManager::ReconcileCommunity(
    const std::function<void(const std::string&)>& log,
    absl::Duration busy_wait) {
  // Every heartbeat: most clusters have no attachment at all, and the
  // outlines (no nodes or links) say so without parsing whole labs.
  auto outlines = store_->ListOutlines();
  if (outlines.ok() &&
      std::none_of(outlines->begin(), outlines->end(), [](const emu::v1::Lab& l) {
        return l.state() == emu::v1::RUNNING &&
               !l.topology().attachments().empty();
      })) {
    return;
  }
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

absl::StatusOr<emu::v1::CommunityEndpoint> LabManager::SetExport(
    const std::string& key, emu::v1::Export spec, bool remove) {
  {
    Lease lease(this, key);
    if (!lease.held()) return lease.BusyError();
    auto found = store_->Get(key);
    if (absl::IsNotFound(found.status())) {
      return absl::NotFoundError(absl::StrCat("lab ", key, " not found"));
    }
    if (!found.ok()) return Annotate(found.status(), absl::StrCat("lab ", key));
    if (found->state() != emu::v1::RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "lab ", key, " is ", LabState_Name(found->state()),
          "; community exports change only on a RUNNING lab"));
    }
    emu::v1::Topology next = found->topology();
    auto* exports = next.mutable_community()->mutable_exports();
    auto same_name = [&](const emu::v1::Export& e) {
      return e.name() == spec.name();
    };
    auto it = std::find_if(exports->begin(), exports->end(), same_name);
    if (remove) {
      if (it == exports->end()) {
        return absl::NotFoundError(absl::StrCat(
            "lab ", key, " exports no community endpoint ", spec.name()));
      }
      exports->erase(it);
    } else {
      if (!emu::IsValidName(spec.name())) {
        return absl::InvalidArgumentError(
            absl::StrCat("community name \"", spec.name(),
                         "\": 1-32 letters, digits, '-' or '_'"));
      }
      // Unique per owner: OWNER/NAME addresses it.
      EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, store_->List());
      for (const community::LiveExport& e : community::ExportsOf(labs)) {
        if (e.spec.owner == CallerName(found->owner()) &&
            e.spec.name == spec.name()) {
          return absl::AlreadyExistsError(absl::StrCat(
              "community endpoint ", community::ExportName(e.spec),
              " is already exported by lab ", e.spec.owner, "/", e.spec.lab,
              "; unexport it first or choose another name"));
        }
      }
      spec.set_runtime(true);
      spec.clear_source();
      if (spec.has_interface()) spec.clear_segment();
      if (std::vector<std::string> causes =
              community::ExportProblems(next, spec);
          !causes.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "community export ", spec.name(), ": ",
            absl::StrJoin(causes, "; ")));
      }
      *exports->Add() = spec;
    }
    next = community::ExpandInterfaceExports(std::move(next));
    if (next.nodes_size() != found->topology().nodes_size()) {
      // An interface export's bridge comes or goes: the apply steps (only
      // the host of that bridge changes).
      topology::ParsedTopology parsed;
      parsed.topology = next;
      DeployAs as;
      as.owner = found->owner();
      EMU_RETURN_IF_ERROR(ApplyLeased(std::move(parsed), as,
                                      /*dry_run=*/false,
                                      [](const emu::v1::DeployEvent&) {}));
    }
    // A segment export changes no host: only the record (apply records
    // the topology only when a host changes).
    EMU_ASSIGN_OR_RETURN(emu::v1::Lab stored, store_->Get(key));
    *stored.mutable_topology()->mutable_community() = next.community();
    stored.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
    EMU_RETURN_IF_ERROR(Record(stored));
  }
  // Labs attached to it attach (or detach) now, not at the next heartbeat.
  ReconcileCommunity([](const std::string&) {});
  emu::v1::CommunityEndpoint endpoint;
  if (remove) return endpoint;
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, store_->List());
  for (auto& e : community::VisibleEndpoints(labs, "", /*admin=*/true)) {
    if (LabKey(e.owner() == community::kAdministrator ? "" : e.owner(),
               e.lab()) == key &&
        e.name() == spec.name()) {
      endpoint = std::move(e);
    }
  }
  return endpoint;
}

}  // namespace emu::controller::lab
