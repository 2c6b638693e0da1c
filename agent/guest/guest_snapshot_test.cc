#include "agent/guest/guest_snapshot.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::guest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class FakeFs : public SnapshotFs {
 public:
  absl::StatusOr<std::string> Read(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError(path);
    return it->second;
  }
  bool Exists(const std::string& path) override { return files.count(path); }
  std::string FileIdentity(const std::string& path) override {
    auto it = ids.find(path);
    return it == ids.end() ? "" : it->second;
  }
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> ids;
};

class DecideBootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_.dir = "/img/default";
    image_.kernel = "/img/default/vmlinuz";
    image_.initrd = "/img/default/initrd.gz";
    image_.append = "console=ttyS0";
    shape_.image_dir = image_.dir;
    shape_.nics = 2;
    fs_.ids[image_.kernel] = "11 100 1";
    fs_.ids[image_.initrd] = "12 200 1";
    fs_.ids["qemu-system-x86_64"] = "13 300 1";
  }
  BootDecision Decide(bool enabled = true) {
    return DecideBoot(enabled, "/snap", image_, shape_, fs_);
  }
  // Writes a complete snapshot for the current identity.
  void Save() {
    BootDecision d = Decide();
    ASSERT_FALSE(d.identity.empty());
    fs_.files[d.dir + "/meta"] = d.identity;
    fs_.files[d.dir + "/state"] = "s";
    fs_.files[d.dir + "/ram"] = "r";
  }
  GuestImage image_;
  SnapshotShape shape_;
  FakeFs fs_;
};

TEST_F(DecideBootTest, NoSnapshotYetMakesOne) {
  BootDecision d = Decide();
  EXPECT_EQ(d.mode, BootMode::kMakeSnapshot);
  EXPECT_EQ(d.reason, "no snapshot yet");
  EXPECT_EQ(d.dir, "/snap/" + SnapshotKey(shape_));
}

TEST_F(DecideBootTest, CompleteSnapshotRestores) {
  Save();
  EXPECT_EQ(Decide().mode, BootMode::kRestore);
}

TEST_F(DecideBootTest, IncompleteSnapshotIsMadeAgain) {
  Save();
  fs_.files.erase(Decide().dir + "/state");
  EXPECT_EQ(Decide().mode, BootMode::kMakeSnapshot);
  Save();
  fs_.files.erase(Decide().dir + "/meta");  // a save that did not finish
  EXPECT_EQ(Decide().mode, BootMode::kMakeSnapshot);
}

TEST_F(DecideBootTest, ImageOrQemuChangeInvalidates) {
  for (std::string file :
       {image_.kernel, image_.initrd, std::string("qemu-system-x86_64")}) {
    SetUp();
    fs_.files.clear();
    Save();
    fs_.ids[file] = "99 100 2";  // rebuilt / upgraded
    BootDecision d = Decide();
    EXPECT_EQ(d.mode, BootMode::kMakeSnapshot) << file;
    EXPECT_THAT(d.reason, HasSubstr("changed")) << file;
  }
  fs_.files.clear();
  SetUp();
  Save();
  image_.append = "console=ttyS0 quiet";
  EXPECT_EQ(Decide().mode, BootMode::kMakeSnapshot);
}

TEST_F(DecideBootTest, ShapeSelectsAnotherSnapshot) {
  Save();
  const std::string dir = Decide().dir;
  for (auto mutate : std::vector<void (*)(SnapshotShape&)>{
           [](SnapshotShape& s) { s.memory_mib = 128; },
           [](SnapshotShape& s) { s.cpus = 2; },
           [](SnapshotShape& s) { s.nics = 3; },
           [](SnapshotShape& s) { s.kvm = true; },
           [](SnapshotShape& s) { s.image_dir = "/img/other"; },
       }) {
    SnapshotShape before = shape_;
    mutate(shape_);
    BootDecision d = Decide();
    EXPECT_NE(d.dir, dir);
    EXPECT_EQ(d.mode, BootMode::kMakeSnapshot);
    shape_ = before;
  }
  EXPECT_EQ(Decide().mode, BootMode::kRestore);
}

TEST_F(DecideBootTest, ColdBootWhereARestoreCannotServe) {
  Save();
  BootDecision d = Decide(/*enabled=*/false);
  EXPECT_EQ(d.mode, BootMode::kColdBoot);
  EXPECT_THAT(d.reason, HasSubstr("snapshots off"));

  image_.console = "none";
  d = Decide();
  EXPECT_EQ(d.mode, BootMode::kColdBoot);
  EXPECT_THAT(d.reason, HasSubstr("console=none"));
  image_.console = "shell";

  image_.disk = "/img/default/disk.raw";
  d = Decide();
  EXPECT_EQ(d.mode, BootMode::kColdBoot);
  EXPECT_THAT(d.reason, HasSubstr("disk"));
  image_.disk.clear();

  fs_.ids.erase(image_.kernel);
  d = Decide();
  EXPECT_EQ(d.mode, BootMode::kColdBoot);
  EXPECT_THAT(d.reason, HasSubstr("vmlinuz not found"));
}

TEST(TemplateMac, DistinctLocalUnicast) {
  EXPECT_EQ(TemplateMac(0), "02:e0:00:00:00:00");
  EXPECT_EQ(TemplateMac(1), "02:e0:00:00:00:01");
  EXPECT_EQ(TemplateMac(258), "02:e0:00:00:01:02");
}

TEST(RestoreIdentityScript, FindsAllThenSetsClockSeedAndMacs) {
  std::string s = RestoreIdentityScript(
      {"02:e0:00:00:00:01", "02:aa:bb:cc:dd:ee"}, absl::FromUnixSeconds(1700),
      "abcd");
  EXPECT_THAT(s, HasSubstr("date -u -s @1700"));
  EXPECT_THAT(s, HasSubstr("echo abcd > /dev/urandom"));
  // NIC 0 wants NIC 1's template MAC: every lookup comes before the first
  // change.
  size_t last_find = s.rfind("dev_by_mac 02:e0");
  size_t first_set = s.find("address ");
  ASSERT_NE(last_find, std::string::npos);
  ASSERT_NE(first_set, std::string::npos);
  EXPECT_LT(last_find, first_set);
  EXPECT_THAT(s, HasSubstr("n0=$(dev_by_mac 02:e0:00:00:00:00)"));
  EXPECT_THAT(s, HasSubstr("ip link set dev \"$n0\" address 02:e0:00:00:00:01"));
  EXPECT_THAT(s, HasSubstr("ip link set dev \"$n1\" address 02:aa:bb:cc:dd:ee"));
  EXPECT_THAT(RestoreIdentityScript({}, absl::FromUnixSeconds(1), ""),
              Not(HasSubstr("dev_by_mac")));
}

}  // namespace
}  // namespace emu::agent::guest
