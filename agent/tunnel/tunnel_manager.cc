#include "agent/tunnel/tunnel_manager.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "linkemu/tcp_info.h"
#include "linkemu/tunnel_handshake.h"

namespace emu::agent::tunnel {
namespace {

// Listener-side handshakes (TLS, hello) run on workers, one each, bounded
// by io_timeout, none queued; an agent dials one link at a time, so a few
// at once from one address is plenty (AcceptLoop).
constexpr int kMaxHandshakes = 16;
constexpr int kHandshakeThreads = kMaxHandshakes;
constexpr int kMaxHandshakesPerSource = 4;
// Peers dialled at once (DialLoop).
constexpr int kDialThreads = 8;

using linkemu::TunnelPump;

std::string Key(absl::string_view lab, absl::string_view link_id) {
  return absl::StrCat(lab, "\n", link_id);
}

// "host:port" or "[v6]:port" -> host, port.
absl::Status SplitHostPort(const std::string& address, std::string* host,
                           std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "': want host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int p;
  if (!absl::SimpleAtoi(*port, &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "': bad port"));
  }
  return absl::OkStatus();
}

absl::StatusOr<addrinfo*> Resolve(const std::string& address, bool passive) {
  std::string host, port;
  absl::Status s = SplitHostPort(address, &host, &port);
  if (!s.ok()) return s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  int err = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(),
                        &hints, &res);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolve ", address, ": ", gai_strerror(err)));
  }
  return res;
}

// The address alone ("10.0.0.2", "fd00::2"): what a peer's connections
// have in common.
std::string SockAddrHost(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr,
              buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

// "10.0.0.2:7472", "[fd00::2]:7472".
std::string SockAddrString(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return absl::StrCat(
        SockAddrHost(ss), ":",
        ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port));
  }
  return absl::StrCat(
      "[", SockAddrHost(ss), "]:",
      ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port));
}

std::string LocalAddr(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SockAddrString(ss);
}

std::string PeerAddr(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SockAddrString(ss);
}

void SetIoTimeouts(int fd, absl::Duration d) {
  timeval tv = absl::ToTimeval(d);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Options of an established tunnel connection: no Nagle delay on frames,
// and a dead peer noticed within about 10 s even when the link is idle.
void TuneConnection(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  int idle = 3, intvl = 2, cnt = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
  unsigned user_timeout_ms = 10000;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
             sizeof(user_timeout_ms));
  SetIoTimeouts(fd, absl::ZeroDuration());
}

// Connects to `address` within `timeout`; a blocking socket on success.
absl::StatusOr<int> Connect(const std::string& address,
                            absl::Duration timeout) {
  auto res = Resolve(address, false);
  if (!res.ok()) return res.status();
  absl::Cleanup free_res = [&] { freeaddrinfo(*res); };
  absl::Status last =
      absl::UnavailableError(absl::StrCat("connect ", address, ": no address"));
  for (addrinfo* ai = *res; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = ErrnoToStatus(errno, absl::StrCat("socket for ", address));
      continue;
    }
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n = poll(&p, 1, absl::ToInt64Milliseconds(timeout));
        if (n == 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof(err);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err != 0) {
      close(fd);
      last = absl::UnavailableError(
          absl::StrCat("connect ", address, ": ", std::strerror(err)));
      continue;
    }
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
  }
  return last;
}

// Which namespace the file /run/netns/<ns> holds now ("dev:inode"; empty
// when absent). A namespace deleted and re-created under the same name has
// another identity, and a TAP in the old one must be re-created.
std::string NetnsIdentity(const std::string& netns) {
  std::string path = netns.find('/') == std::string::npos
                         ? absl::StrCat("/run/netns/", netns)
                         : netns;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino);
}

}  // namespace

