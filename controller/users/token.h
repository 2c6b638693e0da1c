// User tokens: issued at random, shown once, kept only as a salted hash.
//
// A token reads "emu1.<user>.<secret>": the user's name lets the controller
// find the one record to check, and <secret> is 32 bytes from OpenSSL's
// RAND_bytes, hex-encoded. The controller stores HMAC-SHA-256(salt, secret)
// with a fresh 16-byte salt per token (OpenSSL, libssl-dev: already linked
// through gRPC, Debian's, audited and maintained; Abseil has no
// cryptographic hash). A fast hash is enough: the secret is 256 random bits,
// not a password, so there is nothing to guess, and it is checked on every
// call. Hashes are compared with CRYPTO_memcmp (constant time).
#ifndef EMU_CONTROLLER_USERS_TOKEN_H_
#define EMU_CONTROLLER_USERS_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::controller::users {

// What the store keeps of a token.
struct TokenHash {
  std::string salt;    // 16 random bytes
  std::string digest;  // HMAC-SHA-256(salt, secret), 32 bytes
};

struct IssuedToken {
  std::string token;  // give to the user once; never stored
  TokenHash hash;
};

// A new token for `user` (a valid name). INTERNAL when the system's random
// source fails.
absl::StatusOr<IssuedToken> IssueToken(absl::string_view user);

// The user a token claims to be, or nullopt-like empty string when it does
// not have the shape "emu1.<user>.<secret>" (e.g. the cluster token).
std::string TokenUser(absl::string_view token);

// True when `token` is the one `hash` was made from.
bool TokenMatches(absl::string_view token, const TokenHash& hash);

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_TOKEN_H_
