#include "proto/topology_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace emu {

std::string EndpointName(absl::string_view node, absl::string_view interface) {
  return absl::StrCat(node, ":", interface);
}

std::string EndpointName(const emu::v1::Endpoint& endpoint) {
  return EndpointName(endpoint.node(), endpoint.interface());
}

std::string LinkName(const emu::v1::Link& link) {
  return absl::StrCat(EndpointName(link.a()), "<->", EndpointName(link.b()));
}

std::string VxlanEndText(const emu::v1::VxlanEnd& vxlan) {
  const bool v6 = vxlan.remote().find(':') != std::string::npos;
  return absl::StrCat(vxlan.stitch() ? "vxlan-stitch " : "vxlan ", vxlan.vni(),
                      " to ", v6 ? "[" : "", vxlan.remote(), v6 ? "]" : "",
                      ":", vxlan.port());
}

std::string SourceText(const emu::v1::SourceRef& source) {
  if (source.file().empty()) {
    return source.line() > 0 ? absl::StrCat("line ", source.line()) : "";
  }
  if (source.line() <= 0) return source.file();
  return absl::StrCat(source.file(), ":", source.line());
}

std::string SourcePrefix(const emu::v1::SourceRef& source) {
  std::string text = SourceText(source);
  if (!text.empty()) text += ": ";
  return text;
}

std::string NodeKindName(emu::v1::NodeKind kind) {
  switch (kind) {
    case emu::v1::NODE_KIND_UNSPECIFIED:
    case emu::v1::NODE_KIND_NETNS:
      return "netns";
    case emu::v1::NODE_KIND_QEMU:
      return "qemu";
    case emu::v1::NODE_KIND_BRIDGE:
      return "bridge";
    case emu::v1::NODE_KIND_SWITCH:
      return "switch";
    case emu::v1::NODE_KIND_HUB:
      return "hub";
    default:
      return absl::StrCat("kind ", static_cast<int>(kind));
  }
}

bool IsSpecialEnd(const emu::v1::Interface& i) {
  return i.dummy() || i.has_host_end() || i.has_vxlan();
}

bool IsSegmentKind(emu::v1::NodeKind kind) {
  return kind == emu::v1::NODE_KIND_BRIDGE ||
         kind == emu::v1::NODE_KIND_SWITCH || kind == emu::v1::NODE_KIND_HUB;
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status CheckName(absl::string_view what, absl::string_view name) {
  if (IsValidName(name)) return absl::OkStatus();
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name is empty"));
  }
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " name '", name.substr(0, 64), name.size() > 64 ? "..." : "",
        "' is longer than ", kMaxNameLength, " characters"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " name '", name, "' may use only letters, digits, '_' and '-'"));
}

std::string LabKey(absl::string_view owner, absl::string_view lab) {
  if (owner.empty()) return std::string(lab);
  return absl::StrCat(owner, std::string(1, kLabKeySeparator), lab);
}

bool IsValidLabKey(absl::string_view key) {
  const size_t sep = key.find(kLabKeySeparator);
  if (sep == absl::string_view::npos) return IsValidName(key);
  return IsValidName(key.substr(0, sep)) && IsValidName(key.substr(sep + 1));
}

LabKeyParts SplitLabKey(absl::string_view key) {
  const size_t sep = key.find(kLabKeySeparator);
  if (sep == absl::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, sep)), std::string(key.substr(sep + 1))};
}

}  // namespace emu