absl::StatusOr<TunnelCarrier> ChooseTunnelCarrier(absl::string_view flag,
                                                  bool insecure_plaintext) {
  if (flag == "tls") return TunnelCarrier::kTls;
  if (flag == "plain") return TunnelCarrier::kPlain;
  if (flag == "ssh") return TunnelCarrier::kSsh;
  if (flag.empty()) {
    return insecure_plaintext ? TunnelCarrier::kPlain : TunnelCarrier::kTls;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--tunnel_carrier='", flag, "': want tls, plain or ssh"));
}

absl::string_view TunnelCarrierName(TunnelCarrier carrier) {
  switch (carrier) {
    case TunnelCarrier::kTls:
      return "tls";
    case TunnelCarrier::kSsh:
      return "ssh";
    case TunnelCarrier::kPlain:
      break;
  }
  return "plain";
}

absl::StatusOr<SshListen> SshListenAddress(const std::string& tunnel_listen) {
  std::string host, port;
  EMU_RETURN_IF_ERROR(SplitHostPort(tunnel_listen, &host, &port));
  SshListen out;
  out.bind = absl::StrCat("127.0.0.1:", port);
  out.advertise = tunnel_listen;
  return out;
}

std::string AdvertisedSshAddress(const SshListen& listen,
                                 const std::string& bound) {
  return absl::StrCat(listen.advertise.substr(0, listen.advertise.rfind(':')),
                      bound.substr(bound.rfind(':')));
}

std::string TunnelAlias(absl::string_view lab, const emu::v1::Link& link) {
  return absl::StrCat(net::LinkAlias(lab, link), " carrier=tcp-tunnel");
}

const emu::v1::Endpoint& LocalEndpoint(const emu::v1::RemoteLinkEnd& remote) {
  return remote.local_is_a() ? remote.link().a() : remote.link().b();
}

TunnelEndSpec TunnelEndFor(const std::string& lab, const std::string& netns,
                           const emu::v1::RemoteLinkEnd& remote,
                           const emu::v1::Node* node) {
  TunnelEndSpec spec;
  spec.lab = lab;
  spec.link_id = remote.link_id();
  spec.listen = remote.listen();
  spec.peer_host = remote.peer_host();
  spec.peer_address = remote.peer_address();
  const emu::v1::Endpoint& local = LocalEndpoint(remote);
  spec.tap.netns = netns;
  spec.tap.ifname = local.interface();
  spec.tap.alias = TunnelAlias(lab, remote.link());
  if (node != nullptr) {
    for (const auto& i : node->interfaces()) {
      if (i.name() != local.interface()) continue;
      spec.tap.mac = i.mac();
      spec.tap.mtu = i.mtu();
    }
  }
  return spec;
}

struct TunnelManager::Entry {
  TunnelEndSpec spec;
  uint64_t generation = 0;  // changes when the entry is re-created
  TunnelPump::LinkId pump_id = 0;
  int tap_fd = -1;             // owned by the pump; valid while pump_id is
  std::string netns_identity;  // of spec.tap.netns when the TAP was made
  bool up = false;
  std::string connection;
  std::string last_error;
  int attempts = 0;  // failed dials since the last connection
  bool dialing = false;
  absl::Time next_dial = absl::InfinitePast();
  absl::Duration backoff;
  // The spec the pump link's egress pipeline applies; none: no pipeline.
  std::optional<linkemu::ImpairmentSpec> egress;
  // SetEgress's arguments: the spec as configured (before compensation),
  // its seed, whether its delay is compensated, and how it is now.
  linkemu::ImpairmentSpec configured;
  uint64_t seed = 0;
  bool compensate = false;
  std::vector<linkemu::BasePart> parts;
  linkemu::DelayCompensation compensation;
  // The connection's TCP minimum RTT when it was attached: the base's
  // fallback (MeasureBase).
  absl::StatusOr<absl::Duration> tcp_min_rtt = absl::UnknownError("");
};

struct TunnelManager::DialJob {
  std::string key;
  uint64_t generation;
  std::string address;
  std::string peer_host;
  linkemu::TunnelHello hello;
};

absl::StatusOr<std::unique_ptr<TunnelManager>> TunnelManager::Start(
    Options options, TapOpener* taps) {
  auto res = Resolve(options.listen_address, true);
  if (!res.ok()) return res.status();
  absl::Cleanup free_res = [&] { freeaddrinfo(*res); };
  std::string what = absl::StrCat("tunnel listener ", options.listen_address);
  int fd =
      socket((*res)->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, what);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (*res)->ai_addr, (*res)->ai_addrlen) != 0 ||
      listen(fd, 128) != 0) {
    absl::Status s = ErrnoToStatus(errno, what);
    close(fd);
    return s;
  }
  int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    absl::Status s = ErrnoToStatus(errno, "tunnel manager: eventfd");
    close(fd);
    return s;
  }
  std::unique_ptr<TunnelManager> m(
      new TunnelManager(std::move(options), taps, fd, LocalAddr(fd), wake));
  auto pump = TunnelPump::Create(
      [raw = m.get()](TunnelPump::LinkId id, const absl::Status& why) {
        raw->OnDisconnect(id, why);
      },
      m->options_.frame_io,
      [raw = m.get()](TunnelPump::LinkId id,
                      const absl::StatusOr<TunnelPump::EchoResult>& r) {
        raw->OnEcho(id, r);
      });
  if (!pump.ok()) return pump.status();
  m->pump_ = *std::move(pump);
  m->handshake_pool_ = std::make_unique<ThreadPool>(kHandshakeThreads);
  m->dial_pool_ = std::make_unique<ThreadPool>(kDialThreads);
  m->acceptor_ = std::thread([raw = m.get()] { raw->AcceptLoop(); });
  m->dialer_ = std::thread([raw = m.get()] { raw->DialLoop(); });
  return m;
}

