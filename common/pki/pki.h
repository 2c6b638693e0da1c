// The cluster's PKI (issue 9, docs/security.md "Transport security"): a CA
// of its own (EC P-256), the controller's certificate and one per agent,
// made with OpenSSL 3 (the libcrypto Debian's gRPC links).
//
// A certificate's role is its subject's OU ("emu-controller" or
// "emu-agent"); its CN is "emu-controller" or the agent's host name. Both
// roles are TLS servers and clients (extended key usage serverAuth and
// clientAuth). The controller's certificate also carries the DNS name
// "emu-controller", which clients check whatever address they dial (a
// forwarded unix socket, an SSH tunnel); an agent's carries its host name
// and its addresses.
//
// Files: <dir>/ca.crt, ca.key, controller.crt, controller.key,
// agent-<host>.crt, agent-<host>.key. Keys are mode 0600, certificates 0644,
// all written through a temporary file and rename().
//
// Stateless functions; thread-safe.
#ifndef EMU_COMMON_PKI_PKI_H_
#define EMU_COMMON_PKI_PKI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace emu::common::pki {

enum class Role { kController, kAgent };

// "controller" / "agent".
absl::string_view RoleName(Role role);

// The name the controller's certificate always carries; clients check the
// controller against it (gRPC's ssl_target_name_override).
inline constexpr char kControllerName[] = "emu-controller";

// A certificate and its private key, both PEM.
struct Credentials {
  std::string cert_pem;
  std::string key_pem;
};

// Who a certificate is for.
struct Subject {
  Role role = Role::kAgent;
  // The agent's host name (CN and a DNS name); ignored for the controller
  // (CN kControllerName).
  std::string name;
  // More subject alternative names: DNS names and IP addresses (v4 or v6,
  // recognised by their syntax).
  std::vector<std::string> alt_names;
  absl::Time not_before = absl::InfinitePast();  // default: now - 1 hour
  absl::Time not_after = absl::InfinitePast();   // default: now + kValidity
};

// Default lifetime of the CA and of the certificates it issues.
inline constexpr absl::Duration kCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kValidity = absl::Hours(24 * 825);

// A new self-signed CA named "emu cluster <cluster>".
absl::StatusOr<Credentials> CreateCa(absl::string_view cluster,
                                     absl::Duration validity = kCaValidity);

// A new key and a certificate for `subject`, signed by `ca`.
absl::StatusOr<Credentials> Issue(const Credentials& ca,
                                  const Subject& subject);

// What a verified certificate says about its holder.
struct Identity {
  Role role = Role::kAgent;
  std::string name;  // CN: kControllerName or the agent's host name
};

// Verifies `cert_pem` against `ca_pem` at `now` (chain, validity dates,
// the role marker) and returns who it is. UNAUTHENTICATED naming the cause
// (expired, signed by another CA, no or unknown role) otherwise.
absl::StatusOr<Identity> Verify(absl::string_view ca_pem,
                                absl::string_view cert_pem, absl::Time now);

// The role and name of a certificate without checking its chain (for a
// peer gRPC has already verified against the CA).
absl::StatusOr<Identity> ReadIdentity(absl::string_view cert_pem);

// Where a cluster's credentials live in a PKI directory.
struct Paths {
  std::string ca_cert;
  std::string ca_key;
  std::string cert;
  std::string key;
};
Paths ControllerPaths(const std::string& dir);
Paths AgentPaths(const std::string& dir, const std::string& host);

// Writes `creds` to `cert_path` (0644) and `key_path` (0600), each through
// a temporary file and rename().
absl::Status WriteCredentials(const Credentials& creds,
                              const std::string& cert_path,
                              const std::string& key_path);

// Reads a certificate and key; refuses a key file that group or others can
// read (naming it).
absl::StatusOr<Credentials> ReadCredentials(const std::string& cert_path,
                                            const std::string& key_path);

// Reads a whole (PEM) file.
absl::StatusOr<std::string> ReadPem(const std::string& path);

// `emuctl cluster init`: creates <dir> (0700), the CA and the controller's
// certificate (with `controller_alt_names` besides kControllerName,
// "localhost" and 127.0.0.1). ALREADY_EXISTS when <dir>/ca.key exists.
absl::Status InitCluster(const std::string& dir, absl::string_view cluster,
                         const std::vector<std::string>& controller_alt_names);

// Issues (or re-issues) the controller's certificate from the CA in <dir>
// (kControllerName, "localhost", 127.0.0.1, ::1 and `alt_names`).
absl::Status IssueController(const std::string& dir,
                             const std::vector<std::string>& alt_names);

// Issues (or re-issues) the certificate of agent `host` from the CA in
// <dir>, with its host name and `alt_names` (its addresses).
absl::Status IssueAgent(const std::string& dir, const std::string& host,
                        const std::vector<std::string>& alt_names);

}  // namespace emu::common::pki

#endif  // EMU_COMMON_PKI_PKI_H_
