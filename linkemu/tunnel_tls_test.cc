// TunnelTls on socketpairs (no root): the handshake both ways with the
// cluster CA, every refusal (another CA, no certificate, a controller's
// certificate, the wrong host, plain text on a TLS listener and TLS on a
// plain one), records batched into one send() and kept when the socket is
// full, and a TunnelPump moving GSO-sized frames through TLS.
#include "linkemu/tunnel_tls.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"
#include "gtest/gtest.h"
#include "linkemu/tunnel_frame.h"
#include "linkemu/tunnel_handshake.h"
#include "linkemu/testing/read_frame.h"
#include "linkemu/tunnel_pump.h"
#include "openssl/ssl.h"

namespace emu::linkemu {
namespace {

namespace pki = emu::common::pki;
using ConnOr = absl::StatusOr<std::unique_ptr<TunnelConnection>>;

struct Cluster {
  pki::Credentials ca, h1, h2, controller;
};

const Cluster& Certs(const std::string& name) {
  static auto* clusters = new std::map<std::string, Cluster>();
  auto it = clusters->find(name);
  if (it != clusters->end()) return it->second;
  Cluster c;
  auto ca = pki::CreateCa(name);
  EXPECT_TRUE(ca.ok()) << ca.status();
  c.ca = *ca;
  auto issue = [&](pki::Role role, const std::string& host) {
    pki::Subject s;
    s.role = role;
    s.name = host;
    auto creds = pki::Issue(c.ca, s);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return *creds;
  };
  c.h1 = issue(pki::Role::kAgent, "h1");
  c.h2 = issue(pki::Role::kAgent, "h2");
  c.controller = issue(pki::Role::kController, "");
  return (*clusters)[name] = c;
}

std::unique_ptr<TunnelTls> Tls(const pki::Credentials& ca,
                               const pki::Credentials& own) {
  auto t = TunnelTls::Create(ca.cert_pem, own);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

// A connected stream pair with 3 s I/O timeouts (as the manager sets).
std::pair<int, int> Sockets() {
  int s[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  timeval tv{3, 0};
  for (int fd : s) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  return {s[0], s[1]};
}

// Dials with `client` expecting `peer` while `server` accepts.
std::pair<ConnOr, ConnOr> Handshake(TunnelTls& client, TunnelTls& server,
                                    const std::string& peer) {
  auto [c, s] = Sockets();
  auto accepted = std::async(std::launch::async, [&, s = s] {
    return server.Accept(s);
  });
  ConnOr dialed = client.Connect(c, peer);
  return {std::move(dialed), accepted.get()};
}

TEST(TunnelTlsTest, AgentsOfOneClusterAuthenticateEachOther) {
  const Cluster& k = Certs("one");
  auto h1 = Tls(k.ca, k.h1);
  auto h2 = Tls(k.ca, k.h2);
  auto [dialed, accepted] = Handshake(*h1, *h2, "h2");
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ((*dialed)->PeerName(), "h2");
  EXPECT_EQ((*accepted)->PeerName(), "h1");
  EXPECT_TRUE(absl::StartsWith((*dialed)->Describe(), "tls TLSv1.3 "))
      << (*dialed)->Describe();
  EXPECT_TRUE(absl::StrContains((*dialed)->Describe(), "peer h2"));
  // The tunnel hello and reply travel inside.
  TunnelHello hello{"lab", "a:eth1<->b:eth1", "token"};
  ASSERT_TRUE(WriteAll(**dialed, EncodeTunnelHello(hello)).ok());
  auto got = ReadTunnelHello(**accepted);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->link_id, hello.link_id);
  ASSERT_TRUE(
      WriteAll(**accepted, EncodeTunnelReply(TunnelReplyCode::kWrongPeer, "x"))
          .ok());
  EXPECT_EQ(ReadTunnelReply(**dialed).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(TunnelTlsTest, DialerRefusesAListenerOfAnotherHost) {
  const Cluster& k = Certs("one");
  auto h1 = Tls(k.ca, k.h1);
  auto h2 = Tls(k.ca, k.h2);
  auto [dialed, accepted] = Handshake(*h1, *h2, "h3");
  ASSERT_EQ(dialed.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(dialed.status().message(),
                                "agent 'h2', expected 'h3'"))
      << dialed.status();
}

TEST(TunnelTlsTest, ACertificateOfAnotherCaIsRefusedBothWays) {
  const Cluster& k = Certs("one");
  const Cluster& other = Certs("other");
  auto h1 = Tls(k.ca, k.h1);
  auto h2 = Tls(k.ca, k.h2);
  // Same host name, certificate of a foreign CA; trusts the cluster's CA,
  // so only the cluster's side can refuse.
  auto intruder = Tls(k.ca, other.h1);
  {
    // In TLS 1.3 the client's handshake ends before the server judged its
    // certificate: the refusal reaches the intruder at its first read.
    auto [dialed, accepted] = Handshake(*intruder, *h2, "h2");
    ASSERT_EQ(accepted.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_TRUE(absl::StrContains(accepted.status().message(),
                                  "certificate verify failed"))
        << accepted.status();
  }
  {
    auto [dialed, accepted] = Handshake(*h1, *intruder, "h1");
    ASSERT_EQ(dialed.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_TRUE(absl::StrContains(dialed.status().message(),
                                  "certificate verify failed"))
        << dialed.status();
    EXPECT_FALSE(accepted.ok());
  }
}

TEST(TunnelTlsTest, TheControllersCertificateIsNotAnAgents) {
  const Cluster& k = Certs("one");
  auto controller = Tls(k.ca, k.controller);
  auto h2 = Tls(k.ca, k.h2);
  auto [dialed, accepted] = Handshake(*controller, *h2, "h2");
  ASSERT_EQ(accepted.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(accepted.status().message(),
                                "is not an agent's"))
      << accepted.status();
}

TEST(TunnelTlsTest, AClientWithoutCertificateIsRefused) {
  const Cluster& k = Certs("one");
  auto h2 = Tls(k.ca, k.h2);
  auto [c, s] = Sockets();
  auto accepted =
      std::async(std::launch::async, [&, s = s] { return h2->Accept(s); });
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, c);
  SSL_connect(ssl);  // TLS 1.3: the refusal may come after this returns
  char byte;
  SSL_read(ssl, &byte, 1);
  ConnOr got = accepted.get();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(c);
  ASSERT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(got.status().message(), "certificate"))
      << got.status();
}

TEST(TunnelTlsTest, PlainTextOnATlsListenerIsAnsweredAndRefused) {
  const Cluster& k = Certs("one");
  auto h2 = Tls(k.ca, k.h2);
  auto [c, s] = Sockets();
  ASSERT_TRUE(SendAll(c, EncodeTunnelHello({"lab", "l", "token"})).ok());
  ConnOr got = h2->Accept(s);
  ASSERT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(got.status().message(), "plain text"));
  absl::Status reply = ReadTunnelReply(c);
  EXPECT_EQ(reply.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(reply.message(), "tunnel carrier is tls"))
      << reply;
  close(c);
}

TEST(TunnelTlsTest, TlsOnAPlainListenerIsNamed) {
  const Cluster& k = Certs("one");
  auto h1 = Tls(k.ca, k.h1);
  auto [c, s] = Sockets();
  auto dialed =
      std::async(std::launch::async, [&, c = c] { return h1->Connect(c, "h2"); });
  auto hello = ReadTunnelHello(s);
  close(s);
  EXPECT_FALSE(dialed.get().ok());
  ASSERT_EQ(hello.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(hello.status().message(), "speaks TLS"))
      << hello.status();
}

TEST(TunnelTlsTest, CreateRefusesAKeyOfAnotherCertificate) {
  const Cluster& k = Certs("one");
  pki::Credentials mixed{k.h1.cert_pem, k.h2.key_pem};
  auto t = TunnelTls::Create(k.ca.cert_pem, mixed);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TunnelTls::Create("not a cert", k.h1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Reads one frame from a test-side TAP end, waiting up to `timeout`.
TEST(TunnelTlsTest, RecordsTheSocketCannotTakeAreKeptUntilFlushed) {
  const Cluster& k = Certs("one");
  auto h1 = Tls(k.ca, k.h1);
  auto h2 = Tls(k.ca, k.h2);
  auto [dialed, accepted] = Handshake(*h1, *h2, "h2");
  ASSERT_TRUE(dialed.ok() && accepted.ok());
  TunnelConnection& w = **dialed;
  int small = 16 * 1024;
  ASSERT_EQ(setsockopt(w.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
            0);
  ASSERT_EQ(fcntl(w.fd(), F_SETFL, fcntl(w.fd(), F_GETFL) | O_NONBLOCK), 0);
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  // Nobody reads yet: the first Write takes a batch of records, the socket
  // only part of them; the rest is kept, and no more is taken meanwhile.
  auto first = w.Write(data.data(), data.size());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(*first, 0u);
  EXPECT_LT(*first, data.size());
  EXPECT_TRUE(w.HasPendingWrite());
  auto blocked = w.Write(data.data() + *first, data.size() - *first);
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(*blocked, 0u);
  // Then the peer reads while the writer offers the rest on EPOLLOUT.
  auto received = std::async(std::launch::async, [&, r = accepted->get()] {
    std::string got;
    char buf[64 * 1024];
    while (got.size() < data.size()) {
      auto n = r->Read(buf, sizeof(buf));
      if (!n.ok() || *n == 0) break;  // error or the 3 s timeout
      got.append(buf, *n);
    }
    return got;
  });
  size_t taken = *first;
  while (taken < data.size() || w.HasPendingWrite()) {
    pollfd p{w.fd(), POLLOUT, 0};
    ASSERT_EQ(poll(&p, 1, 3000), 1) << "the socket stayed full";
    ASSERT_TRUE(w.FlushPending().ok());
    if (taken < data.size()) {
      auto n = w.Write(data.data() + taken, data.size() - taken);
      ASSERT_TRUE(n.ok()) << n.status();
      taken += *n;
    }
  }
  EXPECT_TRUE(received.get() == data) << "the bytes arrived changed";
}

TEST(TunnelTlsTest, PumpsMoveFramesThroughTls) {
  const Cluster& k = Certs("one");
  auto h1 = Tls(k.ca, k.h1);
  auto h2 = Tls(k.ca, k.h2);
  auto [dialed, accepted] = Handshake(*h1, *h2, "h2");
  ASSERT_TRUE(dialed.ok() && accepted.ok());
  absl::Mutex mu;
  std::vector<absl::Status> down;
  auto note = [&](TunnelPump::LinkId, const absl::Status& s) {
    absl::MutexLock lock(&mu);
    down.push_back(s);
  };
  auto a = TunnelPump::Create(note);
  auto b = TunnelPump::Create(note);
  ASSERT_TRUE(a.ok() && b.ok());
  int ta[2], tb[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ta), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, tb), 0);
  int big = 4 << 20;
  for (int fd : {ta[0], ta[1], tb[0], tb[1]}) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  }
  auto ia = (*a)->AddLink(ta[1]);
  auto ib = (*b)->AddLink(tb[1]);
  ASSERT_TRUE(ia.ok() && ib.ok());
  ASSERT_TRUE((*a)->Attach(*ia, *std::move(dialed)).ok());
  ASSERT_TRUE((*b)->Attach(*ib, *std::move(accepted)).ok());
  // Bursts of 16 frames from 1 byte to 64 KiB: many TLS records per frame,
  // many frames per record, partial writes and read-ahead all happen.
  std::vector<std::string> sent;
  for (int i = 0; i < 320; ++i) {
    std::string f(1 + (i * 4099) % 65536, static_cast<char>('a' + i % 26));
    f[0] = static_cast<char>(i);
    sent.push_back(f);
    ASSERT_EQ(write(ta[0], f.data(), f.size()), (ssize_t)f.size());
    if (i % 16 == 15) {
      for (int j = i - 15; j <= i; ++j) {
        ASSERT_EQ(ReadFrame(tb[0]), sent[j]) << "frame " << j;
      }
    }
  }
  ASSERT_EQ(write(tb[0], "back", 4), 4);
  EXPECT_EQ(ReadFrame(ta[0]), "back");
  auto sb = (*b)->GetStats(*ib);
  ASSERT_TRUE(sb.has_value());
  EXPECT_EQ(sb->tcp_to_tap_frames, sent.size());
  a->reset();  // closes its end: b sees the peer go
  {
    absl::MutexLock lock(&mu);
    auto seen = [&] { return !down.empty(); };
    mu.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(5));
    ASSERT_EQ(down.size(), 1u);
    EXPECT_EQ(down[0].message(), "tunnel peer closed the connection");
  }
  b->reset();
  for (int fd : {ta[0], tb[0]}) close(fd);
}

}  // namespace
}  // namespace emu::linkemu
