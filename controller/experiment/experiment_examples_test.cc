// Every example experiment file parses.
#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>

#include "controller/experiment/experiment_spec.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

TEST(ExperimentExamplesTest, EveryExampleParses) {
  const std::string dir = "examples/experiments";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  int parsed = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".yaml") continue;
    std::ifstream in(dir + "/" + name);
    std::stringstream content;
    content << in.rdbuf();
    auto spec = ParseExperiment(name, content.str());
    EXPECT_TRUE(spec.ok()) << spec.status();
    ++parsed;
  }
  closedir(d);
  EXPECT_GE(parsed, 2);
}

}  // namespace
}  // namespace emu::controller::experiment
