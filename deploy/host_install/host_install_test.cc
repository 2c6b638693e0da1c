#include "deploy/host_install/host_install.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "deploy/remote_host/testing/fake_remote_host.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::deploy::host_install {
namespace {

using remote_host::FakeRemoteHost;
using remote_host::RunResult;
using ::testing::HasSubstr;

// A Debian 12 host as the steps see it: its packages, the files the fake
// keeps, and an agent process.
class SimulatedHost {
 public:
  SimulatedHost(const AddPlan& plan)
      : plan_(plan),
        fake_([this](const std::string& c) { return Answer(c); }) {}

  RunResult Answer(const std::string& c) {
    const Layout& l = plan_.layout;
    if (c == commands::OsRelease()) return {0, os + "\n", ""};
    if (c == commands::UserId()) return {0, uid + "\n", ""};
    if (c == commands::SudoWorks()) return {sudo ? 0 : 1, "", "a password is required"};
    if (c == commands::Systemd()) return {1, "", ""};
    if (c == commands::PackageStatus(plan_.packages)) {
      std::string out;
      for (const std::string& p : installed) absl::StrAppend(&out, p, " installed\n");
      return {0, out, ""};
    }
    if (absl::StartsWith(c, "export DEBIAN_FRONTEND")) {
      ++apt_runs;
      for (const std::string& p : plan_.packages) {
        if (absl::StrContains(c, "'" + p + "'")) installed.insert(p);
      }
      return {0, "", ""};
    }
    for (const auto& [path, file] : fake_.files) {
      if (c == commands::ReadFile(path)) return {0, file.content, ""};
    }
    if (absl::StartsWith(c, "cat -- ")) return {1, "", "No such file"};
    for (const std::string& path : Paths()) {
      if (c != commands::FileState(path)) continue;
      auto it = fake_.files.find(path);
      if (it == fake_.files.end()) return {0, "absent\n", ""};
      return {0, absl::StrCat(Sha256Hex(it->second.content), " ",
                              absl::StrFormat("%o", it->second.mode), "\n"),
              ""};
    }
    if (c == commands::ProcessRunning(l)) {
      return agent_pid ? RunResult{0, absl::StrCat(agent_pid, "\n"), ""}
                       : RunResult{1, "", ""};
    }
    if (c == commands::StopProcess(l)) {
      const int old = agent_pid;
      agent_pid = 0;
      return {0, old ? absl::StrCat(old, "\n") : "", ""};
    }
    if (c == commands::StartProcess(l, AgentArgv(plan_))) {
      ++starts;
      agent_pid = next_pid++;
      return {0, absl::StrCat(agent_pid, "\n"), ""};
    }
    if (absl::StartsWith(c, "for f in")) {
      std::string out;
      for (auto it = fake_.files.begin(); it != fake_.files.end();) {
        absl::StrAppend(&out, it->first, " ");
        it = fake_.files.erase(it);
      }
      return {0, out, ""};
    }
    return {127, "", "simulated host: unexpected command: " + c};
  }

  std::vector<std::string> Paths() const {
    const Layout& l = plan_.layout;
    const common::pki::Paths p = common::pki::AgentPaths(l.pki_dir(), plan_.name);
    return {l.bin_dir() + "/emu-agent", p.ca_cert, p.cert, p.key,
            l.token_file(), l.env_file()};
  }
  int Copies() const {
    int n = 0;
    for (const std::string& c : fake_.commands) n += absl::StartsWith(c, "copy ");
    return n;
  }

  FakeRemoteHost& fake() { return fake_; }
  std::string os = "debian 12";
  std::string uid = "0";
  bool sudo = false;
  std::set<std::string> installed;
  int apt_runs = 0;
  int starts = 0;
  int agent_pid = 0;
  int next_pid = 100;

