#include "controller/topology/env_subst.h"

#include <map>
#include <optional>
#include <string>

#include "controller/topology/topology_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup From(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(SubstituteEnvTest, ValuesAndDefaultsAsContainerlab) {
  const EnvLookup env = From({{"IMG", "alpine"}, {"EMPTY", ""}});
  struct Case {
    std::string in;
    std::string out;
  } cases[] = {
      {"image: ${IMG}", "image: alpine"},
      {"image: ${IMG:=debian}", "image: alpine"},
      {"image: ${NOPE:=debian}", "image: debian"},
      {"image: ${NOPE:-debian}", "image: debian"},
      {"image: ${EMPTY:=debian}", "image: debian"},  // ':' takes "" as unset
      {"image: ${EMPTY=debian}", "image: "},         // without ':' it is set
      {"image: ${NOPE=debian}", "image: debian"},
      {"a: ${IMG}-${IMG}", "a: alpine-alpine"},
      {"a: ${NOPE:=}", "a: "},
      // Not references: shell text in exec lines stays as written.
      {"exec: [echo $IMG $1 $(id) ${1} ${IMG",
       "exec: [echo $IMG $1 $(id) ${1} ${IMG"},
      {"x: ${IMG:?err}", "x: ${IMG:?err}"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SubstitutedText> r = SubstituteEnv(c.in, "f.yml", env);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.status();
    EXPECT_EQ(r->text, c.out) << c.in;
    EXPECT_THAT(r->warnings, IsEmpty()) << c.in;
  }
}

TEST(SubstituteEnvTest, UnsetWithoutDefaultIsEmptyWithAWarningNamingTheLine) {
  absl::StatusOr<SubstitutedText> r =
      SubstituteEnv("name: x\nimage: \"${NOPE}\"\n", "f.yml", nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "name: x\nimage: \"\"\n");
  EXPECT_THAT(r->warnings,
              ElementsAre("f.yml:2: ${NOPE} is not set: replaced by nothing "
                          "(give a default with ${NOPE:=value})"));
}

TEST(SubstituteEnvTest, LineBreakInAValueIsRefused) {
  absl::StatusOr<SubstitutedText> r =
      SubstituteEnv("a: 1\n\nb: ${ML}\n", "f.yml", From({{"ML", "x\ny"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("f.yml:3: ${ML}: the value holds a line break"));
}

TEST(SubstituteEnvTest, ExpansionIsBoundedByTheFileLimit) {
  const std::string big(kMaxTopologyFileBytes / 4 + 1, 'x');
  absl::StatusOr<SubstitutedText> r =
      SubstituteEnv("a: ${B}${B}${B}${B}\n", "f.yml", From({{"B", big}}));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("f.yml:1: ${B}: the file expands to more than"));
  EXPECT_THAT(r.status().message(), HasSubstr("kMaxTopologyFileBytes"));
}

TEST(EnvNamesInTest, NamesEachOnceSorted) {
  EXPECT_THAT(EnvNamesIn("${B} ${A:=1} $C ${B=2} ${1}"), ElementsAre("A", "B"));
}

}  // namespace
}  // namespace emu::controller::topology
