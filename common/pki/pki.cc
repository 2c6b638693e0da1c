#include "common/pki/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/rand.h"
#include "openssl/x509.h"
#include "openssl/x509v3.h"

namespace emu::common::pki {
namespace {

constexpr char kControllerOu[] = "emu-controller";
constexpr char kAgentOu[] = "emu-agent";

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// The OpenSSL error queue as text (and emptied), for messages.
std::string SslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status SslError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", SslErrors()));
}

absl::StatusOr<Ptr<X509>> ParseCert(absl::string_view pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ptr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return cert;
}

absl::StatusOr<Ptr<EVP_PKEY>> ParseKey(absl::string_view pem) {
  Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ptr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM private key");
  }
  return key;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

absl::StatusOr<Credentials> ToPem(X509* cert, EVP_PKEY* key) {
  Ptr<BIO> c(BIO_new(BIO_s_mem()));
  Ptr<BIO> k(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(c.get(), cert) ||
      !PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr,
                                nullptr)) {
    return SslError("encode PEM");
  }
  return Credentials{BioText(c.get()), BioText(k.get())};
}

absl::StatusOr<Ptr<EVP_PKEY>> NewKey() {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return SslError("generate EC P-256 key");
  return key;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || !X509_add_ext(cert, ext.get(), -1)) {
    return SslError(absl::StrCat("certificate extension ", OBJ_nid2sn(nid),
                                 "=", value));
  }
  return absl::OkStatus();
}

// A certificate with a random serial, `subject` names, validity and `key`.
absl::StatusOr<Ptr<X509>> NewCert(EVP_PKEY* key, const std::string& cn,
                                  const std::string& ou, absl::Time not_before,
                                  absl::Time not_after) {
  Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  Ptr<BIGNUM> bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (bn == nullptr ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return SslError("certificate serial");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(not_after)) == nullptr) {
    return SslError("certificate validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& v) {
    return X509_NAME_add_entry_by_txt(
        name, field, MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(v.c_str()), -1, -1, 0);
  };
  if (!add("O", "emu") || (!ou.empty() && !add("OU", ou)) || !add("CN", cn)) {
    return SslError("certificate subject");
  }
  if (!X509_set_pubkey(cert.get(), key)) return SslError("certificate key");
  return cert;
}

bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// The subject's OU and CN.
void SubjectFields(X509* cert, std::string* ou, std::string* cn) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto field = [name](int nid) {
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0) return std::string();
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                       ASN1_STRING_length(data));
  };
  *ou = field(NID_organizationalUnitName);
  *cn = field(NID_commonName);
}