 private:
  const AddPlan& plan_;
  FakeRemoteHost fake_;
};

class HostInstallTest : public ::testing::Test {
 protected:
  HostInstallTest() {
    plan_.name = "h2";
    plan_.address = "10.0.0.2";
    plan_.layout.prefix = "/p";
    plan_.packages = {"libnl-3-200", "libssl3"};
    plan_.binaries = {{"emu-agent", "agent bytes v1"}};
    plan_.token = "secret-token";
    plan_.ca = *common::pki::CreateCa("test");
    hooks_.ensure_tunnel = [this]() -> absl::StatusOr<bool> {
      if (tunnel_) return false;
      tunnel_ = true;
      return true;
    };
    hooks_.wait_registered = [this] {
      return host_.agent_pid ? absl::OkStatus()
                             : absl::DeadlineExceededError("not registered");
    };
    hooks_.close_tunnel = [this]() -> absl::StatusOr<bool> {
      const bool was = tunnel_;
      tunnel_ = false;
      return was;
    };
    hooks_.drain = [this](std::string* detail) -> absl::StatusOr<bool> {
      if (!drain_.ok()) return drain_;
      const bool was = registered_;
      registered_ = false;
      *detail = was ? "removed from the controller" : "not known";
      return was;
    };
  }

  std::vector<StepReport::State> States() const {
    std::vector<StepReport::State> s;
    for (const StepReport& r : report_) s.push_back(r.state);
    return s;
  }

  AddPlan plan_;
  SimulatedHost host_{plan_};
  Hooks hooks_;
  bool tunnel_ = false;
  absl::Status drain_ = absl::OkStatus();
  bool registered_ = true;  // the controller knows the host
  std::vector<StepReport> report_;
};

constexpr StepReport::State kC = StepReport::kChanged;
constexpr StepReport::State kU = StepReport::kUnchanged;
constexpr StepReport::State kF = StepReport::kFailed;
constexpr StepReport::State kN = StepReport::kNotRun;

TEST_F(HostInstallTest, FreshHostThenSecondRunChangesNothing) {
  host_.installed = {"libssl3"};
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok())
      << FormatReport(report_);
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kC, kC, kC, kC, kC, kU));
  EXPECT_EQ(host_.apt_runs, 1);
  EXPECT_TRUE(host_.installed.count("libnl-3-200"));
  auto& files = host_.fake().files;
  EXPECT_EQ(files["/p/usr/local/bin/emu-agent"].mode, 0755);
  EXPECT_EQ(files["/p/etc/emu/token"].mode, 0600);
  EXPECT_EQ(files["/p/etc/emu/token"].content, "secret-token\n");
  EXPECT_EQ(files["/p/etc/emu/emu.env"].mode, 0600);
  EXPECT_EQ(files["/p/etc/emu/pki/agent-h2.key"].mode, 0600);
  EXPECT_EQ(files["/p/etc/emu/pki/agent-h2.crt"].mode, 0644);
  absl::StatusOr<common::pki::Identity> id = common::pki::Verify(
      plan_.ca.cert_pem, files["/p/etc/emu/pki/agent-h2.crt"].content,
      absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->name, "h2");
  EXPECT_THAT(files["/p/etc/emu/emu.env"].content,
              HasSubstr("EMU_CONTROLLER=unix:/p/run/emu/controller.sock"));
  EXPECT_EQ(host_.starts, 1);

  const int copies = host_.Copies();
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok())
      << FormatReport(report_);
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kU, kU, kU, kU, kU, kU));
  EXPECT_EQ(host_.Copies(), copies);
  EXPECT_EQ(host_.apt_runs, 1);
  EXPECT_EQ(host_.starts, 1);
  const std::string text = FormatReport(report_);
  EXPECT_THAT(text, HasSubstr("binaries: unchanged"));
  EXPECT_THAT(text, HasSubstr("agent: unchanged"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("done:")));
}

TEST_F(HostInstallTest, PresentPackagesNeedNoApt) {
  host_.installed = {"libnl-3-200", "libssl3"};
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  EXPECT_EQ(host_.apt_runs, 0);
  EXPECT_EQ(report_[2].state, kU);
}

