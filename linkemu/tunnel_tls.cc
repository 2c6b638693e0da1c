#include "linkemu/tunnel_tls.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "linkemu/tunnel_handshake.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/pem.h"
#include "openssl/ssl.h"
#include "openssl/x509.h"

namespace emu::linkemu {
namespace {

constexpr char kCipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256";
// Read-ahead buffer: one recv() brings up to this many bytes of records.
constexpr size_t kReadBufferBytes = 128 * 1024;
// A Write encrypts records into the connection's own buffer until it holds
// this many bytes, then sends them with one send(): a 16 KiB record per
// write(2) (OpenSSL's socket BIO) cost the sender four system calls per
// GSO-sized frame where the plain carrier makes one per batch.
constexpr size_t kOutBatchBytes = 256 * 1024;

// OpenSSL's queued errors as one line ("" when none), and clears them.
std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : buf;
  }
  return out;
}

// The write side of an established connection without kernel TLS: a BIO
// that appends what OpenSSL writes (whole records) to a std::string, which
// the connection then sends itself. It never refuses bytes: the connection
// bounds how much it encrypts ahead (kOutBatchBytes).
int CollectWrite(BIO* bio, const char* data, int len) {
  static_cast<std::string*>(BIO_get_data(bio))->append(data, len);
  return len;
}

long CollectCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* CollectMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "emu tunnel TLS records");
    if (m != nullptr) {
      BIO_meth_set_write(m, CollectWrite);
      BIO_meth_set_ctrl(m, CollectCtrl);
    }
    return m;
  }();
  return method;
}

class TlsConnection : public TunnelConnection {
 public:
  TlsConnection(SSL* ssl, int fd, std::string peer)
      : ssl_(ssl), fd_(fd), peer_(std::move(peer)) {
    // Kernel TLS sends records itself; otherwise collect them (above).
    const BIO_METHOD* method = CollectMethod();
    if (!BIO_get_ktls_send(SSL_get_wbio(ssl_)) && method != nullptr) {
      if (BIO* out = BIO_new(method)) {
        BIO_set_data(out, &out_);
        BIO_set_init(out, 1);
        SSL_set0_wbio(ssl_, out);  // the socket BIO stays the read side
        collecting_ = true;
      }
    }
  }
  ~TlsConnection() override {
    if (!failed_) {
      // A best-effort close_notify; the socket is non-blocking by now.
      ERR_clear_error();
      SSL_shutdown(ssl_);
      ERR_clear_error();
      (void)FlushPending();
    }
    SSL_free(ssl_);
    close(fd_);
  }

  int fd() const override { return fd_; }

  absl::StatusOr<size_t> Read(char* buf, size_t len) override {
    size_t total = 0;
    filled_ = false;
    while (total < len) {
      ERR_clear_error();
      size_t n = 0;
      int r = SSL_read_ex(ssl_, buf + total, len - total, &n);
      if (r == 1) {
        total += n;
        continue;
      }
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
      // Hand over what was read; the error repeats on the next call.
      if (total > 0) break;
      failed_ = true;
      int saved = errno;
      std::string why = SslErrors();
      if (err == SSL_ERROR_ZERO_RETURN ||
          (err == SSL_ERROR_SYSCALL && why.empty() && saved == 0)) {
        return absl::UnavailableError("tunnel peer closed the connection");
      }
      if (why.empty()) why = saved != 0 ? std::strerror(saved) : "error";
      return absl::UnavailableError(absl::StrCat("tunnel TLS recv: ", why));
    }
    filled_ = total == len;
    // SSL_read may have written (an answer to the peer's key update).
    if (HasPendingWrite()) {
      if (absl::Status s = FlushPending(); !s.ok() && total == 0) return s;
    }
    return total;
  }

  absl::StatusOr<size_t> Write(const char* data, size_t len) override {
    ERR_clear_error();  // once: the queue stays empty while calls succeed
    if (!collecting_) return WriteRecords(data, len);
    // Records of an earlier call first: none are added behind them until
    // the socket took them all (a 0 then, as for a full socket).
    if (absl::Status s = FlushPending(); !s.ok()) return s;
    if (HasPendingWrite()) return 0;
    size_t taken = 0;
    while (taken < len && out_.size() < kOutBatchBytes) {
      auto n = WriteRecords(data + taken, len - taken);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      taken += *n;
    }
    if (absl::Status s = FlushPending(); !s.ok()) return s;
    return taken;
  }

