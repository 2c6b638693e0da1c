#include "deploy/images/image_recipes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/strip.h"

namespace emu::images {
namespace {

constexpr std::pair<absl::string_view, absl::string_view> kRecipes[] = {
#include "deploy/images/image_recipes.inc"
};

}  // namespace

absl::string_view RecipeScript(absl::string_view recipe) {
  for (const auto& [name, script] : kRecipes) {
    // The generated literal starts with the newline after R"EMU_RECIPE(.
    if (name == recipe) return absl::StripPrefix(script, "\n");
  }
  return {};
}

std::vector<std::string> RecipeNames() {
  std::vector<std::string> names;
  for (const auto& [name, script] : kRecipes) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace emu::images
