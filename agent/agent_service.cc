#include "agent/agent_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/capture/capture_stream.h"
#include "agent/net/resource_names.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/reactors.h"
#include "common/status_macros.h"
#include "proto/request_names.h"

namespace emu::agent {

AgentServiceImpl::AgentServiceImpl(reconcile::Reconciler* reconciler,
                                   emu::v1::Capabilities capabilities,
                                   std::string token, ThreadPool* pool,
                                   Observers observers)
    : reconciler_(reconciler),
      capabilities_(std::move(capabilities)),
      token_(std::move(token)),
      pool_(pool),
      observers_(observers) {}

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
    const absl::flat_hash_set<int> kinds(request->kinds().begin(),
                                         request->kinds().end());
    auto result = reconciler_->ListResources(request->lab(), kinds);
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

absl::StatusOr<emu::v1::ApplyLabRequest> AgentServiceImpl::Spec(
    const std::string& lab) const {
  if (observers_.specs == nullptr) {
    return absl::FailedPreconditionError("this agent keeps no lab specs");
  }
  auto spec = observers_.specs->Load(lab);
  if (absl::IsNotFound(spec.status())) {
    return absl::NotFoundError(absl::StrCat(
        "lab ", lab, " has nothing on host ", reconciler_->host()));
  }
  return spec;
}

grpc::ServerWriteReactor<emu::v1::CaptureChunk>* AgentServiceImpl::Capture(
    grpc::CallbackServerContext* context,
    const emu::v1::CaptureRequest* request) {
  auto reject = [](grpc::Status s) {
    auto* r = new QueuedWriteReactor<emu::v1::CaptureChunk>();
    r->Reject(std::move(s));
    return r;
  };
  grpc::Status auth = CheckAuthToken(*context, token_);
  if (!auth.ok()) return reject(auth);
  if (absl::Status s = request_names::agent::Check(*request); !s.ok()) {
    return reject(ToGrpcStatus(s));
  }
  if (observers_.captures == nullptr) {
    return reject(ToGrpcStatus(
        absl::FailedPreconditionError("this agent does not capture")));
  }
  capture::CaptureStreamDeps deps;
  deps.host = reconciler_->host();
  deps.opener = observers_.captures;
  deps.pool = pool_;
  deps.resolve = [this](const emu::v1::CaptureRequest& r)
      -> absl::StatusOr<capture::CaptureTarget> {
    EMU_ASSIGN_OR_RETURN(emu::v1::ApplyLabRequest spec, Spec(r.lab()));
    for (const auto& n : spec.nodes()) {
      if (n.name() != r.node()) continue;
      capture::CaptureTarget t;
      t.netns = net::NodeNamespace(reconciler_->host(), r.lab(), n);
      t.interface = r.interface();
      t.filter = r.filter();
      t.snaplen = r.snaplen();
      return t;
    }
    return absl::NotFoundError(absl::StrCat("node ", r.node(), " of lab ",
                                            r.lab(), " is not on host ",
                                            reconciler_->host()));
  };
  return capture::StartCaptureStream(*request, deps);
}

grpc::ServerUnaryReactor* AgentServiceImpl::GetLabStats(
    grpc::CallbackServerContext* context,
    const emu::v1::GetLabStatsRequest* request,
    emu::v1::LabCounters* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    if (observers_.counters == nullptr) {
      return absl::FailedPreconditionError("this agent keeps no counters");
    }
    EMU_ASSIGN_OR_RETURN(emu::v1::ApplyLabRequest spec, Spec(request->lab()));
    *response = observers_.counters->Collect(spec);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AgentServiceImpl::ListImages(
    grpc::CallbackServerContext* context, const emu::v1::ListImagesRequest*,
    emu::v1::ListImagesResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, response] {
    if (observers_.images == nullptr) {
      return absl::FailedPreconditionError("this agent keeps no images");
    }
    EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::GuestImageInfo> images,
                         observers_.images->List());
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
    if (observers_.images == nullptr) {
      return absl::FailedPreconditionError("this agent builds no images");
    }
    Log("image ", request->name(), ": building with recipe ",
        request->recipe().empty() ? "default" : request->recipe());
    auto built = observers_.images->Build(*request);
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
