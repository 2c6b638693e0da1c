#include "proto/topology_names.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

TEST(TopologyNamesTest, NamesEndpointsAndLinks) {
  emu::v1::Link link;
  link.mutable_a()->set_node("r1");
  link.mutable_a()->set_interface("eth1");
  link.mutable_b()->set_node("r2");
  link.mutable_b()->set_interface("eth2");
  EXPECT_EQ(EndpointName(link.a()), "r1:eth1");
  EXPECT_EQ(LinkName(link), "r1:eth1<->r2:eth2");
}

TEST(TopologyNamesTest, KindNamesAsFilesWriteThem) {
  EXPECT_EQ(NodeKindName(emu::v1::NODE_KIND_UNSPECIFIED), "netns");
  EXPECT_EQ(NodeKindName(emu::v1::NODE_KIND_QEMU), "qemu");
  EXPECT_EQ(NodeKindName(emu::v1::NODE_KIND_BRIDGE), "bridge");
  EXPECT_EQ(NodeKindName(emu::v1::NODE_KIND_SWITCH), "switch");
  EXPECT_EQ(NodeKindName(emu::v1::NODE_KIND_HUB), "hub");
  EXPECT_TRUE(IsSegmentKind(emu::v1::NODE_KIND_HUB));
  EXPECT_TRUE(IsSegmentKind(emu::v1::NODE_KIND_BRIDGE));
  EXPECT_FALSE(IsSegmentKind(emu::v1::NODE_KIND_NETNS));
  EXPECT_FALSE(IsSegmentKind(emu::v1::NODE_KIND_QEMU));
}

TEST(TopologyNamesTest, SourceTextCoversUnknownParts) {
  struct {
    const char* file;
    int line;
    const char* text;
    const char* prefix;
  } const kCases[] = {
      {"lab.yaml", 12, "lab.yaml:12", "lab.yaml:12: "},
      {"lab.yaml", 0, "lab.yaml", "lab.yaml: "},
      {"", 7, "line 7", "line 7: "},
      {"", 0, "", ""},
  };
  for (const auto& c : kCases) {
    emu::v1::SourceRef source;
    source.set_file(c.file);
    source.set_line(c.line);
    EXPECT_EQ(SourceText(source), c.text);
    EXPECT_EQ(SourcePrefix(source), c.prefix);
  }
}

TEST(TopologyNamesTest, OneNameRule) {
  struct {
    std::string name;
    bool valid;
  } const kCases[] = {
      {"a-b_C9", true},
      {std::string(kMaxNameLength, 'a'), true},
      {"", false},
      {"a.b", false},
      {"a/b", false},
      {"a b", false},
      {"..", false},
      {"h\xc3\xa9", false},
      {std::string(kMaxNameLength + 1, 'a'), false},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(IsValidName(c.name), c.valid) << c.name;
    absl::Status s = CheckName("host", c.name);
    EXPECT_EQ(s.ok(), c.valid) << c.name;
    if (!c.valid) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StartsWith(s.message(), "host name")) << s.message();
    }
  }
}

TEST(TopologyNamesTest, LabKeysKeepOwnersApart) {
  EXPECT_EQ(LabKey("", "core"), "core");
  EXPECT_EQ(LabKey("alice", "core"), "alice+core");
  EXPECT_NE(LabKey("alice", "core"), LabKey("bob", "core"));
  // "a-b"+"c" and "a"+"b-c" stay apart: the separator is no name character.
  EXPECT_NE(LabKey("a-b", "c"), LabKey("a", "b-c"));
  EXPECT_TRUE(IsValidLabKey("core"));
  EXPECT_TRUE(IsValidLabKey("alice+core"));
  EXPECT_FALSE(IsValidLabKey("alice+core+x"));
  EXPECT_FALSE(IsValidLabKey("+core"));
  EXPECT_FALSE(IsValidLabKey("alice+"));
  EXPECT_FALSE(IsValidLabKey("alice.core"));
  EXPECT_FALSE(IsValidLabKey("alice/core"));
  EXPECT_EQ(SplitLabKey("alice+core").owner, "alice");
  EXPECT_EQ(SplitLabKey("alice+core").lab, "core");
  EXPECT_EQ(SplitLabKey("core").owner, "");
  EXPECT_EQ(SplitLabKey("core").lab, "core");
}

}  // namespace
}  // namespace emu
