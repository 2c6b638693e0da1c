// Times parsing and validating a large topology file and prints the
// process's peak memory, and its memory once the result is dropped.
//
//   bazel run -c opt //bench:topology_bench -- --nodes=100000 --links=200000
//
// The file (deterministic, --seed) is emu's YAML: `nodes:` with one entry a
// node (every 10th with an address on its first interface and a route),
// `links:` between random pairs, each shaped (rate, every 4th also delay
// and loss), interfaces named by the links only.
#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/thread_cpu.h"
#include "controller/topology/topology_parser.h"
#include "controller/topology/topology_validator.h"

ABSL_FLAG(int, nodes, 100000, "Nodes in the generated topology.");
ABSL_FLAG(int, links, 200000, "Links in the generated topology.");
ABSL_FLAG(int, seed, 1, "Seed of the generator.");
ABSL_FLAG(std::string, write, "", "Also write the file here (for emuctl).");

namespace {

// kB of the status line `key` of /proc/self/status (VmRSS, VmHWM).
long StatusKb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    long kb = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb;
  }
  return -1;
}

std::string Generate(int nodes, int links, int seed) {
  std::mt19937 rng(seed);
  std::string out = "name: big\ntopology:\n  nodes:\n";
  for (int i = 0; i < nodes; ++i) {
    if (i % 10 == 0) {
      // 10.(i>>16).(i>>8).(i&255)/32 is unique per node; a /32 needs no
      // partner on its link, and the route's gateway is reached through
      // dev.
      absl::StrAppend(&out, "    n", i, ":\n      interfaces:\n        e0:\n",
                      "          addresses: [10.", (i >> 16) & 255, ".",
                      (i >> 8) & 255, ".", i & 255, "/32]\n",
                      "      routes:\n        - {to: 192.168.0.0/16, dev: e0}\n");
    } else {
      absl::StrAppend(&out, "    n", i, ": {}\n");
    }
  }
  out += "  links:\n";
  std::vector<int> next_if(nodes, 0);
  for (int made = 0; made < links;) {
    int a = static_cast<int>(rng() % nodes);
    int b = static_cast<int>(rng() % nodes);
    if (a == b) continue;
    absl::StrAppend(&out, "    - endpoints: [\"n", a, ":e", next_if[a]++,
                    "\", \"n", b, ":e", next_if[b]++, "\"]\n");
    absl::StrAppend(&out, "      rate: ", 100 * (1 + made % 10), "mbit\n");
    if (made % 4 == 0) out += "      delay: 5ms\n      loss: 0.1%\n";
    ++made;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int nodes = absl::GetFlag(FLAGS_nodes);
  const int links = absl::GetFlag(FLAGS_links);
  const long rss_start = StatusKb("VmRSS");
  std::string text = Generate(nodes, links, absl::GetFlag(FLAGS_seed));
  if (!absl::GetFlag(FLAGS_write).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_write)) << text;
  }
  std::printf("topology: %d nodes, %d links, %.1f MB of YAML (seed %d)\n",
              nodes, links, text.size() / 1e6, absl::GetFlag(FLAGS_seed));
  const long rss_text = StatusKb("VmRSS");
  double parse_s = 0, validate_s = 0, parse_cpu = 0, validate_cpu = 0;
  size_t warnings = 0;
  {
    absl::Time start = absl::Now();
    double cpu = emu::bench::ThreadCpuSeconds();
    auto parsed = emu::controller::topology::ParseTopology(text, "big.yaml");
    parse_s = absl::ToDoubleSeconds(absl::Now() - start);
    parse_cpu = emu::bench::ThreadCpuSeconds() - cpu;
    if (!parsed.ok()) {
      std::fprintf(stderr, "parse failed: %.2000s\n",
                   std::string(parsed.status().message()).c_str());
      return 1;
    }
    start = absl::Now();
    cpu = emu::bench::ThreadCpuSeconds();
    absl::Status valid = emu::controller::topology::ValidateTopology(
        parsed->topology, &parsed->warnings);
    validate_s = absl::ToDoubleSeconds(absl::Now() - start);
    validate_cpu = emu::bench::ThreadCpuSeconds() - cpu;
    if (!valid.ok()) {
      std::fprintf(stderr, "validate failed: %.2000s\n",
                   std::string(valid.message()).c_str());
      return 1;
    }
    warnings = parsed->warnings.size();
  }
  const long peak = StatusKb("VmHWM");
  malloc_trim(0);
  const long rss_after = StatusKb("VmRSS");
  std::printf("           cpu s    wall s\n");
  std::printf("parse      %7.3f   %7.3f\n", parse_cpu, parse_s);
  std::printf("validate   %7.3f   %7.3f\n", validate_cpu, validate_s);
  std::printf("total      %7.3f   %7.3f\n", parse_cpu + validate_cpu,
              parse_s + validate_s);
  std::printf("warnings   %7zu\n", warnings);
  std::printf(
      "memory: peak %.0f MB (process start %.0f MB, with the file's text "
      "%.0f MB), after the result is dropped %.0f MB\n",
      peak / 1024.0, rss_start / 1024.0, rss_text / 1024.0,
      rss_after / 1024.0);
  return 0;
}
