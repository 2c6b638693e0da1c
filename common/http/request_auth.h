// Who sent an HTTP request to emu's pages: the same tokens as the gRPC API
// (common/auth.h), carried as "Authorization: Bearer <token>" (Prometheus'
// `authorization: credentials_file`, curl -H) or, for a browser, in the
// cookie kTokenCookie that the web view's login form sets.
#ifndef EMU_COMMON_HTTP_REQUEST_AUTH_H_
#define EMU_COMMON_HTTP_REQUEST_AUTH_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "common/http/http_server.h"

namespace emu::http {

inline constexpr char kTokenCookie[] = "emu_token";

// A token to Caller; UNAUTHENTICATED for an unknown token. Thread-safe.
using Identify = std::function<absl::StatusOr<Caller>(absl::string_view)>;

// The request's token: the bearer header first, else the cookie; nullopt
// when it carries neither.
std::optional<std::string> RequestToken(const Request& request);

// The caller of `request` through `identify`, or UNAUTHENTICATED saying
// whether the token was missing or not accepted.
absl::StatusOr<Caller> Authenticate(const Request& request,
                                    const Identify& identify);

// The cluster token alone (the agents): its holder is the administrator.
Identify ClusterTokenIdentify(std::string token);

}  // namespace emu::http

#endif  // EMU_COMMON_HTTP_REQUEST_AUTH_H_
