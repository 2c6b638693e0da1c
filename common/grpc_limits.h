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

// Channel arguments with both limits; every channel emu dials uses them.
inline grpc::ChannelArguments LimitedChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  return args;
}

}  // namespace emu

#endif  // EMU_COMMON_GRPC_LIMITS_H_
