// GuestService (proto/guest.proto): interactive console attach and restart
// of this agent's QEMU guests. Console is a bidirectional callback reactor
// that never blocks a gRPC thread (attaching runs on the pool; output is
// queued from the console's reader thread); RestartNode runs on the pool.
//
// Thread-safe. Borrowed pointers must outlive the service.
#ifndef EMU_AGENT_GUEST_GUEST_SERVICE_H_
#define EMU_AGENT_GUEST_GUEST_SERVICE_H_

#include <string>

#include "agent/guest/guest_manager.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/reconcile/reconciler.h"
#include "common/thread_pool.h"
#include "proto/guest.grpc.pb.h"

namespace emu::agent::guest {

class GuestServiceImpl final : public emu::v1::GuestService::CallbackService {
 public:
  GuestServiceImpl(reconcile::Reconciler* reconciler, GuestManager* guests,
                   const reconcile::LabSpecStore* store, std::string token,
                   ThreadPool* pool);

  grpc::ServerBidiReactor<emu::v1::ConsoleInput, emu::v1::ConsoleOutput>*
  Console(grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* RestartNode(
      grpc::CallbackServerContext* context,
      const emu::v1::RestartNodeRequest* request,
      emu::v1::RestartNodeResponse* response) override;

  // The work of RestartNode (also for tests).
  absl::StatusOr<std::string> Restart(const std::string& lab,
                                      const std::string& node);

 private:
  reconcile::Reconciler* const reconciler_;
  GuestManager* const guests_;
  const reconcile::LabSpecStore* const store_;
  const std::string token_;
  ThreadPool* const pool_;
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_GUEST_SERVICE_H_
