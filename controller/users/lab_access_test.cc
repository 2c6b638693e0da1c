#include "controller/users/lab_access.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/topology_names.h"

namespace emu::controller::users {
namespace {

Caller User(const std::string& name, bool admin = false) {
  Caller c;
  c.name = name;
  c.admin = admin;
  return c;
}

emu::v1::Lab Stored(const std::string& key, emu::v1::LabState state,
                    int nodes) {
  emu::v1::Lab lab;
  lab.set_name(key);
  lab.set_owner(SplitLabKey(key).owner);
  lab.set_state(state);
  lab.mutable_topology()->set_name(key);
  for (int i = 0; i < nodes; ++i) {
    lab.mutable_topology()->add_nodes()->set_name(absl::StrCat("n", i));
  }
  return lab;
}

TEST(LabAccessTest, LabsReadInTheCallersTerms) {
  emu::v1::Lab lab = Stored("alice+core", emu::v1::RUNNING, 1);
  emu::v1::Lab mine = AsSeenBy(User("alice"), lab);
  EXPECT_EQ(mine.name(), "core");
  EXPECT_EQ(mine.owner(), "alice");
  EXPECT_EQ(mine.topology().name(), "core");
  emu::v1::Lab admins = AsSeenBy(
      ClusterTokenAuthenticator::ClusterCaller(),
      Stored("core", emu::v1::RUNNING, 1));
  EXPECT_EQ(admins.name(), "core");
  EXPECT_EQ(admins.owner(), "admin");

  auto ref = ResolveLabRef(User("bob", true), "alice/core");
  ASSERT_TRUE(ref.ok());
  absl::Status s = InCallerTerms(
      absl::NotFoundError("lab alice+core: node r9 not found"), *ref);
  EXPECT_EQ(s.message(), "lab alice/core: node r9 not found");
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_TRUE(InCallerTerms(absl::OkStatus(), *ref).ok());
}

TEST(LabAccessTest, QuotaAdmissionCountsOnlyTheCallersLiveLabs) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  auto store = SqliteUserStore::Open(absl::StrCat(
      tmp != nullptr ? tmp : "/tmp", "/lab-access-", getpid(), "-",
      counter++, ".db"));
  ASSERT_TRUE(store.ok());
  UserDirectory dir(store->get(), "cluster");
  emu::v1::AddUserRequest req;
  req.set_name("alice");
  req.mutable_quota()->set_nodes(10);
  ASSERT_TRUE(dir.AddUser(ClusterTokenAuthenticator::ClusterCaller(), req)
                  .ok());
  std::vector<emu::v1::Lab> labs = {
      Stored("alice+a", emu::v1::RUNNING, 3),
      Stored("alice+b", emu::v1::FAILED, 9),
      Stored("bob+c", emu::v1::RUNNING, 9),
      Stored("c", emu::v1::RUNNING, 9),
  };
  auto admit = QuotaAdmission(User("alice"), &dir, [&labs] {
    return absl::StatusOr<std::vector<emu::v1::Lab>>(labs);
  });
  emu::v1::Topology big = Stored("alice+core", emu::v1::RUNNING, 12).topology();
  absl::Status s = admit(big);
  EXPECT_TRUE(absl::IsResourceExhausted(s));
  EXPECT_NE(s.message().find(
                "quota nodes: lab core needs 12, alice has 3 of 10 in use"),
            std::string::npos)
      << s;
  EXPECT_TRUE(admit(Stored("alice+core", emu::v1::RUNNING, 7).topology()).ok());
}

}  // namespace
}  // namespace emu::controller::users
