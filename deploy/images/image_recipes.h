// The guest image recipes (deploy/images/build_*.sh) as text, built into the
// agent so `emuctl image build` runs on every host the recipe of that host's
// own agent version, with nothing else installed there.
//
// Stateless; thread-safe.
#ifndef EMU_DEPLOY_IMAGES_IMAGE_RECIPES_H_
#define EMU_DEPLOY_IMAGES_IMAGE_RECIPES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace emu::images {

// The script of `recipe` ("default", "debian"); empty when unknown.
absl::string_view RecipeScript(absl::string_view recipe);

// Every recipe's name, sorted.
std::vector<std::string> RecipeNames();

}  // namespace emu::images

#endif  // EMU_DEPLOY_IMAGES_IMAGE_RECIPES_H_
