// The ssh command lines emuctl builds, and SshTunnel's start, wait and stop
// against a fake launcher (no ssh is run; the test plays ssh's part by
// creating the socket).
#include "cli/ssh_tunnel.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

SshDestination Dest(const std::string& text) {
  absl::StatusOr<SshDestination> d = ParseSshDestination(text);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : SshDestination();
}

TEST(ParseSshDestinationTest, UserHostPort) {
  SshDestination d = Dest("admin@gw.example.org:2222");
  EXPECT_EQ(d.user, "admin");
  EXPECT_EQ(d.host, "gw.example.org");
  EXPECT_EQ(d.port, 2222);
  EXPECT_EQ(d.SshHost(), "admin@gw.example.org");
  d = Dest("gw");
  EXPECT_EQ(d.user, "");
  EXPECT_EQ(d.port, 0);
  EXPECT_EQ(d.SshHost(), "gw");
  d = Dest("root@[2001:db8::1]:22");
  EXPECT_EQ(d.host, "2001:db8::1");
  EXPECT_EQ(d.port, 22);
  EXPECT_EQ(Dest("2001:db8::1").host, "2001:db8::1");
}

TEST(ParseSshDestinationTest, RefusesBadInputNamingIt) {
  for (const char* bad : {"", "-oProxyCommand=x", "@gw", "u@", "gw:", "gw:0",
                          "gw:70000", "gw:x", "[::1", "g w"}) {
    absl::StatusOr<SshDestination> d = ParseSshDestination(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(), HasSubstr(absl::StrCat("'", bad, "'")));
  }
}

TEST(SshForwardTargetTest, TcpAndUnix) {
  EXPECT_EQ(*SshForwardTarget("127.0.0.1:7470"), "127.0.0.1:7470");
  EXPECT_EQ(*SshForwardTarget("unix:/run/emu/controller.sock"),
            "/run/emu/controller.sock");
  EXPECT_EQ(*SshForwardTarget("unix:///run/emu/c.sock"), "/run/emu/c.sock");
  EXPECT_EQ(*SshForwardTarget("/run/emu/c.sock"), "/run/emu/c.sock");
  EXPECT_FALSE(SshForwardTarget("controller").ok());
  EXPECT_FALSE(SshForwardTarget("host:0").ok());
}

TEST(BuildSshTunnelArgvTest, UserOptionsBeforeEmusDefaults) {
  EXPECT_THAT(
      BuildSshTunnelArgv(
          Dest("root@gw:2222"),
          SplitSshOptions(" -F  /tmp/cfg\t-o ServerAliveInterval=3 "),
          "/tmp/x/controller.sock", "127.0.0.1:7470"),
      ElementsAre("ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o",
                  "StreamLocalBindUnlink=yes", "-p", "2222", "-F", "/tmp/cfg",
                  "-o", "ServerAliveInterval=3", "-o", "ServerAliveInterval=10",
                  "-L", "/tmp/x/controller.sock:127.0.0.1:7470", "root@gw"));
  // No port: ssh's own (~/.ssh/config) applies.
  EXPECT_THAT(
      BuildSshTunnelArgv(Dest("gw"), {}, "/s", "/run/emu/c.sock"),
      ElementsAre("ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o",
                  "StreamLocalBindUnlink=yes", "-o", "ServerAliveInterval=10",
                  "-L", "/s:/run/emu/c.sock", "gw"));
}

TEST(SshNoDelayOptionsTest, AMasterOfItsOwnRunsTrueThroughItInTheBackground) {
  EXPECT_THAT(
      SshNoDelayOptions("/tmp/d%x/ctl", "root@gw", {"-F", "/tmp/it's"}),
      ElementsAre("-o", "ControlMaster=yes", "-o", "ControlPath=/tmp/d%%x/ctl",
                  "-o", "ControlPersist=no", "-o", "PermitLocalCommand=yes",
                  "-o",
                  "LocalCommand='ssh' '-S' '/tmp/d%%x/ctl' '-o' "
                  "'ControlMaster=no' '-T' '-F' '/tmp/it'\\''s' 'root@gw' "
                  "'true' </dev/null >/dev/null 2>&1 &"));
}

