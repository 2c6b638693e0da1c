// The queueing disciplines one direction of a link needs, computed from the
// topology's LinkParams: a validated NetEm part (delay, loss, ...) and a
// validated TBF part (rate). Pure: no kernel, no libnl; libnl_qdisc.h
// programs a plan.
//
// Units, and why the derived numbers are what they are:
//
//  * TbfSpec::rate_bytes_per_sec is BYTES per second (rate_bps / 8), the
//    unit TBF and libnl use. TBF counts each packet as its layer-2 frame
//    without FCS (14 + 1500 = 1514 bytes for a full-size Ethernet frame), so
//    TCP goodput over a TBF at rate R is R * 1448 / 1514 (1448 = 1500 - 20
//    IP - 20 TCP - 12 timestamp option bytes of payload per frame).
//
//  * Burst, when not given: max(rate_bytes / 250, 2 * 1514), i.e. one tick
//    of tokens on a HZ=250 kernel, at least two full frames. Measured over a
//    veth pair between namespaces (kernel 6.18, HZ=250, GSO on; iperf3 TCP
//    3 s; expected = R * 1448/1514):
//        rate     burst     goodput      vs expected
//        1Mbit    3028b     0.961Mbit    +0.4%
//        10Mbit   5000b     9.575Mbit    +0.1%
//        100Mbit  50000b    95.59Mbit    -0.0%
//        1Gbit    500000b   957.5Mbit    +0.1%
//        10Gbit   5000000b  9576Mbit     +0.1%
//    Bursts below one 64 KiB GSO packet make TBF segment GSO skbs in
//    software (tbf_segment); that stays accurate up to ~100 Mbit/s, but at
//    high rates a small bucket under-delivers: 1Gbit with 3028b gave 928
//    Mbit/s (-3%), 10Gbit with 64KiB gave 6.2 Gbit/s (-35%). rate/HZ keeps
//    the bucket far above one GSO packet exactly where that matters. A
//    bigger bucket at LOW rates overshoots short tests (10Mbit with 64KiB:
//    +1.3% over 3 s), which is why the bucket is not simply "64 KiB+".
//
//  * TBF limit (bytes of queue): max(rate_bytes * 50 ms, 16 * 1514): about
//    50 ms of queueing at the shaped rate, never fewer than 16 full frames.
//
//  * NetEm delay/jitter are MICROseconds here; libnl's rtnl_netem_set_delay
//    takes microseconds and converts to kernel ticks itself. Percentages are
//    0..100 here; the kernel wants a u32 probability (UINT32_MAX = 100%),
//    see PercentToNetemProbability. NetemSpec::limit_packets 0 means netem's
//    default of 1000 packets.
//
// Everything here is a value type or a pure function: thread-safe.
#ifndef EMU_LINKEMU_QDISC_PLAN_H_
#define EMU_LINKEMU_QDISC_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace emu::linkemu {

// Token bucket filter, in the kernel's units (see the file comment).
struct TbfSpec {
  uint64_t rate_bytes_per_sec = 0;  // bytes/s of layer-2 frames
  uint32_t burst_bytes = 0;         // bucket size
  uint32_t limit_bytes = 0;         // queue length, bytes

  bool operator==(const TbfSpec& o) const {
    return rate_bytes_per_sec == o.rate_bytes_per_sec &&
           burst_bytes == o.burst_bytes && limit_bytes == o.limit_bytes;
  }
  bool operator!=(const TbfSpec& o) const { return !(*this == o); }
};

// Network emulator. Times in microseconds, percentages 0..100.
struct NetemSpec {
  uint32_t delay_us = 0;
  uint32_t jitter_us = 0;
  double delay_correlation_percent = 0;
  double loss_percent = 0;
  double loss_correlation_percent = 0;
  double duplicate_percent = 0;
  double reorder_percent = 0;
  double corrupt_percent = 0;
  uint32_t limit_packets = 0;  // 0 = netem's default (1000)
  // What only a QEMU guest's own NetEm applies of UserspaceOnlyKeys
  // (GuestNetemKeys; its image carries tc's distribution tables): never
  // set for a host's NetEm (LinkParamsProblems refuses them there).
  emu::v1::DelayDistributionKind distribution =
      emu::v1::DELAY_DISTRIBUTION_UNSPECIFIED;
  uint32_t reorder_gap = 0;
  double reorder_correlation_percent = 0;
  double duplicate_correlation_percent = 0;
  double corrupt_correlation_percent = 0;
  // netem's "loss gemodel p r 1-h 1-k" (instead of loss_percent).
  std::optional<emu::v1::GilbertElliottParams> gilbert_elliott;

