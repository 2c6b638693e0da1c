// BaseLatency: the one-way latency a link's path already has with no
// condition at all (the sender's stack, its TAP, the engine's read wake-up
// and pass-through, the receiver's TAP and stack), measured once and then
// subtracted from a compensated direction's delay, so that the end-to-end
// figure is the configured one (`compensate: true`; docs/linkemu.md,
// "Compensating the path's base latency").
//
// The engine's own lateness after a departure is compensated separately
// (OwnLatency, per direction, always on); this is what lies outside it.
// It is measured on a scratch path of the same kind, never on the lab's
// link (no probe traffic in a user's nodes, no wait for addresses):
// EngineTapPathProbe (engine_path_probe.h) joins two TAPs in two unnamed
// namespaces through the same engine and times UDP probes with one clock.
//
// The figure is a low quantile of the samples (rank n / kQuantileDivisor,
// as OwnLatency's): what the path always costs, not what a busy moment
// adds, so a compensated frame arrives early only when its path was
// quicker than almost every probe's.
#ifndef EMU_LINKEMU_IMPAIR_BASE_LATENCY_H_
#define EMU_LINKEMU_IMPAIR_BASE_LATENCY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace emu::linkemu {

// The base from one-way samples (nanoseconds): the sample of rank
// n / kBaseQuantileDivisor, capped at kMaxBaseNs; 0 when there are none.
// Negative samples (a clock step) count as 0.
inline constexpr size_t kBaseQuantileDivisor = 8;
// The most a base may be: 10 ms. A path slower than that is not "base":
// the host is stalled while it was measured.
inline constexpr int64_t kMaxBaseNs = 10'000'000;
int64_t BaseFromSamplesNs(std::vector<int64_t> samples);

// The delay a compensated direction gets: delay - min(base, delay). Never
// negative; a direction without delay stays without.
uint64_t CompensatedDelayUs(uint64_t delay_us, uint64_t base_us);

// The base of a cross-host link's path (its tunnel between two hosts) from
// a minimum RTT: of echo frames through both pumps (TunnelPump::ProbeRtt),
// or the one the tunnel's TCP connection has seen (TCP_INFO's
// tcpi_min_rtt, linkemu/tcp_info.h): half of it, in nanoseconds. Not
// capped: hosts far apart have a real base of many milliseconds, and a
// minimum is not raised by a busy moment. Negative counts as 0.
int64_t BaseFromMinRttNs(absl::Duration min_rtt);

// Where a base comes from (DelayCompensation::source, GetLabStats'
// DirectionCounters.base_source, `emuctl linktest`): a same-host engine
// path (BaseLatency's probe), a cross-host link's tunnel by echo frames
// through both pumps (linkemu/tunnel_pump.h, ProbeRtt), or, where the echo
// got no idle round trip, the tunnel's TCP minimum RTT (tcp_info.h).
inline constexpr char kBaseSourceEnginePath[] = "engine path probe";
inline constexpr char kBaseSourceTunnelEcho[] = "tunnel echo min RTT/2";
inline constexpr char kBaseSourceTunnelTcp[] = "tunnel TCP min RTT/2";

// A part of a direction's path that the probe behind its base does not
// cross: a QEMU guest's NIC (its host-side TAP, QEMU, virtio and the
// guest's kernel), timed by ARP round trips from that TAP
// (arp_path_probe.h). A measured part is added to the base; one that could
// not be measured adds nothing and says why.
struct BasePart {
  bool measured = false;
  int64_t ns = 0;      // one way: half the minimum round trip
  std::string source;  // "guest vm:eth1 ARP min RTT/2" / "guest vm:eth1
                       // not probed: ..."
};

// `base_ns` from `source` plus `parts`: the measured parts' sum added, and
// the source naming each, measured ones first ("engine path probe + guest
// vm:eth1 ARP min RTT/2", "engine path probe; guest vm:eth1 not probed:
// ...").
int64_t BaseWithPartsNs(int64_t base_ns, const std::vector<BasePart>& parts);
std::string BaseSourceWithParts(const std::string& source,
                                const std::vector<BasePart>& parts);

// How one direction's delay was compensated, as GetLabStats and `emuctl
// linktest` show it. `on` only where a base was measured and subtracted.
struct DelayCompensation {
  bool on = false;                // asked, has a delay, a base is known
  uint64_t base_us = 0;           // the path's measured one-way base
  uint64_t applied_delay_us = 0;  // configured - min(base, configured)
  std::string source;             // a kBaseSource* while `on`
};

// A direction of configured delay `delay_us` compensated by a base of
// `base_ns` from `source` plus `parts`: on, the base with the measured
// parts, the delay less it (CompensatedDelayUs), the source naming them
// (BaseSourceWithParts).
DelayCompensation CompensationFor(uint64_t delay_us, int64_t base_ns,
                                  const std::string& source,
                                  const std::vector<BasePart>& parts);

// Measures a path's one-way delays. An interface so the cache is tested
// without namespaces.
class BaseLatencyProbe {
 public:
  virtual ~BaseLatencyProbe() = default;
  // One-way delays, nanoseconds, of probes through a scratch path.
  // UNAVAILABLE / the cause when the path cannot be built.
  virtual absl::StatusOr<std::vector<int64_t>> Sample() = 0;
};

// The base of one path kind, measured on first use and then fixed for the
// object's life (the agent's process): every link compensated afterwards
// gets the same figure, and a live change never re-measures. A failed
// measurement is not kept (the next call tries again).
//
// Thread-safe; the first caller blocks for the probe (a fraction of a
// second), others wait for it. Borrows `probe`.
class BaseLatency {
 public:
  explicit BaseLatency(BaseLatencyProbe* probe) : probe_(probe) {}

  absl::StatusOr<int64_t> Ns();

  // The figure if measured, without measuring.
  std::optional<int64_t> MeasuredNs() const;

 private:
  BaseLatencyProbe* const probe_;
  mutable absl::Mutex mu_;
  std::optional<int64_t> ns_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_BASE_LATENCY_H_
