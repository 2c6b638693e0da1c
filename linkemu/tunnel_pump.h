// TunnelPump: the data plane of TCP-tunneled links. One epoll event loop
// thread moves frames, for every link at once, between a TAP-like frame
// device (each read() returns one frame, each write() sends one) and the
// link's TCP connection, framed as linkemu/tunnel_frame.h says.
//
// Batching: a readable TAP is read up to kBatchFrames frames (or until the
// output buffer is full) and everything read goes to the socket in one
// send(); a readable socket is read in one recv() of up to kInBufferBytes and
// every complete frame in it is written to the TAP. The TAP's reads and
// writes go through FrameBatchIo (io_uring: a batch of frames per system
// call, linkemu/frame_batch_io.h). With the TAP's GSO offloads a frame is
// up to 64 KiB, so a bulk TCP flow costs a few syscalls per 64 KiB, not one
// per 1500-byte packet.
//
// Backpressure: when the output towards the socket holds more than
// kHighWaterBytes, the TAP is not read (its own queue and qdisc then hold or
// drop, as a full NIC queue would) until the socket drains. Frames read from
// the TAP while the link has no connection are dropped and counted: a
// disconnected cable loses frames, it does not store them.
//
// The connection is a TunnelConnection (plain TCP or TLS, chosen by whoever
// set it up): the pump reads and writes through it and polls its socket.
//
// A connection that fails (EOF, error, a framing error) is closed and
// reported through the DisconnectFn; the link and its TAP stay, ready for
// Attach() of the next connection.
//
// Egress impairment (SetEgress): the sending side of a cross-host link
// applies its direction's ImpairmentSpec (linkemu/impair/) to the frames it
// reads from the TAP, before framing them onto the connection: one pass,
// no extra hop. Frames wait in the link's pipeline (bounded by the spec's
// queue limits) and are framed at their departure, driven by the pump's
// timerfd. A departure while the output is above the high-water mark waits
// for the socket to drain (the connection is the bottleneck then). Frames
// held when the connection goes are dropped with it.
//
// Echo (ProbeRtt): the pump measures round trips through both pumps with
// the echo control frame (linkemu/tunnel_frame.h). It answers every echo
// request the peer sends straight from the stream it reads into the
// stream it writes (never to the TAP; dropped and counted only when its
// output is above the high-water mark). Its own requests go one at a
// time, kEchoGap after the last reply, each when its output is empty; a
// round trip during which a data
// frame crossed the link either way is not counted (it waited behind that
// frame, so it is no longer the idle path's cost) and another is sent.
// The EchoFn gets the minimum of the counted round trips.
//
// Thread-safe. The DisconnectFn and EchoFn run on the pump's thread,
// holding no lock of the pump, so they may call back into the pump.
#ifndef EMU_LINKEMU_TUNNEL_PUMP_H_
#define EMU_LINKEMU_TUNNEL_PUMP_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "linkemu/frame_batch_io.h"
#include "linkemu/impair/direction_stats.h"
#include "linkemu/impair/impairment_spec.h"
#include "linkemu/tunnel_connection.h"
#include "linkemu/tunnel_frame.h"

namespace emu::linkemu {

class TunnelPump {
 public:
  using LinkId = uint64_t;

  static constexpr int kBatchFrames = FrameBatchIo::kMaxBatch;
  static constexpr size_t kHighWaterBytes = 512 * 1024;
  static constexpr size_t kInBufferBytes = 512 * 1024;

  // Counters of one link since AddLink. Frames, not bytes, for drops.
  struct Stats {
    uint64_t tap_to_tcp_frames = 0;
    uint64_t tap_to_tcp_bytes = 0;  // frame bytes, headers excluded
    uint64_t tcp_to_tap_frames = 0;
    uint64_t tcp_to_tap_bytes = 0;
    uint64_t dropped_disconnected = 0;  // read from the TAP with no connection
    uint64_t dropped_tap_write = 0;     // the TAP refused a frame
    uint64_t connections = 0;           // Attach calls
    uint64_t echoes_answered = 0;       // the peer's echo requests sent back
    uint64_t echoes_refused = 0;        // not answered: output above high water
    bool connected = false;
    bool tap_failed = false;  // the TAP's read failed for good (device gone)
    // The egress pipeline's counters (SetEgress); zero without one.
    DirectionStats egress;
  };

  // Called when a link's connection ended; `why` says how.
  using DisconnectFn = std::function<void(LinkId, const absl::Status& why)>;
  // Called when a ProbeRtt ends: the minimum round trip and how many
  // counted, or why there is none (DEADLINE_EXCEEDED: no idle round trip
  // in time). A probe whose connection goes first is not reported.
  struct EchoResult {
    absl::Duration min_rtt;
    int samples = 0;
  };
  using EchoFn =
      std::function<void(LinkId, const absl::StatusOr<EchoResult>& result)>;

  // A probe's time limit (after it, the samples so far count, or none) and
  // its attempts' limit (samples x this).
  static constexpr absl::Duration kEchoDeadline = absl::Seconds(5);
  // The pause between a reply and the next request: both pumps go idle in
  // between, as between a sparse flow's frames, so each round trip pays
  // the wake-ups such a frame pays (back to back they stay awake and
  // measure less than data sees).
  static constexpr absl::Duration kEchoGap = absl::Milliseconds(5);
  static constexpr int kEchoAttemptsPerSample = 8;

  // Starts the event loop thread. `io_mode` kSyscalls moves TAP frames one
  // system call each (for comparison, or where io_uring is unwanted).
  static absl::StatusOr<std::unique_ptr<TunnelPump>> Create(
      DisconnectFn on_disconnect,
      FrameBatchIo::Mode io_mode = FrameBatchIo::Mode::kAuto,
      EchoFn on_echo = nullptr);
  ~TunnelPump();  // stops the thread, closes every fd it owns
  TunnelPump(const TunnelPump&) = delete;
  TunnelPump& operator=(const TunnelPump&) = delete;

