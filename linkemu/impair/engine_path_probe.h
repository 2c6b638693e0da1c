// EngineTapPathProbe: the base latency of a same-host link served by the
// userspace engine (BaseLatencyProbe, base_latency.h), measured on a
// scratch copy of that path: two TAPs, each in an unnamed network
// namespace of the probe's own, joined by the agent's own engine with
// nothing to apply, and UDP probes from one namespace to the other, each
// carrying its send instant and timed by the receiving kernel
// (SO_TIMESTAMPNS, CLOCK_REALTIME on both sides: one host, one clock, a
// true one-way figure). The kernel's stamp, not the reader's wake-up: ping's
// echo reply comes from the kernel, so a receiving thread's wake-up is not
// part of the path a compensated link's figure has.
//
// Unnamed namespaces live only as long as the probe holds their fds, so a
// crash mid-probe leaves nothing behind (no name under /run/netns, and the
// TAPs go with the engine's fds). Traffic stays inside those namespaces
// (192.0.2.0/24, TEST-NET-1, exists only there).
//
// Needs CAP_SYS_ADMIN and CAP_NET_ADMIN (unshare, TAPs), as the agent has.
// Thread-compatible; borrows the engine.
#ifndef EMU_LINKEMU_IMPAIR_ENGINE_PATH_PROBE_H_
#define EMU_LINKEMU_IMPAIR_ENGINE_PATH_PROBE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/impair/link_engine.h"

namespace emu::linkemu {

class EngineTapPathProbe : public BaseLatencyProbe {
 public:
  struct Options {
    int probes = 200;                            // timed probes
    int warmup = 10;                             // sent first, not timed
    absl::Duration gap = absl::Microseconds(500);  // between probes
    // After the last probe, how long late ones are still waited for.
    absl::Duration linger = absl::Milliseconds(200);
  };
  EngineTapPathProbe(LinkEngine* engine, Options options)
      : engine_(engine), options_(options) {}
  explicit EngineTapPathProbe(LinkEngine* engine)
      : EngineTapPathProbe(engine, Options()) {}

  // The received probes' one-way delays. Fails when the scratch path
  // cannot be built or fewer than half the probes came through.
  absl::StatusOr<std::vector<int64_t>> Sample() override;

 private:
  LinkEngine* const engine_;
  const Options options_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_ENGINE_PATH_PROBE_H_