  bool operator==(const NetemSpec& o) const;
  bool operator!=(const NetemSpec& o) const { return !(*this == o); }
};

// What one interface's egress needs. Both parts absent = the kernel's
// default qdisc (nothing of ours).
struct QdiscPlan {
  std::optional<NetemSpec> netem;
  std::optional<TbfSpec> tbf;

  bool empty() const { return !netem && !tbf; }
  bool needs_netem() const { return netem.has_value(); }
  // "none", "tbf(rate 10Mbit/s burst 5000b limit 62500b)",
  // "netem(delay 10ms loss 1%) + tbf(...)".
  std::string DebugString() const;

  bool operator==(const QdiscPlan& o) const {
    return netem == o.netem && tbf == o.tbf;
  }
  bool operator!=(const QdiscPlan& o) const { return !(*this == o); }
};

// THE check of one direction's link parameters: every reason the agent
// would refuse to program `p`, in the topology file's words ("delay 61s is
// above 60s, ..."), in a fixed order; empty when `p` can be programmed.
// The agent (through PlanForLinkParams) and the controller's validator
// both call this, so `emuctl validate` and `plan` refuse exactly what `up`
// would. Percentages 0..100, jitter <= delay <= kMaxNetemDelayUs, rate 0 or
// kMinTbfRateBps..kMaxTbfRateBps, burst (given or derived) between one
// full frame and kMaxBurstBytes, filling in kMinBurstMicros..kMaxBurstSeconds.
//
// The conditions only the userspace engine applies (UserspaceOnlyKeys) are
// checked here too: their ranges, what each needs (reorder-gap needs
// reorder, overhead needs rate, ...), and that the direction's engine,
// p.engine() or else `lab_engine`, is not KERNEL
// ("distribution pareto needs the userspace engine; engine: kernel").
// `guest_sender`: the direction is sent by a QEMU guest, whose KERNEL is
// its own NetEm: the GuestNetemKeys are allowed there.
std::vector<std::string> LinkParamsProblems(
    const emu::v1::LinkParams& p,
    emu::v1::LinkEngineChoice lab_engine = emu::v1::LINK_ENGINE_UNSPECIFIED,
    bool guest_sender = false);

// The topology-file keys set in `p` that only the userspace engine applies
// (the kernel path programs rate, burst, delay, jitter, delay-correlation,
// loss, loss-correlation, duplicate, reorder, corrupt and limit):
// "distribution", "gilbert-elliott", "ber", "reorder-gap",
// "reorder-correlation", "duplicate-correlation", "corrupt-correlation",
// "limit-bytes", "overhead". Empty when the kernel can do all of `p`.
// `guest_netem`: the kernel is a QEMU guest's own, whose NetEm (with tc's
// distribution tables in its image) also does the GuestNetemKeys, so only
// "ber", "limit-bytes" and "overhead" remain.
std::vector<std::string> UserspaceOnlyKeys(const emu::v1::LinkParams& p,
                                           bool guest_netem = false);

// The clauses of `n` after delay, in tc-netem(8)'s words: "loss gemodel p
// r 1-h 1-k" or "loss P% [corr%]", "duplicate P% [corr%]", "reorder P%
// [corr%] [gap N]", "corrupt P% [corr%]", space-separated ("" for none).
// What a guest's tc line and NetemString both say.
std::string NetemPacketClauses(const NetemSpec& n);

// tc-netem's name of a delay distribution: "uniform" (also for
// UNSPECIFIED), "normal", "pareto", "paretonormal".
const char* DelayDistributionName(emu::v1::DelayDistributionKind kind);

// Of UserspaceOnlyKeys, those a guest's own NetEm applies too (tc-netem(8)):
// "distribution", "gilbert-elliott" (loss gemodel), "reorder-gap",
// "reorder-correlation", "duplicate-correlation", "corrupt-correlation".
bool IsGuestNetemKey(const std::string& key);