  // Sets the nice value (-20..19) of the pump's thread, so that egress
  // departures keep their time on a busy host (LinkEngine::Options::nice
  // does the same for the engine). Below the current value needs
  // CAP_SYS_NICE; INVALID_ARGUMENT out of range, the errno otherwise.
  absl::Status SetNice(int nice);
  // The pump thread's kernel id (waits until the thread has started).
  pid_t thread_id();

  // Adds a link around `tap_fd` (taken over; made non-blocking; closed by
  // RemoveLink or the destructor). The link starts without a connection.
  absl::StatusOr<LinkId> AddLink(int tap_fd);

  // Gives the link its connection `conn` (taken over; its socket is made
  // non-blocking). A previous connection is closed without a DisconnectFn
  // call. NOT_FOUND (and `conn` closed) for an unknown link.
  absl::Status Attach(LinkId id, std::unique_ptr<TunnelConnection> conn);
  // The same with a plain connected stream socket `conn_fd`.
  absl::Status Attach(LinkId id, int conn_fd);

  // Closes the link's connection, if any, without a DisconnectFn call.
  void Detach(LinkId id);

  // Closes the link's TAP and connection. No-op for an unknown link.
  void RemoveLink(LinkId id);

  // Applies `spec` to the frames the link sends from now on; the first
  // call makes the link's pipeline from `seed` (later calls keep its random
  // state and ignore `seed`), a pass-through spec costs nothing per frame.
  // A live change keeps held frames on their schedule (impairment_pipeline.h).
  // NOT_FOUND for an unknown link; INVALID_ARGUMENT naming the field.
  absl::Status SetEgress(LinkId id, const ImpairmentSpec& spec, uint64_t seed);

  // Measures `samples` idle round trips (at least 1) on the link's
  // connection with echo frames, as above, and reports through the EchoFn.
  // A probe under way is replaced. NOT_FOUND for an unknown link,
  // FAILED_PRECONDITION without a connection.
  absl::Status ProbeRtt(LinkId id, int samples);

  std::optional<Stats> GetStats(LinkId id);

 private:
  struct Link;
  struct Channel {
    LinkId link;
    bool is_tap;
  };

  TunnelPump(int epoll_fd, int wake_fd, int timer_fd,
             DisconnectFn on_disconnect, FrameBatchIo::Mode io_mode,
             EchoFn on_echo);
  // Reads a batch of frames from the link's TAP into slots_; the number of
  // slots tried (lens_[i] == 0: none). TapFailed on a read error.
  int ReadTapBatch(Link& l, int max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();
  void OnTapReadable(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TapFailed(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnConnReadable(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frames the egress pipeline has due by `now_ns` into the output, as
  // room allows; then Flush.
  void DrainEgress(Link& l, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes room for `bytes` more at out_end (compacting the buffer).
  void ReserveOut(Link& l, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends control frame `c` to the link's output.
  void QueueControl(Link& l, const TunnelControl& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drains every egress pipeline due now; arms the timerfd for the next.
  void RunEgressTimers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends pending output; arms/disarms EPOLLOUT and the TAP's EPOLLIN.
  void Flush(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseConn(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A control frame from the peer (OnConnReadable).
  void OnControl(Link& l, const TunnelControl& c, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends the probe's next echo request when its output is empty.
  void MaybeSendEcho(Link& l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the link's probe: reports its figure (or `why` without one).
  void FinishProbe(Link& l, absl::Status why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the probes past their deadline and sends the requests due; the
  // loop's next wait in ms (-1: no probe under way).
  int RunProbes(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(Link& l, absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetTapArmed(Link& l, bool armed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetConnWantsOut(Link& l, bool want) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Register(int fd, uint32_t events, Channel ch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int epoll_fd_;
  const int wake_fd_;
  const int timer_fd_;
  const DisconnectFn on_disconnect_;
  const EchoFn on_echo_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  LinkId next_link_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 2;  // 0 wake, 1 timer
  // Links with an egress pipeline, and the instant the timerfd is set to.
  absl::flat_hash_set<LinkId> egress_links_ ABSL_GUARDED_BY(mu_);
  int64_t timer_armed_ns_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<LinkId, std::unique_ptr<Link>> links_ ABSL_GUARDED_BY(mu_);
  // epoll's data is a token, so an event for an fd removed meanwhile (or
  // whose number was reused) finds nothing instead of a dangling pointer.
  absl::flat_hash_map<uint64_t, Channel> channels_ ABSL_GUARDED_BY(mu_);
  // Disconnects found while handling events; reported after unlocking.
  std::vector<std::pair<LinkId, absl::Status>> failed_ ABSL_GUARDED_BY(mu_);
  // Links probing (ProbeRtt), and probes ended, reported after unlocking.
  absl::flat_hash_set<LinkId> probing_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<LinkId, absl::StatusOr<EchoResult>>> echoed_
      ABSL_GUARDED_BY(mu_);
  // TAP frames of one batch: kBatchFrames slots of kMaxTunnelFrame bytes
  // (allocated, not touched: only the pages frames use become resident).
  FrameBatchIo io_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<char[]> slot_memory_;
  std::vector<absl::Span<char>> slots_ ABSL_GUARDED_BY(mu_);
  size_t lens_[kBatchFrames] ABSL_GUARDED_BY(mu_);
  pid_t thread_id_ ABSL_GUARDED_BY(mu_) = 0;  // set by Run
  std::thread thread_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_PUMP_H_
