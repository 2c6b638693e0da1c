#include "agent/guest/image_store.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::guest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/images-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    mkdir(root_.c_str(), 0755);
  }
  void Write(const std::string& rel, const std::string& text) {
    std::string path = absl::StrCat(root_, "/", rel);
    mkdir(path.substr(0, path.rfind('/')).c_str(), 0755);
    std::ofstream(path) << text;
  }
  ImageStore Store() {
    ImageStore::Options o;
    o.image_root = root_;
    return ImageStore("h1", &launcher_, o);
  }

  std::string root_;
  FakeProcessLauncher launcher_;
};

TEST_F(ImageStoreTest, ListsImagesWithKindsAndProblems) {
  Write("default/image.conf",
        "kernel=vmlinuz\ninitrd=initrd.gz\nkernel_release=6.1.0-cloud\n");
  Write("default/vmlinuz", "k");
  Write("default/initrd.gz", "i");
  Write("debian/image.conf",
        "kernel=vmlinuz\ninitrd=initrd.img\ndisk=disk.raw\npackages=a,b\n");
  Write("debian/vmlinuz", "k");
  Write("debian/initrd.img", "i");  // disk.raw missing
  Write("broken/image.conf", "initrd=x\n");
  Write("empty/README", "not an image");
  Write(".emu-image-debian.x/image.conf", "kernel=k\n");  // a build under way
  ImageStore store = Store();
  auto images = store.List();
  ASSERT_TRUE(images.ok()) << images.status();
  std::vector<std::string> names;
  for (const auto& i : *images) names.push_back(i.name());
  EXPECT_THAT(names, ElementsAre("broken", "debian", "default", "empty"));
  const auto& broken = (*images)[0];
  EXPECT_THAT(broken.problem(), HasSubstr("no kernel= line"));
  const auto& debian = (*images)[1];
  EXPECT_EQ(debian.kind(), "disk");
  EXPECT_EQ(debian.packages(), "a,b");
  EXPECT_THAT(debian.problem(), HasSubstr("missing " + root_ + "/debian/disk.raw"));
  const auto& def = (*images)[2];
  EXPECT_EQ(def.host(), "h1");
  EXPECT_EQ(def.kind(), "initramfs");
  EXPECT_EQ(def.kernel_release(), "6.1.0-cloud");
  EXPECT_EQ(def.console(), "shell");
  EXPECT_EQ(def.problem(), "");
  EXPECT_GT(def.size_bytes(), 0u);
  EXPECT_THAT((*images)[3].problem(), HasSubstr("no " + root_ + "/empty/image.conf"));
}

TEST_F(ImageStoreTest, NoImageDirectoryIsAnEmptyList) {
  ImageStore::Options o;
  o.image_root = root_ + "/absent";
  ImageStore store("h1", &launcher_, o);
  auto images = store.List();
  ASSERT_TRUE(images.ok());
  EXPECT_TRUE(images->empty());
}

TEST_F(ImageStoreTest, BuildRunsTheRecipeFromStdin) {
  launcher_.QueueResult(FakeProcessLauncher::Exited(
      0, "", "images: debootstrap\nimages: built /x/deb (400M)\n"));
  ImageStore store = Store();
  emu::v1::BuildImageRequest req;
  req.set_name("deb");
  req.set_recipe("debian");
  req.add_packages("frr");
  req.add_packages("tcpdump");
  req.set_rebuild(true);
  auto r = store.Build(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->up_to_date());
  EXPECT_EQ(r->host(), "h1");
  EXPECT_THAT(r->log_tail(), HasSubstr("built /x/deb"));
  std::vector<ProcessSpec> runs = launcher_.runs();
  ASSERT_EQ(runs.size(), 1u);
  const ProcessSpec& run = runs[0];
  EXPECT_THAT(run.argv, ElementsAre("bash", "-s", "--", root_ + "/deb"));
  EXPECT_THAT(run.stdin_data, HasSubstr("debootstrap"));
  EXPECT_THAT(run.extra_env, ElementsAre("EMU_IMAGE_PACKAGES=frr,tcpdump",
                                         "EMU_IMAGE_REBUILD=1"));
  EXPECT_EQ(run.netns, "");  // the agent's own network by default
}

// A local cluster's agent (in an emulated host's namespace, no route out)
// builds through the machine's network, in its own mount namespace.
TEST_F(ImageStoreTest, BuildRunsInTheNetworkNamespaceItIsGiven) {
  launcher_.QueueResult(FakeProcessLauncher::Exited(0, "", "images: built\n"));
  ImageStore::Options o;
  o.image_root = root_;
  o.build_netns = "/proc/1/ns/net";
  ImageStore store("h1", &launcher_, o);
  emu::v1::BuildImageRequest req;
  req.set_name("default");
  ASSERT_TRUE(store.Build(req).ok());
  ASSERT_EQ(launcher_.runs().size(), 1u);
  EXPECT_EQ(launcher_.runs()[0].netns, "/proc/1/ns/net");
  EXPECT_TRUE(launcher_.runs()[0].share_mounts);
}

TEST_F(ImageStoreTest, UpToDateIsReported) {
  launcher_.QueueResult(FakeProcessLauncher::Exited(
      0, "", "images: /var/lib/emu/images/default up to date\n"));
  ImageStore store = Store();
  emu::v1::BuildImageRequest req;
  req.set_name("default");  // recipe "default" when empty
  auto r = store.Build(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->up_to_date());
  EXPECT_THAT(launcher_.runs()[0].stdin_data, HasSubstr("busybox"));
  EXPECT_TRUE(launcher_.runs()[0].extra_env.empty());
}

TEST_F(ImageStoreTest, RefusesBadRecipesBeforeRunning) {
  ImageStore store = Store();
  emu::v1::BuildImageRequest req;
  req.set_name("x");
  req.set_recipe("alpine");
  auto r = store.Build(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("unknown recipe 'alpine'"));
  EXPECT_THAT(r.status().message(), HasSubstr("debian, default"));
  req.set_recipe("default");
  req.add_packages("frr");
  r = store.Build(req);
  EXPECT_THAT(r.status().message(), HasSubstr("takes no packages"));
  EXPECT_TRUE(launcher_.runs().empty());
}

TEST_F(ImageStoreTest, AFailedBuildQuotesItsLog) {
  launcher_.QueueResult(FakeProcessLauncher::Exited(
      1, "", "images: debootstrap bookworm\nE: Couldn't download packages\n"
             "images: debootstrap failed (log above)\n"));
  ImageStore store = Store();
  emu::v1::BuildImageRequest req;
  req.set_name("deb");
  req.set_recipe("debian");
  auto r = store.Build(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("image deb on host h1"));
  EXPECT_THAT(r.status().message(), HasSubstr("exit 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("Couldn't download packages"));
}

TEST_F(ImageStoreTest, OneBuildAtATime) {
  ImageStore store = Store();
  emu::v1::BuildImageRequest req;
  req.set_name("a");
  absl::Notification running, release;
  launcher_.SetHandler([&](const ProcessSpec&) -> absl::StatusOr<ProcessResult> {
    running.Notify();
    release.WaitForNotification();
    return FakeProcessLauncher::Exited(0);
  });
  std::thread first([&] { EXPECT_TRUE(store.Build(req).ok()); });
  running.WaitForNotification();
  auto second = store.Build(req);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  release.Notify();
  first.join();
}

}  // namespace
}  // namespace emu::agent::guest
