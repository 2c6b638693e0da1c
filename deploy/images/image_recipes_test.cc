#include "deploy/images/image_recipes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::images {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ImageRecipes, EveryScriptIsCarriedWhole) {
  EXPECT_THAT(RecipeNames(), ElementsAre("debian", "default"));
  for (const std::string& name : RecipeNames()) {
    absl::string_view script = RecipeScript(name);
    EXPECT_THAT(std::string(script), StartsWith("#!/usr/bin/env bash\n"))
        << name;
    // The last line of each script survives the embedding.
    EXPECT_THAT(std::string(script), HasSubstr("log \"built $OUT")) << name;
    EXPECT_EQ(script.back(), '\n') << name;
  }
  EXPECT_THAT(std::string(RecipeScript("debian")), HasSubstr("debootstrap"));
  EXPECT_THAT(std::string(RecipeScript("default")), HasSubstr("busybox"));
}

TEST(ImageRecipes, UnknownRecipeIsEmpty) {
  EXPECT_TRUE(RecipeScript("alpine").empty());
  EXPECT_TRUE(RecipeScript("").empty());
}

}  // namespace
}  // namespace emu::images
