#include "common/http/request_auth.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace emu::http {

std::optional<std::string> RequestToken(const Request& request) {
  absl::string_view header = request.Header("authorization");
  if (absl::ConsumePrefix(&header, "Bearer ")) {
    return std::string(absl::StripAsciiWhitespace(header));
  }
  std::optional<std::string> cookie = CookieValue(request, kTokenCookie);
  if (cookie.has_value() && !cookie->empty()) return cookie;
  return std::nullopt;
}

absl::StatusOr<Caller> Authenticate(const Request& request,
                                    const Identify& identify) {
  std::optional<std::string> token = RequestToken(request);
  if (!token.has_value()) {
    return absl::UnauthenticatedError(
        "no token: send \"Authorization: Bearer TOKEN\" (the same token as "
        "emuctl's)");
  }
  absl::StatusOr<Caller> caller = identify(*token);
  if (!caller.ok()) {
    return absl::UnauthenticatedError("token not accepted");
  }
  return caller;
}

Identify ClusterTokenIdentify(std::string token) {
  return [token = std::move(token)](
             absl::string_view given) -> absl::StatusOr<Caller> {
    if (token.empty() || !ConstantTimeEquals(given, token)) {
      return absl::UnauthenticatedError("token not accepted");
    }
    return ClusterTokenAuthenticator::ClusterCaller();
  };
}

}  // namespace emu::http
