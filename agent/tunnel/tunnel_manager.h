// TunnelManager: the agent's cross-host link ends. For each RemoteLinkEnd
// of each lab it keeps a TAP device inside the node's namespace and ONE TCP
// connection to the agent holding the other end, and lets a TunnelPump
// (linkemu/tunnel_pump.h) move frames between the two.
//
// Connections: the agent listens on one tunnel address (Options::
// listen_address, advertised as Capabilities.tunnel_address). Of the two
// ends of a link, the one marked `listen` waits for the other to dial; the
// dialer sends the handshake (lab, link id, cluster token;
// linkemu/tunnel_handshake.h) and the listener attaches the accepted socket
// to the link it names. A connection that breaks is re-dialled with
// exponential backoff (Options::min_backoff..max_backoff) while the TAP and
// everything configured on it (addresses, qdiscs) stay; a listener that
// accepts a new connection for a link replaces the old one (the peer
// restarted). TCP keepalive and TCP_USER_TIMEOUT notice a silent peer
// within about 10 s.
//
// Carrier: plain TCP, or TLS with the cluster's agent certificates
// (Options::tls; linkemu/tunnel_tls.h): both ends verify each other against
// the cluster CA, the dialer checks the listener is the link's peer host and
// the listener checks the dialer's certificate names the link's other host.
// A refused connection is logged with the peer's address. Or SSH
// (Options::ssh; linkemu/tunnel_ssh.h): the dialer runs `ssh -W` to the
// peer host, whose listener is on loopback; SSH keys decide who may dial,
// the token is checked as always, the bytes inside are plain.
//
// Threads: the pump's event loop, an acceptor (accepts and answers
// handshakes) and a dialer (connects and handshakes, blocking with
// timeouts; one failed connect per peer address and round, so links to a
// dead host cost one timeout, not one each). No thread per link.
//
// Thread-safe. Borrows the TapOpener.
#ifndef EMU_AGENT_TUNNEL_TUNNEL_MANAGER_H_
#define EMU_AGENT_TUNNEL_TUNNEL_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/thread_pool.h"
#include "linkemu/frame_batch_io.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/tap_device.h"
#include "linkemu/tunnel_pump.h"
#include "linkemu/tunnel_ssh.h"
#include "linkemu/tunnel_tls.h"
#include "proto/agent.pb.h"

