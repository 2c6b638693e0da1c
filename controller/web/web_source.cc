#include "controller/web/web_source.h"

#include "common/status_macros.h"
#include "controller/experiment/experiment_service.h"
#include "controller/lab/lab_manager.h"
#include "controller/users/lab_access.h"
#include "controller/users/user_directory.h"
#include "proto/request_names.h"

namespace emu::controller::web {

absl::StatusOr<Caller> ControllerWebSource::Identify(
    absl::string_view token) const {
  return users_->Identify(token);
}

absl::StatusOr<std::vector<emu::v1::Lab>> ControllerWebSource::Labs(
    const Caller& caller) const {
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, labs_->ListOutlines());
  return users::VisibleLabs(caller, *users_, std::move(labs));
}

absl::StatusOr<emu::v1::Lab> ControllerWebSource::Lab(
    const Caller& caller, const std::string& name) const {
  EMU_RETURN_IF_ERROR(request_names::CheckLabRef("lab", name));
  EMU_ASSIGN_OR_RETURN(users::LabRef ref,
                       users_->Authorize(caller, name, users::Verb::kView));
  auto lab = labs_->Get(ref.key);
  if (!lab.ok()) return users::InCallerTerms(lab.status(), ref);
  return users::AsSeenBy(caller, *std::move(lab));
}

absl::StatusOr<emu::v1::LabCounters> ControllerWebSource::Stats(
    const Caller& caller, const std::string& name) const {
  EMU_RETURN_IF_ERROR(request_names::CheckLabRef("lab", name));
  EMU_ASSIGN_OR_RETURN(users::LabRef ref,
                       users_->Authorize(caller, name, users::Verb::kView));
  auto counters = labs_->Stats(ref.key);
  if (!counters.ok()) return users::InCallerTerms(counters.status(), ref);
  counters->set_lab(name);
  return counters;
}

absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>>
ControllerWebSource::Runs(const Caller& caller) const {
  return experiments_->RunsVisibleTo(caller);
}

absl::StatusOr<emu::v1::RunResult> ControllerWebSource::Run(
    const Caller& caller, const std::string& id) const {
  return experiments_->RunDetail(caller, id);
}

}  // namespace emu::controller::web
