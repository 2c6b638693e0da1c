#include "controller/topology/yaml_tree.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "controller/topology/topology_limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<YamlTree> Parse(const std::string& text) {
  auto tree = ParseYamlTree(text, "t.yaml");
  EXPECT_TRUE(tree.ok()) << tree.status();
  return tree.ok() ? std::move(*tree) : std::make_unique<YamlTree>();
}

std::string Error(const std::string& text) {
  auto tree = ParseYamlTree(text, "t.yaml");
  EXPECT_FALSE(tree.ok());
  return tree.ok() ? "" : std::string(tree.status().message());
}

TEST(YamlTreeTest, MapsSequencesScalarsAndLines) {
  auto tree = Parse("name: lab\nlist:\n  - a\n  - 'b'\nempty:\nq: \"\"\n");
  YamlNode root = tree->root();
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root.size(), 4u);
  EXPECT_EQ(root["name"].Scalar(), "lab");
  EXPECT_EQ(root["name"].Line(), 1);
  YamlNode list = root["list"];
  ASSERT_TRUE(list.IsSequence());
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].Scalar(), "a");
  EXPECT_TRUE(list[0].IsPlain());
  EXPECT_EQ(list[1].Scalar(), "b");
  EXPECT_FALSE(list[1].IsPlain());
  EXPECT_EQ(list[1].Line(), 4);
  EXPECT_FALSE(list[2].IsDefined());
  EXPECT_TRUE(root["empty"].IsNull());
  EXPECT_TRUE(root["q"].IsScalar());  // a quoted "" is text, not null
  EXPECT_FALSE(root["missing"].IsDefined());
  std::vector<std::string> keys;
  for (auto it = root.begin(); it != root.end(); ++it) {
    keys.push_back(std::string(it->first.Scalar()));
  }
  EXPECT_THAT(keys, ::testing::ElementsAre("name", "list", "empty", "q"));
  std::vector<std::string> items;
  for (const YamlNode& item : list) {
    items.push_back(std::string(item.Scalar()));
  }
  EXPECT_THAT(items, ::testing::ElementsAre("a", "b"));
}

TEST(YamlTreeTest, NullWordsAsYamlCppReadsThem) {
  auto tree = Parse("[~, null, Null, NULL, 'null', nil]");
  YamlNode s = tree->root();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(s[i].IsNull()) << i;
  EXPECT_EQ(s[4].Scalar(), "null");
  EXPECT_EQ(s[5].Scalar(), "nil");
}

// Every scalar's text lives in one buffer, reserved at the file's size:
// text longer than the file (escapes of 2 bytes that decode to 3), after
// many scalars, grows it, and every value stays whole.
TEST(YamlTreeTest, ScalarTextsInOneBufferStayWhole) {
  std::string text = "l:\n";
  for (int i = 0; i < 500; ++i) absl::StrAppend(&text, "  - v", i, "\n");
  text += "e: \"";
  for (int i = 0; i < 5000; ++i) text += "\\L\\P";
  text += "\"\n";
  auto tree = Parse(text);
  YamlNode root = tree->root();
  std::string expanded;
  for (int i = 0; i < 5000; ++i) expanded += "\u2028\u2029";
  ASSERT_GT(expanded.size(), text.size());
  EXPECT_EQ(root["e"].Scalar(), expanded);
  ASSERT_EQ(root["l"].size(), 500u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(root["l"][i].Scalar(), absl::StrCat("v", i));
  }
  EXPECT_EQ(YamlNode().Scalar(), "");
  EXPECT_EQ(root["l"].Scalar(), "");  // not a scalar
}

TEST(YamlTreeTest, EmptyFileIsNull) {
  EXPECT_TRUE(Parse("")->root().IsNull());
  EXPECT_TRUE(Parse("# only a comment\n")->root().IsNull());
}

TEST(YamlTreeTest, AliasIsTheAnchoredNodeAndReplaceMapShowsThroughIt) {
  auto tree = Parse("a: &x {k: v}\nb: *x\n");
  YamlNode a = tree->root()["a"], b = tree->root()["b"];
  EXPECT_TRUE(a == b);
  tree->ReplaceMap(a, {{a.begin()->first, a.begin()->second},
                       {a.begin()->first, a.begin()->second}});
  EXPECT_EQ(b.size(), 2u);
}

TEST(YamlTreeTest, MalformedYamlNamesLineAndColumn) {
  EXPECT_THAT(Error("a: b\n  c: [1, 2\n"),
              HasSubstr("malformed YAML"));
  EXPECT_THAT(Error("a: *nowhere\n"), HasSubstr("t.yaml:1:4: malformed YAML"));
}

TEST(YamlTreeTest, RefusesSecondDocumentAndCycles) {
  EXPECT_THAT(Error("a: 1\n---\nb: 2\n"),
              AllOf(HasSubstr("t.yaml:2:"), HasSubstr("second YAML document")));
  EXPECT_THAT(Error("a: &x [1, *x]\n"), HasSubstr("(a cycle)"));
}

TEST(YamlTreeTest, RefusesExpansionBeyondTheValueBound) {
  // Each level repeats the one before ten times: 10^9 values from 9 lines.
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += absl::StrCat("l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j) bomb += absl::StrCat(j ? ", " : "", "*l", i - 1);
    bomb += "]\n";
  }
  EXPECT_THAT(Error(bomb), HasSubstr("the limit is kMaxYamlValues"));
}

TEST(YamlTreeTest, RefusesNestingBeyondTheDepthBound) {
  std::string nested;
  for (size_t i = 0; i <= kMaxYamlDepth; ++i) {
    nested += std::string(i, ' ') + "k:\n";
  }
  nested += std::string(kMaxYamlDepth + 1, ' ') + "v\n";
  EXPECT_THAT(Error(nested), HasSubstr("the limit is kMaxYamlDepth"));
}

}  // namespace
}  // namespace emu::controller::topology