namespace emu::agent::tunnel {

// What carries the tunnels' bytes between agents.
enum class TunnelCarrier { kPlain, kTls, kSsh };

// The agent's --tunnel_carrier: "tls", "plain", "ssh", or "" for the
// default: tls,
// unless the agent runs with --insecure_plaintext (no certificates), which
// is choosing plain text explicitly. INVALID_ARGUMENT naming the value
// otherwise.
absl::StatusOr<TunnelCarrier> ChooseTunnelCarrier(absl::string_view flag,
                                                  bool insecure_plaintext);

// "plain" / "tls" / "ssh".
absl::string_view TunnelCarrierName(TunnelCarrier carrier);

// With the SSH carrier the listener is bound to loopback at the port of
// `tunnel_listen` ("198.18.0.11:7472" -> "127.0.0.1:7472") and the agent
// advertises `tunnel_listen` itself with the bound port: its host is the
// peers' default SSH destination. INVALID_ARGUMENT for an address without
// a port.
struct SshListen {
  std::string bind;       // "127.0.0.1:<port>"
  std::string advertise;  // "<host of tunnel_listen>:<port>" (port filled by
                          // AdvertisedSshAddress when it was 0)
};
absl::StatusOr<SshListen> SshListenAddress(const std::string& tunnel_listen);
// `advertise` with the port of `bound` ("127.0.0.1:41234").
std::string AdvertisedSshAddress(const SshListen& listen,
                                 const std::string& bound);

// One tunneled link end as the manager needs it.
struct TunnelEndSpec {
  std::string lab;
  std::string link_id;   // unique within the lab ("r1:eth1<->r2:eth1")
  linkemu::TapSpec tap;  // where the TAP goes and how it looks
  bool listen = false;   // wait for the peer to dial (else dial it)
  std::string peer_host;
  std::string peer_address;  // "host:port" of the peer's tunnel listener
};

// The alias that marks a TAP carrying a link of `lab` (distinct from a veth
// end's LinkAlias, so a link moving between local and remote is rebuilt).
std::string TunnelAlias(absl::string_view lab, const emu::v1::Link& link);

// The spec of the local end of `remote` in node namespace `netns`; `node`
// (may be null) gives the interface's MAC and MTU.
TunnelEndSpec TunnelEndFor(const std::string& lab, const std::string& netns,
                           const emu::v1::RemoteLinkEnd& remote,
                           const emu::v1::Node* node);

// The local endpoint of a remote link end.
const emu::v1::Endpoint& LocalEndpoint(const emu::v1::RemoteLinkEnd& remote);

// Creates TAP devices; the OS boundary of the manager.
class TapOpener {
 public:
  virtual ~TapOpener() = default;
  // A TAP fd (see linkemu::OpenTapInNamespace).
  virtual absl::StatusOr<int> Open(const linkemu::TapSpec& spec) = 0;
  // False once the device behind `fd` is gone (its namespace deleted).
  virtual bool IsAlive(int fd) = 0;
};

class LinuxTapOpener : public TapOpener {
 public:
  absl::StatusOr<int> Open(const linkemu::TapSpec& spec) override {
    return linkemu::OpenTapInNamespace(spec);
  }
  bool IsAlive(int fd) override { return linkemu::TapIsAlive(fd); }
};

struct TunnelStatus {
  TunnelEndSpec spec;
  // "up"; otherwise what the link waits for and the last error, e.g.
  // "connecting to h2 (198.18.0.12:7472), attempt 3: Connection refused".
  std::string state;
  bool up = false;
  std::string connection;  // "local -> remote" socket addresses and the carrier ("plain", "tls
  // TLSv1.3 ...") when up
  linkemu::TunnelPump::Stats stats;
  // What this end's egress pipeline applies (SetEgress, after compensation);
  // none: no pipeline.
  std::optional<linkemu::ImpairmentSpec> egress;
  // Whether SetEgress asked to compensate its delay, and how it is: `on`
  // once the path's base to the peer host is known and subtracted.
  bool compensate = false;
  linkemu::DelayCompensation compensation;
  // The parts SetEgress was given, added to the base when it is known.
  std::vector<linkemu::BasePart> parts;
};

class TunnelManager {
 public:
  struct Options {
    std::string listen_address;  // "host:port", "[v6]:port"; port 0 = any
    std::string token;           // the cluster token; empty = accept any
    // The TLS carrier (agent certificates of the cluster CA); null: plain
    // TCP, chosen explicitly (--tunnel_carrier=plain).
    std::shared_ptr<linkemu::TunnelTls> tls;
    // The SSH carrier (with tls null): dials run `ssh -W` to the peer (the
    // handshake may take ssh's connect timeout more than io_timeout); the
    // listener takes plain connections and should be bound to loopback
    // (SshListenAddress).
    std::shared_ptr<const linkemu::TunnelSsh> ssh;
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    absl::Duration io_timeout = absl::Seconds(3);  // connect + handshake
    // TAP frames in io_uring batches (kAuto) or one system call each.
    linkemu::FrameBatchIo::Mode frame_io = linkemu::FrameBatchIo::Mode::kAuto;
    // How many idle echo round trips through both pumps measure the base
    // latency to a peer host (TunnelPump::ProbeRtt; SetEgress says why 8).
    // 0: none, the TCP minimum RTT at once (tests).
    int echo_samples = 8;
    // The minimum RTT of an established connection's socket (the base's
    // fallback when the echo finds no idle round trip); tests replace it.
    // Empty: linkemu::TcpMinRtt.
    std::function<absl::StatusOr<absl::Duration>(int fd)> min_rtt;
  };

