// AgentService over gRPC's callback API. Authentication is checked first in
// every call; blocking work (netlink, waiting for commands) runs on a
// ThreadPool, never on gRPC's reaction threads.
//
// Thread-safe. Borrows the reconciler and the pool.
#ifndef EMU_AGENT_AGENT_SERVICE_H_
#define EMU_AGENT_AGENT_SERVICE_H_

#include <string>

#include "agent/guest/image_store.h"
#include "agent/reconcile/reconciler.h"
#include "common/thread_pool.h"
#include "proto/agent.grpc.pb.h"

namespace emu::agent {

class AgentServiceImpl final : public emu::v1::AgentService::CallbackService {
 public:
  AgentServiceImpl(reconcile::Reconciler* reconciler,
                   guest::ImageStore* images,
                   emu::v1::Capabilities capabilities, std::string token,
                   ThreadPool* pool);

  grpc::ServerUnaryReactor* GetCapabilities(
      grpc::CallbackServerContext* context,
      const emu::v1::GetCapabilitiesRequest* request,
      emu::v1::Capabilities* response) override;
  grpc::ServerWriteReactor<emu::v1::ApplyLabEvent>* ApplyLab(
      grpc::CallbackServerContext* context,
      const emu::v1::ApplyLabRequest* request) override;
  grpc::ServerUnaryReactor* SetLinkParams(
      grpc::CallbackServerContext* context,
      const emu::v1::SetLinkParamsRequest* request,
      emu::v1::SetLinkParamsResponse* response) override;
  grpc::ServerUnaryReactor* Exec(grpc::CallbackServerContext* context,
                                 const emu::v1::ExecRequest* request,
                                 emu::v1::ExecResponse* response) override;
  grpc::ServerUnaryReactor* ListResources(
      grpc::CallbackServerContext* context,
      const emu::v1::ListResourcesRequest* request,
      emu::v1::ListResourcesResponse* response) override;
  grpc::ServerUnaryReactor* DestroyLab(
      grpc::CallbackServerContext* context,
      const emu::v1::DestroyLabRequest* request,
      emu::v1::DestroyLabResponse* response) override;
  grpc::ServerUnaryReactor* ListImages(
      grpc::CallbackServerContext* context,
      const emu::v1::ListImagesRequest* request,
      emu::v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* BuildImage(
      grpc::CallbackServerContext* context,
      const emu::v1::BuildImageRequest* request,
      emu::v1::BuildImageResponse* response) override;

 private:
  reconcile::Reconciler* const reconciler_;
  guest::ImageStore* const images_;
  const emu::v1::Capabilities capabilities_;
  const std::string token_;
  ThreadPool* const pool_;
};

}  // namespace emu::agent

#endif  // EMU_AGENT_AGENT_SERVICE_H_
