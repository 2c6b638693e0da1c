#include "deploy/process_table.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace emu::deploy {
namespace {

std::string StatLine(const std::string& comm, const std::string& state,
                     const std::string& start) {
  // Fields 4..21 are filler; field 22 is the start time.
  std::string line = "1234 (" + comm + ") " + state;
  for (int field = 4; field <= 21; ++field) line += " " + std::to_string(field);
  return line + " " + start + " 100 200\n";
}

TEST(ParseProcStatStartTimeTest, Cases) {
  EXPECT_EQ(ParseProcStatStartTime(StatLine("emu-agent", "S", "98765")), 98765u);
  EXPECT_EQ(ParseProcStatStartTime(StatLine("a) (b c", "R", "5")), 5u);
  EXPECT_EQ(ParseProcStatStartTime(StatLine("emu-agent", "Z", "5")), std::nullopt);
  EXPECT_EQ(ParseProcStatStartTime(StatLine("emu-agent", "X", "5")), std::nullopt);
  EXPECT_EQ(ParseProcStatStartTime(StatLine("x", "S", "notanumber")), std::nullopt);
  EXPECT_EQ(ParseProcStatStartTime("1234 (x) S 1 2 3"), std::nullopt);
  EXPECT_EQ(ParseProcStatStartTime("garbage"), std::nullopt);
}

TEST(SplitCmdlineTest, Cases) {
  EXPECT_EQ(SplitCmdline(std::string("a\0--b=c\0", 8)),
            (std::vector<std::string>{"a", "--b=c"}));
  EXPECT_EQ(SplitCmdline(std::string("a\0\0b", 4)),
            (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(SplitCmdline("").empty());
}

TEST(IsRecordedProcessTest, Cases) {
  const ProcessIdentity agent{77, {"/x/bin/emu-agent", "--listen=1"}};
  const ProcessIdentity script{77, {"/bin/sh", "/tmp/t/emu-agent", "--x"}};
  const ProcessIdentity other{77, {"/usr/bin/sleep", "emu-agent"}};
  const ProcessIdentity deep{77, {"/bin/sh", "-c", "emu-agent"}};
  EXPECT_TRUE(IsRecordedProcess(agent, 77, "emu-agent"));
  EXPECT_TRUE(IsRecordedProcess(agent, 0, "emu-agent"));
  EXPECT_FALSE(IsRecordedProcess(agent, 78, "emu-agent"));  // pid reused
  EXPECT_FALSE(IsRecordedProcess(agent, 77, "emu-controller"));
  EXPECT_TRUE(IsRecordedProcess(script, 77, "emu-agent"));
  EXPECT_TRUE(IsRecordedProcess(other, 77, "emu-agent"));  // argv[1] basename
  EXPECT_FALSE(IsRecordedProcess(deep, 77, "emu-agent"));
  EXPECT_FALSE(IsRecordedProcess({77, {}}, 77, "emu-agent"));
}

TEST(ProcfsProcessTableTest, FindsItselfNotAnAbsentPid) {
  ProcfsProcessTable table;
  std::optional<ProcessIdentity> self = table.Lookup(getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_GT(self->start_time, 0u);
  ASSERT_FALSE(self->argv.empty());
  EXPECT_TRUE(ArgvRunsBinary(self->argv, "process_table_test"));
  EXPECT_EQ(table.Lookup(0), std::nullopt);
  EXPECT_EQ(table.Lookup(-5), std::nullopt);
  // pid_max is at most 2^22 on Linux.
  EXPECT_EQ(table.Lookup(1 << 23), std::nullopt);
}

}  // namespace
}  // namespace emu::deploy
