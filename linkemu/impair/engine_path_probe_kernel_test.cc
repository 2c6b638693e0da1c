// EngineTapPathProbe against the kernel: a real engine, real TAPs in
// unnamed namespaces. Root; run under the integration lock.
#include "linkemu/impair/engine_path_probe.h"

#include <net/if.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "common/testing/open_fds.h"
#include "gtest/gtest.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/impair/link_engine.h"

namespace emu::linkemu {
namespace {

using ::emu::testing::OpenFds;

TEST(EngineTapPathProbe, TimesProbesThroughTheEngineAndLeavesNothing) {
  auto engine = LinkEngine::Create({});
  ASSERT_TRUE(engine.ok()) << engine.status();
  EngineTapPathProbe probe(engine->get());
  const int fds_before = OpenFds();
  absl::StatusOr<std::vector<int64_t>> samples = probe.Sample();
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_GE(samples->size(), 100u);
  // Every probe crossed two stacks and the engine: more than nothing, and
  // its low quantile less than a stalled host's 10 ms.
  EXPECT_GT(*std::min_element(samples->begin(), samples->end()), 0);
  const int64_t base = BaseFromSamplesNs(*samples);
  EXPECT_GT(base, 0);
  EXPECT_LT(base, kMaxBaseNs);
  // The scratch TAPs were in namespaces of the probe's own: none is here,
  // and every fd (namespaces, TAPs, sockets) is closed again, so the
  // namespaces are gone.
  EXPECT_EQ(if_nametoindex("emubase0"), 0u);
  EXPECT_EQ(OpenFds(), fds_before);

  // Measured twice, the cache keeps the first figure.
  BaseLatency cached(&probe);
  absl::StatusOr<int64_t> first = cached.Ns();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*cached.Ns(), *first);
}

}  // namespace
}  // namespace emu::linkemu