TunnelManager::TunnelManager(Options options, TapOpener* taps, int listen_fd,
                             std::string address, int wake_fd)
    : options_(std::move(options)),
      taps_(taps),
      listen_fd_(listen_fd),
      address_(std::move(address)),
      wake_fd_(wake_fd) {}

TunnelManager::~TunnelManager() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (acceptor_.joinable()) acceptor_.join();
  if (dialer_.joinable()) dialer_.join();
  handshake_pool_.reset();  // handshakes under way end (io_timeout at most)
  dial_pool_.reset();       // and dials
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> keys;
    for (const auto& [key, e] : entries_) keys.push_back(key);
    for (const auto& key : keys) Close(key);
  }
  pump_.reset();
  close(listen_fd_);
  close(wake_fd_);
}

void TunnelManager::Wake() {
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  absl::MutexLock lock(&mu_);
  dial_cv_.SignalAll();
}

void TunnelManager::Close(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  by_pump_id_.erase(it->second->pump_id);
  pump_->RemoveLink(it->second->pump_id);
  entries_.erase(it);
}

absl::StatusOr<std::vector<std::string>> TunnelManager::Apply(
    const std::string& lab, const std::vector<TunnelEndSpec>& ends) {
  std::vector<std::string> created;
  absl::Status first = absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, const TunnelEndSpec*> wanted;
    for (const auto& e : ends) wanted[Key(lab, e.link_id)] = &e;
    std::vector<std::string> stale;
    for (const auto& [key, e] : entries_) {
      if (e->spec.lab != lab) continue;
      auto w = wanted.find(key);
      bool same_tap = w != wanted.end() &&
                      w->second->tap.netns == e->spec.tap.netns &&
                      w->second->tap.ifname == e->spec.tap.ifname &&
                      w->second->tap.mac == e->spec.tap.mac &&
                      w->second->tap.mtu == e->spec.tap.mtu &&
                      w->second->tap.alias == e->spec.tap.alias;
      auto stats = pump_->GetStats(e->pump_id);
      bool alive = taps_->IsAlive(e->tap_fd) && stats && !stats->tap_failed &&
                   NetnsIdentity(e->spec.tap.netns) == e->netns_identity;
      if (!same_tap || !alive) stale.push_back(key);
    }
    for (const auto& key : stale) Close(key);
    for (const auto& spec : ends) {
      std::string key = Key(lab, spec.link_id);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        Entry& e = *it->second;
        if (e.spec.listen != spec.listen ||
            e.spec.peer_address != spec.peer_address) {
          // Same TAP, other peer: drop the connection, keep the device.
          pump_->Detach(e.pump_id);
          e.up = false;
          e.connection.clear();
          e.attempts = 0;
          e.next_dial = absl::InfinitePast();
          e.backoff = options_.min_backoff;
          ++e.generation;
        }
        e.spec = spec;
        continue;
      }
      std::string identity = NetnsIdentity(spec.tap.netns);
      auto fd = taps_->Open(spec.tap);
      if (!fd.ok()) {
        if (first.ok()) {
          first = Annotate(fd.status(), absl::StrCat("link ", spec.link_id));
        }
        continue;
      }
      auto pump_id = pump_->AddLink(*fd);
      if (!pump_id.ok()) {
        if (first.ok()) first = pump_id.status();
        continue;
      }
      auto e = std::make_unique<Entry>();
      e->spec = spec;
      e->generation = next_generation_++;
      e->pump_id = *pump_id;
      e->tap_fd = *fd;
      e->netns_identity = identity;
      e->backoff = options_.min_backoff;
      by_pump_id_[*pump_id] = key;
      entries_[key] = std::move(e);
      created.push_back(spec.link_id);
    }
  }
  Wake();
  if (!first.ok()) return first;
  return created;
}