absl::StatusOr<Identity> IdentityOf(X509* cert) {
  std::string ou, cn;
  SubjectFields(cert, &ou, &cn);
  Identity id;
  id.name = cn;
  if (ou == kControllerOu) {
    id.role = Role::kController;
  } else if (ou == kAgentOu) {
    id.role = Role::kAgent;
  } else {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate of '", cn, "' has no emu role (OU '", ou,
        "', expected ", kControllerOu, " or ", kAgentOu, ")"));
  }
  if (cn.empty()) {
    return absl::UnauthenticatedError("certificate without a common name");
  }
  return id;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
           mode);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create ", tmp));
  // The mode asked for, whatever the umask.
  const bool ok = fchmod(fd, mode) == 0 &&
                  write(fd, data.data(), data.size()) ==
                      static_cast<ssize_t>(data.size()) &&
                  fsync(fd) == 0;
  const int saved = errno;
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return ErrnoToStatus(saved, absl::StrCat("write ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoToStatus(err, absl::StrCat("rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view RoleName(Role role) {
  return role == Role::kController ? "controller" : "agent";
}

absl::StatusOr<Credentials> CreateCa(absl::string_view cluster,
                                     absl::Duration validity) {
  auto key = NewKey();
  if (!key.ok()) return key.status();
  const absl::Time now = absl::Now();
  auto cert = NewCert(key->get(), absl::StrCat("emu cluster ", cluster), "",
                      now - absl::Hours(1), now + validity);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(cert->get()));
  for (auto [nid, value] :
       {std::pair<int, const char*>{NID_basic_constraints,
                                    "critical,CA:TRUE,pathlen:0"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(cert->get(), cert->get(), nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (!X509_sign(cert->get(), key->get(), EVP_sha256())) {
    return SslError("sign CA certificate");
  }
  return ToPem(cert->get(), key->get());
}

absl::StatusOr<Credentials> Issue(const Credentials& ca,
                                  const Subject& subject) {
  auto ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) {
    return absl::InvalidArgumentError("CA certificate: not a PEM certificate");
  }
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) {
    return absl::InvalidArgumentError("CA key: not a PEM private key");
  }
  if (!X509_check_private_key(ca_cert->get(), ca_key->get())) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA key does not match its certificate");
  }
  const bool controller = subject.role == Role::kController;
  if (!controller && subject.name.empty()) {
    return absl::InvalidArgumentError("an agent certificate needs a host name");
  }
  const std::string cn = controller ? kControllerName : subject.name;
  auto key = NewKey();
  if (!key.ok()) return key.status();
  const absl::Time now = absl::Now();
  const absl::Time not_before = subject.not_before == absl::InfinitePast()
                                    ? now - absl::Hours(1)
                                    : subject.not_before;
  const absl::Time not_after = subject.not_after == absl::InfinitePast()
                                   ? now + kValidity
                                   : subject.not_after;
  auto cert = NewCert(key->get(), cn, controller ? kControllerOu : kAgentOu,
                      not_before, not_after);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(ca_cert->get()));
  std::vector<std::string> sans = {absl::StrCat("DNS:", cn)};
  for (const std::string& n : subject.alt_names) {
    if (n.empty() || n == cn) continue;
    sans.push_back(absl::StrCat(IsIpAddress(n) ? "IP:" : "DNS:", n));
  }
  for (auto [nid, value] :
       {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyAgreement"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
        {NID_authority_key_identifier, "keyid"},
        {NID_subject_alt_name, absl::StrJoin(sans, ",")}}) {
    if (absl::Status s = AddExtension(cert->get(), ca_cert->get(), nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (!X509_sign(cert->get(), ca_key->get(), EVP_sha256())) {
    return SslError(absl::StrCat("sign certificate of ", cn));
  }
  return ToPem(cert->get(), key->get());
}

absl::StatusOr<Identity> ReadIdentity(absl::string_view cert_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return absl::UnauthenticatedError(cert.status().message());
  return IdentityOf(cert->get());
}

absl::StatusOr<Identity> Verify(absl::string_view ca_pem,
                                absl::string_view cert_pem, absl::Time now) {
  auto ca = ParseCert(ca_pem);
  if (!ca.ok()) {
    return absl::InvalidArgumentError("CA: not a PEM certificate");
  }
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return absl::UnauthenticatedError(cert.status().message());
  Ptr<X509_STORE> store(X509_STORE_new());
  Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!X509_STORE_add_cert(store.get(), ca->get()) ||
      !X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr)) {
    return SslError("set up verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    std::string ou, cn;
    SubjectFields(cert->get(), &ou, &cn);
    return absl::UnauthenticatedError(
        absl::StrCat("certificate of '", cn,
                     "' refused: ", X509_verify_cert_error_string(err)));
  }
  return IdentityOf(cert->get());
}

Paths ControllerPaths(const std::string& dir) {
  return {dir + "/ca.crt", dir + "/ca.key", dir + "/controller.crt",
          dir + "/controller.key"};
}

Paths AgentPaths(const std::string& dir, const std::string& host) {
  return {dir + "/ca.crt", dir + "/ca.key",
          absl::StrCat(dir, "/agent-", host, ".crt"),
          absl::StrCat(dir, "/agent-", host, ".key")};
}

absl::Status WriteCredentials(const Credentials& creds,
                              const std::string& cert_path,
                              const std::string& key_path) {
  // The key first: a certificate on disk always has its key beside it.
  if (absl::Status s = WriteFileAtomically(key_path, creds.key_pem, 0600);
      !s.ok()) {
    return s;
  }
  return WriteFileAtomically(cert_path, creds.cert_pem, 0644);
}

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoToStatus(errno, absl::StrCat("read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<Credentials> ReadCredentials(const std::string& cert_path,
                                            const std::string& key_path) {
  struct stat st;
  if (stat(key_path.c_str(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("private key ", key_path));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "private key %s has mode %04o: group or others may read it (chmod "
        "600 %s)",
        key_path, st.st_mode & 07777, key_path));
  }
  Credentials creds;
  auto cert = ReadPem(cert_path);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(key_path);
  if (!key.ok()) return key.status();
  creds.cert_pem = *std::move(cert);
  creds.key_pem = *std::move(key);
  if (!ParseCert(creds.cert_pem).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_path, ": not a PEM certificate"));
  }
  if (!ParseKey(creds.key_pem).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_path, ": not a PEM private key"));
  }
  return creds;
}

