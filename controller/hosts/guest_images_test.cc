#include "controller/hosts/guest_images.h"

#include <memory>
#include <vector>

#include "controller/hosts/testing/fake_agent_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::hosts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class GuestImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"h1", "h2"}) {
      auto fake = std::make_unique<FakeAgentClient>(name);
      fakes_.push_back(fake.get());
      ASSERT_TRUE(hosts_.Add(name, "10.0.0.1:7471", std::move(fake)).ok());
    }
  }
  emu::v1::GuestImageInfo Image(const std::string& name) {
    emu::v1::GuestImageInfo i;
    i.set_name(name);
    i.set_kind("initramfs");
    return i;
  }

  HostRegistry hosts_;
  std::vector<FakeAgentClient*> fakes_;
};

TEST_F(GuestImagesTest, ListsEveryHostAndNamesTheSilentOnes) {
  fakes_[0]->AddImage(Image("default"));
  fakes_[0]->AddImage(Image("debian"));
  fakes_[1]->AddImage(Image("default"));
  auto all = ListGuestImages(hosts_, {});
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> seen;
  for (const auto& i : all->images()) seen.push_back(i.host() + ":" + i.name());
  EXPECT_THAT(seen, ElementsAre("h1:default", "h1:debian", "h2:default"));
  EXPECT_THAT(all->unreachable(), IsEmpty());

  fakes_[1]->SetReachable(false);
  emu::v1::ListImagesRequest req;
  req.add_hosts("h2");
  auto one = ListGuestImages(hosts_, req);
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->images(), IsEmpty());
  ASSERT_EQ(one->unreachable_size(), 1);
  EXPECT_THAT(one->unreachable(0), HasSubstr("host h2"));
}

TEST_F(GuestImagesTest, UnknownHostIsNotFound) {
  emu::v1::ListImagesRequest req;
  req.add_hosts("h9");
  auto r = ListGuestImages(hosts_, req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("unknown host h9 (hosts: h1, h2)"));
  emu::v1::BuildImageRequest b;
  b.set_name("debian");
  b.add_hosts("h9");
  std::vector<emu::v1::BuildImageEvent> events;
  absl::Status s = BuildGuestImage(
      hosts_, b, [&](const emu::v1::BuildImageEvent& e) { events.push_back(e); });
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_THAT(fakes_[0]->builds(), IsEmpty());
}

TEST_F(GuestImagesTest, BuildsEverywhereAndReportsEachHost) {
  emu::v1::BuildImageRequest b;
  b.set_name("debian");
  b.set_recipe("debian");
  b.add_packages("frr");
  std::vector<emu::v1::BuildImageEvent> events;
  absl::Status s = BuildGuestImage(
      hosts_, b, [&](const emu::v1::BuildImageEvent& e) { events.push_back(e); });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].state(), emu::v1::BuildImageEvent::STARTED);
  EXPECT_EQ(events[1].state(), emu::v1::BuildImageEvent::STARTED);
  int done = 0;
  for (size_t i = 2; i < 4; ++i) {
    done += events[i].state() == emu::v1::BuildImageEvent::DONE;
    EXPECT_EQ(events[i].result().host(), events[i].host());
  }
  EXPECT_EQ(done, 2);
  for (FakeAgentClient* f : fakes_) {
    ASSERT_EQ(f->builds().size(), 1u);
    EXPECT_EQ(f->builds()[0].recipe(), "debian");
    EXPECT_THAT(f->builds()[0].packages(), ElementsAre("frr"));
    EXPECT_THAT(f->builds()[0].hosts(), IsEmpty());  // the controller's field
  }
}

TEST_F(GuestImagesTest, OneHostFailingNamesItAndTheCount) {
  fakes_[1]->SetBuildResult(absl::FailedPreconditionError(
      "image debian on host h2: recipe debian failed (exit 1):\nE: no space"));
  emu::v1::BuildImageRequest b;
  b.set_name("debian");
  std::vector<emu::v1::BuildImageEvent> events;
  absl::Status s = BuildGuestImage(
      hosts_, b, [&](const emu::v1::BuildImageEvent& e) { events.push_back(e); });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("ready on 1 of 2 hosts"));
  EXPECT_THAT(s.message(), HasSubstr("E: no space"));
  bool failed_event = false;
  for (const auto& e : events) {
    if (e.state() == emu::v1::BuildImageEvent::FAILED) {
      failed_event = true;
      EXPECT_EQ(e.host(), "h2");
      EXPECT_THAT(e.message(), HasSubstr("no space"));
    }
  }
  EXPECT_TRUE(failed_event);
}

}  // namespace
}  // namespace emu::controller::hosts
