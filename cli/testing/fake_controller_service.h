// An in-process ControllerService for emuctl's tests: answers from scripted
// responses, records requests and the authorization metadata, and serves on
// 127.0.0.1 with a kernel-chosen port.
#ifndef EMU_CLI_TESTING_FAKE_CONTROLLER_SERVICE_H_
#define EMU_CLI_TESTING_FAKE_CONTROLLER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server.h"
#include "proto/controller.grpc.pb.h"

namespace emu::cli {

// Thread-safe: the scripted fields are read under a mutex by the gRPC
// threads; set them before the call that uses them.
class FakeControllerService final : public v1::ControllerService::Service {
 public:
  // Calls without "authorization: Bearer <token>" fail UNAUTHENTICATED.
  explicit FakeControllerService(std::string token);
  ~FakeControllerService() override;

  // Starts serving; returns "127.0.0.1:PORT".
  std::string Start();

  struct Script {
    grpc::Status validate_status;
    v1::ValidateTopologyResponse validate_response;
    std::vector<v1::DeployEvent> deploy_events;
    grpc::Status deploy_status;
    std::vector<v1::DeployEvent> destroy_events;
    grpc::Status destroy_status;
    std::vector<v1::DeployEvent> apply_events;
    grpc::Status apply_status;
    v1::ListLabsResponse labs;
    std::map<std::string, v1::Lab> lab_by_name;  // GetLab; others NOT_FOUND
    std::function<grpc::Status(const v1::LabExecRequest&, v1::ExecResponse*)>
        exec;
    v1::ListHostsResponse hosts;
  };
  void SetScript(Script script);

  // Requests as received, in order, by method name ("DeployLab", ...).
  std::vector<std::string> calls() const;
  v1::DeployLabRequest last_deploy() const;
  v1::ApplyTopologyRequest last_apply() const;
  v1::LabExecRequest last_exec() const;

  grpc::Status ValidateTopology(grpc::ServerContext* context,
                                const v1::ValidateTopologyRequest* request,
                                v1::ValidateTopologyResponse* response) override;
  grpc::Status DeployLab(grpc::ServerContext* context,
                         const v1::DeployLabRequest* request,
                         grpc::ServerWriter<v1::DeployEvent>* writer) override;
  grpc::Status ApplyLab(grpc::ServerContext* context,
                        const v1::ApplyTopologyRequest* request,
                        grpc::ServerWriter<v1::DeployEvent>* writer) override;
  grpc::Status GetLab(grpc::ServerContext* context,
                      const v1::GetLabRequest* request, v1::Lab* response) override;
  grpc::Status ListLabs(grpc::ServerContext* context,
                        const v1::ListLabsRequest* request,
                        v1::ListLabsResponse* response) override;
  grpc::Status DestroyLab(grpc::ServerContext* context,
                          const v1::DestroyLabRequest* request,
                          grpc::ServerWriter<v1::DeployEvent>* writer) override;
  grpc::Status Exec(grpc::ServerContext* context,
                    const v1::LabExecRequest* request,
                    v1::ExecResponse* response) override;
  grpc::Status ListHosts(grpc::ServerContext* context,
                         const v1::ListHostsRequest* request,
                         v1::ListHostsResponse* response) override;

 private:
  // Records the call; non-OK when the token is missing or wrong.
  grpc::Status Begin(grpc::ServerContext* context, const char* method);

  const std::string token_;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  Script script_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  v1::DeployLabRequest last_deploy_ ABSL_GUARDED_BY(mu_);
  v1::ApplyTopologyRequest last_apply_ ABSL_GUARDED_BY(mu_);
  v1::LabExecRequest last_exec_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::cli

#endif  // EMU_CLI_TESTING_FAKE_CONTROLLER_SERVICE_H_
