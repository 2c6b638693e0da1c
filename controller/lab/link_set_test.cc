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
  auto link = EditLinkParams(Set("b:eth1<->a:eth1"), &t);
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
  ASSERT_TRUE(EditLinkParams(req, &t).ok());
  EXPECT_EQ(t.links(0).a_to_b().delay_us(), 20'000u);
  EXPECT_EQ(t.links(0).b_to_a().delay_us(), 50'000u);
  EXPECT_EQ(t.links(0).a_to_b().loss_percent(), 1);

  // A message field named but absent in params is cleared.
  t.mutable_links(0)->mutable_a_to_b()->mutable_gilbert_elliott()->set_p_percent(1);
  emu::v1::LabSetLinkParamsRequest clear;
  clear.set_link("a:eth1<->b:eth1");
  clear.add_fields("gilbert_elliott");
  ASSERT_TRUE(EditLinkParams(clear, &t).ok());
  EXPECT_FALSE(t.links(0).a_to_b().has_gilbert_elliott());
}

TEST(LinkSetTest, UnknownLinksAndFieldsAreRefused) {
  auto t = Lab();
  EXPECT_EQ(EditLinkParams(Set("a:eth9"), &t).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(EditLinkParams(Set("a:eth1<->c:eth1"), &t).status().code(),
            absl::StatusCode::kNotFound);
  auto bad = Set("a:eth1");
  bad.add_fields("delay");
  EXPECT_EQ(EditLinkParams(bad, &t).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto none = Set("a:eth1");
  none.clear_fields();
  EXPECT_EQ(EditLinkParams(none, &t).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EditLinkParams(Set("a:eth1<->"), &t).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace emu::controller::lab
