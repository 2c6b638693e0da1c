// The size limits of emu's gRPC calls, in one place so that both ends of
// every channel agree (docs/building.md, "Message size limits").
#ifndef EMU_COMMON_GRPC_LIMITS_H_
#define EMU_COMMON_GRPC_LIMITS_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/channel_arguments.h"

namespace emu {

// Largest request or response, sent or received, on the daemons and in
// emuctl. gRPC's default of 4 MiB refused a valid 100k-node lab; 64 MiB
// holds about 1.5M nodes of topology text and still bounds what one call
// can make a daemon allocate.
inline constexpr int kMaxMessageBytes = 64 << 20;

// Longest message of a failed call's status. A status rides in gRPC
// metadata, whose limit is 8 KiB by default: everything longer (problem
// lists) goes into response messages (emu.v1.Problem).
inline constexpr size_t kMaxStatusMessageBytes = 2048;

// "N bytes (64 MiB)" style text for messages about the limit.
inline std::string MessageLimitText() {
  return absl::StrCat(kMaxMessageBytes >> 20, " MiB");
}

// Longest wait between two attempts to reconnect a channel whose peer went
// away. gRPC's default grows to 120 s: a controller whose agent was
// restarted (kill -9, supervisor) kept refusing calls to it for seconds
// after the new agent listened.
inline constexpr int kMaxReconnectBackoffMs = 1000;

// Channel arguments with both limits and the reconnect bound; every channel
// emu dials uses them.
inline grpc::ChannelArguments LimitedChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the time
  // one connection attempt may last (default 20 s), and a TLS handshake on
  // a loaded machine outlasted 100 ms.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return args;
}

}  // namespace emu

#endif  // EMU_COMMON_GRPC_LIMITS_H_
