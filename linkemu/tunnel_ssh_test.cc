// TunnelSsh without an sshd: the ssh argv (pure), the per-peer flag, and
// real connections through linkemu/testing:fake_ssh, which relays its
// stdin/stdout to a loopback port as `ssh -W` does: bytes both ways, ssh's
// refusals explained, and the process ended and reaped with the connection.
#include "linkemu/tunnel_ssh.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "linkemu/testing/loopback_listener.h"
#include "linkemu/testing/fake_ssh.h"

namespace emu::linkemu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SshArgvTest, DefaultsLeaveTheRestToSshAndForwardToLoopback) {
  TunnelSshOptions o;
  auto argv = SshArgv(o, "h2", "198.18.0.12:7472");
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_THAT(*argv,
              ElementsAre("ssh", "-T", "-o", "BatchMode=yes", "-o",
                          "ConnectTimeout=10", "-o", "ServerAliveInterval=3",
                          "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR",
                          "-W", "127.0.0.1:7472", "--", "198.18.0.12"));
}

TEST(SshArgvTest, UserKeyPortConfigAndOptions) {
  TunnelSshOptions o;
  o.command = "/usr/bin/ssh";
  o.user = "emu";
  o.identity_file = "/etc/emu/ssh/id";
  o.port = 2222;
  o.config_file = "/etc/emu/ssh/config";
  o.extra_args = {"-o", "Ciphers=aes128-gcm@openssh.com"};
  auto argv = SshArgv(o, "h2", "[2001:db8::2]:7480");
  ASSERT_TRUE(argv.ok()) << argv.status();
  std::vector<std::string> tail(argv->begin() + 12, argv->end());
  EXPECT_THAT(tail, ElementsAre("-F", "/etc/emu/ssh/config", "-i",
                                "/etc/emu/ssh/id", "-o", "IdentitiesOnly=yes",
                                "-l", "emu", "-p", "2222", "-o",
                                "Ciphers=aes128-gcm@openssh.com", "-W",
                                "127.0.0.1:7480", "--", "2001:db8::2"));
}

TEST(SshArgvTest, APeerEntryReplacesHostUserAndPort) {
  TunnelSshOptions o;
  o.user = "emu";
  o.port = 2222;
  o.peers = {{"h2", "alice@gw2.example:2200"}, {"h3", "gw3"}};
  auto h2 = SshArgv(o, "h2", "198.18.0.12:7472");
  ASSERT_TRUE(h2.ok());
  std::vector<std::string> tail2(h2->end() - 8, h2->end());
  EXPECT_THAT(tail2, ElementsAre("-l", "alice", "-p", "2200", "-W",
                                 "127.0.0.1:7472", "--", "gw2.example"));
  auto h3 = SshArgv(o, "h3", "198.18.0.13:7472");
  ASSERT_TRUE(h3.ok());
  std::vector<std::string> tail3(h3->end() - 8, h3->end());
  EXPECT_THAT(tail3, ElementsAre("-l", "emu", "-p", "2222", "-W",
                                 "127.0.0.1:7472", "--", "gw3"));
}

TEST(SshArgvTest, AControlPathMakesAMasterThatRunsTrueThroughItself) {
  TunnelSshOptions o;
  o.user = "emu";
  o.config_file = "/etc/emu/ssh/it's";
  auto argv = SshArgv(o, "h2", "198.18.0.12:7472", "/tmp/emu-tssh-a%b/c");
  ASSERT_TRUE(argv.ok()) << argv.status();
  std::vector<std::string> master(argv->begin() + 12, argv->begin() + 22);
  EXPECT_THAT(
      master,
      ElementsAre("-o", "ControlMaster=yes", "-o",
                  "ControlPath=/tmp/emu-tssh-a%%b/c", "-o",
                  "ControlPersist=no", "-o", "PermitLocalCommand=yes", "-o",
                  "LocalCommand='ssh' '-S' '/tmp/emu-tssh-a%%b/c' '-o' "
                  "'ControlMaster=no' '-T' '-F' '/etc/emu/ssh/it'\\''s' "
                  "'-l' 'emu' '--' '198.18.0.12' 'true' </dev/null "
                  ">/dev/null 2>&1 &"));
  // The channel and the destination stay last.
  std::vector<std::string> tail(argv->end() - 4, argv->end());
  EXPECT_THAT(tail, ElementsAre("-W", "127.0.0.1:7472", "--", "198.18.0.12"));
}

