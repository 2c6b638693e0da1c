#include "agent/net/resource_names.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/guest/fnv1a.h"

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

std::string HostEndAlias(absl::string_view host, absl::string_view lab,
                         absl::string_view node, absl::string_view ifname,
                         absl::string_view peer) {
  return absl::StrCat("emu lab=", lab, " hostlink=", node, ":", ifname,
                      "<->host:", peer, " host=", host);
}

std::optional<HostEndRef> ParseHostEndAlias(absl::string_view alias) {
  // Names hold no ' ', ':' or '<' (lab keys, node names, interface names
  // as ValidateInterfaceName takes them: no ':' or whitespace; a '<' in
  // one is refused here rather than misread).
  std::vector<absl::string_view> words = absl::StrSplit(alias, ' ');
  if (words.size() != 4 || words[0] != "emu" ||
      !absl::ConsumePrefix(&words[1], "lab=") ||
      !absl::ConsumePrefix(&words[2], "hostlink=") ||
      !absl::ConsumePrefix(&words[3], "host=")) {
    return std::nullopt;
  }
  std::vector<absl::string_view> ends = absl::StrSplit(words[2], "<->");
  if (ends.size() != 2) return std::nullopt;
  std::vector<absl::string_view> node_end = absl::StrSplit(ends[0], ':');
  if (node_end.size() != 2 || !absl::ConsumePrefix(&ends[1], "host:") ||
      absl::StrContains(ends[1], ':')) {
    return std::nullopt;
  }
  HostEndRef ref{std::string(words[3]), std::string(words[1]),
                 std::string(node_end[0]), std::string(node_end[1]),
                 std::string(ends[1])};
  if (ref.host.empty() || ref.lab.empty() || ref.node.empty() ||
      ref.ifname.empty() || ref.peer.empty()) {
    return std::nullopt;
  }
  return ref;
}

std::string DummyAlias(absl::string_view lab, absl::string_view node,
                       absl::string_view ifname) {
  return absl::StrCat("emu lab=", lab, " dummy=", node, ":", ifname);
}

std::string VxlanEndAlias(absl::string_view lab, absl::string_view node,
                          absl::string_view ifname, uint32_t vni,
                          absl::string_view remote, uint32_t port) {
  return absl::StrCat("emu lab=", lab, " vxlan=", node, ":", ifname,
                      " vni=", vni, " remote=", remote, " port=", port);
}

std::string MgmtBridgeAlias(absl::string_view host, absl::string_view lab,
                            absl::string_view bridge) {
  return absl::StrCat("emu lab=", lab, " mgmt=", bridge, " host=", host);
}

std::optional<MgmtBridgeRef> ParseMgmtBridgeAlias(absl::string_view alias) {
  std::vector<absl::string_view> words = absl::StrSplit(alias, ' ');
  if (words.size() != 4 || words[0] != "emu" ||
      !absl::ConsumePrefix(&words[1], "lab=") ||
      !absl::ConsumePrefix(&words[2], "mgmt=") ||
      !absl::ConsumePrefix(&words[3], "host=") || words[1].empty() ||
      words[2].empty() || words[3].empty()) {
    return std::nullopt;
  }
  return MgmtBridgeRef{std::string(words[3]), std::string(words[1]),
                       std::string(words[2])};
}

namespace {
// 8 hex digits of a hash that is the same on every build and machine.
std::string StableHex(absl::string_view text) {
  return absl::StrFormat("%08x", static_cast<uint32_t>(
                                     emu::agent::guest::Fnv1a(text) >> 32));
}
}  // namespace

std::string MgmtBridgeName(absl::string_view host, absl::string_view lab) {
  return absl::StrCat("emm", StableHex(absl::StrCat(host, "/", lab)));
}

std::string MgmtHostEndName(absl::string_view host, absl::string_view lab,
                            absl::string_view node, absl::string_view ifname) {
  return absl::StrCat(
      "emg", StableHex(absl::StrCat(host, "/", lab, "/", node, ":", ifname)));
}

bool IsValidName(absl::string_view name) { return emu::IsValidName(name); }

}  // namespace emu::agent::net
