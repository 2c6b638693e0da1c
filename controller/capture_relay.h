// ControllerService.Capture: a write reactor that relays the capture of the
// agent holding the interface to the caller, one chunk at a time. A pool
// thread reads the agent's stream and waits for each write to the caller
// to finish before the next read, so a slow caller slows the agent's
// stream, whose bounded queue then drops and counts (the link never waits).
// The caller's cancel (Ctrl-C, deadline, a broken connection) cancels the
// agent's call, which stops its capture.
//
// The reading thread is the controller's pool's for the capture's life, so
// captures at once are limited (kMaxCaptures; more are RESOURCE_EXHAUSTED).
#ifndef EMU_CONTROLLER_CAPTURE_RELAY_H_
#define EMU_CONTROLLER_CAPTURE_RELAY_H_

#include <atomic>

#include "common/thread_pool.h"
#include "controller/lab/lab_manager.h"
#include "controller/users/user_directory.h"
#include "grpcpp/support/server_callback.h"
#include "proto/controller.pb.h"

namespace emu::controller {

inline constexpr int kMaxCaptures = 4;

// The reactor for one call; it deletes itself when done. `active` counts
// the relays running (shared by the service; borrowed).
grpc::ServerWriteReactor<emu::v1::CaptureChunk>* StartCaptureRelay(
    grpc::CallbackServerContext* context,
    const emu::v1::CaptureRequest& request, lab::LabManager* labs,
    users::UserDirectory* users, ThreadPool* pool, std::atomic<int>* active);

}  // namespace emu::controller

#endif  // EMU_CONTROLLER_CAPTURE_RELAY_H_
