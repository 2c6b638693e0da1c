// Checks the netlink messages ApplyQdiscPlan sends, byte for byte where the
// kernel reads them: units (ticks, bytes/s, u32 probabilities), handles and
// parents. No kernel needed; libnl_qdisc_kernel_test programs real qdiscs.
#include "linkemu/libnl_qdisc.h"

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "linkemu/qdisc_plan.h"

namespace emu::linkemu {
namespace {

// Kernel ticks per microsecond, as libnl computes it from /proc/net/psched
// (1000 ns per us / 64 ns per tick = 15.625 on every current kernel).
double TicksPerUsec() {
  FILE* f = std::fopen("/proc/net/psched", "r");
  unsigned ns_per_usec = 1000, ns_per_tick = 64, a = 0, b = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%08x %08x %08x %08x", &ns_per_usec, &ns_per_tick, &a,
                    &b) != 4) {
      ns_per_usec = 1000;
      ns_per_tick = 64;
    }
    std::fclose(f);
  }
  return static_cast<double>(ns_per_usec) / ns_per_tick;
}

// The parts of an RTM_NEWQDISC message the kernel reads.
struct Parsed {
  int type = 0;
  int flags = 0;
  tcmsg tcm{};
  std::string kind;
  std::string options;  // TCA_OPTIONS payload
};

Parsed BuildAndParse(rtnl_qdisc* q) {
  Parsed p;
  nl_msg* msg = nullptr;
  EXPECT_EQ(rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_REPLACE,
                                         &msg),
            0);
  if (msg == nullptr) return p;
  nlmsghdr* hdr = nlmsg_hdr(msg);
  p.type = hdr->nlmsg_type;
  p.flags = hdr->nlmsg_flags;
  std::memcpy(&p.tcm, nlmsg_data(hdr), sizeof(tcmsg));
  nlattr* tb[TCA_MAX + 1] = {};
  // Not nlmsg_parse with a policy: netem's TCA_OPTIONS is deliberately
  // longer than a nested attribute would be.
  EXPECT_EQ(nlmsg_parse(hdr, sizeof(tcmsg), tb, TCA_MAX, nullptr), 0);
  if (tb[TCA_KIND]) p.kind = nla_get_string(tb[TCA_KIND]);
  if (tb[TCA_OPTIONS]) {
    p.options.assign(static_cast<const char*>(nla_data(tb[TCA_OPTIONS])),
                     nla_len(tb[TCA_OPTIONS]));
  }
  nlmsg_free(msg);
  return p;
}

TEST(BuildNetemQdiscTest, AllFieldsInKernelUnits) {
  NetemSpec n;
  n.delay_us = 10000;
  n.jitter_us = 2000;
  n.delay_correlation_percent = 25;
  n.loss_percent = 1;
  n.loss_correlation_percent = 50;
  n.duplicate_percent = 0.5;
  n.reorder_percent = 10;
  n.corrupt_percent = 0.1;
  n.limit_packets = 5000;
  RtnlQdiscPtr q = BuildNetemQdisc(7, kRootParent, kRootHandle, n);
  ASSERT_NE(q, nullptr);
  Parsed p = BuildAndParse(q.get());
  EXPECT_EQ(p.type, RTM_NEWQDISC);
  EXPECT_TRUE(p.flags & NLM_F_CREATE);
  EXPECT_TRUE(p.flags & NLM_F_REPLACE);
  EXPECT_EQ(p.tcm.tcm_ifindex, 7);
  EXPECT_EQ(p.tcm.tcm_parent, TC_H_ROOT);
  EXPECT_EQ(p.tcm.tcm_handle, 0x10000u);
  EXPECT_EQ(p.kind, "netem");
  ASSERT_GE(p.options.size(), sizeof(tc_netem_qopt));
  tc_netem_qopt qopt;
  std::memcpy(&qopt, p.options.data(), sizeof(qopt));
  const double tpu = TicksPerUsec();
  // The kernel reads latency/jitter as 64 ns ticks: 10 ms = 156250 ticks.
  EXPECT_EQ(qopt.latency, static_cast<uint32_t>(10000 * tpu));
  EXPECT_EQ(qopt.jitter, static_cast<uint32_t>(2000 * tpu));
  EXPECT_EQ(qopt.limit, 5000u);
  EXPECT_EQ(qopt.loss, PercentToNetemProbability(1));
  EXPECT_EQ(qopt.duplicate, PercentToNetemProbability(0.5));
  EXPECT_EQ(qopt.gap, 1u);  // reorder needs gap >= 1; libnl defaults it

  nlattr* tb[TCA_NETEM_MAX + 1] = {};
  ASSERT_EQ(nla_parse(tb, TCA_NETEM_MAX,
                      reinterpret_cast<nlattr*>(const_cast<char*>(
                          p.options.data() + NLA_ALIGN(sizeof(qopt)))),
                      p.options.size() - NLA_ALIGN(sizeof(qopt)), nullptr),
            0);
  ASSERT_NE(tb[TCA_NETEM_CORR], nullptr);
  tc_netem_corr corr;
  std::memcpy(&corr, nla_data(tb[TCA_NETEM_CORR]), sizeof(corr));
  EXPECT_EQ(corr.delay_corr, PercentToNetemProbability(25));
  EXPECT_EQ(corr.loss_corr, PercentToNetemProbability(50));
  EXPECT_EQ(corr.dup_corr, 0u);
  ASSERT_NE(tb[TCA_NETEM_REORDER], nullptr);
  tc_netem_reorder reorder;
  std::memcpy(&reorder, nla_data(tb[TCA_NETEM_REORDER]), sizeof(reorder));
  EXPECT_EQ(reorder.probability, PercentToNetemProbability(10));
  ASSERT_NE(tb[TCA_NETEM_CORRUPT], nullptr);
  tc_netem_corrupt corrupt;
  std::memcpy(&corrupt, nla_data(tb[TCA_NETEM_CORRUPT]), sizeof(corrupt));
  EXPECT_EQ(corrupt.probability, PercentToNetemProbability(0.1));
}

