#include "agent/stats/proc_usage.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace emu::agent::stats {
namespace {

TEST(ProcUsageTest, ParsesUtimePlusStimeAfterAnOddCommandName) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime ...
  const char* stat =
      "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
      "250 75 0 0 20 0 1 0 12345 1000000 200 18446744073709551615";
  auto ticks = ParseStatCpuTicks(stat);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 325u);
  EXPECT_FALSE(ParseStatCpuTicks("4242 S 1").ok());
  EXPECT_FALSE(ParseStatCpuTicks("4242 (x) S 1 2").ok());
}

TEST(ProcUsageTest, ParsesResidentPages) {
  auto pages = ParseStatmResidentPages("1000 250 100 10 0 300 0\n");
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ(*pages, 250u);
  EXPECT_FALSE(ParseStatmResidentPages("1000").ok());
}

TEST(ProcUsageTest, ReadsThisProcess) {
  ProcProcessUsage usage;
  auto s = usage.Read(getpid());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->rss_bytes, 0u);
  EXPECT_GE(s->cpu_seconds, 0.0);
  EXPECT_EQ(usage.Read(-5).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace emu::agent::stats
