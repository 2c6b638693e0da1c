#include "common/auth.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/errno_status.h"

namespace emu {
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("token file ", path));
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token file ", path,
        ": readable by other users; run chmod 600 on it"));
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, ": empty"));
  }
  return token;
}

void AddAuthToken(grpc::ClientContext* context, absl::string_view token) {
  if (token.empty()) return;
  context->AddMetadata(kAuthMetadataKey, absl::StrCat("Bearer ", token));
}

absl::StatusOr<absl::string_view> BearerToken(
    const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kAuthMetadataKey);
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "missing 'authorization: Bearer <token>' metadata");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError("wrong bearer token");
  }
  return value;
}

grpc::Status CheckAuthToken(const grpc::ServerContextBase& context,
                            absl::string_view expected) {
  if (expected.empty()) return grpc::Status::OK;
  absl::StatusOr<absl::string_view> token = BearerToken(context);
  if (!token.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        std::string(token.status().message()));
  }
  if (!ConstantTimeEquals(*token, expected)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong bearer token");
  }
  return grpc::Status::OK;
}

Caller ClusterTokenAuthenticator::ClusterCaller() {
  Caller c;
  c.name = Caller::kAdminName;
  c.admin = true;
  c.cluster = true;
  return c;
}

grpc::Status ClusterTokenAuthenticator::Authenticate(
    const grpc::ServerContextBase& context, Caller* caller) const {
  grpc::Status s = CheckAuthToken(context, token_);
  if (s.ok()) *caller = ClusterCaller();
  return s;
}

}  // namespace emu