absl::Status TunnelManager::SetEgress(const std::string& lab,
                                      const std::string& link_id,
                                      const linkemu::ImpairmentSpec& spec,
                                      uint64_t seed, bool compensate,
                                      std::vector<linkemu::BasePart> parts) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key(lab, link_id));
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("lab ", lab, " has no tunnel for link ",
                                            link_id, " here"));
  }
  Entry& e = *it->second;
  if (!e.egress && spec.IsPassThrough()) return absl::OkStatus();
  linkemu::DelayCompensation how;
  const linkemu::ImpairmentSpec applied =
      Compensated(e.spec.peer_host, spec, compensate, parts, &how);
  absl::Status s = pump_->SetEgress(e.pump_id, applied, seed);
  if (!s.ok()) return Annotate(s, absl::StrCat("link ", link_id));
  e.configured = spec;
  e.seed = seed;
  e.compensate = compensate;
  e.parts = std::move(parts);
  e.compensation = how;
  e.egress = applied;
  return absl::OkStatus();
}

std::optional<int64_t> TunnelManager::BaseToPeerNs(
    const std::string& peer_host) {
  absl::MutexLock lock(&mu_);
  auto it = base_ns_.find(peer_host);
  if (it == base_ns_.end()) return std::nullopt;
  return it->second.ns;
}

linkemu::ImpairmentSpec TunnelManager::Compensated(
    const std::string& peer_host, const linkemu::ImpairmentSpec& configured,
    bool compensate, const std::vector<linkemu::BasePart>& parts,
    linkemu::DelayCompensation* how) const {
  *how = linkemu::DelayCompensation();
  linkemu::ImpairmentSpec out = configured;
  if (!compensate || out.delay_us == 0) return out;
  auto base = base_ns_.find(peer_host);
  if (base == base_ns_.end()) return out;
  *how = linkemu::CompensationFor(out.delay_us, base->second.ns,
                                  base->second.source, parts);
  out.delay_us = how->applied_delay_us;
  return out;
}

absl::StatusOr<absl::Duration> TunnelManager::MinRtt(int fd) const {
  // The SSH carrier's sockets are a socketpair to ssh (dialer) and a
  // loopback connection from the local sshd (listener): neither is the
  // path between the hosts.
  if (options_.ssh != nullptr) {
    return absl::FailedPreconditionError(
        "the ssh carrier's socket is not the path between the hosts");
  }
  return options_.min_rtt ? options_.min_rtt(fd) : linkemu::TcpMinRtt(fd);
}

