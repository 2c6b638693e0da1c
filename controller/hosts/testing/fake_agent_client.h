// FakeAgentClient: an in-memory agent for the controller's unit tests. It
// records which labs it holds, replays scripted progress, and fails on
// request (unreachable host, apply error, failing exec).
#ifndef EMU_CONTROLLER_HOSTS_TESTING_FAKE_AGENT_CLIENT_H_
#define EMU_CONTROLLER_HOSTS_TESTING_FAKE_AGENT_CLIENT_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller/hosts/agent_client.h"

namespace emu::controller::hosts {

class FakeAgentClient : public AgentClient {
 public:
  explicit FakeAgentClient(std::string host);

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
  // Replays the chunks given to SetCapture (NOT_FOUND for a lab it does
  // not hold), stopping early when cancelled.
  absl::Status Capture(const emu::v1::CaptureRequest& request,
                       CallCanceller* cancel, const ChunkFn& on_chunk) override;
  // What SetLabCounters gave for the lab; NOT_FOUND for a lab it does not
  // hold.
  absl::StatusOr<emu::v1::LabCounters> GetLabStats(
      const std::string& lab) override;

  // Test controls. Thread-safe.
  void SetCapture(std::vector<emu::v1::CaptureChunk> chunks);
  void SetLabCounters(const std::string& lab, emu::v1::LabCounters counters);
  std::vector<emu::v1::CaptureRequest> captures() const;
  // The images set with AddImage.
  absl::StatusOr<emu::v1::ListImagesResponse> ListImages() override;
  // Records the request; answers with the result set by SetBuildResult
  // (default: built in 1 s).
  absl::StatusOr<emu::v1::BuildImageResponse> BuildImage(
      const emu::v1::BuildImageRequest& request) override;

  // Test controls. Thread-safe.
  void AddImage(emu::v1::GuestImageInfo image);
  void SetBuildResult(absl::StatusOr<emu::v1::BuildImageResponse> result);
  std::vector<emu::v1::BuildImageRequest> builds() const;
  void SetReachable(bool reachable);
  void FailApplyWith(absl::Status status);  // after creating the nodes
  // Exec of a command line containing `needle` exits with `code`.
  void FailExecContaining(std::string needle, int code);
  emu::v1::Capabilities& capabilities() { return caps_; }

  // Labs this fake "host" holds and the nodes in each.
  std::map<std::string, std::vector<std::string>> labs() const;
  std::vector<emu::v1::ExecRequest> execs() const;
  int destroy_calls() const;
  // Every ApplyLab request received, in order.
  std::vector<emu::v1::ApplyLabRequest> applies() const;
  // Every SetLinkParams request received, in order.
  std::vector<emu::v1::SetLinkParamsRequest> link_params() const;
  // The kinds each ListResources call asked for, in order.
  std::vector<std::vector<emu::v1::OwnedResource::Kind>> listed_kinds() const;
  // Forgets every lab, as a host that lost its state would.
  void LoseState();
  // ListResources reports a TUNNEL `link_id` of `lab` in `state` (ApplyLab
  // reports each remote link's tunnel "up" unless set here).
  void SetTunnel(const std::string& lab, const std::string& link_id,
                 const std::string& state);
  // ListResources reports a QEMU guest `node` of `lab` (its STATE_FILE) in
  // `state` with `detail` (the exit reason when "exited").
  void SetGuest(const std::string& lab, const std::string& node,
                const std::string& state, const std::string& detail = "");

 private:
  absl::Status CheckReachable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string host_;
  emu::v1::Capabilities caps_;
  mutable absl::Mutex mu_;
  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  absl::Status apply_error_ ABSL_GUARDED_BY(mu_);
  std::string exec_needle_ ABSL_GUARDED_BY(mu_);
  int exec_code_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::vector<std::string>> labs_ ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::ExecRequest> execs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<emu::v1::OwnedResource::Kind>> listed_kinds_
      ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::CaptureChunk> capture_chunks_ ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::CaptureRequest> captures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, emu::v1::LabCounters> counters_ ABSL_GUARDED_BY(mu_);
  int destroy_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<emu::v1::ApplyLabRequest> applies_ ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::SetLinkParamsRequest> link_params_
      ABSL_GUARDED_BY(mu_);
  // lab -> link id -> state
  std::map<std::string, std::map<std::string, std::string>> tunnels_
      ABSL_GUARDED_BY(mu_);
  // lab -> node -> (state, detail)
  std::map<std::string,
           std::map<std::string, std::pair<std::string, std::string>>>
      guests_ ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::GuestImageInfo> images_ ABSL_GUARDED_BY(mu_);
  std::vector<emu::v1::BuildImageRequest> builds_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::StatusOr<emu::v1::BuildImageResponse>> build_result_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::hosts

#endif  // EMU_CONTROLLER_HOSTS_TESTING_FAKE_AGENT_CLIENT_H_
