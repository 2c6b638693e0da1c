#include "agent/agent_service.h"

#include <utility>

#include "common/auth.h"
#include "common/log.h"
#include "common/reactors.h"
#include "common/status_macros.h"
#include "proto/request_names.h"

namespace emu::agent {

AgentServiceImpl::AgentServiceImpl(reconcile::Reconciler* reconciler,
                                   guest::ImageStore* images,
                                   emu::v1::Capabilities capabilities,
                                   std::string token, ThreadPool* pool)
    : reconciler_(reconciler),
      images_(images),
      capabilities_(std::move(capabilities)),
      token_(std::move(token)),
      pool_(pool) {}

grpc::ServerUnaryReactor* AgentServiceImpl::GetCapabilities(
    grpc::CallbackServerContext* context,
    const emu::v1::GetCapabilitiesRequest*, emu::v1::Capabilities* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status auth = CheckAuthToken(*context, token_);
  if (auth.ok()) *response = capabilities_;
  reactor->Finish(auth);
  return reactor;
}

grpc::ServerWriteReactor<emu::v1::ApplyLabEvent>* AgentServiceImpl::ApplyLab(
    grpc::CallbackServerContext* context,
    const emu::v1::ApplyLabRequest* request) {
  return OffloadStream<emu::v1::ApplyLabEvent>(
      context, token_, pool_,
      [this, spec = *request](const auto& push) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::agent::Check(spec));
        absl::Time start = absl::Now();
        absl::Status s = reconciler_->Apply(spec, push);
        Log("apply lab ", spec.lab(), " (", spec.nodes_size(), " nodes, ",
            spec.links_size(), " links): ", s.ok() ? "ok" : s.ToString(),
            " in ", absl::FormatDuration(absl::Now() - start));
        return s;
      });
}

grpc::ServerUnaryReactor* AgentServiceImpl::SetLinkParams(
    grpc::CallbackServerContext* context,
    const emu::v1::SetLinkParamsRequest* request,
    emu::v1::SetLinkParamsResponse*) {
  return OffloadUnary(context, token_, pool_, [this, request] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    return reconciler_->SetLinkParams(*request);
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::Exec(
    grpc::CallbackServerContext* context, const emu::v1::ExecRequest* request,
    emu::v1::ExecResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    auto result = reconciler_->Exec(*request);
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::ListResources(
    grpc::CallbackServerContext* context,
    const emu::v1::ListResourcesRequest* request,
    emu::v1::ListResourcesResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    auto result = reconciler_->ListResources(request->lab());
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::DestroyLab(
    grpc::CallbackServerContext* context,
    const emu::v1::DestroyLabRequest* request,
    emu::v1::DestroyLabResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    absl::Time start = absl::Now();
    auto removed = reconciler_->Destroy(request->lab());
    Log("destroy lab ", request->lab(), ": ",
        removed.ok() ? absl::StrCat(*removed, " removed")
                     : removed.status().ToString(),
        " in ", absl::FormatDuration(absl::Now() - start));
    if (!removed.ok()) return removed.status();
    response->set_removed(*removed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::ListImages(
    grpc::CallbackServerContext* context, const emu::v1::ListImagesRequest*,
    emu::v1::ListImagesResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, response] {
    EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::GuestImageInfo> images,
                         images_->List());
    for (auto& i : images) *response->add_images() = std::move(i);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::BuildImage(
    grpc::CallbackServerContext* context,
    const emu::v1::BuildImageRequest* request,
    emu::v1::BuildImageResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    Log("image ", request->name(), ": building with recipe ",
        request->recipe().empty() ? "default" : request->recipe());
    auto built = images_->Build(*request);
    Log("image ", request->name(), ": ",
        built.ok() ? (built->up_to_date()
                          ? std::string("up to date")
                          : absl::StrCat("built in ", built->seconds(), " s"))
                   : built.status().ToString());
    if (!built.ok()) return built.status();
    *response = *std::move(built);
    return absl::OkStatus();
  });
}

}  // namespace emu::agent