void TunnelManager::MeasureBase(Entry& e) {
  if (base_ns_.contains(e.spec.peer_host)) return;
  if (options_.echo_samples > 0) {
    absl::Status s = pump_->ProbeRtt(e.pump_id, options_.echo_samples);
    if (s.ok()) return;  // OnEcho goes on
    Log("tunnel ", e.spec.lab, " ", e.spec.link_id, ": echo probe: ",
        s.message());
  }
  LearnTcpBase(e);
}

void TunnelManager::LearnTcpBase(const Entry& e) {
  LearnBase(e, e.tcp_min_rtt, linkemu::kBaseSourceTunnelTcp,
            "the TCP minimum RTT");
}

void TunnelManager::OnEcho(
    TunnelPump::LinkId id,
    const absl::StatusOr<TunnelPump::EchoResult>& result) {
  absl::MutexLock lock(&mu_);
  auto k = by_pump_id_.find(id);
  if (k == by_pump_id_.end()) return;
  Entry& e = *entries_[k->second];
  if (result.ok()) {
    LearnBase(e, result->min_rtt, linkemu::kBaseSourceTunnelEcho,
              absl::StrCat("the minimum of ", result->samples,
                           " echo round trips"));
    return;
  }
  Log("tunnel ", e.spec.lab, " ", e.spec.link_id, " to ", e.spec.peer_host,
      ": echo probe: ", result.status().message(),
      "; the TCP minimum RTT stands in");
  LearnTcpBase(e);
}

void TunnelManager::LearnBase(const Entry& e,
                              const absl::StatusOr<absl::Duration>& min_rtt,
                              const char* source, absl::string_view how) {
  const std::string& peer = e.spec.peer_host;
  if (!min_rtt.ok() || base_ns_.contains(peer)) return;
  base_ns_[peer] = PeerBase{linkemu::BaseFromMinRttNs(*min_rtt), source};
  Log("tunnel base latency to ", peer, ": ", base_ns_[peer].ns / 1000,
      " us one way (half ", how, " of link ", e.spec.link_id, ": ",
      absl::FormatDuration(*min_rtt), ")");
  for (auto& [key, other] : entries_) {
    if (other->spec.peer_host != peer || !other->egress ||
        !other->compensate || other->compensation.on) {
      continue;
    }
    linkemu::DelayCompensation how;
    linkemu::ImpairmentSpec spec = Compensated(
        peer, other->configured, other->compensate, other->parts, &how);
    if (!how.on) continue;
    absl::Status s = pump_->SetEgress(other->pump_id, spec, other->seed);
    if (!s.ok()) {
      Log("tunnel ", other->spec.lab, " ", other->spec.link_id,
          ": compensating its delay: ", s.message());
      continue;
    }
    other->egress = spec;
    other->compensation = how;
  }
}

int TunnelManager::RemoveLab(const std::string& lab) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  for (const auto& [key, e] : entries_) {
    if (e->spec.lab == lab) keys.push_back(key);
  }
  for (const auto& key : keys) Close(key);
  return keys.size();
}

int TunnelManager::RemoveInNamespaces(const std::string& netns_prefix) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  for (const auto& [key, e] : entries_) {
    if (absl::StartsWith(e->spec.tap.netns, netns_prefix)) keys.push_back(key);
  }
  for (const auto& key : keys) Close(key);
  return keys.size();
}

std::vector<TunnelStatus> TunnelManager::List(const std::string& lab) {
  std::vector<TunnelStatus> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, e] : entries_) {
    if (!lab.empty() && e->spec.lab != lab) continue;
    TunnelStatus st;
    st.spec = e->spec;
    st.up = e->up;
    st.connection = e->connection;
    if (auto stats = pump_->GetStats(e->pump_id)) st.stats = *stats;
    st.egress = e->egress;
    st.compensate = e->compensate;
    st.compensation = e->compensation;
    st.parts = e->parts;
    if (e->up) {
      st.state = "up";
    } else if (e->spec.listen) {
      st.state = absl::StrCat("waiting for ", e->spec.peer_host, " to connect");
      if (!e->last_error.empty())
        absl::StrAppend(&st.state, " (", e->last_error, ")");
    } else {
      st.state = absl::StrCat("connecting to ", e->spec.peer_host, " (",
                              e->spec.peer_address, ")");
      if (!e->last_error.empty()) {
        absl::StrAppend(&st.state, ", attempt ", e->attempts, ": ",
                        e->last_error);
      }
    }
    out.push_back(std::move(st));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.spec.lab, a.spec.link_id) <
           std::tie(b.spec.lab, b.spec.link_id);
  });
  return out;
}

