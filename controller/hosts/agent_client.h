// The controller's view of one agent: AgentService calls with deadlines,
// the cluster token, and errors that name the host ("host h2
// (198.18.0.12:7471) unreachable: ..."). An interface so the lab manager's
// tests run against fakes.
//
// Implementations are thread-safe.
#ifndef EMU_CONTROLLER_HOSTS_AGENT_CLIENT_H_
#define EMU_CONTROLLER_HOSTS_AGENT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/agent.grpc.pb.h"

namespace emu::controller::hosts {

// Ends a streaming call from another thread (the caller of the relayed
// stream went away). Cancel may come before the call starts; the call then
// ends at once. Thread-safe.
class CallCanceller {
 public:
  void Cancel();
  bool cancelled() const;
  // For the client: the context of the call in flight (null: none).
  // Returns false when already cancelled (the call should not start).
  bool Bind(grpc::ClientContext* context);

 private:
  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

class AgentClient {
 public:
  using ChunkFn = std::function<void(const emu::v1::CaptureChunk&)>;
  using ProgressFn = std::function<void(const emu::v1::ApplyLabEvent&)>;
  virtual ~AgentClient() = default;

  virtual absl::StatusOr<emu::v1::Capabilities> GetCapabilities(
      absl::Duration timeout) = 0;
  virtual absl::Status ApplyLab(const emu::v1::ApplyLabRequest& request,
                                const ProgressFn& progress) = 0;
  virtual absl::Status SetLinkParams(
      const emu::v1::SetLinkParamsRequest& request) = 0;
  virtual absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& request) = 0;
  // What the agent owns of `lab` (empty: of every lab), of the given kinds
  // only (empty: every kind; asking for TUNNEL or STATE_FILE only spares
  // the agent a look into each of the lab's namespaces).
  virtual absl::StatusOr<emu::v1::ListResourcesResponse> ListResources(
      const std::string& lab,
      const std::vector<emu::v1::OwnedResource::Kind>& kinds) = 0;
  // Returns the number of resources removed.
  virtual absl::StatusOr<int> DestroyLab(const std::string& lab) = 0;
  // AgentService.Capture: hands each chunk to `on_chunk` (which may block:
  // the agent's queue then fills and drops, which is the point) until the
  // capture ends (OK), fails, or `cancel` is cancelled (CANCELLED).
  virtual absl::Status Capture(const emu::v1::CaptureRequest& request,
                               CallCanceller* cancel,
                               const ChunkFn& on_chunk) = 0;
  virtual absl::StatusOr<emu::v1::LabCounters> GetLabStats(
      const std::string& lab) = 0;
  virtual absl::StatusOr<emu::v1::ListImagesResponse> ListImages() = 0;
  // Waits for the build (minutes for a Debian image).
  virtual absl::StatusOr<emu::v1::BuildImageResponse> BuildImage(
      const emu::v1::BuildImageRequest& request) = 0;
};

// gRPC implementation over an AgentService stub.
class GrpcAgentClient : public AgentClient {
 public:
  // Connects lazily to `address` (host:port) over `transport` (mutual TLS:
  // the agent must present the certificate of `host`).
  GrpcAgentClient(std::string host, std::string address, std::string token,
                  const TransportSecurity& transport);
  // For tests: any stub (e.g. a mock).
  GrpcAgentClient(std::string host, std::string address, std::string token,
                  std::unique_ptr<emu::v1::AgentService::StubInterface> stub);
  // A channel made by the caller (a test's, to a server of its own).
  GrpcAgentClient(std::string host, std::string address, std::string token,
                  std::shared_ptr<grpc::Channel> channel);

  absl::StatusOr<emu::v1::Capabilities> GetCapabilities(
      absl::Duration timeout) override;
  absl::Status ApplyLab(const emu::v1::ApplyLabRequest& request,
                        const ProgressFn& progress) override;
  absl::Status SetLinkParams(
      const emu::v1::SetLinkParamsRequest& request) override;
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& request) override;
  absl::StatusOr<emu::v1::ListResourcesResponse> ListResources(
      const std::string& lab,
      const std::vector<emu::v1::OwnedResource::Kind>& kinds) override;
  absl::StatusOr<int> DestroyLab(const std::string& lab) override;
  absl::Status Capture(const emu::v1::CaptureRequest& request,
                       CallCanceller* cancel, const ChunkFn& on_chunk) override;
  absl::StatusOr<emu::v1::LabCounters> GetLabStats(
      const std::string& lab) override;
  absl::StatusOr<emu::v1::ListImagesResponse> ListImages() override;
  absl::StatusOr<emu::v1::BuildImageResponse> BuildImage(
      const emu::v1::BuildImageRequest& request) override;

 private:
  void Prepare(grpc::ClientContext* context, absl::Duration timeout) const;
  absl::Status Convert(const grpc::Status& status) const;

  const std::string host_;
  const std::string address_;
  const std::string token_;
  // The stub's channel (null with a test's stub): before each call, a
  // channel that failed tries again at once (common/channel_reconnect.h).
  const std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<emu::v1::AgentService::StubInterface> stub_;
};

}  // namespace emu::controller::hosts

#endif  // EMU_CONTROLLER_HOSTS_AGENT_CLIENT_H_
