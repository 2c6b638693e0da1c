#include "cli/connection.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/grpc_limits.h"
#include "common/status_macros.h"
#include "deploy/cluster_file.h"
#include "deploy/local_cluster_layout.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace emu::cli {

std::string DefaultClusterFile() {
  return deploy::ClusterFilePath(deploy::kDefaultStateRoot,
                                 deploy::kDefaultClusterId);
}

absl::StatusOr<ControllerTarget> ResolveControllerTarget(
    const ConnectionFlags& flags, absl::string_view env_cluster) {
  ControllerTarget target;
  target.token_file = flags.token_file;
  if (!flags.controller.empty()) {
    target.address = flags.controller;
    target.origin = "--controller";
  } else {
    std::string path = flags.cluster_file;
    if (path.empty()) path = std::string(env_cluster);
    if (path.empty()) path = DefaultClusterFile();
    absl::StatusOr<deploy::ClusterFile> file = deploy::ReadClusterFile(path);
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(absl::StrCat(
          "no emu cluster found: run `emuctl local start` or pass "
          "--controller (there is no ",
          path, ")"));
    }
    if (!file.ok()) return file.status();
    if (file->controller.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "the cluster in ", path, " has no controller address (state \"",
          file->state, "\"): is `emuctl local start` still running?"));
    }
    target.address = file->controller;
    target.origin = absl::StrCat("cluster file ", path);
    if (target.token_file.empty()) target.token_file = file->token_file;
  }
  if (!target.token_file.empty()) {
    EMU_ASSIGN_OR_RETURN(target.token, ReadTokenFile(target.token_file));
  }
  return target;
}

std::string DescribeRpcError(const grpc::Status& status, absl::string_view call,
                             const ControllerTarget& target, bool reached_server) {
  const std::string& message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (reached_server) return absl::StrCat(call, ": ", message);
      return absl::StrCat(
          "cannot reach the emu controller at ", target.address, " (from ",
          target.origin, "): ", message,
          "\nIs the cluster running? Start a local one with `emuctl local "
          "start`, or pass --controller.");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat(
          "the controller at ", target.address, " rejected ",
          target.token.empty()
              ? std::string("the call without a token")
              : absl::StrCat("the token from ", target.token_file),
          ": ", message, "\nPass the cluster's token with --token-file.");
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // gRPC says "Received message larger than max (N vs. M)": name emu's
      // limit and where it is set, so the user knows it is deliberate.
      return absl::StrCat(
          call, ": ", message, " (emu limits every message to ",
          MessageLimitText(),
          " both ways: common/grpc_limits.h, docs/building.md)");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat(call, ": the controller at ", target.address,
                          " did not answer in time: ", message);
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return message;
    default:
      return absl::StrCat(
          call, ": ",
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
          ": ", message);
  }
}

namespace {

// The same limits as the controller's (gRPC's client default of 4 MiB
// refused the answer about a valid 100k-node lab).
}  // namespace

ControllerConnection::ControllerConnection(ControllerTarget target)
    : target_(std::move(target)),
      channel_(grpc::CreateCustomChannel(target_.address,
                                         grpc::InsecureChannelCredentials(),
                                         LimitedChannelArguments())),
      stub_(v1::ControllerService::NewStub(channel_)) {}

bool ControllerConnection::Reached() const {
  return channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

std::string ControllerConnection::Describe(const grpc::Status& status,
                                           absl::string_view call) const {
  return DescribeRpcError(status, call, target_, Reached());
}

std::unique_ptr<grpc::ClientContext> ControllerConnection::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  AddAuthToken(context.get(), target_.token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace emu::cli
