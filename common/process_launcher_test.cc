#include "common/process_launcher.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

using ::testing::HasSubstr;

ProcessSpec Sh(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

std::string TempDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// State letter from /proc/PID/stat, or 0 when the process is gone.
char ProcState(pid_t pid) {
  std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

bool GoneWithin(pid_t pid, absl::Duration limit) {
  absl::Time until = absl::Now() + limit;
  while (absl::Now() < until) {
    char s = ProcState(pid);
    if (s == 0 || s == 'Z') return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

TEST(PosixProcessLauncherTest, CapturesStdoutStderrAndExitCode) {
  PosixProcessLauncher launcher;
  auto r = launcher.Run(Sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_data, "out\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->output_truncated);
  EXPECT_LE(r->start, r->end);
}

TEST(PosixProcessLauncherTest, StartAtExecsAtTheInstantAndReportsWhen) {
  PosixProcessLauncher launcher;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo started"};
  spec.start_at = absl::Now() + absl::Milliseconds(300);
  pid_t pid = 0;
  spec.on_started = [&pid](pid_t p) { pid = p; };
  auto result = launcher.Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "started\n");
  EXPECT_GT(pid, 0);
  EXPECT_GE(result->start, spec.start_at);
  EXPECT_LT(result->start, spec.start_at + absl::Milliseconds(100));
  EXPECT_GE(result->end, result->start);

  // An instant in the past: at once. A bad command still fails as exec.
  spec.start_at = absl::Now() - absl::Seconds(1);
  spec.argv = {"/nonexistent/cmd"};
  result = launcher.Run(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 127);
}

std::string ExeOf(pid_t pid) {
  char buf[4096];
  ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), buf,
                       sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The executor of a barrier Task: the process exists (forked, waiting)
// before its command is handed over, and that same process execs the
// command at the instant.
TEST(PreparedProcessTest, ExistsBeforeTheCommandAndExecsAtTheInstant) {
  PosixProcessLauncher launcher;
  auto prepared = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  const pid_t pid = (*prepared)->pid();
  ASSERT_GT(pid, 0);
  // It said it was ready; it then blocks in read() for its command (no
  // exec yet: still this test's program).
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (ProcState(pid) != 'S' && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(ProcState(pid), 'S');
  EXPECT_EQ(ExeOf(pid), ExeOf(getpid()));
  EXPECT_EQ(getpgid(pid), pid);

  ProcessSpec command = Sh("echo $$");
  command.start_at = absl::Now() + absl::Milliseconds(500);
  pid_t started_pid = 0;
  command.on_started = [&started_pid](pid_t p) { started_pid = p; };
  absl::StatusOr<ProcessResult> result;
  std::thread run([&] { result = (*prepared)->Run(command); });
  // The command is handed over, and the process still waits for the
  // instant: it has not exec'd.
  const absl::Time checked = absl::Now();
  const std::string exe_before = ExeOf(pid);
  run.join();
  ASSERT_TRUE(result.ok()) << result.status();
  if (checked < command.start_at - absl::Milliseconds(100)) {
    EXPECT_EQ(exe_before, ExeOf(getpid()));
  }
  EXPECT_EQ(result->stdout_data, absl::StrCat(pid, "\n"));  // the same process
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(started_pid, pid);
  EXPECT_GE(result->start, command.start_at);
  EXPECT_LT(result->start, command.start_at + absl::Milliseconds(100));
  EXPECT_EQ(result->start_late, absl::ZeroDuration());

  // One command per process.
  EXPECT_EQ((*prepared)->Run(Sh("true")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// The parent pid from /proc/PID/stat (field 4), or -1.
pid_t ParentOf(pid_t pid) {
  std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 2));
  char state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// argv[0] from /proc/PID/cmdline.
std::string Argv0Of(pid_t pid) {
  std::string cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
  return cmdline.substr(0, cmdline.find('\0'));
}

// This program's children whose argv[0] is the prepare server's name,
// other than those in `except` (prepared processes, not yet exec'd).
std::vector<pid_t> PrepareServers(const std::vector<pid_t>& except) {
  std::vector<pid_t> found;
  std::string children = ReadAll(
      absl::StrCat("/proc/", getpid(), "/task/", getpid(), "/children"));
  std::istringstream in(children);
  pid_t child;
  while (in >> child) {
    if (std::find(except.begin(), except.end(), child) == except.end() &&
        Argv0Of(child) == "emu-prepare-server" &&
        ProcState(child) != 'Z') {
      found.push_back(child);
    }
  }
  return found;
}

// The prepared process is made by the prepare server (a small copy of this
// program, not a fork of it) but is this program's child; a server that
// dies is replaced, and what it made runs on.
TEST(PreparedProcessTest, MadeByThePrepareServerAsThisProgramsChild) {
  PosixProcessLauncher launcher;
  auto first = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(first.ok()) << first.status();
  const pid_t pid = (*first)->pid();
  EXPECT_EQ(ParentOf(pid), getpid());
  // Before its exec it is a clone of the server: the server's argv.
  EXPECT_EQ(Argv0Of(pid), "emu-prepare-server");
  std::vector<pid_t> servers = PrepareServers({pid});
  ASSERT_EQ(servers.size(), 1u);
  const pid_t server = servers[0];
  EXPECT_NE(server, pid);

  ASSERT_EQ(kill(server, SIGKILL), 0);
  ASSERT_TRUE(GoneWithin(server, absl::Seconds(5)));
  auto second = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(ParentOf((*second)->pid()), getpid());
  EXPECT_EQ(Argv0Of((*second)->pid()), "emu-prepare-server");
  servers = PrepareServers({pid, (*second)->pid()});
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_NE(servers[0], server);  // a new one

  for (auto* prepared : {&*first, &*second}) {
    auto r = (*prepared)->Run(Sh("echo $$; exit 3"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->stdout_data, absl::StrCat((*prepared)->pid(), "\n"));
    EXPECT_EQ(r->exit_code, 3);
  }
}

TEST(PreparedProcessTest, RunsLikeRunWithoutAnInstant) {
  PosixProcessLauncher launcher;
  ProcessSpec where;
  where.extra_env = {"EMU_PREPARED=yes"};
  where.cwd = "/";
  auto prepared = launcher.Prepare(where);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  auto r = (*prepared)->Run(Sh("echo $EMU_PREPARED; pwd; echo err >&2; exit 4"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "yes\n/\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_EQ(r->exit_code, 4);

  auto missing = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(missing.ok());
  ProcessSpec nothing;
  nothing.argv = {"/nonexistent/cmd", "a"};
  r = (*missing)->Run(nothing);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 127);

  auto slow = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(slow.ok());
  ProcessSpec sleeper = Sh("sleep 30");
  sleeper.timeout = absl::Milliseconds(200);
  r = (*slow)->Run(sleeper);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, 137);
}

TEST(PreparedProcessTest, AnUnusedOneEndsWithItsHandle) {
  PosixProcessLauncher launcher;
  auto prepared = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  const pid_t pid = (*prepared)->pid();
  prepared->reset();
  EXPECT_TRUE(GoneWithin(pid, absl::Seconds(5)));
}

TEST(PreparedProcessTest, BadPlacesAndCommandsAreRefused) {
  PosixProcessLauncher launcher;
  ProcessSpec where;
  where.netns = absl::StrCat("emu-no-such-ns-", getpid());
  auto prepared = launcher.Prepare(where);
  EXPECT_EQ(prepared.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(prepared.status().message(), HasSubstr(where.netns));

  auto ok = launcher.Prepare(ProcessSpec{});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->Run(ProcessSpec{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessSpec with_stdin = Sh("cat");
  with_stdin.stdin_data = "x";
  EXPECT_EQ((*ok)->Run(with_stdin).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessSpec huge;
  huge.argv = {"echo",
               std::string(PosixProcessLauncher::kMaxPreparedArgvBytes, 'x')};
  EXPECT_EQ((*ok)->Run(huge).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Refused before anything was handed over: it still runs a good command.
  auto r = (*ok)->Run(Sh("echo fine"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "fine\n");
}

TEST(PosixProcessLauncherTest, ExitCodesAndSignals) {
  struct Case {
    std::string script;
    int want;
  };
  const std::vector<Case> cases = {
      {"exit 0", 0},
      {"exit 1", 1},
      {"exit 255", 255},
      {"kill -TERM $$", 128 + SIGTERM},
      {"kill -KILL $$", 128 + SIGKILL},
      {"kill -SEGV $$", 128 + SIGSEGV},
  };
  PosixProcessLauncher launcher;
  for (const Case& c : cases) {
    auto r = launcher.Run(Sh(c.script));
    ASSERT_TRUE(r.ok()) << c.script << ": " << r.status();
    EXPECT_EQ(r->exit_code, c.want) << c.script;
    EXPECT_FALSE(r->timed_out) << c.script;
  }
}

TEST(PosixProcessLauncherTest, TimeoutKillsTheProcessGroup) {
  PosixProcessLauncher launcher;
  // The background sleep is in the command's process group; its pid comes
  // out first so the test can check it died too.
  ProcessSpec spec = Sh("sleep 30 & echo $!; sleep 30; echo x");
  spec.timeout = absl::Milliseconds(200);
  absl::Time t0 = absl::Now();
  auto r = launcher.Run(spec);
  absl::Duration took = absl::Now() - t0;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_GE(took, absl::Milliseconds(190));
  int bg = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r->stdout_data), &bg))
      << r->stdout_data;
  EXPECT_THAT(r->stdout_data, ::testing::Not(HasSubstr("x")));
  EXPECT_TRUE(GoneWithin(bg, absl::Seconds(3))) << "background sleep " << bg;
}

TEST(PosixProcessLauncherTest, BackgroundChildHoldingPipesDoesNotHang) {
  PosixProcessLauncher launcher;
  ProcessSpec spec = Sh("sleep 100 & echo $!; echo done >&2");
  absl::Time t0 = absl::Now();
  auto r = launcher.Run(spec);
  absl::Duration took = absl::Now() - t0;
  ASSERT_TRUE(r.ok()) << r.status();
  int bg = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r->stdout_data), &bg))
      << r->stdout_data;
  // Ours (the command's child): end it now, by id.
  kill(bg, SIGKILL);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stderr_data, "done\n");
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(PosixProcessLauncherTest, DeliversStdin) {
  PosixProcessLauncher launcher;
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = "hello\nworld";
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "hello\nworld");
  EXPECT_EQ(r->exit_code, 0);
}

TEST(PosixProcessLauncherTest, LargeStdinAndStdoutAtOnceDoNotDeadlock) {
  PosixProcessLauncher launcher;
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data.reserve(3 << 20);
  for (int i = 0; spec.stdin_data.size() < (3u << 20); ++i) {
    absl::StrAppend(&spec.stdin_data, "line ", i, "\n");
  }
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), spec.stdin_data.size());
  EXPECT_TRUE(r->stdout_data == spec.stdin_data);
}

TEST(PosixProcessLauncherTest, UnreadStdinIsNotAnError) {
  PosixProcessLauncher launcher;
  ProcessSpec spec;
  spec.argv = {"true"};
  spec.stdin_data = std::string(4 << 20, 'x');
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
}

TEST(PosixProcessLauncherTest, NoStdinReadsEof) {
  PosixProcessLauncher launcher;
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.timeout = absl::Seconds(10);
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stdout_data, "");
}

TEST(PosixProcessLauncherTest, MissingProgramExits127) {
  PosixProcessLauncher launcher;
  const std::vector<std::string> names = {
      "/nonexistent/emu-no-such-program",
      absl::StrCat("emu-no-such-program-", getpid())};
  for (const std::string& name : names) {
    ProcessSpec spec;
    spec.argv = {name, "arg"};
    auto r = launcher.Run(spec);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 127);
    EXPECT_EQ(r->stderr_data,
              absl::StrCat("exec ", name, ": No such file or directory"));
  }
}

TEST(PosixProcessLauncherTest, CapturesLargeOutputOnBothStreams) {
  PosixProcessLauncher launcher;
  auto r = launcher.Run(
      Sh("head -c 3145728 /dev/zero; head -c 2097152 /dev/zero >&2"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), 3145728u);
  EXPECT_EQ(r->stderr_data.size(), 2097152u);
  EXPECT_FALSE(r->output_truncated);
}

TEST(PosixProcessLauncherTest, TruncatesBeyondMaxOutputButKeepsReading) {
  PosixProcessLauncher launcher;
  ProcessSpec spec = Sh("head -c 1000000 /dev/zero; echo tail >&2");
  spec.max_output_bytes = 1000;
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);  // not killed by SIGPIPE: the rest was read
  EXPECT_EQ(r->stdout_data.size(), 1000u);
  EXPECT_EQ(r->stderr_data, "tail\n");
  EXPECT_TRUE(r->output_truncated);
}

TEST(PosixProcessLauncherTest, ExtraEnvAndCwd) {
  PosixProcessLauncher launcher;
  ProcessSpec spec = Sh("echo \"$EMU_TEST_VAR:$HOME\"; pwd");
  spec.extra_env = {"EMU_TEST_VAR=a=b", "HOME=/emu-home"};
  spec.cwd = "/";
  auto r = launcher.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "a=b:/emu-home\n/\n");
}

TEST(PosixProcessLauncherTest, RejectsBadSpecs) {
  PosixProcessLauncher launcher;
  EXPECT_EQ(launcher.Run(ProcessSpec{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessSpec zero = Sh("true");
  zero.timeout = absl::ZeroDuration();
  EXPECT_EQ(launcher.Run(zero).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessSpec env = Sh("true");
  env.extra_env = {"NOEQUALS"};
  EXPECT_EQ(launcher.Run(env).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProcessSpec cwd = Sh("true");
  cwd.cwd = "/nonexistent/emu-dir";
  auto r = launcher.Run(cwd);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("chdir"));
}

TEST(PosixProcessLauncherTest, UnknownNetnsIsNotFoundAndNamed) {
  PosixProcessLauncher launcher;
  ProcessSpec spec = Sh("true");
  spec.netns = absl::StrCat("emu-no-such-ns-", getpid());
  auto r = launcher.Run(spec);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(spec.netns));
  auto s = launcher.Spawn(spec, TempDir() + "/unused.log");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

TEST(PosixProcessLauncherTest, ParallelRunsKeepTheirOwnOutput) {
  PosixProcessLauncher launcher;
  constexpr int kThreads = 8;
  constexpr int kRuns = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRuns; ++i) {
        std::string token = absl::StrCat(t, "-", i);
        ProcessSpec spec = Sh(absl::StrCat("cat; echo ", token));
        spec.stdin_data = token;
        auto r = launcher.Run(spec);
        if (!r.ok() || r->stdout_data != token + token + "\n") ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(PosixProcessLauncherTest, SpawnDetachesLogsAndTerminates) {
  PosixProcessLauncher launcher;
  std::string log = absl::StrCat(TempDir(), "/spawn-", getpid(), ".log");
  std::remove(log.c_str());
  ProcessSpec spec = Sh("echo started; echo to-stderr >&2; exec sleep 100");
  auto pid = launcher.Spawn(spec, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (ReadAll(log).find("to-stderr") == std::string::npos &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(ReadAll(log), "started\nto-stderr\n");
  EXPECT_TRUE(launcher.IsRunning(*pid));
  // Its own session: field 6 of /proc/PID/stat is the session id.
  std::string stat = ReadAll(absl::StrCat("/proc/", *pid, "/stat"));
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string state, ppid, pgrp, session;
  fields >> state >> ppid >> pgrp >> session;
  EXPECT_EQ(pgrp, absl::StrCat(*pid));
  EXPECT_EQ(session, absl::StrCat(*pid));

  EXPECT_TRUE(launcher.Terminate(*pid, absl::Seconds(2)).ok());
  EXPECT_FALSE(launcher.IsRunning(*pid));
  EXPECT_EQ(ProcState(*pid), 0) << "reaped, not a zombie";
  EXPECT_TRUE(launcher.Terminate(*pid, absl::Seconds(2)).ok());  // idempotent
  std::remove(log.c_str());
}

TEST(PosixProcessLauncherTest, TerminateEscalatesToSigkill) {
  PosixProcessLauncher launcher;
  std::string log = absl::StrCat(TempDir(), "/stubborn-", getpid(), ".log");
  auto pid = launcher.Spawn(
      Sh("trap '' TERM; echo ready; while :; do sleep 1; done"), log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (ReadAll(log).find("ready") == std::string::npos &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::Time t0 = absl::Now();
  EXPECT_TRUE(launcher.Terminate(*pid, absl::Milliseconds(200)).ok());
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(190));
  EXPECT_FALSE(launcher.IsRunning(*pid));
  std::remove(log.c_str());
}

TEST(PosixProcessLauncherTest, DaemonThatDiesIsNotRunning) {
  PosixProcessLauncher launcher;
  std::string log = absl::StrCat(TempDir(), "/short-", getpid(), ".log");
  auto pid = launcher.Spawn(Sh("exit 0"), log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (launcher.IsRunning(*pid) && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(launcher.IsRunning(*pid));
  EXPECT_EQ(ProcState(*pid), 0) << "reaped by IsRunning";
  std::remove(log.c_str());
}

TEST(PosixProcessLauncherTest, SpawnErrorsNameTheCause) {
  PosixProcessLauncher launcher;
  ProcessSpec missing;
  missing.argv = {"/nonexistent/emu-daemon"};
  auto r = launcher.Spawn(missing, TempDir() + "/missing.log");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "spawn /nonexistent/emu-daemon: exec: No such file or directory");
  auto bad_log = launcher.Spawn(Sh("true"), "/nonexistent/dir/emu.log");
  EXPECT_FALSE(bad_log.ok());
  EXPECT_THAT(bad_log.status().message(),
              HasSubstr("open log /nonexistent/dir/emu.log"));
}

TEST(FakeProcessLauncherTest, RecordsCallsAndReturnsScriptedResults) {
  FakeProcessLauncher fake;
  fake.QueueResult(FakeProcessLauncher::Exited(2, "first"));
  fake.QueueResult(absl::UnavailableError("boom"));
  fake.SetHandler([](const ProcessSpec& spec) {
    return FakeProcessLauncher::Exited(0, spec.argv.back());
  });
  ProcessSpec a;
  a.argv = {"ip", "link"};
  a.netns = "ns1";
  auto r1 = fake.Run(a);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->exit_code, 2);
  EXPECT_EQ(r1->stdout_data, "first");
  EXPECT_EQ(fake.Run(a).status().code(), absl::StatusCode::kUnavailable);
  auto r3 = fake.Run(a);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->stdout_data, "link");
  ASSERT_EQ(fake.runs().size(), 3u);
  EXPECT_EQ(fake.runs()[0].netns, "ns1");

  // Prepare's default creates nothing ahead: Run at Run, in its place.
  ProcessSpec where;
  where.netns = "ns2";
  auto prepared = fake.Prepare(where);
  ASSERT_TRUE(prepared.ok());
  EXPECT_EQ((*prepared)->pid(), -1);
  EXPECT_EQ(fake.runs().size(), 3u);
  ASSERT_TRUE((*prepared)->Run(a).ok());
  ASSERT_EQ(fake.runs().size(), 4u);
  EXPECT_EQ(fake.runs()[3].netns, "ns2");

  fake.FailNextSpawn(absl::NotFoundError("no qemu"));
  EXPECT_FALSE(fake.Spawn(a, "/log").ok());
  auto pid = fake.Spawn(a, "/log");
  ASSERT_TRUE(pid.ok());
  EXPECT_TRUE(fake.IsRunning(*pid));
  ASSERT_EQ(fake.spawns().size(), 1u);
  EXPECT_EQ(fake.spawns()[0].log_path, "/log");
  EXPECT_TRUE(fake.Terminate(*pid, absl::Seconds(1)).ok());
  EXPECT_FALSE(fake.IsRunning(*pid));
  EXPECT_EQ(fake.terminated(), std::vector<pid_t>{*pid});
  auto pid2 = fake.Spawn(a, "/log");
  ASSERT_TRUE(pid2.ok());
  EXPECT_NE(*pid, *pid2);
  fake.MarkExited(*pid2);
  EXPECT_FALSE(fake.IsRunning(*pid2));
}

}  // namespace
}  // namespace emu
