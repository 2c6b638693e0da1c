#include "cli/wait_ready.h"

#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "cli/testing/fake_controller_service.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

v1::Lab MakeLab(v1::LabState state, bool converging, std::string error = "") {
  v1::Lab lab;
  lab.set_name("demo");
  lab.set_state(state);
  lab.set_converging(converging);
  lab.set_error(std::move(error));
  return lab;
}

class WaitReadyTest : public ::testing::Test {
 protected:
  WaitReadyTest()
      : service_("tok"), conn_({service_.Start(), "tok", "", "test"}) {}

  void Serve(v1::Lab lab) {
    FakeControllerService::Script script;
    script.lab_by_name["demo"] = std::move(lab);
    service_.SetScript(script);
  }
  int GetLabCalls() const {
    int n = 0;
    for (const auto& c : service_.calls()) n += c == "GetLab";
    return n;
  }

  FakeControllerService service_;
  ControllerConnection conn_;
  std::ostringstream err_;
};

TEST_F(WaitReadyTest, RunningLabReturnsAtOnceSilently) {
  Serve(MakeLab(v1::RUNNING, false));
  EXPECT_TRUE(WaitUntilLabReady(conn_, "demo", err_).ok());
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(GetLabCalls(), 1);
}

TEST_F(WaitReadyTest, DegradedForAnotherReasonIsNotWaitedFor) {
  Serve(MakeLab(v1::DEGRADED, false, "host h2 unreachable"));
  EXPECT_TRUE(WaitUntilLabReady(conn_, "demo", err_).ok());
  EXPECT_EQ(err_.str(), "");
}

TEST_F(WaitReadyTest, UnknownLabIsLeftToTheCallersOwnCall) {
  EXPECT_TRUE(WaitUntilLabReady(conn_, "nosuch", err_).ok());
  EXPECT_EQ(err_.str(), "");
}

TEST_F(WaitReadyTest, ConvergingLabIsWaitedForWithOneLine) {
  Serve(
      MakeLab(v1::DEGRADED, true,
              "links not up: b:eth2<->c:eth1 (h3: waiting for h2 to connect)"));
  std::thread converge([this] {
    // Becomes RUNNING once the waiter has asked at least twice.
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (GetLabCalls() < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    Serve(MakeLab(v1::RUNNING, false));
  });
  WaitReadyOptions o;
  o.timeout = absl::Seconds(20);
  o.poll_interval = absl::Milliseconds(5);
  absl::Status s = WaitUntilLabReady(conn_, "demo", err_, o);
  converge.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(err_.str(),
            "emuctl: lab demo is DEGRADED (links not up: b:eth2<->c:eth1 (h3: "
            "waiting for h2 to connect)); waiting up to 20s for it to be "
            "RUNNING\n");
  EXPECT_GE(GetLabCalls(), 3);
}

TEST_F(WaitReadyTest, WaitIsBoundedAndSaysWhatWasAwaited) {
  Serve(MakeLab(v1::DEPLOYING, true));
  WaitReadyOptions o;
  o.timeout = absl::Milliseconds(50);
  o.poll_interval = absl::Milliseconds(5);
  absl::Status s = WaitUntilLabReady(conn_, "demo", err_, o);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "lab demo is still DEPLOYING after 50ms");
  EXPECT_TRUE(absl::StartsWith(err_.str(), "emuctl: lab demo is DEPLOYING;"))
      << err_.str();
}

}  // namespace
}  // namespace emu::cli
