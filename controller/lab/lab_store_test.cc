#include "controller/lab/lab_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/lab/lab_details.h"
#include "controller/lab/testing/in_memory_lab_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// A fresh, unique path under the test's temporary directory.
std::string UniquePath(const std::string& leaf) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/lab-store-", getpid(),
                      "-", counter++, "/", leaf);
}

emu::v1::Lab MakeLab(const std::string& name, emu::v1::LabState state) {
  emu::v1::Lab lab;
  lab.set_name(name);
  lab.set_state(state);
  lab.set_created_unix_us(1700000000000000);
  lab.set_updated_unix_us(1700000000000001);
  emu::v1::Topology* topo = lab.mutable_topology();
  topo->set_name(name);
  emu::v1::Node* r1 = topo->add_nodes();
  r1->set_name("r1");
  r1->set_kind(emu::v1::NODE_KIND_NETNS);
  r1->add_interfaces()->set_name("eth1");
  emu::v1::Link* link = topo->add_links();
  link->mutable_a()->set_node("r1");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("r2");
  link->mutable_b()->set_interface("eth1");
  link->mutable_a_to_b()->set_delay_us(5000);
  emu::v1::NodeStatus* ns = lab.add_nodes();
  ns->set_name("r1");
  ns->set_host("h1");
  return lab;
}

// The contract, run against every implementation.
using StoreFactory = std::function<std::unique_ptr<LabStore>()>;

class LabStoreContractTest : public ::testing::TestWithParam<StoreFactory> {};

TEST_P(LabStoreContractTest, PutGetListDelete) {
  std::unique_ptr<LabStore> store = GetParam()();
  ASSERT_NE(store, nullptr);

  auto empty = store->List();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());

  emu::v1::Lab b = MakeLab("lab-b", emu::v1::DEPLOYING);
  emu::v1::Lab a = MakeLab("lab-a", emu::v1::RUNNING);
  ASSERT_TRUE(store->Put(b).ok());
  ASSERT_TRUE(store->Put(a).ok());

  auto got = store->Get("lab-b");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, b)) << got->DebugString();

  // Replace by name.
  b.set_state(emu::v1::FAILED);
  b.set_error("host h2 unreachable");
  ASSERT_TRUE(store->Put(b).ok());
  got = store->Get("lab-b");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->state(), emu::v1::FAILED);
  EXPECT_EQ(got->error(), "host h2 unreachable");

  auto all = store->List();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name(), "lab-a");  // sorted by name
  EXPECT_EQ((*all)[1].name(), "lab-b");
  EXPECT_TRUE(MessageDifferencer::Equals((*all)[1], b));

  ASSERT_TRUE(store->Delete("lab-a").ok());
  EXPECT_TRUE(store->Delete("lab-a").ok());  // absent: still OK
  auto gone = store->Get("lab-a");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "lab lab-a: not found");
  all = store->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name(), "lab-b");
}

TEST_P(LabStoreContractTest, OutlinesAreLabsWithoutNodesAndLinks) {
  std::unique_ptr<LabStore> store = GetParam()();
  ASSERT_NE(store, nullptr);
  emu::v1::Lab deployed = MakeLab("big", emu::v1::RUNNING);
  for (int i = 2; i <= 40; ++i) {
    deployed.add_nodes()->set_name(absl::StrCat("r", i));
    *deployed.add_links()->mutable_link() = deployed.topology().links(0);
  }
  deployed.mutable_topology()->mutable_source()->set_file("big.yaml");
  deployed.mutable_topology()->add_attachments()->set_endpoint("alice/ix");
  deployed.set_owner("bob");
  emu::v1::Lab planned = MakeLab("planned", emu::v1::DEPLOYING);
  planned.clear_nodes();  // no states yet: counted from the topology
  ASSERT_TRUE(store->Put(deployed).ok());
  ASSERT_TRUE(store->Put(planned).ok());

  auto outlines = store->ListOutlines();
  ASSERT_TRUE(outlines.ok()) << outlines.status();
  ASSERT_EQ(outlines->size(), 2u);
  emu::v1::Lab want_big = deployed;
  OutlineLab(&want_big);
  emu::v1::Lab want_planned = planned;
  OutlineLab(&want_planned);
  EXPECT_TRUE(MessageDifferencer::Equals((*outlines)[0], want_big))
      << (*outlines)[0].DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals((*outlines)[1], want_planned))
      << (*outlines)[1].DebugString();
  EXPECT_EQ((*outlines)[0].node_count(), 40);
  EXPECT_EQ((*outlines)[0].link_count(), 39);
  EXPECT_EQ((*outlines)[0].topology().attachments_size(), 1);
  EXPECT_EQ((*outlines)[0].topology().source().file(), "big.yaml");
  EXPECT_EQ((*outlines)[1].node_count(), 1);
  EXPECT_EQ((*outlines)[1].link_count(), 1);
}