void TunnelManager::OnDisconnect(TunnelPump::LinkId id,
                                 const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    auto k = by_pump_id_.find(id);
    if (k == by_pump_id_.end()) return;
    Entry& e = *entries_[k->second];
    e.up = false;
    e.connection.clear();
    e.last_error = std::string(why.message());
    e.attempts = 0;
    e.backoff = options_.min_backoff;
    e.next_dial = absl::Now() + options_.min_backoff;
    ++e.generation;
    Log("tunnel ", e.spec.lab, " ", e.spec.link_id, " to ", e.spec.peer_host,
        " down: ", why.message());
  }
  Wake();
}

void TunnelManager::HandleAccepted(int fd, const std::string& peer) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
  }
  SetIoTimeouts(fd, options_.io_timeout);
  std::unique_ptr<linkemu::TunnelConnection> conn;
  if (options_.tls != nullptr) {
    auto c = options_.tls->Accept(fd);
    if (!c.ok()) {
      Log("tunnel listener: refused connection from ", peer, ": ",
          c.status().message());
      return;
    }
    conn = *std::move(c);
  } else {
    conn = linkemu::PlainConnection(fd);
  }
  auto hello = linkemu::ReadTunnelHello(*conn);
  if (!hello.ok()) {
    if (!absl::IsUnavailable(hello.status())) {
      (void)linkemu::WriteAll(
          *conn,
          linkemu::EncodeTunnelReply(linkemu::TunnelReplyCode::kBadRequest,
                                     hello.status().message()));
    }
    Log("tunnel listener: connection from ", peer, ": ",
        hello.status().message());
    return;
  }
  if (!options_.token.empty() &&
      !linkemu::ConstantTimeEquals(hello->token, options_.token)) {
    (void)linkemu::WriteAll(
        *conn, linkemu::EncodeTunnelReply(linkemu::TunnelReplyCode::kBadToken,
                                          "wrong cluster token"));
    Log("tunnel listener: ", peer, " sent a wrong token for lab ", hello->lab,
        " link ", hello->link_id);
    return;
  }
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Key(hello->lab, hello->link_id));
  if (it == entries_.end() || !it->second->spec.listen) {
    std::string msg =
        absl::StrCat("agent at ", address_, " has no link ", hello->link_id,
                     " of lab ", hello->lab, " to accept");
    (void)linkemu::WriteAll(
        *conn, linkemu::EncodeTunnelReply(
                   linkemu::TunnelReplyCode::kUnknownLink, msg));
    return;
  }
  Entry& e = *it->second;
  if (options_.tls != nullptr && conn->PeerName() != e.spec.peer_host) {
    std::string msg = absl::StrCat(
        "certificate of agent '", conn->PeerName(), "' for link ",
        hello->link_id, " of lab ", hello->lab, ", whose other end is on '",
        e.spec.peer_host, "'");
    (void)linkemu::WriteAll(
        *conn,
        linkemu::EncodeTunnelReply(linkemu::TunnelReplyCode::kWrongPeer, msg));
    Log("tunnel listener: refused connection from ", peer, ": ", msg);
    return;
  }
  absl::Status s = linkemu::WriteAll(
      *conn, linkemu::EncodeTunnelReply(linkemu::TunnelReplyCode::kOk, "ok"));
  if (!s.ok()) return;
  TuneConnection(conn->fd());
  std::string conn_text = absl::StrCat(LocalAddr(conn->fd()), " <- ", peer,
                                       " ", conn->Describe());
  const absl::StatusOr<absl::Duration> min_rtt = MinRtt(conn->fd());
  if (!pump_->Attach(e.pump_id, std::move(conn)).ok()) return;
  e.tcp_min_rtt = min_rtt;
  MeasureBase(e);
  e.up = true;
  e.connection = conn_text;
  e.last_error.clear();
  ++e.generation;
  Log("tunnel ", e.spec.lab, " ", e.spec.link_id, " up: ", conn_text);
}

