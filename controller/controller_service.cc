#include "controller/controller_service.h"

#include <utility>

#include "common/auth.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/stream_writer.h"

namespace emu::controller {

ControllerServiceImpl::ControllerServiceImpl(LabManager* labs,
                                             HostRegistry* hosts,
                                             std::string token,
                                             ThreadPool* pool)
    : labs_(labs), hosts_(hosts), token_(std::move(token)), pool_(pool) {}

grpc::ServerUnaryReactor* ControllerServiceImpl::Offload(
    grpc::CallbackServerContext* context, std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = CheckAuthToken(*context, token_);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  pool_->Schedule([reactor, work = std::move(work)] {
    reactor->Finish(ToGrpcStatus(work()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ValidateTopology(
    grpc::CallbackServerContext* context,
    const emu::v1::ValidateTopologyRequest* request,
    emu::v1::ValidateTopologyResponse* response) {
  return Offload(context, [this, request, response] {
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
  auto* reactor = new QueuedWriteReactor<emu::v1::DeployEvent>();
  grpc::Status auth = CheckAuthToken(*context, token_);
  if (!auth.ok()) {
    reactor->Reject(auth);
    return reactor;
  }
  emu::v1::TopologySource source = request->source();
  pool_->Schedule([this, reactor, source = std::move(source)] {
    absl::Time start = absl::Now();
    absl::Status s = labs_->Deploy(
        source, [reactor](const emu::v1::DeployEvent& e) { reactor->Push(e); });
    Log("deploy ", source.has_file() ? source.file().name() : "topology", ": ",
        s.ok() ? "ok" : s.ToString(), " in ",
        absl::FormatDuration(absl::Now() - start));
    reactor->Complete(ToGrpcStatus(s));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetLab(
    grpc::CallbackServerContext* context, const emu::v1::GetLabRequest* request,
    emu::v1::Lab* response) {
  return Offload(context, [this, request, response] {
    auto lab = labs_->Get(request->lab());
    if (!lab.ok()) return lab.status();
    *response = *std::move(lab);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListLabs(
    grpc::CallbackServerContext* context, const emu::v1::ListLabsRequest*,
    emu::v1::ListLabsResponse* response) {
  return Offload(context, [this, response] {
    auto labs = labs_->List();
    if (!labs.ok()) return labs.status();
    for (auto& l : *labs) *response->add_labs() = std::move(l);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DestroyLab(grpc::CallbackServerContext* context,
                                  const emu::v1::DestroyLabRequest* request) {
  auto* reactor = new QueuedWriteReactor<emu::v1::DeployEvent>();
  grpc::Status auth = CheckAuthToken(*context, token_);
  if (!auth.ok()) {
    reactor->Reject(auth);
    return reactor;
  }
  std::string lab = request->lab();
  pool_->Schedule([this, reactor, lab] {
    absl::Time start = absl::Now();
    absl::Status s = labs_->Destroy(
        lab, [reactor](const emu::v1::DeployEvent& e) { reactor->Push(e); });
    Log("destroy lab ", lab, ": ", s.ok() ? "ok" : s.ToString(), " in ",
        absl::FormatDuration(absl::Now() - start));
    reactor->Complete(ToGrpcStatus(s));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControllerServiceImpl::Exec(
    grpc::CallbackServerContext* context,
    const emu::v1::LabExecRequest* request, emu::v1::ExecResponse* response) {
  return Offload(context, [this, request, response] {
    auto r = labs_->Exec(*request);
    if (!r.ok()) return r.status();
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListHosts(
    grpc::CallbackServerContext* context, const emu::v1::ListHostsRequest*,
    emu::v1::ListHostsResponse* response) {
  return Offload(context, [this, response] {
    for (auto& h : hosts_->Snapshot()) *response->add_hosts() = std::move(h);
    return absl::OkStatus();
  });
}

}  // namespace emu::controller