  // Binds the listener and starts the threads.
  static absl::StatusOr<std::unique_ptr<TunnelManager>> Start(Options options,
                                                              TapOpener* taps);
  ~TunnelManager();  // closes every tunnel (their TAPs disappear)
  TunnelManager(const TunnelManager&) = delete;
  TunnelManager& operator=(const TunnelManager&) = delete;

  // The bound listen address, "host:port".
  const std::string& address() const { return address_; }

  // The nice value of the thread that pumps every tunnel and applies their
  // egress conditions (TunnelPump::SetNice).
  absl::Status SetPumpNice(int nice) { return pump_->SetNice(nice); }

  // Makes the lab's tunnel ends exactly `ends`: closes the others (their
  // TAPs go), re-creates a TAP whose device vanished, whose namespace was
  // replaced (same name, new namespace) or whose spec changed,
  // keeps the rest (and their connections) untouched. Returns the link ids
  // whose TAP was created by this call. Tries every end and returns the
  // first failure.
  absl::StatusOr<std::vector<std::string>> Apply(
      const std::string& lab, const std::vector<TunnelEndSpec>& ends);

  // Impairs what the link's end sends from now on (TunnelPump::SetEgress;
  // issue 10): the first call with conditions makes the pipeline from
  // `seed`, later calls change it live (held frames keep their schedule,
  // the random state goes on). A pass-through spec on a link that never
  // had conditions does nothing. The pipeline lives with the TAP: across
  // reconnects; a TAP re-created by Apply starts without one (the caller
  // sets it again after each Apply). NOT_FOUND for an unknown link.
  //
  // `compensate` (compensate: true, docs/linkemu.md "Compensating the
  // path's base latency"): the pipeline's delay is spec.delay_us less the
  // base latency of the path to the link's peer host, measured on the
  // first connection to that host: half the minimum of Options::
  // echo_samples idle echo round trips through both pumps (right after the
  // hello, before the link's data flows, a few RTTs long). 8 because the
  // noise is one-sided (a wake-up is only ever late, a path never quicker
  // than its cost): the minimum of a few settles on what every frame pays,
  // more only lower it towards the luckiest wake-up, and a minimum can
  // only under-estimate, so compensation never makes a frame early. Where
  // the echo finds no idle round trip (data crossed during each, or none
  // came back in TunnelPump::kEchoDeadline) the connection's TCP minimum
  // RTT stands in (Options::min_rtt; none with the SSH carrier, whose
  // socket is not the TCP path). The figure is kept for the manager's
  // life: once per host pair. Until it is known the configured delay
  // applies uncompensated, and it is compensated when it comes.
  // `parts`: what the direction's path has beyond the two pumps that the
  // echo crosses (the TAPs and stacks at both ends, a guest end's NIC:
  // linkemu::BasePart), added to the peer's base once it is known.
  absl::Status SetEgress(const std::string& lab, const std::string& link_id,
                         const linkemu::ImpairmentSpec& spec, uint64_t seed,
                         bool compensate = false,
                         std::vector<linkemu::BasePart> parts = {});

  // The base latency (nanoseconds, one way) measured to `peer_host`, if any.
  std::optional<int64_t> BaseToPeerNs(const std::string& peer_host);

  // Closes every tunnel of `lab`; returns how many.
  int RemoveLab(const std::string& lab);

  // Closes every tunnel, of any lab, whose TAP sits in a namespace whose
  // name starts with `netns_prefix`: a lab being destroyed ends the
  // community attachments of other labs in its segments (an open TAP would
  // keep the namespace, and its bridge, alive). Returns how many.
  int RemoveInNamespaces(const std::string& netns_prefix);

  // Status of the lab's tunnels (empty lab = all), sorted by lab, link id.
  std::vector<TunnelStatus> List(const std::string& lab);

