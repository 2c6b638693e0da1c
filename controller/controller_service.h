// ControllerService over gRPC's callback API: the caller identified first
// (the UserDirectory, common/reactors.h), then the LabManager's work on a
// ThreadPool (deploys and commands block), progress streamed back as it
// happens. Every call naming a lab resolves it for the caller ("core" is
// their own, "alice/core" another's) and checks their role on it
// (controller/users/permissions.h) before any work; a deploy is made under
// the caller's name and within their quota. A guest's console and restart
// are relayed to its agent (controller/guest), so that callers need a route
// to the controller only.
//
// Thread-safe. Borrows the manager, registry, directory, guest agents and
// pool.
#ifndef EMU_CONTROLLER_CONTROLLER_SERVICE_H_
#define EMU_CONTROLLER_CONTROLLER_SERVICE_H_

#include <atomic>
#include <string>

#include "common/thread_pool.h"
#include "controller/guest/guest_agents.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_manager.h"
#include "controller/users/user_directory.h"
#include "proto/controller.grpc.pb.h"

namespace emu::controller {

class ControllerServiceImpl final
    : public emu::v1::ControllerService::CallbackService {
 public:
  ControllerServiceImpl(lab::LabManager* labs, hosts::HostRegistry* hosts,
                        users::UserDirectory* users,
                        guest::GuestAgents* guests, ThreadPool* pool);

  grpc::ServerUnaryReactor* ValidateTopology(
      grpc::CallbackServerContext* context,
      const emu::v1::ValidateTopologyRequest* request,
      emu::v1::ValidateTopologyResponse* response) override;
  grpc::ServerWriteReactor<emu::v1::DeployEvent>* DeployLab(
      grpc::CallbackServerContext* context,
      const emu::v1::DeployLabRequest* request) override;
  grpc::ServerUnaryReactor* GetLab(grpc::CallbackServerContext* context,
                                   const emu::v1::GetLabRequest* request,
                                   emu::v1::Lab* response) override;
  grpc::ServerUnaryReactor* ListLabs(
      grpc::CallbackServerContext* context,
      const emu::v1::ListLabsRequest* request,
      emu::v1::ListLabsResponse* response) override;
  grpc::ServerWriteReactor<emu::v1::DeployEvent>* DestroyLab(
      grpc::CallbackServerContext* context,
      const emu::v1::DestroyLabRequest* request) override;
  grpc::ServerUnaryReactor* Exec(grpc::CallbackServerContext* context,
                                 const emu::v1::LabExecRequest* request,
                                 emu::v1::ExecResponse* response) override;
  grpc::ServerUnaryReactor* ListHosts(
      grpc::CallbackServerContext* context,
      const emu::v1::ListHostsRequest* request,
      emu::v1::ListHostsResponse* response) override;
  grpc::ServerUnaryReactor* PlanLab(
      grpc::CallbackServerContext* context,
      const emu::v1::PlanLabRequest* request,
      emu::v1::PlanLabResponse* response) override;
  grpc::ServerWriteReactor<emu::v1::DeployEvent>* ApplyLab(
      grpc::CallbackServerContext* context,
      const emu::v1::ApplyTopologyRequest* request) override;
  grpc::ServerUnaryReactor* SetLinkParams(
      grpc::CallbackServerContext* context,
      const emu::v1::LabSetLinkParamsRequest* request,
      emu::v1::LabSetLinkParamsResponse* response) override;
  grpc::ServerUnaryReactor* ListCommunity(
      grpc::CallbackServerContext* context,
      const emu::v1::ListCommunityRequest* request,
      emu::v1::ListCommunityResponse* response) override;
  grpc::ServerUnaryReactor* RemoveHost(
      grpc::CallbackServerContext* context,
      const emu::v1::RemoveHostRequest* request,
      emu::v1::RemoveHostResponse* response) override;
  grpc::ServerUnaryReactor* SetCommunityExport(
      grpc::CallbackServerContext* context,
      const emu::v1::SetCommunityExportRequest* request,
      emu::v1::SetCommunityExportResponse* response) override;
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
  grpc::ServerWriteReactor<emu::v1::BuildImageEvent>* BuildImage(
      grpc::CallbackServerContext* context,
      const emu::v1::BuildImageRequest* request) override;
  grpc::ServerBidiReactor<emu::v1::ConsoleInput, emu::v1::ConsoleOutput>*
  Console(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* RestartNode(
      grpc::CallbackServerContext* context,
      const emu::v1::RestartNodeRequest* request,
      emu::v1::RestartNodeResponse* response) override;

 private:
  lab::LabManager* const labs_;
  hosts::HostRegistry* const hosts_;
  users::UserDirectory* const users_;
  guest::GuestAgents* const guests_;
  ThreadPool* const pool_;
  std::atomic<int> captures_{0};  // relays running (capture_relay.h)
};

}  // namespace emu::controller

#endif  // EMU_CONTROLLER_CONTROLLER_SERVICE_H_