  bool HasPendingWrite() const override { return out_sent_ < out_.size(); }

  absl::Status FlushPending() override {
    while (out_sent_ < out_.size()) {
      ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        failed_ = true;
        return absl::UnavailableError(
            absl::StrCat("tunnel TLS send: ", std::strerror(errno)));
      }
      out_sent_ += static_cast<size_t>(n);
    }
    if (out_sent_ == out_.size()) {
      out_.clear();
      out_sent_ = 0;
    }
    return absl::OkStatus();
  }

  bool HasBuffered() const override {
    return filled_ && SSL_has_pending(ssl_) == 1;
  }

  std::string Describe() const override {
    bool ktls_send = BIO_get_ktls_send(SSL_get_wbio(ssl_));
    bool ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(ssl_));
    return absl::StrCat("tls ", SSL_get_version(ssl_), " ",
                        SSL_get_cipher_name(ssl_),
                        ktls_send || ktls_recv
                            ? absl::StrCat(" ktls", ktls_send ? " send" : "",
                                           ktls_recv ? " recv" : "")
                            : "",
                        " peer ", peer_);
  }

  std::string PeerName() const override { return peer_; }

 private:
  // SSL_write_ex: through the socket BIO, or into out_ when collecting.
  // OpenSSL's error queue must be empty before the call.
  absl::StatusOr<size_t> WriteRecords(const char* data, size_t len) {
    size_t n = 0;
    int r = SSL_write_ex(ssl_, data, len, &n);
    if (r == 1) return n;
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return 0;
    failed_ = true;
    int saved = errno;
    std::string why = SslErrors();
    if (why.empty()) why = saved != 0 ? std::strerror(saved) : "error";
    return absl::UnavailableError(absl::StrCat("tunnel TLS send: ", why));
  }

  SSL* const ssl_;
  const int fd_;
  const std::string peer_;
  bool failed_ = false;
  bool filled_ = false;  // the last Read filled the caller's buffer
  bool collecting_ = false;  // records go to out_, not straight to the fd
  std::string out_;          // records not sent yet, from out_sent_ on
  size_t out_sent_ = 0;
};

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<TunnelTls>> TunnelTls::Create(
    const std::string& ca_pem, const common::pki::Credentials& own) {
  signal(SIGPIPE, SIG_IGN);
  auto fail = [](SSL_CTX* ctx, absl::string_view what) {
    std::string why = SslErrors();
    if (ctx != nullptr) SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel TLS: ", what, why.empty() ? "" : ": ", why));
  };
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  if (ctx == nullptr) return fail(nullptr, "SSL_CTX_new");
  auto load_cert = [](const std::string& pem) -> X509* {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    return x;
  };
  X509* ca = load_cert(ca_pem);
  if (ca == nullptr) return fail(ctx, "the cluster CA is not a PEM certificate");
  int added = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  if (added != 1) return fail(ctx, "add the cluster CA");
  X509* cert = load_cert(own.cert_pem);
  if (cert == nullptr) {
    return fail(ctx, "the agent's certificate is not a PEM certificate");
  }
  int used = SSL_CTX_use_certificate(ctx, cert);
  X509_free(cert);
  if (used != 1) return fail(ctx, "use the agent's certificate");
  BIO* kb = BIO_new_mem_buf(own.key_pem.data(),
                            static_cast<int>(own.key_pem.size()));
  EVP_PKEY* key =
      kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(kb);
  if (key == nullptr) return fail(ctx, "the agent's key is not a PEM key");
  used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return fail(ctx, "the agent's key does not match its certificate");
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(ctx, kCipherSuites) != 1) {
    return fail(ctx, "set the cipher suites");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  SSL_CTX_set_verify_depth(ctx, 2);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  uint64_t options = SSL_OP_NO_TICKET;
#ifdef SSL_OP_ENABLE_KTLS
  options |= SSL_OP_ENABLE_KTLS;
#endif
  SSL_CTX_set_options(ctx, options);
  // The pump retries a blocked write with its buffer possibly moved and
  // more bytes after the first ones; a write may complete in part.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kReadBufferBytes);
  return std::unique_ptr<TunnelTls>(new TunnelTls(ctx));
}

