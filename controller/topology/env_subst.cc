#include "controller/topology/env_subst.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "controller/topology/topology_limits.h"

namespace emu::controller::topology {
namespace {

// One `${...}` reference at content[start, end).
struct Reference {
  size_t start = 0;
  size_t end = 0;
  std::string name;
  bool has_default = false;
  bool empty_is_unset = false;  // ":=" / ":-" rather than "=" / "-"
  std::string default_value;
};

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// The reference starting at `at` (content[at] == '$'), or nullopt when the
// text there is not one (it then stays as written).
std::optional<Reference> ReferenceAt(absl::string_view content, size_t at) {
  if (at + 2 >= content.size() || content[at + 1] != '{' ||
      !IsNameStart(content[at + 2])) {
    return std::nullopt;
  }
  Reference r;
  r.start = at;
  size_t i = at + 2;
  while (i < content.size() && IsNameChar(content[i])) ++i;
  r.name = std::string(content.substr(at + 2, i - at - 2));
  if (i < content.size() && content[i] == '}') {
    r.end = i + 1;
    return r;
  }
  if (i < content.size() && content[i] == ':') {
    r.empty_is_unset = true;
    ++i;
  }
  if (i >= content.size() || (content[i] != '=' && content[i] != '-')) {
    return std::nullopt;
  }
  ++i;
  const size_t close = content.find_first_of("}\n", i);
  if (close == absl::string_view::npos || content[close] != '}') {
    return std::nullopt;
  }
  r.has_default = true;
  r.default_value = std::string(content.substr(i, close - i));
  r.end = close + 1;
  return r;
}

}  // namespace

absl::StatusOr<SubstitutedText> SubstituteEnv(absl::string_view content,
                                              absl::string_view file,
                                              const EnvLookup& lookup) {
  SubstitutedText out;
  out.text.reserve(content.size());
  int line = 1;
  size_t copied = 0;  // content[0, copied) is in out.text
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n') {
      ++line;
      continue;
    }
    if (content[i] != '$') continue;
    std::optional<Reference> r = ReferenceAt(content, i);
    if (!r.has_value()) continue;
    std::optional<std::string> value;
    if (lookup) value = lookup(r->name);
    const bool unset =
        !value.has_value() || (r->empty_is_unset && value->empty());
    std::string replacement;
    if (!unset) {
      replacement = *value;
    } else if (r->has_default) {
      replacement = r->default_value;
    } else {
      out.warnings.push_back(absl::StrCat(
          file, ":", line, ": ${", r->name,
          "} is not set: replaced by nothing (give a default with ${", r->name,
          ":=value})"));
    }
    if (replacement.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", line, ": ${", r->name,
          "}: the value holds a line break; a variable stands for text "
          "within one line"));
    }
    absl::StrAppend(&out.text, content.substr(copied, r->start - copied));
    out.text.append(replacement);
    copied = r->end;
    i = r->end - 1;
    if (out.text.size() + (content.size() - copied) > kMaxTopologyFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", line, ": ${", r->name, "}: the file expands to more than ",
          kMaxTopologyFileBytes,
          " bytes with its variables; the limit is kMaxTopologyFileBytes"));
    }
  }
  absl::StrAppend(&out.text, content.substr(copied));
  return out;
}

std::vector<std::string> EnvNamesIn(absl::string_view content) {
  std::set<std::string> names;
  for (size_t i = content.find('$'); i != absl::string_view::npos;
       i = content.find('$', i + 1)) {
    std::optional<Reference> r = ReferenceAt(content, i);
    if (r.has_value()) names.insert(r->name);
  }
  return {names.begin(), names.end()};
}

}  // namespace emu::controller::topology
