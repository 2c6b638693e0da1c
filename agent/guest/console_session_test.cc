#include "agent/guest/console_session.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include <string>
#include <vector>

#include "agent/guest/testing/fake_console.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::guest {
namespace {

using ::testing::HasSubstr;

TEST(MarkerParser, SplitsStdoutStderrAndStatus) {
  MarkerParser p("abc");
  std::string out =
      "echo junk\r\n__EMU_%s_S__ abc\r\n"
      "\r\n__EMU_abc_S__\r\nhello\r\n\r\n__EMU_abc_E__\r\noops\r\n\r\n"
      "__EMU_abc_7__\r\n# ";
  for (char c : out) p.Feed(std::string(1, c));  // byte by byte
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.result().stdout_data, "hello\n");
  EXPECT_EQ(p.result().stderr_data, "oops\n");
  EXPECT_EQ(p.result().exit_code, 7);
}

TEST(MarkerParser, IgnoresOtherNoncesAndWaitsForAllDigits) {
  MarkerParser p("n1");
  EXPECT_FALSE(p.Feed("\n__EMU_n0_S__\nold\n__EMU_n0_E__\n\n__EMU_n0_0__\n"));
  EXPECT_FALSE(p.Feed("\n__EMU_n1_S__\nx\n__EMU_n0_3__\n"));
  EXPECT_FALSE(p.Feed("\n__EMU_n1_E__\n\n__EMU_n1_12"));
  EXPECT_FALSE(p.done());
  EXPECT_TRUE(p.Feed("7__\n"));
  EXPECT_EQ(p.result().exit_code, 127);
  EXPECT_EQ(p.result().stdout_data, "x\n__EMU_n0_3__\n");
}

TEST(ShellQuote, Quotes) {
  EXPECT_EQ(ShellQuote("ip"), "ip");
  EXPECT_EQ(ShellQuote("10.0.0.1/24"), "10.0.0.1/24");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

class ShellSessionTest : public ::testing::Test {
 protected:
  FakeConsole console_{/*seed=*/42, /*max_chunk=*/5};
  ShellSession session_{&console_};
};

TEST_F(ShellSessionTest, OutputsAndExitStatuses) {
  ASSERT_TRUE(session_.WaitReady(absl::Seconds(10)).ok());
  auto r = session_.Run("echo hello; echo err >&2; exit 3", absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stdout_data, "hello\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_EQ(r->exit_code, 3);

  r = session_.Run("printf 'no newline'", absl::Seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "no newline");
  EXPECT_EQ(r->exit_code, 0);

  r = session_.Run("false", absl::Seconds(10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_EQ(r->stdout_data, "");
}

TEST_F(ShellSessionTest, OutputImitatingPromptsAndMarkersDoesNotEndCommand) {
  // Prints a prompt, a marker of a made-up nonce, and the format strings
  // themselves, then keeps going.
  auto r = session_.Run(
      "printf '(none):/# \\n$ \\n__EMU_0000000000000000_0__\\n'; "
      "printf '%s\\n' '__EMU_%s_S__'; sleep 0.3; echo done; exit 5",
      absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 5);
  EXPECT_EQ(r->stdout_data,
            "(none):/# \n$ \n__EMU_0000000000000000_0__\n__EMU_%s_S__\ndone\n");
}

TEST_F(ShellSessionTest, StrayOutputBeforeTheCommandIsIgnored) {
  console_.InjectStray(
      "[   12.345] virtio_net virtio0 eth0: renamed\r\n(none):/# \r\n"
      "\r\n__EMU_ffffffffffffffff_S__\r\nfake\r\n__EMU_ffffffffffffffff_E__"
      "\r\n\r\n__EMU_ffffffffffffffff_0__\r\n");
  auto r = session_.Run("echo real; exit 2", absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "real\n");
  EXPECT_EQ(r->exit_code, 2);
}

TEST_F(ShellSessionTest, CommandsWithQuotesNewlinesAndLongText) {
  std::string long_arg(3000, 'x');
  auto r =
      session_.Run("a='it'\"'\"'s'\necho \"$a\"\necho " + long_arg + " | wc -c",
                   absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "it's\n3001\n");
}

TEST_F(ShellSessionTest, TimeoutThenLateMarkersDoNotLeakIntoNextCommand) {
  auto r = session_.Run("echo started; sleep 1; echo late", absl::Seconds(0.3));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, 130);
  EXPECT_EQ(r->stdout_data, "started\n");
  r = session_.Run("echo next", absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stdout_data, "next\n");
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(ShellSessionTest, ClosedConsoleIsUnavailable) {
  console_.Close();
  auto r = session_.Run("true", absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

// A process that is gone or a zombie (its parent, the console's shell,
// reaps it when it next waits).
bool Gone(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         line[paren + 2] == 'Z';
}

// A cancel interrupts the command at once, not at its timeout: Run returns
// within a few polls, cancelled, with the output so far; the command's
// processes are killed even though they ignore SIGINT and the shell has no
// job control (the kill line SIGKILLs the tree under the pid the command
// wrote: here the sleep is a child of the command's shell), and the next
// command runs normally.
TEST_F(ShellSessionTest, CancelInterruptsTheCommandAtOnce) {
  const std::string pid_file =
      absl::StrCat(::testing::TempDir(), "/cancel.", getpid());
  unlink(pid_file.c_str());
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::ifstream in(pid_file);
      pid_t pid = 0;
      if (in >> pid && pid > 0) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    cancel = true;
  });
  const absl::Time start = absl::Now();
  auto r = session_.Run(
      absl::StrCat("trap '' INT; echo started; sleep 30 & echo $! > ",
                   pid_file, "; wait"),
      absl::Seconds(30), [&cancel] { return cancel.load(); });
  const absl::Duration took = absl::Now() - start;
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 130);
  // What had reached the console by then (its bytes come in chunks).
  EXPECT_TRUE(absl::StartsWith("started\n", r->stdout_data)) << r->stdout_data;
  EXPECT_LT(took, absl::Seconds(5));
  std::ifstream in(pid_file);
  pid_t pid = 0;
  ASSERT_TRUE(in >> pid && pid > 0);
  auto next = session_.Run("echo next", absl::Seconds(10));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->stdout_data, "next\n");
  EXPECT_FALSE(next->cancelled);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!Gone(pid) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(Gone(pid)) << "the cancelled command still runs";
  if (!Gone(pid)) kill(pid, SIGKILL);
  unlink(pid_file.c_str());
}

// The kill line is harmless when the command had ended (no pid file).
TEST(ShellKillInput, ReadsThePidFileOfItsNonce) {
  const std::string k = ShellKillInput("0123456789abcdef");
  EXPECT_NE(k.find("/tmp/.emu_0123456789abcdef.pid"), std::string::npos);
  EXPECT_NE(k.find("[ -n \"$p\" ]"), std::string::npos);
  EXPECT_EQ(k.back(), '\n');
  // The command line writes that pid file first.
  EXPECT_NE(ShellCommandInput("0123456789abcdef", "true")
                .find("echo $$ >/tmp/.emu_0123456789abcdef.pid; exec sh "),
            std::string::npos);
}

}  // namespace
}  // namespace emu::agent::guest
