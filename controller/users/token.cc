#include "controller/users/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/topology_names.h"

namespace emu::controller::users {
namespace {

constexpr absl::string_view kPrefix = "emu1";
constexpr int kSecretBytes = 32;
constexpr int kSaltBytes = 16;

absl::StatusOr<std::string> RandomBytes(int n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) != 1) {
    return absl::InternalError("token: the random source (RAND_bytes) failed");
  }
  return out;
}

std::string Digest(absl::string_view salt, absl::string_view secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), salt.data(), static_cast<int>(salt.size()),
       reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
       md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// {user, secret} of a well-formed token; empty parts otherwise.
std::vector<absl::string_view> Parts(absl::string_view token) {
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3 || parts[0] != kPrefix || !IsValidName(parts[1]) ||
      parts[2].size() != 2 * kSecretBytes) {
    return {};
  }
  return {parts[1], parts[2]};
}

}  // namespace

absl::StatusOr<IssuedToken> IssueToken(absl::string_view user) {
  absl::StatusOr<std::string> secret = RandomBytes(kSecretBytes);
  if (!secret.ok()) return secret.status();
  absl::StatusOr<std::string> salt = RandomBytes(kSaltBytes);
  if (!salt.ok()) return salt.status();
  IssuedToken issued;
  const std::string hex = absl::BytesToHexString(*secret);
  issued.token = absl::StrCat(kPrefix, ".", user, ".", hex);
  issued.hash.salt = *std::move(salt);
  issued.hash.digest = Digest(issued.hash.salt, hex);
  return issued;
}

std::string TokenUser(absl::string_view token) {
  std::vector<absl::string_view> parts = Parts(token);
  return parts.empty() ? std::string() : std::string(parts[0]);
}

bool TokenMatches(absl::string_view token, const TokenHash& hash) {
  std::vector<absl::string_view> parts = Parts(token);
  if (parts.empty() || hash.salt.empty()) return false;
  const std::string digest = Digest(hash.salt, parts[1]);
  return digest.size() == hash.digest.size() &&
         CRYPTO_memcmp(digest.data(), hash.digest.data(), digest.size()) == 0;
}

}  // namespace emu::controller::users