TEST(BuildSshReverseArgvTest, WithAControlPathTheConnectionRunsACommand) {
  std::vector<std::string> argv = BuildSshReverseArgv(
      Dest("root@h2"), {"-F", "cfg"}, "/run/emu/controller.sock",
      "127.0.0.1:7470", "/var/lib/emu/h2.ctl");
  // The master's options before the user's (ssh keeps an option's first
  // value), the forward and the destination last.
  std::vector<std::string> head(argv.begin(), argv.begin() + 8);
  EXPECT_THAT(head, ElementsAre("ssh", "-N", "-o", "ExitOnForwardFailure=yes",
                                "-o", "StreamLocalBindUnlink=yes", "-o",
                                "ControlMaster=yes"));
  EXPECT_NE(std::find(argv.begin(), argv.end(),
                      "ControlPath=/var/lib/emu/h2.ctl"),
            argv.end());
  std::vector<std::string> tail(argv.end() - 7, argv.end());
  EXPECT_THAT(tail, ElementsAre("-F", "cfg", "-o", "ServerAliveInterval=10",
                                "-R",
                                "/run/emu/controller.sock:127.0.0.1:7470",
                                "root@h2"));
  // Without one: plain -N, as before.
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "PermitLocalCommand=yes"), 1);
  std::vector<std::string> plain = BuildSshReverseArgv(
      Dest("h2"), {}, "/s", "127.0.0.1:7470");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), "PermitLocalCommand=yes"),
            0);
}

TEST(ReadRemoteTokenTest, CatsThePathQuotedAndTrims) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(0, "s3cret\n"));
  absl::StatusOr<std::string> token = ReadRemoteToken(
      &launcher, Dest("u@gw:23"), {"-F", "cfg"}, "/var/lib/it's/token");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret");
  ASSERT_EQ(launcher.runs().size(), 1u);
  EXPECT_THAT(launcher.runs()[0].argv,
              ElementsAre("ssh", "-p", "23", "-F", "cfg", "u@gw", "--",
                          "cat -- '/var/lib/it'\\''s/token'"));
}

TEST(ReadRemoteTokenTest, FailureNamesGatewayPathAndCause) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(
      FakeProcessLauncher::Exited(1, "", "cat: /t: Permission denied\n"));
  absl::StatusOr<std::string> token =
      ReadRemoteToken(&launcher, Dest("gw"), {}, "/t");
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr("/t on gw"));
  EXPECT_THAT(token.status().message(), HasSubstr("Permission denied"));
  launcher.QueueResult(FakeProcessLauncher::Exited(0, "\n"));
  EXPECT_THAT(
      ReadRemoteToken(&launcher, Dest("gw"), {}, "/t").status().message(),
      HasSubstr("empty"));
}

class SshTunnelTest : public ::testing::Test {
 protected:
  SshTunnelTest() {
    // Short on purpose: socket paths are limited to 107 bytes.
    char dir[] = "/tmp/ssh_tunnel_test.XXXXXX";
    runtime_dir_ = mkdtemp(dir);
  }
  ~SshTunnelTest() override { std::filesystem::remove_all(runtime_dir_); }

  SshTunnelOptions Options() {
    SshTunnelOptions o;
    o.destination = Dest("root@gw");
    o.target = "unix:/run/emu/controller.sock";
    o.runtime_dir = runtime_dir_;
    o.connect_timeout = absl::Seconds(10);
    return o;
  }

  // The ssh spawned, once there is one (bounded wait).
  absl::StatusOr<FakeProcessLauncher::SpawnCall> WaitForSpawn() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto spawns = launcher_.spawns();
      if (!spawns.empty()) return spawns[0];
      absl::SleepFor(absl::Milliseconds(5));
    }
    return absl::DeadlineExceededError("ssh never spawned");
  }

  FakeProcessLauncher launcher_;
  std::string runtime_dir_;
};

// Plays ssh: binds the socket named by -L's local side.
int BindSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << path;
  return fd;
}

