#include "controller/controller_service.h"

#include <utility>

#include "common/auth.h"
#include "common/log.h"
#include "common/reactors.h"
#include "controller/placement/lab_planner.h"

namespace emu::controller {

ControllerServiceImpl::ControllerServiceImpl(lab::LabManager* labs,
                                             hosts::HostRegistry* hosts,
                                             std::string token,
                                             ThreadPool* pool)
    : labs_(labs), hosts_(hosts), token_(std::move(token)), pool_(pool) {}

grpc::ServerUnaryReactor* ControllerServiceImpl::ValidateTopology(
    grpc::CallbackServerContext* context,
    const emu::v1::ValidateTopologyRequest* request,
    emu::v1::ValidateTopologyResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    auto parsed = labs_->Validate(request->source());
    if (!parsed.ok()) return parsed.status();
    *response->mutable_topology() = parsed->topology;
    for (const auto& w : parsed->warnings) response->add_warnings(w);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DeployLab(grpc::CallbackServerContext* context,
                                 const emu::v1::DeployLabRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, token_, pool_,
      [this, source = request->source()](const auto& push) {
        absl::Time start = absl::Now();
        absl::Status s = labs_->Deploy(source, push);
        Log("deploy ", source.has_file() ? source.file().name() : "topology",
            ": ", s.ok() ? "ok" : s.ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return s;
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
        return s;
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
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    auto plan = emu::controller::placement::PlanLab(*labs_, hosts_, *request);
    if (!plan.ok()) return plan.status();
    *response = *std::move(plan);
    return absl::OkStatus();
  });
}

}  // namespace emu::controller
