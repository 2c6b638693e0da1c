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

// The call's bearer token (a view into its metadata); UNAUTHENTICATED when
// the metadata is missing or not "Bearer <token>".
absl::StatusOr<absl::string_view> BearerToken(
    const grpc::ServerContextBase& context);

// Constant-time comparison (the time depends on the lengths only).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Who made a call, as the server identified them.
struct Caller {
  // The built-in administrator's name: the cluster token's holder.
  static constexpr char kAdminName[] = "admin";
  std::string name;    // "admin" for the cluster token
  bool admin = false;  // the cluster token, or a user added with --admin
  // True only for the cluster token itself (the agents and the operator).
  bool cluster = false;
};

// Turns a call's metadata into its Caller, or UNAUTHENTICATED. One
// implementation per kind of credential; every service of a server asks the
// same one, before any work (common/reactors.h). Implementations are
// thread-safe.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual grpc::Status Authenticate(const grpc::ServerContextBase& context,
                                    Caller* caller) const = 0;
};

// The cluster token alone (agents): the token's holder is the built-in
// administrator. An empty token accepts every call (CheckAuthToken).
class ClusterTokenAuthenticator : public Authenticator {
 public:
  explicit ClusterTokenAuthenticator(absl::string_view token)
      : token_(token) {}
  grpc::Status Authenticate(const grpc::ServerContextBase& context,
                            Caller* caller) const override;
  // The built-in administrator.
  static Caller ClusterCaller();

 private:
  const absl::string_view token_;  // borrowed
};

}  // namespace emu

#endif  // EMU_COMMON_AUTH_H_
