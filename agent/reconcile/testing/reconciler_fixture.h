// What every reconciler test sets up the same way: a directory of its own
// for the saved specs, the kernel of these hosts, and the engine path's
// base probe.
#ifndef EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_
#define EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_

#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/net/host_network.h"
#include "linkemu/impair/base_latency.h"
#include "proto/agent.pb.h"
#include "gtest/gtest.h"

namespace emu::agent::reconcile::testing {

// TempDir/<prefix><pid>_<test name>: parallel runs of one test
// (--runs_per_test) and the tests of one binary never share a store.
inline std::string TestSpecDir(const std::string& prefix) {
  return ::testing::TempDir() + "/" + prefix + std::to_string(getpid()) + "_" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// Like these machines: TBF and HTB but no sch_netem; veth pairs, and
// bridges when `bridge`.
inline net::HostNetwork::KernelFeatures NoNetemKernel(bool bridge = false) {
  net::HostNetwork::KernelFeatures features;
  features.qdiscs = {"tbf", "htb"};
  features.veth = true;
  features.bridge = bridge;
  return features;
}

// A SetLinkParams request for the link between `a` and `b` of lab "lab".
inline emu::v1::SetLinkParamsRequest SetLinkReq(
    const emu::v1::Endpoint& a, const emu::v1::Endpoint& b,
    const emu::v1::LinkParams& a_to_b, const emu::v1::LinkParams& b_to_a = {}) {
  emu::v1::SetLinkParamsRequest req;
  req.set_lab("lab");
  *req.mutable_a() = a;
  *req.mutable_b() = b;
  *req.mutable_a_to_b() = a_to_b;
  *req.mutable_b_to_a() = b_to_a;
  return req;
}

// The engine path's base probe of a host where every probe takes 100 us;
// counts its calls.
class FixedBaseProbe : public linkemu::BaseLatencyProbe {
 public:
  absl::StatusOr<std::vector<int64_t>> Sample() override {
    ++calls;
    return std::vector<int64_t>(16, 100'000);
  }
  int calls = 0;
};

}  // namespace emu::agent::reconcile::testing

#endif  // EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_
