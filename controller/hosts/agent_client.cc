#include "controller/hosts/agent_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/channel_reconnect.h"
#include "common/grpc_limits.h"
#include "common/grpc_status.h"

namespace emu::controller::hosts {
namespace {

// Long enough for a 100-node apply on a slow host; Exec adds its own timeout.
constexpr absl::Duration kApplyTimeout = absl::Minutes(10);
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
// A Debian image downloads and unpacks a few hundred packages (the agent
// gives up on its own after 40 minutes).
constexpr absl::Duration kImageBuildTimeout = absl::Minutes(45);

// A capture runs until the user stops it; the deadline only bounds a
// forgotten one.
constexpr absl::Duration kCaptureTimeout = absl::Hours(24);
constexpr absl::Duration kStatsTimeout = absl::Seconds(10);

}  // namespace

void CallCanceller::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool CallCanceller::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool CallCanceller::Bind(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  context_ = context;
  return !cancelled_;
}

GrpcAgentClient::GrpcAgentClient(std::string host, std::string address,
                                 std::string token,
                                 const TransportSecurity& transport)
    : GrpcAgentClient(host, address, token,
                      NewChannel(transport, address, host)) {}

GrpcAgentClient::GrpcAgentClient(std::string host, std::string address,
                                 std::string token,
                                 std::shared_ptr<grpc::Channel> channel)
    : host_(std::move(host)),
      address_(std::move(address)),
      token_(std::move(token)),
      channel_(std::move(channel)),
      stub_(emu::v1::AgentService::NewStub(channel_)) {}

GrpcAgentClient::GrpcAgentClient(
    std::string host, std::string address, std::string token,
    std::unique_ptr<emu::v1::AgentService::StubInterface> stub)
    : host_(std::move(host)),
      address_(std::move(address)),
      token_(std::move(token)),
      stub_(std::move(stub)) {}

void GrpcAgentClient::Prepare(grpc::ClientContext* context,
                              absl::Duration timeout) const {
  AddAuthToken(context, token_);
  // An agent restarted a moment ago is reached now, not after the
  // channel's backoff; one still down costs at most this wait (a quarter
  // of the call's time), then the call fails as before.
  if (channel_ != nullptr) {
    ReconnectNow(*channel_, std::min(kReconnectWait, timeout / 4));
  }
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::Status GrpcAgentClient::Convert(const grpc::Status& status) const {
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(
        absl::StrCat("host ", host_, " (agent at ", address_,
                     ") unreachable: ", status.error_message()));
  }
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat("host ", host_, ": ", status.error_message()));
}

absl::StatusOr<emu::v1::Capabilities> GrpcAgentClient::GetCapabilities(
    absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(&context, timeout);
  emu::v1::Capabilities caps;
  grpc::Status s = stub_->GetCapabilities(
      &context, emu::v1::GetCapabilitiesRequest(), &caps);
  if (!s.ok()) return Convert(s);
  return caps;
}

absl::Status GrpcAgentClient::ApplyLab(const emu::v1::ApplyLabRequest& request,
                                       const ProgressFn& progress) {
  grpc::ClientContext context;
  Prepare(&context, kApplyTimeout);
  auto reader = stub_->ApplyLab(&context, request);
  emu::v1::ApplyLabEvent event;
  while (reader->Read(&event)) progress(event);
  return Convert(reader->Finish());
}

absl::Status GrpcAgentClient::SetLinkParams(
    const emu::v1::SetLinkParamsRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, kCallTimeout);
  emu::v1::SetLinkParamsResponse resp;
  return Convert(stub_->SetLinkParams(&context, request, &resp));
}

absl::StatusOr<emu::v1::ExecResponse> GrpcAgentClient::Exec(
    const emu::v1::ExecRequest& request) {
  grpc::ClientContext context;
  absl::Duration timeout = request.timeout_ms() > 0
                               ? absl::Milliseconds(request.timeout_ms())
                               : absl::Seconds(60);
  Prepare(&context, timeout + absl::Seconds(15));
  emu::v1::ExecResponse resp;
  grpc::Status s = stub_->Exec(&context, request, &resp);
  if (!s.ok()) return Convert(s);
  return resp;
}

absl::StatusOr<emu::v1::ListResourcesResponse> GrpcAgentClient::ListResources(
    const std::string& lab,
    const std::vector<emu::v1::OwnedResource::Kind>& kinds) {
  grpc::ClientContext context;
  Prepare(&context, kCallTimeout);
  emu::v1::ListResourcesRequest req;
  req.set_lab(lab);
  for (auto kind : kinds) req.add_kinds(kind);
  emu::v1::ListResourcesResponse resp;
  grpc::Status s = stub_->ListResources(&context, req, &resp);
  if (!s.ok()) return Convert(s);
  return resp;
}

absl::StatusOr<int> GrpcAgentClient::DestroyLab(const std::string& lab) {
  grpc::ClientContext context;
  Prepare(&context, kApplyTimeout);
  emu::v1::DestroyLabRequest req;
  req.set_lab(lab);
  emu::v1::DestroyLabResponse resp;
  grpc::Status s = stub_->DestroyLab(&context, req, &resp);
  if (!s.ok()) return Convert(s);
  return static_cast<int>(resp.removed());
}

absl::Status GrpcAgentClient::Capture(const emu::v1::CaptureRequest& request,
                                      CallCanceller* cancel,
                                      const ChunkFn& on_chunk) {
  grpc::ClientContext context;
  Prepare(&context, kCaptureTimeout);
  if (!cancel->Bind(&context)) {
    return absl::CancelledError("capture: cancelled before it started");
  }
  auto reader = stub_->Capture(&context, request);
  emu::v1::CaptureChunk chunk;
  while (reader->Read(&chunk)) on_chunk(chunk);
  grpc::Status s = reader->Finish();
  cancel->Bind(nullptr);
  if (cancel->cancelled()) {
    return absl::CancelledError("capture: the caller went away");
  }
  return Convert(s);
}

absl::StatusOr<emu::v1::LabCounters> GrpcAgentClient::GetLabStats(
    const std::string& lab) {
  grpc::ClientContext context;
  Prepare(&context, kStatsTimeout);
  emu::v1::GetLabStatsRequest req;
  req.set_lab(lab);
  emu::v1::LabCounters resp;
  grpc::Status s = stub_->GetLabStats(&context, req, &resp);
  if (!s.ok()) return Convert(s);
  return resp;
}

absl::StatusOr<emu::v1::ListImagesResponse> GrpcAgentClient::ListImages() {
  grpc::ClientContext context;
  Prepare(&context, kCallTimeout);
  emu::v1::ListImagesResponse resp;
  grpc::Status s =
      stub_->ListImages(&context, emu::v1::ListImagesRequest(), &resp);
  if (!s.ok()) return Convert(s);
  return resp;
}

absl::StatusOr<emu::v1::BuildImageResponse> GrpcAgentClient::BuildImage(
    const emu::v1::BuildImageRequest& request) {
  grpc::ClientContext context;
  Prepare(&context, kImageBuildTimeout);
  emu::v1::BuildImageResponse resp;
  grpc::Status s = stub_->BuildImage(&context, request, &resp);
  if (!s.ok()) return Convert(s);
  return resp;
}

}  // namespace emu::controller::hosts
