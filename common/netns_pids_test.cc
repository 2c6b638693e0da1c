#include "common/netns_pids.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// Kernel-free parts only; killing inside a namespace of the test's own is in
// tests/integration/process_launcher_test.cc.

TEST(PidsInNetnsTest, FindsOwnChildrenInTheCallersNamespaceButNotSelf) {
  PosixProcessLauncher launcher;
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string log =
      absl::StrCat(tmp ? tmp : "/tmp", "/netns-pids-", getpid(), ".log");
  ProcessSpec spec;
  spec.argv = {"sleep", "100"};
  auto child = launcher.Spawn(spec, log);
  ASSERT_TRUE(child.ok()) << child.status();
  // A path (contains '/') names the namespace directly.
  auto pids = PidsInNetns(absl::StrCat("/proc/", getpid(), "/ns/net"));
  EXPECT_TRUE(launcher.Terminate(*child, absl::Seconds(2)).ok());
  std::remove(log.c_str());
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, Contains(*child));
  EXPECT_THAT(*pids, Not(Contains(getpid())));
  EXPECT_TRUE(std::is_sorted(pids->begin(), pids->end()));
}

TEST(PidsInNetnsTest, ManyListsEachExistingNamespaceFromOneScan) {
  PosixProcessLauncher launcher;
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string log =
      absl::StrCat(tmp ? tmp : "/tmp", "/netns-pids-many-", getpid(), ".log");
  ProcessSpec spec;
  spec.argv = {"sleep", "100"};
  auto child = launcher.Spawn(spec, log);
  ASSERT_TRUE(child.ok()) << child.status();
  const std::string own = absl::StrCat("/proc/", getpid(), "/ns/net");
  const std::string missing = absl::StrCat("emu-no-such-netns-", getpid());
  auto many = PidsInNetnsMany({own, missing});
  auto one = PidsInNetns(own);
  EXPECT_TRUE(launcher.Terminate(*child, absl::Seconds(2)).ok());
  std::remove(log.c_str());
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_TRUE(one.ok()) << one.status();
  // The missing namespace is left out; the existing one has the child.
  EXPECT_EQ(many->size(), 1u);
  ASSERT_TRUE(many->contains(own));
  EXPECT_THAT(many->at(own), Contains(*child));
  EXPECT_THAT(many->at(own), Not(Contains(getpid())));
  EXPECT_TRUE(std::is_sorted(many->at(own).begin(), many->at(own).end()));
  EXPECT_THAT(*one, Contains(*child));
}

TEST(PidsInNetnsTest, MissingNamespaceIsNotFoundAndNamed) {
  std::string name = absl::StrCat("emu-no-such-ns-", getpid());
  auto pids = PidsInNetns(name);
  EXPECT_EQ(pids.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(pids.status().message(), HasSubstr("/run/netns/" + name));
  absl::Status s = KillPidsInNetns(name, absl::Seconds(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(PidsInNetns("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace emu