TEST_F(HostInstallTest, FailureHalfWaySaysWhatWasDoneAndRerunFinishes) {
  host_.installed = {"libnl-3-200", "libssl3"};
  host_.fake().fail_from = "copy /p/etc/emu/token";
  absl::Status s = Add(host_.fake(), plan_, hooks_, &report_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("step credentials"));
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kU, kC, kF, kN, kN, kN));
  const std::string text = FormatReport(report_);
  EXPECT_THAT(text, HasSubstr("done: os, privileges, packages, binaries\n"));
  EXPECT_THAT(text,
              HasSubstr("not done: credentials, tunnel, agent, registration"));
  EXPECT_EQ(host_.agent_pid, 0);
  EXPECT_FALSE(tunnel_);

  // The same host's disk over a new connection: the binaries are kept,
  // the rest is done.
  SimulatedHost again(plan_);
  again.installed = host_.installed;
  again.fake().files = host_.fake().files;
  hooks_.wait_registered = [&again] {
    return again.agent_pid ? absl::OkStatus()
                           : absl::DeadlineExceededError("not registered");
  };
  ASSERT_TRUE(Add(again.fake(), plan_, hooks_, &report_).ok())
      << FormatReport(report_);
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kU, kU, kC, kC, kC, kU));
}

TEST_F(HostInstallTest, WrongOsIsRefusedBeforeAnythingIsWritten) {
  host_.os = "ubuntu 22.04";
  absl::Status s = Add(host_.fake(), plan_, hooks_, &report_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'ubuntu 22.04'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("fake-host"));
  EXPECT_EQ(host_.Copies(), 0);
}

TEST_F(HostInstallTest, NonRootUsesSudoOrIsRefused) {
  host_.installed = {"libnl-3-200", "libssl3"};
  host_.uid = "1000";
  absl::Status s = Add(host_.fake(), plan_, hooks_, &report_);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sudo -n true"));
  EXPECT_EQ(host_.Copies(), 0);
  host_.sudo = true;
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  EXPECT_TRUE(host_.fake().sudo_used);
}

TEST_F(HostInstallTest, NewBinaryRestartsTheAgent) {
  host_.installed = {"libnl-3-200", "libssl3"};
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  plan_.binaries[0].content = "agent bytes v2";
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kU, kC, kU, kU, kC, kU));
  EXPECT_EQ(host_.starts, 2);
  EXPECT_EQ(host_.fake().files["/p/usr/local/bin/emu-agent"].content,
            "agent bytes v2");
}

TEST_F(HostInstallTest, ForeignCertificateIsReplaced) {
  host_.installed = {"libnl-3-200", "libssl3"};
  const common::pki::Credentials other = *common::pki::CreateCa("other");
  common::pki::Subject subject;
  subject.name = "h2";
  const common::pki::Credentials foreign = *common::pki::Issue(other, subject);
  host_.fake().files["/p/etc/emu/pki/agent-h2.crt"] = {foreign.cert_pem, 0644};
  host_.fake().files["/p/etc/emu/pki/agent-h2.key"] = {foreign.key_pem, 0600};
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  EXPECT_TRUE(common::pki::Verify(
                  plan_.ca.cert_pem,
                  host_.fake().files["/p/etc/emu/pki/agent-h2.crt"].content,
                  absl::Now())
                  .ok());
}

TEST_F(HostInstallTest, RemoveStopsTheAgentAndRemovesItsFiles) {
  host_.installed = {"libnl-3-200", "libssl3"};
  ASSERT_TRUE(Add(host_.fake(), plan_, hooks_, &report_).ok());
  RemovePlan remove;
  remove.name = "h2";
  remove.layout = plan_.layout;

  drain_ = absl::FailedPreconditionError("lab l1 uses host h2");
  absl::Status s = Remove(host_.fake(), remove, hooks_, &report_);
  EXPECT_THAT(std::string(s.message()), HasSubstr("lab l1 uses host h2"));
  EXPECT_NE(host_.agent_pid, 0);
  EXPECT_TRUE(tunnel_);
  EXPECT_THAT(FormatReport(report_), HasSubstr("not done: drain, agent"));

  drain_ = absl::OkStatus();
  ASSERT_TRUE(Remove(host_.fake(), remove, hooks_, &report_).ok())
      << FormatReport(report_);
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kC, kC, kU, kC, kC));
  EXPECT_FALSE(registered_);
  EXPECT_EQ(host_.agent_pid, 0);
  EXPECT_FALSE(tunnel_);
  EXPECT_TRUE(host_.fake().files.empty());
  ASSERT_TRUE(Remove(host_.fake(), remove, hooks_, &report_).ok());
  EXPECT_THAT(States(), ::testing::ElementsAre(kU, kU, kU, kU, kU, kU));
}

}  // namespace
}  // namespace emu::deploy::host_install
