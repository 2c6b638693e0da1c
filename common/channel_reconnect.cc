#include "common/channel_reconnect.h"

#include "absl/time/clock.h"

namespace emu {

grpc_connectivity_state ReconnectNow(grpc::Channel& channel,
                                     absl::Duration max_wait) {
  grpc_connectivity_state state = channel.GetState(false);
  if (state != GRPC_CHANNEL_TRANSIENT_FAILURE) return state;
  grpc::experimental::ChannelResetConnectionBackoff(&channel);
  const auto deadline = absl::ToChronoTime(absl::Now() + max_wait);
  // From TRANSIENT_FAILURE (through CONNECTING, or not: see the header) to
  // READY; SHUTDOWN ends it too.
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_SHUTDOWN &&
         channel.WaitForStateChange(state, deadline)) {
    state = channel.GetState(false);
  }
  return state;
}

}  // namespace emu
