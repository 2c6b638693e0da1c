// AgentService over gRPC's callback API. Authentication is checked first in
// every call; blocking work (netlink, waiting for commands) runs on a
// ThreadPool, never on gRPC's reaction threads.
//
// Thread-safe. Borrows the reconciler, the pool and the observers.
#ifndef EMU_AGENT_AGENT_SERVICE_H_
#define EMU_AGENT_AGENT_SERVICE_H_

#include <string>

#include "agent/capture/packet_source.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/guest/image_store.h"
#include "agent/reconcile/reconciler.h"
#include "agent/stats/lab_counters.h"
#include "common/thread_pool.h"
#include "proto/agent.grpc.pb.h"

namespace emu::agent {

class AgentServiceImpl final : public emu::v1::AgentService::CallbackService {
 public:
  // What Capture, GetLabStats and the image RPCs use (all borrowed; a null
  // member makes its RPCs FAILED_PRECONDITION).
  struct Observers {
    const reconcile::LabSpecStore* specs = nullptr;
    capture::PacketSourceOpener* captures = nullptr;
    stats::LabCounterCollector* counters = nullptr;
    guest::ImageStore* images = nullptr;
  };

  AgentServiceImpl(reconcile::Reconciler* reconciler, emu::v1::Capabilities capabilities,
                   std::string token, ThreadPool* pool,
                   Observers observers);

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
  grpc::ServerWriteReactor<emu::v1::CaptureChunk>* Capture(
      grpc::CallbackServerContext* context,
      const emu::v1::CaptureRequest* request) override;
  grpc::ServerUnaryReactor* GetLabStats(
      grpc::CallbackServerContext* context,
      const emu::v1::GetLabStatsRequest* request,
      emu::v1::LabCounters* response) override;
  grpc::ServerUnaryReactor* ListImages(
      grpc::CallbackServerContext* context,
      const emu::v1::ListImagesRequest* request,
      emu::v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* BuildImage(
      grpc::CallbackServerContext* context,
      const emu::v1::BuildImageRequest* request,
      emu::v1::BuildImageResponse* response) override;

 private:
  // The lab's saved spec; NOT_FOUND naming the lab when this host has none.
  absl::StatusOr<emu::v1::ApplyLabRequest> Spec(const std::string& lab) const;

  reconcile::Reconciler* const reconciler_;
  const emu::v1::Capabilities capabilities_;
  const std::string token_;
  ThreadPool* const pool_;
  const Observers observers_;
};

}  // namespace emu::agent

#endif  // EMU_AGENT_AGENT_SERVICE_H_
