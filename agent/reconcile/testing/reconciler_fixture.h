// What every reconciler test sets up the same way: a directory of its own
// for the saved specs, and the kernel of these hosts.
#ifndef EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_
#define EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_

#include <unistd.h>

#include <string>

#include "agent/net/host_network.h"
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

}  // namespace emu::agent::reconcile::testing

#endif  // EMU_AGENT_RECONCILE_TESTING_RECONCILER_FIXTURE_H_
