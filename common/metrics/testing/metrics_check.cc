// metrics_check: reads an exposition from stdin, checks it strictly
// (exposition_parser.h) and prints one canonical line per sample, or the
// first problem on stderr and exit status 1. For shell integration tests.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "common/metrics/testing/exposition_parser.h"

int main() {
  std::string text((std::istreambuf_iterator<char>(std::cin)),
                   std::istreambuf_iterator<char>());
  auto families = emu::metrics::testing::ParseExposition(text);
  if (!families.ok()) {
    std::fprintf(stderr, "metrics_check: %s\n",
                 std::string(families.status().message()).c_str());
    return 1;
  }
  std::fputs(emu::metrics::testing::Canonical(*families).c_str(), stdout);
  return 0;
}
