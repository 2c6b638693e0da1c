#include "controller/controller_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/reactors.h"
#include "common/status_macros.h"
#include "controller/placement/lab_planner.h"
#include "controller/topology/problems.h"

namespace emu::controller {
namespace {

// Work queued on the pool can outlive the caller's interest (it gave up, or
// its deadline passed while a big file was parsed): checked between steps
// so that an abandoned request stops taking the controller's time.
absl::Status CheckCaller(grpc::CallbackServerContext* context,
                         absl::string_view step) {
  if (!context->IsCancelled()) return absl::OkStatus();
  return absl::CancelledError(
      absl::StrCat("stopped before ", step,
                   ": the caller cancelled or its deadline passed"));
}

// The file name the request gave, for problems' `file`.
std::string SourceFileName(const emu::v1::TopologySource& source) {
  return source.has_file() ? source.file().name() : std::string();
}

// A refused topology (INVALID_ARGUMENT) ends the stream with one event
// carrying every problem (in `state`); the status stays a few lines.
template <typename Push>
absl::Status Refused(const absl::Status& s,
                     const emu::v1::TopologySource& source,
                     emu::v1::LabState state, const Push& push) {
  if (absl::IsInvalidArgument(s)) {
    emu::v1::DeployEvent refused;
    refused.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
    refused.set_state(state);
    refused.set_message("topology refused");
    for (auto& p : topology::ProblemsFromStatus(s, SourceFileName(source),
                                                emu::v1::Problem::ERROR)) {
      *refused.add_problems() = std::move(p);
    }
    push(refused);
  }
  return topology::ShortStatus(s);
}

}  // namespace

ControllerServiceImpl::ControllerServiceImpl(lab::LabManager* labs,
                                             hosts::HostRegistry* hosts,
                                             std::string token,
                                             ThreadPool* pool)
    : labs_(labs), hosts_(hosts), token_(std::move(token)), pool_(pool) {}

grpc::ServerUnaryReactor* ControllerServiceImpl::ValidateTopology(
    grpc::CallbackServerContext* context,
    const emu::v1::ValidateTopologyRequest* request,
    emu::v1::ValidateTopologyResponse* response) {
  return OffloadUnary(context, token_, pool_,
                      [this, context, request, response] {
                        EMU_RETURN_IF_ERROR(CheckCaller(context, "validating"));
                        auto parsed = labs_->Validate(request->source());
                        EMU_RETURN_IF_ERROR(CheckCaller(context, "answering"));
                        // A refused topology is the answer to this call (status
                        // OK, every problem in the message); other failures
                        // stay failures.
                        auto answer = topology::ToValidateResponse(
                            parsed, SourceFileName(request->source()));
                        if (!answer.ok())
                          return topology::ShortStatus(answer.status());
                        *response = *std::move(answer);
                        return absl::OkStatus();
                      });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DeployLab(grpc::CallbackServerContext* context,
                                 const emu::v1::DeployLabRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, token_, pool_,
      [this, context, source = request->source()](const auto& push) {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "deploying"));
        absl::Time start = absl::Now();
        absl::Status s = labs_->Deploy(source, push);
        Log("deploy ", source.has_file() ? source.file().name() : "topology",
            ": ", s.ok() ? "ok" : topology::ShortStatus(s).ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return Refused(s, source, emu::v1::FAILED, push);
      });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::ApplyLab(grpc::CallbackServerContext* context,
                                const emu::v1::ApplyTopologyRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, token_, pool_,
      [this, context, source = request->source(),
       dry_run = request->dry_run()](const auto& push) {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "applying"));
        absl::Time start = absl::Now();
        absl::Status s = labs_->Apply(source, dry_run, push);
        Log("apply ", dry_run ? "(dry run) " : "",
            source.has_file() ? source.file().name() : "topology", ": ",
            s.ok() ? "ok" : topology::ShortStatus(s).ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        // The lab still runs (its previous topology) when the file is
        // refused.
        return Refused(s, source, emu::v1::RUNNING, push);
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetLab(
    grpc::CallbackServerContext* context, const emu::v1::GetLabRequest* request,
    emu::v1::Lab* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    auto lab = labs_->Get(request->lab());
    if (!lab.ok()) return lab.status();
    *response = *std::move(lab);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListLabs(
    grpc::CallbackServerContext* context, const emu::v1::ListLabsRequest*,
    emu::v1::ListLabsResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, response] {
    auto labs = labs_->List();
    if (!labs.ok()) return labs.status();
    for (auto& l : *labs) *response->add_labs() = std::move(l);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DestroyLab(grpc::CallbackServerContext* context,
                                  const emu::v1::DestroyLabRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, token_, pool_, [this, lab = request->lab()](const auto& push) {
        absl::Time start = absl::Now();
        absl::Status s = labs_->Destroy(lab, push);
        Log("destroy lab ", lab, ": ", s.ok() ? "ok" : s.ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return topology::ShortStatus(s);
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::Exec(
    grpc::CallbackServerContext* context,
    const emu::v1::LabExecRequest* request, emu::v1::ExecResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    auto r = labs_->Exec(*request);
    if (!r.ok()) return r.status();
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListHosts(
    grpc::CallbackServerContext* context, const emu::v1::ListHostsRequest*,
    emu::v1::ListHostsResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, response] {
    for (auto& h : hosts_->Snapshot()) *response->add_hosts() = std::move(h);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::PlanLab(
    grpc::CallbackServerContext* context,
    const emu::v1::PlanLabRequest* request,
    emu::v1::PlanLabResponse* response) {
  return OffloadUnary(
      context, token_, pool_, [this, context, request, response] {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "planning"));
        auto plan =
            emu::controller::placement::PlanLab(*labs_, hosts_, *request);
        // A refused topology is a short status here (the first problems and a
        // count); ValidateTopology gives the whole list in its response.
        if (!plan.ok()) return topology::ShortStatus(plan.status());
        EMU_RETURN_IF_ERROR(CheckCaller(context, "answering"));
        *response = *std::move(plan);
        return absl::OkStatus();
      });
}

}  // namespace emu::controller
