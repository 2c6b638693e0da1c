#include "controller/topology/problems.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::emu::v1::Problem;
using ::testing::HasSubstr;

TEST(ParseProblemTest, FileLineObjectCause) {
  Problem p = ParseProblem("lab.yaml:12: node h1: kind: expected netns or qemu",
                           "lab.yaml", Problem::ERROR);
  EXPECT_EQ(p.file(), "lab.yaml");
  EXPECT_EQ(p.line(), 12u);
  EXPECT_EQ(p.object(), "node h1");
  EXPECT_EQ(p.message(), "kind: expected netns or qemu");
  EXPECT_EQ(p.severity(), Problem::ERROR);
}

TEST(ParseProblemTest, MissingLineOrFileOrObject) {
  Problem no_line =
      ParseProblem("a:b.yaml: lab: no nodes", "a:b.yaml", Problem::WARNING);
  EXPECT_EQ(no_line.file(), "a:b.yaml");
  EXPECT_EQ(no_line.line(), 0u);
  EXPECT_EQ(no_line.object(), "lab");
  EXPECT_EQ(no_line.message(), "no nodes");
  EXPECT_EQ(no_line.severity(), Problem::WARNING);

  // Another file's name is not taken for the request's file.
  Problem other = ParseProblem("link r1:eth1<->r2:eth1: rate too low",
                               "lab.yaml", Problem::ERROR);
  EXPECT_EQ(other.file(), "");
  EXPECT_EQ(other.object(), "link r1:eth1<->r2:eth1");
  EXPECT_EQ(other.message(), "rate too low");

  Problem bare = ParseProblem("no topology given", "", Problem::ERROR);
  EXPECT_EQ(bare.object(), "");
  EXPECT_EQ(bare.message(), "no topology given");
}

TEST(ProblemsFromStatusTest, OneProblemPerLine) {
  absl::Status s = absl::InvalidArgumentError(
      "t.yaml:3: node a: bad\n\nt.yaml:7: link a:e<->b:e: worse\n");
  auto problems = ProblemsFromStatus(s, "t.yaml", Problem::ERROR);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].line(), 3u);
  EXPECT_EQ(problems[1].line(), 7u);
  EXPECT_EQ(problems[1].object(), "link a:e<->b:e");
  EXPECT_TRUE(ProblemsFromStatus(absl::OkStatus(), "", Problem::ERROR).empty());
}

TEST(ShortStatusTest, KeepsShortStatusesAndCutsLongOnes) {
  absl::Status small = absl::InvalidArgumentError("t.yaml:1: lab: bad");
  EXPECT_EQ(ShortStatus(small), small);

  // ~75 validation errors: once the status that exceeded gRPC's metadata
  // limit.
  std::string many;
  for (int i = 1; i <= 75; ++i) {
    absl::StrAppend(&many, "t.yaml:", i, ": node n", i,
                    ": address 10.0.0.1/24 is also on node n0 eth1\n");
  }
  absl::Status s = ShortStatus(absl::InvalidArgumentError(many));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LE(s.message().size(), kMaxStatusMessageBytes);
  EXPECT_THAT(s.message(), HasSubstr("t.yaml:1: node n1:"));
  EXPECT_THAT(s.message(), HasSubstr(" more problems)"));

  absl::Status one_huge =
      ShortStatus(absl::InvalidArgumentError(std::string(200000, 'x')));
  EXPECT_LE(one_huge.message().size(), kMaxStatusMessageBytes);
  EXPECT_THAT(one_huge.message(), HasSubstr("(200000 bytes)"));
}

TEST(ToValidateResponseTest, ARefusedFileStillShowsItsWarnings) {
  auto refused = ToValidateResponse(
      ParseAndValidateTopology("name: w\n"
                               "topology:\n"
                               "  nodes:\n"
                               "    a: {ports: [\"80:80\"], kind: nokia_srl}\n",
                               "t.yaml"),
      "t.yaml");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->valid());
  ASSERT_EQ(refused->problems_size(), 2);
  EXPECT_EQ(refused->problems(0).severity(), Problem::ERROR);
  EXPECT_EQ(refused->problems(1).severity(), Problem::WARNING);
  EXPECT_EQ(refused->problems(1).line(), 4u);
  EXPECT_THAT(refused->warnings(),
              ::testing::ElementsAre(HasSubstr("ignored containerlab key "
                                               "'ports'")));
}

TEST(ToValidateResponseTest, RefusedValidAndOtherFailures) {
  auto refused =
      ToValidateResponse(absl::InvalidArgumentError(
                             "t.yaml:2: node a: bad\nt.yaml:3: node b: bad"),
                         "t.yaml");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->valid());
  ASSERT_EQ(refused->problems_size(), 2);
  EXPECT_EQ(refused->problems(1).object(), "node b");
  EXPECT_EQ(refused->problems(1).severity(), Problem::ERROR);

  ParsedTopology parsed;
  parsed.topology.set_name("lab");
  parsed.topology.add_nodes()->set_name("a");
  parsed.topology.add_nodes()->set_name("b");
  parsed.topology.add_links();
  parsed.warnings = {"t.yaml:4: node a: image ignored"};
  auto valid = ToValidateResponse(parsed, "t.yaml");
  ASSERT_TRUE(valid.ok());
  EXPECT_TRUE(valid->valid());
  EXPECT_EQ(valid->lab(), "lab");
  EXPECT_EQ(valid->nodes(), 2u);
  EXPECT_EQ(valid->links(), 1u);
  // The deprecated `topology` field is never echoed back (read through
  // reflection: its accessor is deprecated).
  EXPECT_FALSE(valid->GetReflection()->HasField(
      *valid, valid->GetDescriptor()->FindFieldByName("topology")));
  ASSERT_EQ(valid->problems_size(), 1);
  EXPECT_EQ(valid->problems(0).severity(), Problem::WARNING);
  EXPECT_EQ(valid->problems(0).line(), 4u);
  EXPECT_EQ(valid->warnings(0), "t.yaml:4: node a: image ignored");

  auto internal =
      ToValidateResponse(absl::InternalError("disk on fire"), "t.yaml");
  EXPECT_EQ(internal.status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace emu::controller::topology
