// A channel whose peer went away waits between reconnection attempts (up to
// kMaxReconnectBackoffMs, common/grpc_limits.h), and a call made meanwhile
// fails at once with the old error ("Connection refused") even when the
// peer listens again: an agent restarted by its supervisor or by hand was
// reported unreachable for up to a second after it was back.
//
// ReconnectNow is called before a call on a long-lived channel. When the
// channel is in TRANSIENT_FAILURE it resets the backoff, which starts a new
// attempt at once, and waits (at most `max_wait`) for the channel to be
// READY. gRPC keeps a failing channel in TRANSIENT_FAILURE while it tries
// again ("sticky" failure), so a refused attempt is not seen as a change:
// a peer that is still down costs the whole `max_wait` before the call
// fails as it would have. A channel in any other state is left alone.
#ifndef EMU_COMMON_CHANNEL_RECONNECT_H_
#define EMU_COMMON_CHANNEL_RECONNECT_H_

#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace emu {

// The wait the controller's calls to agents use: a restarted agent's
// channel is READY within milliseconds; one still down costs this much.
inline constexpr absl::Duration kReconnectWait = absl::Seconds(1);

// The state the channel ended in (for tests and logs).
grpc_connectivity_state ReconnectNow(grpc::Channel& channel,
                                     absl::Duration max_wait);

}  // namespace emu

#endif  // EMU_COMMON_CHANNEL_RECONNECT_H_
