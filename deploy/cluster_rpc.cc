#include "deploy/cluster_rpc.h"

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"
#include "proto/agent.grpc.pb.h"
#include "proto/controller.grpc.pb.h"

namespace emu::deploy {
namespace {

std::unique_ptr<grpc::ClientContext> NewContext(const std::string& token,
                                                absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  AddAuthToken(context.get(), token);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::Status CallStatus(const grpc::Status& status, absl::string_view what) {
  return Annotate(FromGrpcStatus(status), what);
}

// Drains a DestroyLab stream; the events themselves are not needed here.
template <typename Reader>
grpc::Status Drain(Reader* reader, v1::DeployEvent* event) {
  while (reader->Read(event)) {
  }
  return reader->Finish();
}

}  // namespace

absl::Status GrpcClusterRpc::ProbeAgent(const std::string& address,
                                        const ClusterAuth& auth,
                                        absl::Duration timeout) {
  auto stub = v1::AgentService::NewStub(
      NewChannel(auth.transport, address, /*peer_name=*/""));
  auto context = NewContext(auth.token, timeout);
  v1::Capabilities caps;
  return CallStatus(
      stub->GetCapabilities(context.get(), v1::GetCapabilitiesRequest(), &caps),
      absl::StrCat("agent at ", address, ": GetCapabilities"));
}

absl::Status GrpcClusterRpc::ProbeController(const std::string& address,
                                             const ClusterAuth& auth,
                                             absl::Duration timeout) {
  auto stub = v1::ControllerService::NewStub(NewChannel(
      auth.transport, address, common::pki::kControllerName));
  auto context = NewContext(auth.token, timeout);
  v1::ListHostsResponse hosts;
  return CallStatus(
      stub->ListHosts(context.get(), v1::ListHostsRequest(), &hosts),
      absl::StrCat("controller at ", address, ": ListHosts"));
}

absl::StatusOr<std::vector<std::string>> GrpcClusterRpc::DestroyControllerLabs(
    const std::string& address, const ClusterAuth& auth,
    absl::Duration timeout) {
  auto stub = v1::ControllerService::NewStub(NewChannel(
      auth.transport, address, common::pki::kControllerName));
  v1::ListLabsResponse labs;
  {
    auto context = NewContext(auth.token, timeout);
    EMU_RETURN_IF_ERROR(CallStatus(
        stub->ListLabs(context.get(), v1::ListLabsRequest(), &labs),
        absl::StrCat("controller at ", address, ": ListLabs")));
  }
  std::vector<std::string> destroyed;
  absl::Status first_error;
  for (const v1::Lab& lab : labs.labs()) {
    if (lab.state() == v1::DESTROYED) continue;
    auto context = NewContext(auth.token, timeout);
    v1::DestroyLabRequest request;
    request.set_lab(lab.name());
    auto reader = stub->DestroyLab(context.get(), request);
    v1::DeployEvent event;
    absl::Status s = CallStatus(
        Drain(reader.get(), &event),
        absl::StrCat("controller at ", address, ": DestroyLab ", lab.name()));
    if (s.ok()) {
      destroyed.push_back(lab.name());
    } else if (first_error.ok()) {
      first_error = s;
    }
  }
  if (!first_error.ok()) return first_error;
  return destroyed;
}

absl::StatusOr<std::vector<std::string>> GrpcClusterRpc::DestroyAgentLabs(
    const std::string& address, const ClusterAuth& auth,
    absl::Duration timeout) {
  auto stub = v1::AgentService::NewStub(
      NewChannel(auth.transport, address, /*peer_name=*/""));
  v1::ListResourcesResponse resources;
  {
    auto context = NewContext(auth.token, timeout);
    EMU_RETURN_IF_ERROR(CallStatus(
        stub->ListResources(context.get(), v1::ListResourcesRequest(),
                            &resources),
        absl::StrCat("agent at ", address, ": ListResources")));
  }
  std::set<std::string> labs(resources.labs().begin(), resources.labs().end());
  for (const v1::OwnedResource& r : resources.resources()) {
    if (!r.lab().empty()) labs.insert(r.lab());
  }
  std::vector<std::string> destroyed;
  absl::Status first_error;
  for (const std::string& lab : labs) {
    auto context = NewContext(auth.token, timeout);
    v1::DestroyLabRequest request;
    request.set_lab(lab);
    v1::DestroyLabResponse response;
    absl::Status s = CallStatus(
        stub->DestroyLab(context.get(), request, &response),
        absl::StrCat("agent at ", address, ": DestroyLab ", lab));
    if (s.ok()) {
      destroyed.push_back(lab);
    } else if (first_error.ok()) {
      first_error = s;
    }
  }
  if (!first_error.ok()) return first_error;
  return destroyed;
}

}  // namespace emu::deploy
