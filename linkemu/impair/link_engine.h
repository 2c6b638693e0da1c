// LinkEngine: the agent's userspace data plane for same-host links whose
// conditions the kernel cannot (no sch_netem) or should not (engine:
// userspace) apply. Each link is two frame devices (TAPs opened by
// linkemu/tap_device.h, IFF_VNET_HDR, one in each end's namespace); frames
// read from one go through that direction's impairment pipeline and are
// written to the other at their departure time.
//
// Contract (implementation: link_engine.cc, docs/linkemu.md):
//  * Deterministic given the seed: the same frames in the same order meet
//    the same losses, delays and corruptions.
//  * Live changes (Update) keep the link and the frames already queued on
//    their schedule; frames arriving afterwards see the new spec.
//  * Memory is bounded by each direction's queue limits; no per-frame
//    allocation on the data path.
//  * Thread-safe. Threads are the engine's own (Options::threads), joined
//    by the destructor.
#ifndef EMU_LINKEMU_IMPAIR_LINK_ENGINE_H_
#define EMU_LINKEMU_IMPAIR_LINK_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "linkemu/frame_batch_io.h"
#include "linkemu/impair/direction_stats.h"
#include "linkemu/impair/impairment_spec.h"

namespace emu::linkemu {

class LinkEngine {
 public:
  using LinkId = uint64_t;

  struct Options {
    int threads = 1;  // event-loop threads; links are spread over them
    // Scheduling of the loop threads: nice value (-20..19, 0 = as the
    // caller) so departures keep their time on a busy host. Below 0 needs
    // CAP_SYS_NICE; refused, the threads keep the caller's and Create fails.
    int nice = 0;
    // How frames move between the TAPs and the loop: batches through
    // io_uring where the kernel allows (kAuto), or one system call each
    // (kSyscalls: the comparison in bench/linkemu_bench).
    FrameBatchIo::Mode io_mode = FrameBatchIo::Mode::kAuto;
  };

  static absl::StatusOr<std::unique_ptr<LinkEngine>> Create(Options options);
  virtual ~LinkEngine() = default;

  // Adds a link between `tap_a` and `tap_b` (both taken over, made
  // non-blocking, closed by RemoveLink or the destructor, also on error).
  // INVALID_ARGUMENT naming the field when a spec cannot be served.
  virtual absl::StatusOr<LinkId> AddLink(int tap_a, int tap_b,
                                         const ImpairmentSpec& a_to_b,
                                         const ImpairmentSpec& b_to_a,
                                         uint64_t seed) = 0;

  // Live change of both directions. NOT_FOUND for an unknown link.
  virtual absl::Status Update(LinkId id, const ImpairmentSpec& a_to_b,
                              const ImpairmentSpec& b_to_a) = 0;

  // Closes the link's devices; frames still queued are dropped. No-op for
  // an unknown link.
  virtual void RemoveLink(LinkId id) = 0;

  virtual std::optional<LinkStats> GetStats(LinkId id) = 0;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_LINK_ENGINE_H_