absl::Status TunnelManager::RunDial(const DialJob& job,
                                    const absl::Status* unreachable) {
  absl::Status s;
  std::unique_ptr<linkemu::TunnelConnection> conn;
  absl::Status connect_status;
  auto c = options_.ssh != nullptr ? absl::StatusOr<int>(-1)
           : unreachable != nullptr
               ? absl::StatusOr<int>(*unreachable)
               : Connect(job.address, options_.io_timeout);
  if (options_.ssh != nullptr) {
    s = DialSsh(job, unreachable, &conn, &connect_status);
  } else if (c.ok()) {
    connect_status = c.status();
    SetIoTimeouts(*c, options_.io_timeout);
    if (options_.tls != nullptr) {
      auto t = options_.tls->Connect(*c, job.peer_host);
      if (t.ok()) {
        conn = *std::move(t);
      } else {
        s = t.status();
        Log("tunnel ", job.hello.lab, " ", job.hello.link_id, ": refused ",
            job.peer_host, " at ", job.address, ": ", s.message());
      }
    } else {
      conn = linkemu::PlainConnection(*c);
    }
    if (conn != nullptr) {
      s = linkemu::WriteAll(*conn, linkemu::EncodeTunnelHello(job.hello));
      if (s.ok()) s = linkemu::ReadTunnelReply(*conn);
    }
  } else {
    s = connect_status = c.status();
  }
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(job.key);
  if (it == entries_.end() || it->second->generation != job.generation) {
    // Removed or changed meanwhile: `conn` closes.
    if (it != entries_.end()) it->second->dialing = false;
    return connect_status;
  }
  Entry& e = *it->second;
  e.dialing = false;
  if (!s.ok()) {
    conn.reset();
    ++e.attempts;
    e.last_error = std::string(s.message());
    // A wrong token or certificate will not fix itself soon: retry at the
    // slowest pace.
    e.backoff = absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s)
                    ? options_.max_backoff
                    : std::min(e.backoff * 2, options_.max_backoff);
    e.next_dial = absl::Now() + e.backoff;
    return connect_status;
  }
  TuneConnection(conn->fd());
  // An ssh connection is a socketpair: its description says where it goes.
  std::string conn_text =
      options_.ssh != nullptr
          ? conn->Describe()
          : absl::StrCat(LocalAddr(conn->fd()), " -> ", PeerAddr(conn->fd()),
                         " ", conn->Describe());
  const absl::StatusOr<absl::Duration> min_rtt = MinRtt(conn->fd());
  if (!pump_->Attach(e.pump_id, std::move(conn)).ok()) return connect_status;
  e.tcp_min_rtt = min_rtt;
  MeasureBase(e);
  e.up = true;
  e.connection = conn_text;
  e.last_error.clear();
  e.attempts = 0;
  e.backoff = options_.min_backoff;
  Log("tunnel ", e.spec.lab, " ", e.spec.link_id, " up: ", conn_text);
  return connect_status;
}

