#include "deploy/remote_host/ssh_remote_host.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::deploy::remote_host {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

cli::SshDestination Dest() { return *cli::ParseSshDestination("admin@h2:2222"); }

TEST(SshRemoteHostTest, RunsTheCommandThroughTheUsersSsh) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(0, "0\n"));
  SshRemoteHost host(&launcher, Dest(), {"-F", "/cfg"});
  absl::StatusOr<RunResult> r = host.Run("id -u");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "0\n");
  ASSERT_EQ(launcher.runs().size(), 1u);
  EXPECT_THAT(launcher.runs()[0].argv,
              ElementsAre("ssh", "-p", "2222", "-F", "/cfg", "-o",
                          "BatchMode=yes", "admin@h2", "--", "id -u"));
}

TEST(SshRemoteHostTest, SudoWrapsTheCommand) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(0));
  SshRemoteHost host(&launcher, Dest(), {});
  host.UseSudo(true);
  ASSERT_TRUE(host.Run("echo 'x'").ok());
  EXPECT_EQ(launcher.runs()[0].argv.back(),
            "sudo -n sh -c 'echo '\\''x'\\'''");
}

TEST(SshRemoteHostTest, SshFailureNamesTheHost) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(
      FakeProcessLauncher::Exited(255, "", "Permission denied (publickey)."));
  SshRemoteHost host(&launcher, Dest(), {});
  absl::StatusOr<RunResult> r = host.Run("true");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("admin@h2:2222 failed: Permission denied"));
}

TEST(SshRemoteHostTest, CommandFailureIsAnExitCodeNotAnError) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(3, "", "nope"));
  SshRemoteHost host(&launcher, Dest(), {});
  absl::StatusOr<RunResult> r = host.Run("false");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->err, "nope");
}

TEST(SshRemoteHostTest, CopyFeedsTheContentToAnAtomicWrite) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(0));
  SshRemoteHost host(&launcher, Dest(), {});
  ASSERT_TRUE(host.Copy("secret\n", "/etc/emu/token", 0600).ok());
  EXPECT_EQ(launcher.runs()[0].stdin_data, "secret\n");
  EXPECT_EQ(launcher.runs()[0].argv.back(),
            CopyCommand("/etc/emu/token", 0600));
}

// The copy command itself, run by a real shell on this machine.
TEST(SshRemoteHostTest, CopyCommandWritesWithTheModeThroughATempFile) {
  const std::string dir =
      std::string(std::getenv("TEST_TMPDIR")) + "/copy/sub";
  const std::string path = dir + "/key";
  PosixProcessLauncher posix;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", CopyCommand(path, 0600)};
  spec.stdin_data = "PRIVATE";
  absl::StatusOr<ProcessResult> r = posix.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "PRIVATE");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat((path + ".emu-tmp").c_str(), &st), 0);
}

}  // namespace
}  // namespace emu::deploy::remote_host