TunnelTls::~TunnelTls() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TunnelConnection>> TunnelTls::Connect(
    int fd, const std::string& peer_host) {
  return Handshake(fd, /*server=*/false, peer_host);
}

absl::StatusOr<std::unique_ptr<TunnelConnection>> TunnelTls::Accept(int fd) {
  // A TLS connection starts with a handshake record (0x16). Anything else
  // is plain text (or noise): answer a plain-text tunnel hello in its own
  // language so the peer can log why, and refuse.
  unsigned char first = 0;
  ssize_t n;
  do {
    n = recv(fd, &first, 1, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    close(fd);
    return absl::UnavailableError(
        n == 0 ? "tunnel TLS: connection closed before the handshake"
               : "tunnel TLS: no handshake before the timeout");
  }
  if (first != 0x16) {
    if (first == 'E') {  // "EMUTUN"
      (void)SendAll(fd, EncodeTunnelReply(
                            TunnelReplyCode::kBadRequest,
                            "this agent's tunnel carrier is tls: plain-text "
                            "tunnels are refused"));
    }
    close(fd);
    return absl::UnauthenticatedError(
        "tunnel TLS: plain text instead of a TLS handshake (the peer's "
        "tunnel carrier is plain, this agent's is tls)");
  }
  return Handshake(fd, /*server=*/true, "");
}

absl::StatusOr<std::unique_ptr<TunnelConnection>> TunnelTls::Handshake(
    int fd, bool server, const std::string& peer_host) {
  ERR_clear_error();
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx_));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    close(fd);
    return absl::InternalError(
        absl::StrCat("tunnel TLS: set up: ", SslErrors()));
  }
  int r = server ? SSL_accept(ssl.get()) : SSL_connect(ssl.get());
  if (r != 1) {
    int err = SSL_get_error(ssl.get(), r);
    int saved = errno;
    long verify = SSL_get_verify_result(ssl.get());
    std::string why = SslErrors();
    close(fd);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      return absl::UnavailableError("tunnel TLS handshake: timed out");
    }
    if (err == SSL_ERROR_SYSCALL && why.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "tunnel TLS handshake: ",
          saved != 0 ? std::strerror(saved) : "connection closed by the peer"));
    }
    if (verify != X509_V_OK) {
      absl::StrAppend(&why, " (", X509_verify_cert_error_string(verify), ")");
    }
    return absl::UnauthenticatedError(
        absl::StrCat("tunnel TLS handshake: ", why));
  }
  // The chain was verified against the cluster CA alone; now the role and,
  // for the dialer, the name.
  X509* peer = SSL_get0_peer_certificate(ssl.get());
  std::string pem;
  if (peer != nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio != nullptr && PEM_write_bio_X509(bio, peer) == 1) {
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      pem.assign(data, len);
    }
    BIO_free(bio);
  }
  auto identity = common::pki::ReadIdentity(pem);
  absl::Status refused;
  if (!identity.ok()) {
    refused = absl::UnauthenticatedError(
        absl::StrCat("tunnel TLS: peer certificate: ",
                     identity.status().message()));
  } else if (identity->role != common::pki::Role::kAgent) {
    refused = absl::UnauthenticatedError(absl::StrCat(
        "tunnel TLS: peer certificate of '", identity->name,
        "' is not an agent's"));
  } else if (!server && identity->name != peer_host) {
    refused = absl::UnauthenticatedError(
        absl::StrCat("tunnel TLS: peer certificate is agent '", identity->name,
                     "', expected '", peer_host, "'"));
  }
  if (!refused.ok()) {
    ERR_clear_error();
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    close(fd);
    return refused;
  }
  return std::unique_ptr<TunnelConnection>(
      new TlsConnection(ssl.release(), fd, identity->name));
}

}  // namespace emu::linkemu
