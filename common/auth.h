// API authentication shared by every emu server and client.
//
// Each call carries "authorization: Bearer <token>". A server constructed
// with an empty token accepts every call (development only; the local
// cluster always sets one). Tokens are compared in constant time.
#ifndef EMU_COMMON_AUTH_H_
#define EMU_COMMON_AUTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace emu {

inline constexpr char kAuthMetadataKey[] = "authorization";

// Reads a token file (first line, whitespace trimmed). Refuses files that
// other users can read, since the token grants root on every agent.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Attaches the bearer token to an outgoing call. No-op for an empty token.
void AddAuthToken(grpc::ClientContext* context, absl::string_view token);

// OK when `expected` is empty or the call's bearer token equals it;
// otherwise UNAUTHENTICATED naming the problem (missing vs wrong token).
grpc::Status CheckAuthToken(const grpc::ServerContextBase& context,
                            absl::string_view expected);

}  // namespace emu

#endif  // EMU_COMMON_AUTH_H_
