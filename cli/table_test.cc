#include "cli/table.h"

#include "gtest/gtest.h"

namespace emu::cli {
namespace {

TEST(TableTest, HeaderOnly) {
  Table table({"NAME", "STATE"});
  EXPECT_EQ(table.Render(), "NAME  STATE\n");
  EXPECT_EQ(table.row_count(), 0u);
}

TEST(TableTest, ColumnsTakeTheWidestCell) {
  Table table({"NAME", "STATE", "NODES"});
  table.AddRow({"lab-with-long-name", "RUNNING", "3"});
  table.AddRow({"x", "FAILED", "12"});
  EXPECT_EQ(table.Render(),
            "NAME                STATE    NODES\n"
            "lab-with-long-name  RUNNING  3\n"
            "x                   FAILED   12\n");
}

TEST(TableTest, ShortRowsArePaddedAndTrailingSpacesTrimmed) {
  Table table({"A", "B", "C"});
  table.AddRow({"1"});
  table.AddRow({"", "", "3"});
  EXPECT_EQ(table.Render(),
            "A  B  C\n"
            "1\n"
            "      3\n");
}

TEST(TableTest, ExtraCellsAreKept) {
  Table table({"A"});
  table.AddRow({"1", "extra"});
  EXPECT_EQ(table.Render(), "A\n1  extra\n");
}

}  // namespace
}  // namespace emu::cli
