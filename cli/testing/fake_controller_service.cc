#include "cli/testing/fake_controller_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace emu::cli {

FakeControllerService::FakeControllerService(std::string token)
    : token_(std::move(token)) {}

FakeControllerService::~FakeControllerService() {
  if (server_) server_->Shutdown();
}

std::string FakeControllerService::Start() {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  return absl::StrCat("127.0.0.1:", port);
}

void FakeControllerService::SetScript(Script script) {
  absl::MutexLock lock(&mu_);
  script_ = std::move(script);
}

std::vector<std::string> FakeControllerService::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

v1::DeployLabRequest FakeControllerService::last_deploy() const {
  absl::MutexLock lock(&mu_);
  return last_deploy_;
}

v1::LabExecRequest FakeControllerService::last_exec() const {
  absl::MutexLock lock(&mu_);
  return last_exec_;
}

grpc::Status FakeControllerService::Begin(grpc::ServerContext* context,
                                          const char* method) {
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(method);
  }
  return CheckAuthToken(*context, token_);
}

grpc::Status FakeControllerService::ValidateTopology(
    grpc::ServerContext* context, const v1::ValidateTopologyRequest*,
    v1::ValidateTopologyResponse* response) {
  if (grpc::Status s = Begin(context, "ValidateTopology"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  *response = script_.validate_response;
  return script_.validate_status;
}

v1::ApplyTopologyRequest FakeControllerService::last_apply() const {
  absl::MutexLock lock(&mu_);
  return last_apply_;
}

grpc::Status FakeControllerService::ApplyLab(
    grpc::ServerContext* context, const v1::ApplyTopologyRequest* request,
    grpc::ServerWriter<v1::DeployEvent>* writer) {
  if (grpc::Status s = Begin(context, "ApplyLab"); !s.ok()) return s;
  Script script;
  {
    absl::MutexLock lock(&mu_);
    last_apply_ = *request;
    script = script_;
  }
  for (const v1::DeployEvent& e : script.apply_events) writer->Write(e);
  return script.apply_status;
}

grpc::Status FakeControllerService::DeployLab(
    grpc::ServerContext* context, const v1::DeployLabRequest* request,
    grpc::ServerWriter<v1::DeployEvent>* writer) {
  if (grpc::Status s = Begin(context, "DeployLab"); !s.ok()) return s;
  Script script;
  {
    absl::MutexLock lock(&mu_);
    last_deploy_ = *request;
    script = script_;
  }
  for (const v1::DeployEvent& e : script.deploy_events) writer->Write(e);
  return script.deploy_status;
}

grpc::Status FakeControllerService::GetLab(grpc::ServerContext* context,
                                           const v1::GetLabRequest* request,
                                           v1::Lab* response) {
  if (grpc::Status s = Begin(context, "GetLab"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = script_.lab_by_name.find(request->lab());
  if (it == script_.lab_by_name.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("lab ", request->lab(), ": not found"));
  }
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeControllerService::ListLabs(grpc::ServerContext* context,
                                             const v1::ListLabsRequest*,
                                             v1::ListLabsResponse* response) {
  if (grpc::Status s = Begin(context, "ListLabs"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  *response = script_.labs;
  return grpc::Status::OK;
}

grpc::Status FakeControllerService::DestroyLab(
    grpc::ServerContext* context, const v1::DestroyLabRequest*,
    grpc::ServerWriter<v1::DeployEvent>* writer) {
  if (grpc::Status s = Begin(context, "DestroyLab"); !s.ok()) return s;
  Script script;
  {
    absl::MutexLock lock(&mu_);
    script = script_;
  }
  for (const v1::DeployEvent& e : script.destroy_events) writer->Write(e);
  return script.destroy_status;
}

grpc::Status FakeControllerService::Exec(grpc::ServerContext* context,
                                         const v1::LabExecRequest* request,
                                         v1::ExecResponse* response) {
  if (grpc::Status s = Begin(context, "Exec"); !s.ok()) return s;
  std::function<grpc::Status(const v1::LabExecRequest&, v1::ExecResponse*)> exec;
  {
    absl::MutexLock lock(&mu_);
    last_exec_ = *request;
    exec = script_.exec;
  }
  if (!exec) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no exec script");
  return exec(*request, response);
}

grpc::Status FakeControllerService::ListHosts(grpc::ServerContext* context,
                                              const v1::ListHostsRequest*,
                                              v1::ListHostsResponse* response) {
  if (grpc::Status s = Begin(context, "ListHosts"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  *response = script_.hosts;
  return grpc::Status::OK;
}

}  // namespace emu::cli
