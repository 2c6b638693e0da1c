#include "agent/net/resource_names.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace emu::agent::net {

std::string NamespacePrefix(absl::string_view host) {
  return absl::StrCat("emu.", host, ".");
}

std::string NamespacePrefix(absl::string_view host, absl::string_view lab) {
  return absl::StrCat("emu.", host, ".", lab, ".");
}

std::string NamespaceName(absl::string_view host, absl::string_view lab,
                          absl::string_view node) {
  return absl::StrCat("emu.", host, ".", lab, ".", node);
}

std::string NodeNamespace(absl::string_view host, absl::string_view lab,
                          const emu::v1::Node& node) {
  if (!node.foreign_lab().empty()) {
    return NamespaceName(host, node.foreign_lab(), node.foreign_node());
  }
  return NamespaceName(host, lab, node.name());
}

std::optional<NodeRef> ParseNamespaceName(absl::string_view host,
                                          absl::string_view ns) {
  std::vector<std::string> parts = absl::StrSplit(ns, '.');
  if (parts.size() != 4 || parts[0] != "emu" || parts[1] != host ||
      !emu::IsValidLabKey(parts[2]) || !IsValidName(parts[3])) {
    return std::nullopt;
  }
  return NodeRef{parts[2], parts[3]};
}

std::string LinkAlias(absl::string_view lab, const emu::v1::Link& link) {
  return absl::StrCat("emu lab=", lab, " link=", LinkName(link));
}

std::string EngineLinkAlias(absl::string_view lab, const emu::v1::Link& link) {
  return absl::StrCat(LinkAlias(lab, link), " engine=userspace");
}

bool IsLabAlias(absl::string_view alias, absl::string_view lab) {
  return absl::StartsWith(alias, absl::StrCat("emu lab=", lab, " "));
}

bool IsValidName(absl::string_view name) { return emu::IsValidName(name); }

}  // namespace emu::agent::net