TEST_P(LabStoreContractTest, RejectsNamelessLab) {
  std::unique_ptr<LabStore> store = GetParam()();
  EXPECT_EQ(store->Put(emu::v1::Lab()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(LabStoreContractTest, ConcurrentPutsAndReads) {
  std::unique_ptr<LabStore> store = GetParam()();
  constexpr int kThreads = 6;
  constexpr int kLabsPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLabsPerThread; ++i) {
        if (!store->Put(MakeLab(absl::StrCat("t", t, "-", i), emu::v1::RUNNING))
                 .ok()) {
          ++failures;
        }
        // Everyone also rewrites one shared lab and reads.
        if (!store->Put(MakeLab("shared", emu::v1::DEPLOYING)).ok()) {
          ++failures;
        }
        if (!store->Get("shared").ok() || !store->List().ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = store->List();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kLabsPerThread + 1));
}

INSTANTIATE_TEST_SUITE_P(
    Implementations, LabStoreContractTest,
    ::testing::Values(StoreFactory([]() -> std::unique_ptr<LabStore> {
                        return std::make_unique<InMemoryLabStore>();
                      }),
                      StoreFactory([]() -> std::unique_ptr<LabStore> {
                        auto s = SqliteLabStore::Open(UniquePath("labs.db"));
                        EXPECT_TRUE(s.ok()) << s.status();
                        if (!s.ok()) return nullptr;
                        return *std::move(s);
                      })),
    [](const ::testing::TestParamInfo<StoreFactory>& info) {
      return info.index == 0 ? std::string("InMemory") : std::string("Sqlite");
    });

TEST(SqliteLabStoreTest, SurvivesReopen) {
  const std::string path = UniquePath("state/nested/labs.db");
  emu::v1::Lab lab = MakeLab("persist", emu::v1::RUNNING);
  {
    auto store = SqliteLabStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(lab).ok());
    ASSERT_TRUE((*store)->Put(MakeLab("doomed", emu::v1::DESTROYING)).ok());
    ASSERT_TRUE((*store)->Delete("doomed").ok());
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "parent directories created";

  auto reopened = SqliteLabStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto got = (*reopened)->Get("persist");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, lab));
  auto all = (*reopened)->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST(SqliteLabStoreTest, SchemaAndColumnsAsDocumented) {
  const std::string path = UniquePath("labs.db");
  {
    auto store = SqliteLabStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(MakeLab("x", emu::v1::DEGRADED)).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT name, state, updated_us, "
                               "(SELECT user_version FROM pragma_user_version),"
                               " (SELECT journal_mode FROM pragma_journal_mode)"
                               " FROM labs",
                               -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
               "x");
  EXPECT_EQ(sqlite3_column_int(stmt, 1), emu::v1::DEGRADED);
  EXPECT_EQ(sqlite3_column_int64(stmt, 2), 1700000000000001);
  EXPECT_EQ(sqlite3_column_int(stmt, 3), SqliteLabStore::kSchemaVersion);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 4)),
               "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteLabStoreTest, CorruptFileIsDataLossNamingTheFile) {
  const std::string path = UniquePath("labs.db");
  {
    auto store = SqliteLabStore::Open(path);  // creates the directory
    ASSERT_TRUE(store.ok()) << store.status();
  }
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  {
    std::ofstream garbage(path, std::ios::trunc | std::ios::binary);
    for (int i = 0; i < 200; ++i) garbage << "this is not a database ";
  }
  auto store = SqliteLabStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("not a database"));
}

TEST(SqliteLabStoreTest, UnparsableRecordIsDataLossNamingTheLab) {
  const std::string path = UniquePath("labs.db");
  auto store = SqliteLabStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(MakeLab("good", emu::v1::RUNNING)).ok());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO labs VALUES('bad', 2, 0, "
                           "x'ffffffffffffffff')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto bad = (*store)->Get("bad");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("lab bad"));
  EXPECT_THAT(bad.status().message(), HasSubstr(path));
  EXPECT_EQ((*store)->List().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE((*store)->Get("good").ok());
}

TEST(SqliteLabStoreTest, NewerSchemaIsRefused) {
  const std::string path = UniquePath("labs.db");
  {
    auto store = SqliteLabStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteLabStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 7"));
}

TEST(SqliteLabStoreTest, UnopenablePathsNameTheFile) {
  // A directory where the file should be.
  const std::string dir_path = UniquePath("is-a-dir");
  ASSERT_EQ(mkdir(dir_path.substr(0, dir_path.rfind('/')).c_str(), 0755), 0);
  ASSERT_EQ(mkdir(dir_path.c_str(), 0755), 0);
  auto store = SqliteLabStore::Open(dir_path);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_path));

  // A regular file where a parent directory should be.
  const std::string file_parent = UniquePath("plain-file");
  ASSERT_EQ(mkdir(file_parent.substr(0, file_parent.rfind('/')).c_str(), 0755),
            0);
  { std::ofstream f(file_parent); }
  auto under_file = SqliteLabStore::Open(file_parent + "/labs.db");
  ASSERT_FALSE(under_file.ok());
  EXPECT_THAT(under_file.status().message(),
              HasSubstr("create directory " + file_parent));

  EXPECT_EQ(SqliteLabStore::Open("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqliteLabStoreTest, TwoStoresOnOneFileSeeEachOther) {
  const std::string path = UniquePath("labs.db");
  auto first = SqliteLabStore::Open(path);
  auto second = SqliteLabStore::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*first)->Put(MakeLab("shared", emu::v1::RUNNING)).ok());
  auto got = (*second)->Get("shared");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->state(), emu::v1::RUNNING);
}

}  // namespace
}  // namespace emu::controller::lab
