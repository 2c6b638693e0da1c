#include "controller/lab/link_set.h"

#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

emu::v1::Topology Lab() {
  emu::v1::Topology t;
  t.set_name("netem");
  auto* l = t.add_links();
  l->mutable_a()->set_node("a");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("b");
  l->mutable_b()->set_interface("eth1");
  l->mutable_a_to_b()->set_delay_us(20'000);
  l->mutable_a_to_b()->set_loss_percent(1);
  l->mutable_b_to_a()->set_delay_us(20'000);
  auto* m = t.add_links();
  m->mutable_a()->set_node("c");
  m->mutable_a()->set_interface("eth1");
  m->mutable_b()->set_node("d");
  m->mutable_b()->set_interface("eth1");
  return t;
}

emu::v1::LabSetLinkParamsRequest Set(const std::string& link) {
  emu::v1::LabSetLinkParamsRequest r;
  r.set_lab("netem");
  r.set_link(link);
  r.mutable_params()->set_delay_us(50'000);
  r.add_fields("delay_us");
  return r;
}

TEST(LinkSetTest, ChangesOnlyTheNamedFieldsOfBothDirections) {
  auto t = Lab();
  auto link = EditLinkParams(Set("b:eth1<->a:eth1"), "alice", &t);
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(t.links(0).a_to_b().delay_us(), 50'000u);
  EXPECT_EQ(t.links(0).b_to_a().delay_us(), 50'000u);
  EXPECT_EQ(t.links(0).a_to_b().loss_percent(), 1);  // kept
  EXPECT_EQ(t.links(1).a_to_b().delay_us(), 0u);     // another link
}

TEST(LinkSetTest, OneDirectionByOneEnd) {
  auto t = Lab();
  auto req = Set("a:eth1");
  req.set_direction(emu::v1::LabSetLinkParamsRequest::DIRECTION_B_TO_A);
  req.mutable_params()->set_loss_percent(0);
  req.add_fields("loss_percent");
  ASSERT_TRUE(EditLinkParams(req, "alice", &t).ok());
  EXPECT_EQ(t.links(0).a_to_b().delay_us(), 20'000u);
  EXPECT_EQ(t.links(0).b_to_a().delay_us(), 50'000u);
  EXPECT_EQ(t.links(0).a_to_b().loss_percent(), 1);

  // A message field named but absent in params is cleared.
  t.mutable_links(0)->mutable_a_to_b()->mutable_gilbert_elliott()->set_p_percent(1);
  emu::v1::LabSetLinkParamsRequest clear;
  clear.set_link("a:eth1<->b:eth1");
  clear.add_fields("gilbert_elliott");
  ASSERT_TRUE(EditLinkParams(clear, "alice", &t).ok());
  EXPECT_FALSE(t.links(0).a_to_b().has_gilbert_elliott());
}

TEST(LinkSetTest, UnknownLinksAndFieldsAreRefused) {
  auto t = Lab();
  EXPECT_EQ(EditLinkParams(Set("a:eth9"), "alice", &t).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(EditLinkParams(Set("a:eth1<->c:eth1"), "alice", &t).status().code(),
            absl::StatusCode::kNotFound);
  auto bad = Set("a:eth1");
  bad.add_fields("delay");
  EXPECT_EQ(EditLinkParams(bad, "alice", &t).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto none = Set("a:eth1");
  none.clear_fields();
  EXPECT_EQ(EditLinkParams(none, "alice", &t).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EditLinkParams(Set("a:eth1<->"), "alice", &t).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Bob's lab as declared: r1:eth1 attached to alice/ix1, r1:eth2 to his own
// ix2 (written without owner).
emu::v1::Topology Attached() {
  emu::v1::Topology t;
  t.set_name("edge");
  auto* at = t.add_attachments();
  at->mutable_local()->set_node("r1");
  at->mutable_local()->set_interface("eth1");
  at->set_endpoint("alice/ix1");
  at->mutable_to_community()->set_rate_bps(100'000'000);
  auto* own = t.add_attachments();
  own->mutable_local()->set_node("r1");
  own->mutable_local()->set_interface("eth2");
  own->set_endpoint("ix2");
  return t;
}

TEST(LinkSetTest, AnAttachmentIsEditedInItsAttachment) {
  auto t = Attached();
  auto link = EditLinkParams(Set("community:alice/ix1<->r1:eth1"), "bob", &t);
  ASSERT_TRUE(link.ok()) << link.status();
  EXPECT_EQ(t.attachments(0).to_community().delay_us(), 50'000u);
  EXPECT_EQ(t.attachments(0).from_community().delay_us(), 50'000u);
  EXPECT_EQ(t.attachments(0).to_community().rate_bps(), 100'000'000u);  // kept
  EXPECT_EQ(t.attachments(1).to_community().delay_us(), 0u);
  EXPECT_EQ(link->a().node(), "r1");
  EXPECT_EQ(link->b().node(), "community:alice/ix1");
  EXPECT_EQ(link->a_to_b().delay_us(), 50'000u);

  // By its local end, one direction: a is the local end.
  auto req = Set("r1:eth2");
  req.set_direction(emu::v1::LabSetLinkParamsRequest::DIRECTION_B_TO_A);
  ASSERT_TRUE(EditLinkParams(req, "bob", &t).ok());
  EXPECT_EQ(t.attachments(1).from_community().delay_us(), 50'000u);
  EXPECT_EQ(t.attachments(1).to_community().delay_us(), 0u);

  // The owner qualifies a short endpoint, both written and stored.
  EXPECT_TRUE(EditLinkParams(Set("r1:eth2<->community:bob/ix2"), "bob", &t).ok());
  EXPECT_TRUE(EditLinkParams(Set("r1:eth1<->community:alice/ix1"), "bob", &t).ok());
  EXPECT_EQ(EditLinkParams(Set("r1:eth2<->community:carol/ix2"), "bob", &t)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(EditLinkParams(Set("r1:eth1<->community:alice/ix9"), "bob", &t)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(EditLinkParams(Set("r1:eth1<->r2:eth1"), "bob", &t).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace emu::controller::lab