// Whether `p` asks for anything beyond rate and burst (TBF): what needs
// NetEm in the kernel, or the userspace engine.
bool NeedsMoreThanTbf(const emu::v1::LinkParams& p);

// Derives the plan for `p`; INVALID_ARGUMENT joins LinkParamsProblems with
// "; " when there are any. All-zero params: empty plan. The netem part
// carries the GuestNetemKeys too (for a guest's own NetEm; `guest_sender`
// as LinkParamsProblems').
absl::StatusOr<QdiscPlan> PlanForLinkParams(const emu::v1::LinkParams& p,
                                            bool guest_sender = false);

// Limits PlanForLinkParams enforces, with the reason for each.
// libnl 3.7 sends TBF's rate only as the 32-bit tc_ratespec (no
// TCA_TBF_RATE64): at most UINT32_MAX bytes/s, about 34.3 Gbit/s.
inline constexpr uint64_t kMaxTbfRateBps = uint64_t{0xFFFFFFFF} * 8;
// Below this a derived two-frame bucket takes tens of seconds to fill.
inline constexpr uint64_t kMinTbfRateBps = 1000;
// One full-size Ethernet frame without FCS: a smaller bucket can never pass
// such a frame.
inline constexpr uint32_t kFullFrameBytes = 1514;
// TBF stores the bucket as the time it takes to fill, in 64 ns kernel ticks
// in 32 bits (about 274 s); we refuse buckets that take longer than this.
inline constexpr double kMaxBurstSeconds = 100.0;
// libnl hands TBF the bucket as whole microseconds of traffic (truncated);
// below this a bucket loses more than 5% to that rounding.
inline constexpr double kMinBurstMicros = 20.0;
// TBF's bucket and limit are signed 32-bit byte counts in the kernel.
inline constexpr uint64_t kMaxBurstBytes = 0x7FFFFFFF;
// NetEm stores delay and jitter in the same 32-bit ticks.
inline constexpr uint64_t kMaxNetemDelayUs = 60'000'000;  // 60 s
// Per-packet overhead for rate accounting (overhead:), either sign: more
// than a jumbo frame's worth is a typo.
inline constexpr int32_t kMaxOverheadBytes = 65535;
// The HZ the burst rule assumes (tick length 4 ms).
inline constexpr uint64_t kAssumedHz = 250;
// Queueing allowed in TBF at the shaped rate.
inline constexpr uint64_t kTbfQueueMs = 50;
inline constexpr uint32_t kMinTbfLimitFrames = 16;

// Kernel netem probability: round(percent / 100 * UINT32_MAX), as
// iproute2's tc does. Expects 0..100 (clamped).
uint32_t PercentToNetemProbability(double percent);

// One qdisc as the kernel reports it.
struct QdiscInfo {
  std::string kind;     // "tbf", "netem", "noqueue", ...
  uint32_t handle = 0;  // major:minor as the kernel's u32 (1: = 0x10000)
  uint32_t parent = 0;  // kRootParent for the root qdisc

  bool operator==(const QdiscInfo& o) const {
    return kind == o.kind && handle == o.handle && parent == o.parent;
  }
};

// The layout a plan is programmed as. NetEm (when present) is the root
// qdisc, handle 1:; TBF is its child (handle 10:, parent 1:1). Without
// NetEm, TBF is the root with handle 1:. (Why netem on top: see
// libnl_qdisc.h.)
inline constexpr uint32_t kRootParent = 0xFFFFFFFFu;      // TC_H_ROOT
inline constexpr uint32_t kRootHandle = 0x00010000u;      // 1:
inline constexpr uint32_t kTbfChildHandle = 0x000A0000u;  // 10:
inline constexpr uint32_t kTbfChildParent = 0x00010001u;  // 1:1

// The qdiscs the kernel shows after `plan` is applied, root first; empty
// for an empty plan (the kernel then shows its own default root qdisc, with
// handle 0).
std::vector<QdiscInfo> LayoutFor(const QdiscPlan& plan);

// "1:", "10:", "1:1", "root", "none" (0), as tc prints handles.
std::string FormatTcHandle(uint32_t handle);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_QDISC_PLAN_H_