TEST(BuildNetemQdiscTest, DefaultsAndNoOptionalAttributes) {
  NetemSpec n;
  n.loss_percent = 100;
  RtnlQdiscPtr q = BuildNetemQdisc(3, kRootParent, kRootHandle, n);
  ASSERT_NE(q, nullptr);
  Parsed p = BuildAndParse(q.get());
  ASSERT_GE(p.options.size(), sizeof(tc_netem_qopt));
  tc_netem_qopt qopt;
  std::memcpy(&qopt, p.options.data(), sizeof(qopt));
  EXPECT_EQ(qopt.limit, 1000u);  // netem's default queue
  EXPECT_EQ(qopt.latency, 0u);
  EXPECT_EQ(qopt.loss, 0xFFFFFFFFu);
  // No correlation/reorder/corrupt attributes were asked for.
  EXPECT_EQ(p.options.size(), NLA_ALIGN(sizeof(qopt)));
}

TEST(BuildTbfQdiscTest, RateBurstLimitInKernelUnits) {
  struct Case {
    uint64_t rate_bytes;
    uint32_t burst;
    uint32_t limit;
  };
  const Case cases[] = {
      {1250000, 5000, 62500},              // 10 Mbit/s
      {125000000, 500000, 6250000},        // 1 Gbit/s
      {1250000000, 5000000, 62500000},     // 10 Gbit/s
      {4294967295u, 17179869, 214748364},  // the 32-bit maximum
      {125, 3028, 24224},                  // 1 kbit/s
  };
  const double tpu = TicksPerUsec();
  for (const Case& c : cases) {
    TbfSpec t{c.rate_bytes, c.burst, c.limit};
    RtnlQdiscPtr q = BuildTbfQdisc(9, kTbfChildParent, kTbfChildHandle, t);
    ASSERT_NE(q, nullptr);
    Parsed p = BuildAndParse(q.get());
    EXPECT_EQ(p.kind, "tbf");
    EXPECT_EQ(p.tcm.tcm_ifindex, 9);
    EXPECT_EQ(p.tcm.tcm_parent, 0x10001u);
    EXPECT_EQ(p.tcm.tcm_handle, 0xA0000u);
    nlattr* tb[TCA_TBF_MAX + 1] = {};
    ASSERT_EQ(nla_parse(tb, TCA_TBF_MAX,
                        reinterpret_cast<nlattr*>(
                            const_cast<char*>(p.options.data())),
                        p.options.size(), nullptr),
              0);
    ASSERT_NE(tb[TCA_TBF_PARMS], nullptr);
    tc_tbf_qopt qopt;
    std::memcpy(&qopt, nla_data(tb[TCA_TBF_PARMS]), sizeof(qopt));
    EXPECT_EQ(qopt.rate.rate, static_cast<uint32_t>(c.rate_bytes))
        << c.rate_bytes;
    EXPECT_EQ(qopt.limit, c.limit) << c.rate_bytes;
    // The bucket goes to the kernel as the time to send it, in ticks,
    // after libnl truncates to whole microseconds.
    double us = std::floor(static_cast<double>(c.burst) * 1e6 /
                           static_cast<double>(c.rate_bytes));
    EXPECT_NEAR(qopt.buffer, us * tpu, 1.0) << c.rate_bytes;
    // The kernel turns that back into bytes: within 1 us (libnl's
    // truncation) plus one tick of traffic of what was asked.
    double bytes_back = qopt.buffer / tpu * 1e-6 * c.rate_bytes;
    EXPECT_LE(bytes_back, c.burst + 1.0) << c.rate_bytes;
    EXPECT_GE(bytes_back, c.burst - c.rate_bytes * (1 + 1 / tpu) * 1e-6 - 1) << c.rate_bytes;
  }
}

}  // namespace
}  // namespace emu::linkemu
