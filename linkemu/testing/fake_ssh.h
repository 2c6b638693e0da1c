// For tests that run linkemu/testing:fake_ssh in place of ssh (add it to
// the test's data): where it is, and the pids of those alive.
#ifndef EMU_LINKEMU_TESTING_FAKE_SSH_H_
#define EMU_LINKEMU_TESTING_FAKE_SSH_H_

#include <sys/types.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace emu::linkemu::testing {

// The fake ssh binary in the test's runfiles.
inline std::string FakeSshPath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/emu/linkemu/testing/fake_ssh");
}

// A directory of this test's own (a killed fake ssh leaves its pid file
// behind) where fake ssh processes started from now on write their pids.
inline std::string FakeSshPidDir() {
  std::string dir = absl::StrCat(
      std::getenv("TEST_TMPDIR"), "/fake-ssh-",
      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  setenv("FAKE_SSH_PID_DIR", dir.c_str(), 1);
  return dir;
}

// The pids in `dir`: fake ssh processes alive, or killed (their file stays;
// remove it with ForgetFakeSsh).
inline std::vector<pid_t> FakeSshPids(const std::string& dir) {
  std::vector<pid_t> pids;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    pids.push_back(std::atoi(e.path().filename().c_str()));
  }
  return pids;
}

inline void ForgetFakeSsh(const std::string& dir, pid_t pid) {
  std::filesystem::remove(absl::StrCat(dir, "/", pid));
}

}  // namespace emu::linkemu::testing

#endif  // EMU_LINKEMU_TESTING_FAKE_SSH_H_