TEST(SshArgvTest, AnAddressWithoutPortIsNamed) {
  auto argv = SshArgv(TunnelSshOptions{}, "h2", "198.18.0.12");
  ASSERT_FALSE(argv.ok());
  EXPECT_EQ(argv.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(argv.status().message(), HasSubstr("'198.18.0.12' of h2"));
}

TEST(ParseSshPeersTest, EntriesAndErrors) {
  auto p = ParseSshPeers("h2=alice@gw2:2200, h3=[2001:db8::3]:22,h4=gw4");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("h2"), "alice@gw2:2200");
  EXPECT_EQ(p->at("h3"), "[2001:db8::3]:22");
  EXPECT_EQ(p->at("h4"), "gw4");
  EXPECT_TRUE(ParseSshPeers("")->empty());
  for (const char* bad : {"h2", "h2=", "=gw", "h2=gw:99999", "h2=@gw",
                          "h2=a,h2=b"}) {
    auto r = ParseSshPeers(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("--tunnel_ssh_peers")) << bad;
  }
}

class TunnelSshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listen_fd_ = testing::LoopbackListener(4, &port_);
    ASSERT_GE(listen_fd_, 0);
    // One per test: a killed fake ssh leaves its pid file behind.
    pid_dir_ = testing::FakeSshPidDir();
    options_.command = testing::FakeSshPath();
  }
  void TearDown() override { close(listen_fd_); }

  std::vector<pid_t> Pids() { return testing::FakeSshPids(pid_dir_); }

  std::string Address() { return absl::StrCat("127.0.0.1:", port_); }

  int listen_fd_ = -1;
  int port_ = 0;
  std::string pid_dir_;
  TunnelSshOptions options_;
};

TEST_F(TunnelSshTest, BytesFlowBothWaysAndTheProcessEndsWithTheConnection) {
  TunnelSsh ssh(options_);
  auto conn = ssh.Connect("h2", Address(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_THAT((*conn)->Describe(),
              HasSubstr(absl::StrCat("ssh 127.0.0.1 -W 127.0.0.1:", port_)));
  int peer = accept(listen_fd_, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(WriteAll(**conn, "hello over ssh").ok());
  char buf[64] = {0};
  ASSERT_EQ(recv(peer, buf, 14, MSG_WAITALL), 14);
  EXPECT_EQ(std::string(buf, 14), "hello over ssh");
  ASSERT_EQ(send(peer, "answer", 6, 0), 6);
  char got[6];
  ASSERT_TRUE(ReadExact(**conn, got, 6).ok());
  EXPECT_EQ(std::string(got, 6), "answer");

  std::vector<pid_t> pids = Pids();
  ASSERT_EQ(pids.size(), 1u);
  conn->reset();
  // Reaped: no such process (not even a zombie).
  EXPECT_EQ(kill(pids[0], 0), -1);
  EXPECT_EQ(errno, ESRCH);
  close(peer);
}

TEST_F(TunnelSshTest, AKilledSshEndsTheStream) {
  TunnelSsh ssh(options_);
  auto conn = ssh.Connect("h2", Address(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  int peer = accept(listen_fd_, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  std::vector<pid_t> pids = Pids();
  ASSERT_EQ(pids.size(), 1u);
  kill(pids[0], SIGKILL);
  char buf[8];
  absl::Status s = ReadExact(**conn, buf, 1);
  EXPECT_THAT(s.message(), HasSubstr("connection closed"));
  absl::Status why = (*conn)->Explain(s);
  EXPECT_THAT(why.message(), HasSubstr("ssh killed by signal 9"));
  close(peer);
}

TEST_F(TunnelSshTest, ARefusedKeyIsExplainedAsUnauthenticated) {
  options_.peers = {{"h2", "deny.invalid"}};
  TunnelSsh ssh(options_);
  auto conn = ssh.Connect("h2", Address(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  char buf[8];
  absl::Status s = ReadExact(**conn, buf, 1);
  ASSERT_FALSE(s.ok());
  absl::Status why = (*conn)->Explain(s);
  EXPECT_EQ(why.code(), absl::StatusCode::kUnauthenticated) << why;
  EXPECT_THAT(why.message(), HasSubstr("ssh deny.invalid -W 127.0.0.1:"));
  EXPECT_THAT(why.message(), HasSubstr("Permission denied (publickey)"));
  EXPECT_THAT(why.message(), HasSubstr("exited with status 255"));
}

TEST_F(TunnelSshTest, NoListenerBehindSshIsExplained) {
  close(listen_fd_);
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);  // for TearDown
  TunnelSsh ssh(options_);
  auto conn = ssh.Connect("h2", Address(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  char buf[8];
  absl::Status why = (*conn)->Explain(ReadExact(**conn, buf, 1));
  EXPECT_EQ(why.code(), absl::StatusCode::kUnavailable) << why;
  EXPECT_THAT(why.message(), HasSubstr("stdio forwarding failed"));
}

TEST_F(TunnelSshTest, AMissingClientIsUnavailable) {
  options_.command = "/nonexistent/ssh";
  TunnelSsh ssh(options_);
  auto conn = ssh.Connect("h2", Address(), absl::Seconds(5));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("/nonexistent/ssh"));
}

}  // namespace
}  // namespace emu::linkemu
