// RegistrationService over gRPC's callback API: agents started with
// --controller register here and repeat the call as their heartbeat. New
// hosts get an agent client from `make_client`; the controller's own
// heartbeat (HostRegistry::Refresh) decides whether they are reachable.
//
// Thread-safe. Borrows the registry and the pool.
#ifndef EMU_CONTROLLER_HOSTS_REGISTRATION_SERVICE_H_
#define EMU_CONTROLLER_HOSTS_REGISTRATION_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/thread_pool.h"
#include "controller/hosts/agent_client.h"
#include "controller/hosts/host_registry.h"
#include "proto/registration.grpc.pb.h"

namespace emu::controller::hosts {

class RegistrationServiceImpl final
    : public emu::v1::RegistrationService::CallbackService {
 public:
  using ClientFactory = std::function<std::unique_ptr<AgentClient>(
      const std::string& host, const std::string& address)>;
  // `log` gets one line per new, moved or restarted host.
  RegistrationServiceImpl(HostRegistry* hosts, std::string token,
                          ThreadPool* pool, ClientFactory make_client,
                          absl::Duration heartbeat,
                          std::function<void(const std::string&)> log);

  grpc::ServerUnaryReactor* Register(
      grpc::CallbackServerContext* context,
      const emu::v1::RegisterRequest* request,
      emu::v1::RegisterResponse* response) override;

  // The work of Register without gRPC (for tests). `certificate`: the PEM
  // the caller presented (empty over plain text), see HostRegistry::Remove.
  absl::Status Handle(const emu::v1::RegisterRequest& request,
                      emu::v1::RegisterResponse* response,
                      const std::string& certificate = "");

 private:
  HostRegistry* const hosts_;
  const std::string token_;
  ThreadPool* const pool_;
  const ClientFactory make_client_;
  const absl::Duration heartbeat_;
  const std::function<void(const std::string&)> log_;
};

}  // namespace emu::controller::hosts

#endif  // EMU_CONTROLLER_HOSTS_REGISTRATION_SERVICE_H_