namespace {

Subject ControllerSubject(const std::vector<std::string>& alt_names) {
  Subject subject;
  subject.role = Role::kController;
  subject.alt_names = {"localhost", "127.0.0.1", "::1"};
  subject.alt_names.insert(subject.alt_names.end(), alt_names.begin(),
                           alt_names.end());
  return subject;
}

absl::StatusOr<Credentials> ReadCa(const std::string& dir,
                                   const Paths& paths) {
  auto ca = ReadCredentials(paths.ca_cert, paths.ca_key);
  if (!ca.ok()) {
    return absl::Status(ca.status().code(),
                        absl::StrCat("the cluster CA in ", dir, ": ",
                                     ca.status().message(),
                                     " (run `emuctl cluster init` first)"));
  }
  return ca;
}

absl::Status IssueFrom(const Credentials& ca, const Subject& subject,
                       const Paths& paths) {
  auto creds = Issue(ca, subject);
  if (!creds.ok()) return creds.status();
  return WriteCredentials(*creds, paths.cert, paths.key);
}

}  // namespace

absl::Status InitCluster(const std::string& dir, absl::string_view cluster,
                         const std::vector<std::string>& controller_alt_names) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("create PKI directory ", dir));
  }
  const Paths paths = ControllerPaths(dir);
  if (access(paths.ca_key.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "PKI directory ", dir, " already holds a CA (", paths.ca_key,
        "); remove the directory to start a new cluster CA"));
  }
  auto ca = CreateCa(cluster);
  if (!ca.ok()) return ca.status();
  if (absl::Status s = IssueFrom(*ca, ControllerSubject(controller_alt_names),
                                 paths);
      !s.ok()) {
    return s;
  }
  // The CA last: its key's presence says the directory is complete.
  return WriteCredentials(*ca, paths.ca_cert, paths.ca_key);
}

absl::Status IssueController(const std::string& dir,
                             const std::vector<std::string>& alt_names) {
  const Paths paths = ControllerPaths(dir);
  auto ca = ReadCa(dir, paths);
  if (!ca.ok()) return ca.status();
  return IssueFrom(*ca, ControllerSubject(alt_names), paths);
}

absl::Status IssueAgent(const std::string& dir, const std::string& host,
                        const std::vector<std::string>& alt_names) {
  const Paths paths = AgentPaths(dir, host);
  auto ca = ReadCa(dir, paths);
  if (!ca.ok()) return ca.status();
  Subject subject;
  subject.role = Role::kAgent;
  subject.name = host;
  subject.alt_names = alt_names;
  return IssueFrom(*ca, subject, paths);
}

}  // namespace emu::common::pki
