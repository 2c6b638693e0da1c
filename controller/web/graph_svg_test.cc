#include "controller/web/graph_svg.h"

#include "absl/strings/match.h"
#include "common/process_launcher.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"

namespace emu::controller::web {
namespace {

TEST(GraphSvgTest, GraphvizDrawsInlineSvg) {
  PosixProcessLauncher launcher;
  GraphvizSvgRenderer renderer(&launcher);
  auto svg = renderer.Svg("graph g { r1 -- r2 [label=\"10Mbit/s <&>\"]; }", "dot");
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(absl::StartsWith(*svg, "<svg")) << *svg;
  EXPECT_TRUE(absl::EndsWith(*svg, "</svg>"));
  EXPECT_TRUE(absl::StrContains(*svg, ">r1<"));
  EXPECT_TRUE(absl::StrContains(*svg, "10Mbit/s &lt;&amp;&gt;"));  // escaped
  EXPECT_FALSE(absl::StrContains(*svg, "<?xml"));
}

TEST(GraphSvgTest, SameDotIsDrawnOnceAndErrorsSayWhy) {
  FakeProcessLauncher launcher;
  launcher.SetHandler([](const ProcessSpec& spec) -> absl::StatusOr<ProcessResult> {
    if (spec.stdin_data == "bad") {
      return FakeProcessLauncher::Exited(1, "", "syntax error in line 1");
    }
    return FakeProcessLauncher::Exited(
        0, "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg>x</svg>\n");
  });
  GraphvizSvgRenderer renderer(&launcher, /*cache_entries=*/1);
  EXPECT_EQ(*renderer.Svg("graph a {}", "dot"), "<svg>x</svg>");
  EXPECT_EQ(*renderer.Svg("graph a {}", "dot"), "<svg>x</svg>");
  EXPECT_EQ(launcher.runs().size(), 1u);
  EXPECT_EQ(launcher.runs()[0].argv,
            (std::vector<std::string>{"dot", "-Tsvg", "-Kdot"}));
  EXPECT_TRUE(renderer.Svg("graph a {}", "sfdp").ok());  // another layout
  EXPECT_EQ(launcher.runs().size(), 2u);
  EXPECT_TRUE(renderer.Svg("graph a {}", "dot").ok());  // evicted (1 entry)
  EXPECT_EQ(launcher.runs().size(), 3u);
  auto bad = renderer.Svg("bad", "dot");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "syntax error"));
}

TEST(GraphSvgTest, MissingDotSaysHowToInstallIt) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(absl::NotFoundError("dot: not found"));
  GraphvizSvgRenderer renderer(&launcher);
  auto svg = renderer.Svg("graph a {}", "dot");
  ASSERT_FALSE(svg.ok());
  EXPECT_TRUE(absl::StrContains(svg.status().message(), "apt install graphviz"));
}

}  // namespace
}  // namespace emu::controller::web