TEST_F(SshTunnelTest, WaitsForTheSocketAndCleansUpByPid) {
  int fd = -1;
  std::thread ssh([&] {
    auto spawn = WaitForSpawn();
    ASSERT_TRUE(spawn.ok());
    const std::string forward = spawn->spec.argv[spawn->spec.argv.size() - 2];
    fd = BindSocket(forward.substr(0, forward.find(':')));
  });
  absl::StatusOr<std::unique_ptr<SshTunnel>> tunnel =
      SshTunnel::Open(&launcher_, Options());
  ssh.join();
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  const std::string socket = (*tunnel)->local_socket();
  EXPECT_EQ((*tunnel)->address(), "unix:" + socket);
  ASSERT_EQ(launcher_.spawns().size(), 1u);
  const FakeProcessLauncher::SpawnCall call = launcher_.spawns()[0];
  EXPECT_EQ(call.spec.argv.back(), "root@gw");
  EXPECT_EQ(call.spec.argv[call.spec.argv.size() - 2],
            socket + ":/run/emu/controller.sock");
  // The tunnel's directory is private to the user.
  struct stat st;
  const std::string dir = std::filesystem::path(socket).parent_path();
  // Its ssh is a master of its own there, which runs `true` once (sshd's
  // TCP_NODELAY).
  EXPECT_NE(std::find(call.spec.argv.begin(), call.spec.argv.end(),
                      "ControlPath=" + dir + "/ctl"),
            call.spec.argv.end());
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE((*tunnel)->Alive());
  tunnel->reset();
  close(fd);
  EXPECT_THAT(launcher_.terminated(), ElementsAre(call.pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(SshTunnelTest, SshExitingFirstNamesTheGatewayWithSshsWords) {
  std::thread ssh([&] {
    auto spawn = WaitForSpawn();
    ASSERT_TRUE(spawn.ok());
    std::ofstream(spawn->log_path)
        << "ssh: connect to host gw port 22: Connection refused\n";
    launcher_.MarkExited(spawn->pid);
  });
  absl::StatusOr<std::unique_ptr<SshTunnel>> tunnel =
      SshTunnel::Open(&launcher_, Options());
  ssh.join();
  ASSERT_FALSE(tunnel.ok());
  EXPECT_EQ(tunnel.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(tunnel.status().message(), HasSubstr("ssh to root@gw exited"));
  EXPECT_THAT(tunnel.status().message(), HasSubstr("Connection refused"));
  // Nothing left: the directory went with the failed tunnel.
  EXPECT_TRUE(std::filesystem::is_empty(runtime_dir_));
}

TEST_F(SshTunnelTest, NoSocketInTimeEndsSsh) {
  SshTunnelOptions o = Options();
  o.connect_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<SshTunnel>> tunnel =
      SshTunnel::Open(&launcher_, o);
  ASSERT_FALSE(tunnel.ok());
  EXPECT_EQ(tunnel.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_EQ(launcher_.spawns().size(), 1u);
  EXPECT_THAT(launcher_.terminated(), ElementsAre(launcher_.spawns()[0].pid));
}

TEST_F(SshTunnelTest, SpawnFailureNamesTheGateway) {
  launcher_.FailNextSpawn(absl::NotFoundError("ssh: not found"));
  absl::StatusOr<std::unique_ptr<SshTunnel>> tunnel =
      SshTunnel::Open(&launcher_, Options());
  ASSERT_FALSE(tunnel.ok());
  EXPECT_THAT(tunnel.status().message(), HasSubstr("start ssh to root@gw"));
}

TEST(SshControlTest, CommandLinesOfTheSharedConnection) {
  SshControl control;
  control.dir = "/run/user/0/emu-ssh";
  control.persist = absl::Seconds(600);
  EXPECT_THAT(SshControlOptions(control),
              ElementsAre("-o", "ControlMaster=no", "-o",
                          "ControlPath=/run/user/0/emu-ssh/cm-%C"));
  EXPECT_THAT(
      BuildSshMasterArgv(Dest("root@gw:2222"), {"-F", "cfg"}, control,
                         "/run/user/0/emu-ssh/m.log"),
      ElementsAre("ssh", "-f", "-N", "-o", "ControlMaster=yes", "-o",
                  "ControlPath=/run/user/0/emu-ssh/cm-%C", "-o",
                  "ControlPersist=600", "-o", "StreamLocalBindUnlink=yes",
                  "-E", "/run/user/0/emu-ssh/m.log", "-p", "2222", "-F", "cfg",
                  "-o", "ServerAliveInterval=10", "root@gw"));
  EXPECT_THAT(
      BuildSshMuxArgv(Dest("gw"), {}, control, "forward", {"-L", "/a:/b"}),
      ElementsAre("ssh", "-o", "ControlPath=/run/user/0/emu-ssh/cm-%C", "-O",
                  "forward", "-L", "/a:/b", "gw"));
}

TEST(SshControlTest, FromEnvironment) {
  absl::StatusOr<SshControl> c = SshControlFromEnv("", "/run/user/7");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dir, "/run/user/7/emu-ssh");
  EXPECT_EQ(c->persist, absl::Seconds(600));
  c = SshControlFromEnv("30", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dir, absl::StrCat("/tmp/emu-ssh-", getuid()));
  EXPECT_EQ(c->persist, absl::Seconds(30));
  c = SshControlFromEnv("0", "/run/user/7");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dir, "");
  EXPECT_FALSE(SshControlFromEnv("ten", "").ok());
  EXPECT_FALSE(SshControlFromEnv("-1", "").ok());
}

// Plays ssh for the shared connection: `-O check` answers whether the
// master runs, the master's start makes it run, `-O forward -L S:T` binds
// and listens on S.
class SharedSshTest : public SshTunnelTest {
 protected:
  SharedSshTest() {
    launcher_.SetHandler(
        [this](const ProcessSpec& spec) -> absl::StatusOr<ProcessResult> {
          const std::vector<std::string>& a = spec.argv;
          auto has = [&](const std::string& x) {
            return std::find(a.begin(), a.end(), x) != a.end();
          };
          if (has("-f")) {
            if (fail_login_) {
              std::ofstream(a[std::find(a.begin(), a.end(), "-E") - a.begin() +
                              1])
                  << "root@gw: Permission denied (publickey).\n";
              return FakeProcessLauncher::Exited(255);
            }
            ++logins_;
            master_ = true;
            return FakeProcessLauncher::Exited(0);
          }
          if (has("check")) {
            return FakeProcessLauncher::Exited(master_ ? 0 : 255, "",
                                               master_ ? "Master running"
                                                       : "No such file");
          }
          if (has("forward")) {
            const std::string f = a[a.size() - 2];
            const int fd = BindSocket(f.substr(0, f.find(':')));
            listen(fd, 4);
            fds_.push_back(fd);
            return FakeProcessLauncher::Exited(0);
          }
          return FakeProcessLauncher::Exited(1, "", "unexpected");
        });
  }
  ~SharedSshTest() override {
    for (int fd : fds_) close(fd);
  }
  SshTunnelOptions Shared() {
    SshTunnelOptions o = Options();
    o.control.dir = runtime_dir_ + "/emu-ssh";
    return o;
  }

  bool master_ = false;
  bool fail_login_ = false;
  int logins_ = 0;
  std::vector<int> fds_;
};

TEST_F(SharedSshTest, OneLoginServesEveryCallAndTheForwardStays) {
  absl::StatusOr<std::unique_ptr<SshTunnel>> first =
      SshTunnel::Open(&launcher_, Shared());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(logins_, 1);
  const std::string socket = (*first)->local_socket();
  EXPECT_EQ(std::filesystem::path(socket).parent_path(),
            runtime_dir_ + "/emu-ssh");
  struct stat st;
  ASSERT_EQ(stat((runtime_dir_ + "/emu-ssh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(launcher_.spawns().empty());  // nothing of its own to end
  first->reset();
  const size_t runs = launcher_.runs().size();
  // The next call finds the forward answering: no ssh at all.
  absl::StatusOr<std::unique_ptr<SshTunnel>> second =
      SshTunnel::Open(&launcher_, Shared());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->local_socket(), socket);
  EXPECT_EQ(launcher_.runs().size(), runs);
  EXPECT_EQ(logins_, 1);
  // Another target is another forward of the same master.
  SshTunnelOptions other = Shared();
  other.target = "127.0.0.1:7470";
  absl::StatusOr<std::unique_ptr<SshTunnel>> third =
      SshTunnel::Open(&launcher_, other);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE((*third)->local_socket(), socket);
  EXPECT_EQ(logins_, 1);
  // A dropped connection: the master is gone.
  EXPECT_TRUE((*second)->Alive());
  master_ = false;
  EXPECT_FALSE((*second)->Alive());
}

// sshd keeps Nagle's algorithm on for a connection that only forwards
// (about 40 ms more per call): a new master runs one command, through
// itself, right after the login; a reused one runs none.
TEST_F(SharedSshTest, ANewMasterRunsOneCommandSoSshdSetsNoDelay) {
  absl::StatusOr<std::unique_ptr<SshTunnel>> first =
      SshTunnel::Open(&launcher_, Shared());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::vector<ProcessSpec> runs = launcher_.runs();
  auto login = std::find_if(runs.begin(), runs.end(), [](const ProcessSpec& s) {
    return std::find(s.argv.begin(), s.argv.end(), "-f") != s.argv.end();
  });
  ASSERT_NE(login, runs.end());
  ASSERT_NE(login + 1, runs.end());
  const std::vector<std::string>& a = (login + 1)->argv;
  ASSERT_GE(a.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(a.end() - 3, a.end()),
              ElementsAre("root@gw", "--", "true"));
  EXPECT_NE(std::find(a.begin(), a.end(), "ControlMaster=no"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(),
                      absl::StrCat("ControlPath=", runtime_dir_,
                                   "/emu-ssh/cm-%C")),
            a.end());
  auto commands = [&] {
    int n = 0;
    for (const ProcessSpec& s : launcher_.runs()) {
      if (s.argv.size() >= 2 && s.argv[s.argv.size() - 2] == "--") ++n;
    }
    return n;
  };
  EXPECT_EQ(commands(), 1);
  // Another target of the same (running) master: no second command.
  first->reset();
  SshTunnelOptions other = Shared();
  other.target = "127.0.0.1:7470";
  absl::StatusOr<std::unique_ptr<SshTunnel>> second =
      SshTunnel::Open(&launcher_, other);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(commands(), 1);
  EXPECT_EQ(logins_, 1);
}

TEST_F(SharedSshTest, FailedLoginNamesTheGatewayWithSshsWords) {
  fail_login_ = true;
  absl::StatusOr<std::unique_ptr<SshTunnel>> t =
      SshTunnel::Open(&launcher_, Shared());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(t.status().message(),
              HasSubstr("ssh to root@gw exited before the tunnel to "
                        "/run/emu/controller.sock was up"));
  EXPECT_THAT(t.status().message(), HasSubstr("Permission denied"));
}

TEST_F(SharedSshTest, RefusesAControlDirectoryOthersCanRead) {
  const std::string dir = runtime_dir_ + "/emu-ssh";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  chmod(dir.c_str(), 0755);
  absl::StatusOr<std::unique_ptr<SshTunnel>> t =
      SshTunnel::Open(&launcher_, Shared());
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("mode 0700"));
}

TEST(ListensOnUnixSocketTest, OnlyAListenerAtThatPathCounts) {
  const std::string table =
      "Num       RefCount Protocol Flags    Type St Inode Path\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 4711 "
      "/run/user/0/emu-ssh/fwd-1.sock\n"
      "0000000000000000: 00000003 00000000 00000000 0001 03 4712 "
      "/run/user/0/emu-ssh/fwd-2.sock\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 4713 "
      "/tmp/a b.sock\n"
      "0000000000000000: 00000002 00000000 00010000 0001 01 4714\n";
  EXPECT_TRUE(ListensOnUnixSocket(table, "/run/user/0/emu-ssh/fwd-1.sock"));
  // Connected, not listening (a stale forward's peer, a client).
  EXPECT_FALSE(ListensOnUnixSocket(table, "/run/user/0/emu-ssh/fwd-2.sock"));
  EXPECT_TRUE(ListensOnUnixSocket(table, "/tmp/a b.sock"));
  EXPECT_FALSE(ListensOnUnixSocket(table, "/run/user/0/emu-ssh/fwd"));
  EXPECT_FALSE(ListensOnUnixSocket("", "/x"));
}

}  // namespace
}  // namespace emu::cli
