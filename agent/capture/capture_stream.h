// AgentService.Capture as a gRPC write reactor: opens the capture (on the
// pool: it joins a namespace), runs a CaptureSession, and writes its chunks
// one at a time as the caller takes them; frames the caller is too slow
// for are dropped by the session's bounded queue, never waited for. A
// cancelled call (the caller's Ctrl-C, its deadline) stops the session,
// which closes the capture handle and joins its thread.
#ifndef EMU_AGENT_CAPTURE_CAPTURE_STREAM_H_
#define EMU_AGENT_CAPTURE_CAPTURE_STREAM_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/capture/packet_source.h"
#include "common/thread_pool.h"
#include "grpcpp/support/server_callback.h"
#include "proto/agent.pb.h"

namespace emu::agent::capture {

struct CaptureStreamDeps {
  std::string host;  // named in the first chunk
  PacketSourceOpener* opener = nullptr;
  ThreadPool* pool = nullptr;
  // The request (names checked) -> what to open; NOT_FOUND naming the lab
  // or node when this host does not have it.
  std::function<absl::StatusOr<CaptureTarget>(const emu::v1::CaptureRequest&)>
      resolve;
};

// The reactor for one call whose caller is already authenticated; it
// deletes itself when the call is done.
grpc::ServerWriteReactor<emu::v1::CaptureChunk>* StartCaptureStream(
    const emu::v1::CaptureRequest& request, const CaptureStreamDeps& deps);

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_CAPTURE_STREAM_H_
