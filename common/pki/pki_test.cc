#include "common/pki/pki.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::common::pki {
namespace {

using ::testing::HasSubstr;

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CreateCa("test");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
  }

  Credentials IssueOrDie(const Credentials& ca, const Subject& s) {
    auto c = Issue(ca, s);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Credentials{};
  }

  Credentials ca_;
};

TEST_F(PkiTest, IssuedAgentVerifiesWithItsRoleAndName) {
  Subject s;
  s.role = Role::kAgent;
  s.name = "h1";
  s.alt_names = {"198.18.0.11", "h1.lab.example"};
  Credentials agent = IssueOrDie(ca_, s);
  EXPECT_THAT(agent.cert_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(agent.key_pem, HasSubstr("PRIVATE KEY"));
  auto id = Verify(ca_.cert_pem, agent.cert_pem, absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->role, Role::kAgent);
  EXPECT_EQ(id->name, "h1");
}

TEST_F(PkiTest, ControllerCertificateHasTheControllerRole) {
  Subject s;
  s.role = Role::kController;
  Credentials controller = IssueOrDie(ca_, s);
  auto id = Verify(ca_.cert_pem, controller.cert_pem, absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->role, Role::kController);
  EXPECT_EQ(id->name, kControllerName);
  // An agent's certificate never reads as the controller's, whatever its
  // host name.
  Subject impostor;
  impostor.role = Role::kAgent;
  impostor.name = kControllerName;
  auto other = ReadIdentity(IssueOrDie(ca_, impostor).cert_pem);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->role, Role::kAgent);
}

TEST_F(PkiTest, ForeignCaIsRefused) {
  auto foreign = CreateCa("other");
  ASSERT_TRUE(foreign.ok());
  Subject s;
  s.name = "h1";
  Credentials agent = IssueOrDie(*foreign, s);
  auto id = Verify(ca_.cert_pem, agent.cert_pem, absl::Now());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(id.status().message(), HasSubstr("'h1' refused"));
  // A self-signed CA certificate is no emu identity either.
  EXPECT_FALSE(Verify(ca_.cert_pem, foreign->cert_pem, absl::Now()).ok());
}

TEST_F(PkiTest, ExpiredAndNotYetValidAreRefused) {
  Subject s;
  s.name = "h1";
  const absl::Time now = absl::Now();
  s.not_before = now - absl::Hours(48);
  s.not_after = now - absl::Hours(24);
  auto expired = Verify(ca_.cert_pem, IssueOrDie(ca_, s).cert_pem, now);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(expired.status().message(), HasSubstr("expired"));
  // The same certificate was valid back then.
  s.not_after = now + absl::Hours(24);
  Credentials valid = IssueOrDie(ca_, s);
  EXPECT_TRUE(Verify(ca_.cert_pem, valid.cert_pem, now).ok());
  EXPECT_FALSE(Verify(ca_.cert_pem, valid.cert_pem, now + absl::Hours(48)).ok());
  EXPECT_FALSE(Verify(ca_.cert_pem, valid.cert_pem, now - absl::Hours(72)).ok());
}

TEST_F(PkiTest, WrongCaKeyAndGarbageAreRefused) {
  auto foreign = CreateCa("other");
  ASSERT_TRUE(foreign.ok());
  Subject s;
  s.name = "h1";
  auto mixed = Issue(Credentials{ca_.cert_pem, foreign->key_pem}, s);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mixed.status().message(), HasSubstr("does not match"));
  EXPECT_FALSE(Issue(ca_, Subject{}).ok());  // an agent needs a name
  EXPECT_FALSE(Verify(ca_.cert_pem, "garbage", absl::Now()).ok());
  EXPECT_FALSE(ReadIdentity(ca_.cert_pem).ok());  // no role
}

class PkiFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = std::string(tmp ? tmp : "/tmp") + "/pki";
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST_F(PkiFilesTest, InitThenIssueWritesPrivateKeysAndVerifiableCerts) {
  ASSERT_TRUE(InitCluster(dir_, "test", {"10.0.0.1"}).ok());
  EXPECT_EQ(ModeOf(dir_), 0700u);
  const Paths c = ControllerPaths(dir_);
  EXPECT_EQ(ModeOf(c.ca_key), 0600u);
  EXPECT_EQ(ModeOf(c.key), 0600u);
  EXPECT_EQ(ModeOf(c.cert), 0644u);
  EXPECT_FALSE(std::filesystem::exists(c.key + ".tmp"));
  // A second init refuses to replace the CA.
  absl::Status again = InitCluster(dir_, "test", {});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.message(), HasSubstr(c.ca_key));

  ASSERT_TRUE(IssueAgent(dir_, "h2", {"198.18.0.12"}).ok());
  const Paths a = AgentPaths(dir_, "h2");
  EXPECT_EQ(ModeOf(a.key), 0600u);
  auto ca = ReadPem(c.ca_cert);
  auto agent = ReadCredentials(a.cert, a.key);
  ASSERT_TRUE(ca.ok() && agent.ok());
  auto id = Verify(*ca, agent->cert_pem, absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->name, "h2");
  auto controller = ReadCredentials(c.cert, c.key);
  ASSERT_TRUE(controller.ok());
  EXPECT_EQ(Verify(*ca, controller->cert_pem, absl::Now())->role,
            Role::kController);
  // Renewal from the same CA: a new key, still verified.
  ASSERT_TRUE(IssueController(dir_, {"ctl.example"}).ok());
  auto renewed = ReadCredentials(c.cert, c.key);
  ASSERT_TRUE(renewed.ok());
  EXPECT_NE(renewed->key_pem, controller->key_pem);
  EXPECT_EQ(Verify(*ca, renewed->cert_pem, absl::Now())->role,
            Role::kController);
}

TEST_F(PkiFilesTest, KeyReadableByOthersIsRefused) {
  ASSERT_TRUE(InitCluster(dir_, "test", {}).ok());
  const Paths c = ControllerPaths(dir_);
  ASSERT_EQ(chmod(c.key.c_str(), 0644), 0);
  auto creds = ReadCredentials(c.cert, c.key);
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(creds.status().message(), HasSubstr(c.key));
}

TEST_F(PkiFilesTest, IssueWithoutCaNamesTheDirectory) {
  absl::Status s = IssueAgent(dir_, "h1", {});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("cluster init"));
}

}  // namespace
}  // namespace emu::common::pki
