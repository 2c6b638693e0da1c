#include "deploy/ip_output.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace emu::deploy {
namespace {

std::vector<absl::string_view> Words(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

}  // namespace

std::vector<std::string> ParseNetnsList(absl::string_view output) {
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<absl::string_view> words = Words(line);
    if (!words.empty()) names.emplace_back(words[0]);
  }
  return names;
}

std::vector<std::string> ParseLinkNames(absl::string_view output) {
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<absl::string_view> words = Words(line);
    if (words.size() < 2 || !absl::EndsWith(words[0], ":")) continue;
    absl::string_view name = absl::StripSuffix(words[1], ":");
    name = name.substr(0, name.find('@'));
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

std::vector<InterfaceAddress> ParseIpv4Addresses(absl::string_view output) {
  std::vector<InterfaceAddress> addresses;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<absl::string_view> words = Words(line);
    if (words.size() < 4 || words[2] != "inet") continue;
    addresses.push_back({std::string(words[1]), std::string(words[3])});
  }
  return addresses;
}

}  // namespace emu::deploy