absl::Status TunnelManager::DialSsh(
    const DialJob& job, const absl::Status* unreachable,
    std::unique_ptr<linkemu::TunnelConnection>* conn,
    absl::Status* connect_status) {
  absl::Status s;
  if (unreachable != nullptr) {
    s = *unreachable;
  } else {
    auto c = options_.ssh->Connect(
        job.peer_host, job.address,
        options_.ssh->options().connect_timeout + options_.io_timeout);
    if (c.ok()) {
      *conn = *std::move(c);
      s = linkemu::WriteAll(**conn, linkemu::EncodeTunnelHello(job.hello));
      if (s.ok()) s = linkemu::ReadTunnelReply(**conn);
      // ssh's own words: why it could not connect, or what ended it.
      if (absl::IsUnavailable(s)) s = (*conn)->Explain(s);
    } else {
      s = c.status();
    }
    if (absl::IsUnauthenticated(s)) {
      Log("tunnel ", job.hello.lab, " ", job.hello.link_id, ": refused by ",
          job.peer_host, ": ", s.message());
    }
  }
  // The peer answered (a refusal of the link included): it is reachable.
  // Otherwise the other links to it share this round's error.
  if (!s.ok() && !absl::IsNotFound(s) && !absl::IsInvalidArgument(s) &&
      !absl::IsPermissionDenied(s)) {
    *connect_status = s;
  }
  return s;
}

void TunnelManager::DialLoop() {
  while (true) {
    std::vector<DialJob> jobs;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      absl::Time now = absl::Now();
      absl::Duration wait = absl::Seconds(1);
      for (auto& [key, e] : entries_) {
        if (e->spec.listen || e->up || e->dialing) continue;
        if (e->next_dial <= now) {
          e->dialing = true;
          jobs.push_back({key,
                          e->generation,
                          e->spec.peer_address,
                          e->spec.peer_host,
                          {e->spec.lab, e->spec.link_id, options_.token}});
        } else {
          wait = std::min(wait, e->next_dial - now);
        }
      }
      if (jobs.empty()) {
        dial_cv_.WaitWithTimeout(&mu_, wait);
        continue;
      }
    }
    // Each peer address's dials run on a worker of their own, so a peer
    // that does not answer (a connect timeout) holds up only its own
    // links; this loop goes on (the jobs' entries are `dialing` meanwhile).
    // One failed connect per peer address and round: the other links to
    // that peer share its error instead of each waiting for a timeout.
    absl::flat_hash_map<std::string, std::vector<DialJob>> by_address;
    for (auto& job : jobs) by_address[job.address].push_back(std::move(job));
    for (auto& [address, group] : by_address) {
      dial_pool_->Schedule([this, group = std::move(group)] {
        std::optional<absl::Status> unreachable;
        for (const auto& job : group) {
          {
            absl::MutexLock lock(&mu_);
            if (stopping_) return;
          }
          absl::Status s = RunDial(job, unreachable ? &*unreachable : nullptr);
          if (!s.ok() && !unreachable) unreachable = s;
        }
      });
    }
  }
}

void TunnelManager::AcceptLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = poll(fds, 2, 1000);
    if (n <= 0) continue;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof(v));
    }
    if (fds[0].revents & POLLIN) {
      while (true) {
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_CLOEXEC);
        if (fd < 0) break;
        std::string peer = SockAddrString(ss);
        std::string source = SockAddrHost(ss);
        {
          absl::MutexLock lock(&mu_);
          int& mine = handshaking_[source];
          // The SSH carrier's links all arrive from this host's sshd, on
          // loopback: only the total bounds them.
          const bool loopback = source == "127.0.0.1" || source == "::1";
          if ((mine >= kMaxHandshakesPerSource && !loopback) ||
              handshakes_ >= kMaxHandshakes) {
            if (mine == 0) handshaking_.erase(source);
            close(fd);
            Log("tunnel listener: refused connection from ", peer, ": ",
                handshakes_ < kMaxHandshakes
                    ? absl::StrCat(mine, " handshakes from ", source,
                                   " under way already")
                    : absl::StrCat(handshakes_,
                                   " handshakes under way already"));
            continue;
          }
          ++mine;
          ++handshakes_;
        }
        handshake_pool_->Schedule([this, fd, peer, source] {
          HandleAccepted(fd, peer);
          absl::MutexLock lock(&mu_);
          --handshakes_;
          if (--handshaking_[source] <= 0) handshaking_.erase(source);
        });
      }
    }
  }
}

}  // namespace emu::agent::tunnel