 private:
  struct Entry;
  struct DialJob;

  TunnelManager(Options options, TapOpener* taps, int listen_fd,
                std::string address, int wake_fd);
  // Accepts, and hands each connection to a handshake worker: a peer that
  // connects and sends nothing holds one worker for io_timeout, not the
  // listener. At most kMaxHandshakesPerSource at once from one address
  // (but loopback, where the SSH carrier's sshd connects from) and
  // kMaxHandshakes in all; more are closed at once.
  void AcceptLoop();
  // Hands due links' dials to workers, one per peer address at a time, so
  // a peer that does not answer holds up only its own links.
  void DialLoop();
  void Wake();
  void OnDisconnect(linkemu::TunnelPump::LinkId id, const absl::Status& why);
  void HandleAccepted(int fd, const std::string& peer);
  // Dials (or, with `unreachable`, records that error without dialing) and
  // attaches or schedules the retry. Returns the connect's status.
  absl::Status RunDial(const DialJob& job, const absl::Status* unreachable);
  // The SSH carrier's dial and handshake: the handshake's status; sets
  // `connect_status` when the peer could not be reached.
  absl::Status DialSsh(const DialJob& job, const absl::Status* unreachable,
                       std::unique_ptr<linkemu::TunnelConnection>* conn,
                       absl::Status* connect_status);
  void Close(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `configured`, less the base to `peer_host` where `compensate` asks and
  // the base is known; `how` says what was done.
  linkemu::ImpairmentSpec Compensated(const std::string& peer_host,
                                      const linkemu::ImpairmentSpec& configured,
                                      bool compensate,
                                      const std::vector<linkemu::BasePart>& parts,
                                      linkemu::DelayCompensation* how) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a connection of `e` was attached: starts the echo probe when its
  // peer host's base is not known yet (or, without echo, learns the
  // socket's minimum RTT at once).
  void MeasureBase(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The fallback: e's connection's TCP minimum RTT (LearnBase).
  void LearnTcpBase(const Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pump's echo probe of link `id` ended.
  void OnEcho(linkemu::TunnelPump::LinkId id,
              const absl::StatusOr<linkemu::TunnelPump::EchoResult>& result);
  // A minimum RTT `min_rtt` to e's peer host from `source`
  // (linkemu::kBaseSource*): the first figure for that host is kept, and
  // the compensated links to it that waited for it get their delay.
  void LearnBase(const Entry& e, const absl::StatusOr<absl::Duration>& min_rtt,
                 const char* source, absl::string_view how)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<absl::Duration> MinRtt(int fd) const;

  const Options options_;
  TapOpener* const taps_;
  const int listen_fd_;
  const std::string address_;
  const int wake_fd_;
  std::unique_ptr<linkemu::TunnelPump> pump_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  // By "<lab>\n<link_id>".
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<linkemu::TunnelPump::LinkId, std::string> by_pump_id_
      ABSL_GUARDED_BY(mu_);
  // One-way base latency to each peer host, once measured (LearnBase).
  struct PeerBase {
    int64_t ns = 0;
    const char* source = "";  // a linkemu::kBaseSource*
  };
  absl::flat_hash_map<std::string, PeerBase> base_ns_ ABSL_GUARDED_BY(mu_);
  absl::CondVar dial_cv_;  // with mu_: a dial may be due
  // Handshakes under way, by the peer's address (without port).
  absl::flat_hash_map<std::string, int> handshaking_ ABSL_GUARDED_BY(mu_);
  int handshakes_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<ThreadPool> handshake_pool_;
  std::unique_ptr<ThreadPool> dial_pool_;  // DialLoop's dials, by peer
  std::thread acceptor_;
  std::thread dialer_;
};

}  // namespace emu::agent::tunnel

#endif  // EMU_AGENT_TUNNEL_TUNNEL_MANAGER_H_
