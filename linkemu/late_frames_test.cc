#include "linkemu/late_frames.h"

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

emu::v1::DirectionCounters Dir(const char* carrier, uint64_t late_1ms,
                               uint64_t late_10ms) {
  emu::v1::DirectionCounters d;
  d.set_carrier(carrier);
  d.set_late_1ms_packets(late_1ms);
  d.set_late_10ms_packets(late_10ms);
  return d;
}

// Late frames are the difference of two samples, counted only where the
// engine sends; a link re-created meanwhile counts from zero.
TEST(LateFrames, DifferenceOfTwoSamples) {
  LateFigures f = LateBetween(Dir("engine", 7, 1), Dir("engine", 11, 3));
  EXPECT_TRUE(f.known);
  EXPECT_FALSE(f.tunnel);
  EXPECT_EQ(f.late_1ms, 4u);
  EXPECT_EQ(f.late_10ms, 2u);
  f = LateBetween(Dir("engine", 7, 1), Dir("engine", 2, 0));  // re-created
  EXPECT_EQ(f.late_1ms, 2u);
  EXPECT_EQ(f.late_10ms, 0u);
  f = LateBetween(Dir("engine", 7, 1), Dir("kernel", 50, 5));
  EXPECT_FALSE(f.known);
  EXPECT_EQ(f.late_1ms, 0u);
  EXPECT_TRUE(LateBetween(Dir("tunnel+engine", 0, 0), Dir("tunnel+engine", 1, 0))
                  .tunnel);
}

// Only directions with a frame 10 ms or more late in between are stalled;
// a link the first sample lacks counts from zero.
TEST(LateFrames, StalledDirectionsOfALab) {
  emu::v1::LabCounters before, after;
  auto* b = before.add_links();
  b->set_link("a:eth1<->b:eth1");
  *b->mutable_a_to_b() = Dir("engine", 10, 2);
  *b->mutable_b_to_a() = Dir("engine", 3, 0);
  auto* a = after.add_links();
  a->set_link("a:eth1<->b:eth1");
  *a->mutable_a_to_b() = Dir("engine", 40, 2);  // late, none 10 ms
  *a->mutable_b_to_a() = Dir("engine", 9, 4);   // stalled
  auto* n = after.add_links();
  n->set_link("c:eth1<->d:eth1");
  *n->mutable_a_to_b() = Dir("tunnel+engine", 1, 1);
  *n->mutable_b_to_a() = Dir("tunnel", 0, 0);
  auto k = after.add_links();
  k->set_link("e:eth1<->f:eth1");
  *k->mutable_a_to_b() = Dir("kernel", 5, 5);  // kernel qdiscs: not known

  std::vector<StalledDirection> s = StalledBetween(before, after);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].link, "a:eth1<->b:eth1");
  EXPECT_EQ(s[0].direction, "b-to-a");
  EXPECT_EQ(s[0].late.late_1ms, 6u);
  EXPECT_EQ(s[0].late.late_10ms, 4u);
  EXPECT_EQ(s[1].link, "c:eth1<->d:eth1");
  EXPECT_EQ(s[1].direction, "a-to-b");
  EXPECT_TRUE(s[1].late.tunnel);
  EXPECT_TRUE(StalledBetween(after, after).empty());
}

}  // namespace
}  // namespace emu::linkemu
