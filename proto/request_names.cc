#include "proto/request_names.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/topology_names.h"

namespace emu::request_names {
namespace {

// A capture filter is compiled by libpcap, not used as a name; bounded.
constexpr size_t kMaxCaptureFilterLength = 1024;

// Longest run id: a lab key, a time and a counter.
constexpr size_t kMaxRunIdLength = 128;
constexpr size_t kMaxImageNameLength = 64;
// Linux's IFNAMSIZ less the terminating NUL.
constexpr size_t kMaxInterfaceNameLength = 15;

// A name as it may appear in a message: escaped (no control character
// reaches a terminal or a log) and cut.
std::string Shown(absl::string_view name) {
  std::string shown = absl::CHexEscape(name.substr(0, 64));
  if (name.size() > 64) absl::StrAppend(&shown, "...");
  return shown;
}

absl::Status Bad(absl::string_view field, absl::string_view what,
                 absl::string_view name, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": ", what, " '", Shown(name), "' ", rule));
}

// emu::CheckName, its message prefixed with the field and escaped.
absl::Status Name(absl::string_view field, absl::string_view what,
                  absl::string_view name) {
  if (IsValidName(name)) return absl::OkStatus();
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", what, " name is empty"));
  }
  return Bad(field, absl::StrCat(what, " name"), name,
             absl::StrCat("may use only 1-", kMaxNameLength,
                          " letters, digits, '_' and '-'"));
}

absl::Status Endpoint(absl::string_view field, const emu::v1::Endpoint& e) {
  if (absl::Status s = Name(absl::StrCat(field, ".node"), "node", e.node());
      !s.ok()) {
    return s;
  }
  return CheckInterfaceName(absl::StrCat(field, ".interface"), e.interface());
}

absl::Status Link(absl::string_view field, const emu::v1::Link& link) {
  if (absl::Status s = Endpoint(absl::StrCat(field, ".a"), link.a()); !s.ok()) {
    return s;
  }
  return Endpoint(absl::StrCat(field, ".b"), link.b());
}

absl::Status RunId(absl::string_view field, absl::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxRunIdLength;
  for (char c : id) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '_' || c == '-' || c == kLabKeySeparator);
  }
  if (ok) return absl::OkStatus();
  return Bad(field, "run id", id,
             "is not a run id (from `emuctl runs`: letters, digits, '_', "
             "'-', '+')");
}

// A user name, or "*" (every user) where `all` allows it.
absl::Status Grantee(absl::string_view field, absl::string_view name) {
  if (name == "*") return absl::OkStatus();
  return Name(field, "user", name);
}

#define EMU_CHECK_NAME(expr)              \
  do {                                    \
    absl::Status _s = (expr);             \
    if (!_s.ok()) return _s;              \
  } while (false)

// What a capture names besides its lab: the node, the interface, and a
// filter of bounded size without NUL (libpcap takes a C string).
absl::Status CaptureTarget(const emu::v1::CaptureRequest& r) {
  EMU_CHECK_NAME(Name("node", "node", r.node()));
  EMU_CHECK_NAME(CheckInterfaceName("interface", r.interface()));
  if (r.filter().size() > kMaxCaptureFilterLength ||
      r.filter().find('\0') != std::string::npos) {
    return Bad("filter", "capture filter", r.filter(),
               absl::StrCat("must be at most ", kMaxCaptureFilterLength,
                            " bytes without NUL"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckInterfaceName(absl::string_view field,
                                absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": interface name is empty"));
  }
  bool ok = name.size() <= kMaxInterfaceNameLength && name != "." &&
            name != "..";
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '_' || c == '.' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return Bad(field, "interface name", name,
             "may use only 1-15 letters, digits, '_', '.' and '-' (the "
             "topology validator's rule)");
}

absl::Status CheckLabRef(absl::string_view field, absl::string_view ref) {
  const size_t slash = ref.find('/');
  if (slash == absl::string_view::npos) return Name(field, "lab", ref);
  if (IsValidName(ref.substr(0, slash)) && IsValidName(ref.substr(slash + 1))) {
    return absl::OkStatus();
  }
  return Bad(field, "lab", ref,
             "is not LAB or OWNER/LAB (each 1-32 letters, digits, '_' or "
             "'-')");
}

absl::Status CheckLabKey(absl::string_view field, absl::string_view key) {
  if (IsValidLabKey(key)) return absl::OkStatus();
  return Bad(field, "lab key", key,
             "is not LAB or OWNER+LAB (each 1-32 letters, digits, '_' or "
             "'-')");
}

absl::Status CheckImageName(absl::string_view field, absl::string_view image) {
  if (image.empty()) return absl::OkStatus();
  bool ok = image.size() <= kMaxImageNameLength && image[0] != '.' &&
            image[0] != '-';
  for (char c : image) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '_' || c == '.' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return Bad(field, "image", image,
             "is not an image name (a directory under the agent's image "
             "root: 1-64 letters, digits, '_', '.', '-')");
}

absl::Status CheckPackageName(absl::string_view field, absl::string_view name) {
  bool ok = name.size() >= 2 && name.size() <= 64 &&
            (absl::ascii_islower(static_cast<unsigned char>(name[0])) ||
             absl::ascii_isdigit(static_cast<unsigned char>(name[0])));
  for (char c : name) {
    ok = ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                c == '+' || c == '-' || c == '.');
  }
  if (ok) return absl::OkStatus();
  return Bad(field, "package", name,
             "is not a Debian package name (2-64 of a-z, 0-9, '+', '-', '.')");
}

namespace controller {

absl::Status Check(const emu::v1::GetLabRequest& r) {
  return CheckLabRef("lab", r.lab());
}
absl::Status Check(const emu::v1::DestroyLabRequest& r) {
  return CheckLabRef("lab", r.lab());
}
absl::Status Check(const emu::v1::LabExecRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  return Name("node", "node", r.node());
}
absl::Status Check(const emu::v1::LabSetLinkParamsRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  // "a:eth1<->b:eth1", or one end "a:eth1".
  std::vector<std::string> ends = absl::StrSplit(r.link(), "<->");
  if (ends.size() > 2) {
    return Bad("link", "link", r.link(), "is not NODE:IF or NODE:IF<->NODE:IF");
  }
  for (const std::string& end : ends) {
    std::vector<std::string> parts = absl::StrSplit(end, absl::MaxSplits(':', 1));
    if (parts.size() != 2) {
      return Bad("link", "link", r.link(),
                 "is not NODE:IF or NODE:IF<->NODE:IF");
    }
    if (parts[0] == "community") {
      // A community attachment as `emuctl status` names it:
      // community:OWNER/NAME or community:NAME.
      std::vector<std::string> names = absl::StrSplit(parts[1], '/');
      if (names.size() > 2) {
        return Bad("link", "community endpoint", parts[1],
                   "is not OWNER/NAME or NAME");
      }
      for (const std::string& n : names) {
        EMU_CHECK_NAME(Name("link", "community endpoint", n));
      }
      continue;
    }
    if (absl::StrContains(parts[1], ':')) {
      // Two ends joined by something other than "<->" (a:eth1-b:eth1).
      return Bad("link", "link", r.link(),
                 "is not NODE:IF or NODE:IF<->NODE:IF (join the two ends "
                 "with '<->', as emuctl status shows them)");
    }
    EMU_CHECK_NAME(Name("link", "node", parts[0]));
    EMU_CHECK_NAME(CheckInterfaceName("link", parts[1]));
  }
  return absl::OkStatus();
}
absl::Status Check(const emu::v1::RemoveHostRequest& r) {
  return Name("host", "host", r.host());
}
absl::Status Check(const emu::v1::SetCommunityExportRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  EMU_CHECK_NAME(Name("spec.name", "export name", r.spec().name()));
  if (!r.spec().segment().empty()) {
    EMU_CHECK_NAME(Name("spec.segment", "node", r.spec().segment()));
  }
  if (r.spec().has_interface()) {
    EMU_CHECK_NAME(Name("spec.interface", "node", r.spec().interface().node()));
    EMU_CHECK_NAME(
        CheckInterfaceName("spec.interface", r.spec().interface().interface()));
  }
  for (const std::string& user : r.spec().to()) {
    EMU_CHECK_NAME(Grantee("spec.to", user));
  }
  return absl::OkStatus();
}
absl::Status Check(const emu::v1::RunExperimentRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  for (const auto& [key, value] : r.params()) {
    EMU_CHECK_NAME(Name("params", "parameter", key));
  }
  return absl::OkStatus();
}
absl::Status Check(const emu::v1::WatchExperimentRunRequest& r) {
  return RunId("run_id", r.run_id());
}
absl::Status Check(const emu::v1::CancelExperimentRunRequest& r) {
  return RunId("run_id", r.run_id());
}
absl::Status Check(const emu::v1::AddTasksRequest& r) {
  return RunId("run_id", r.run_id());
}
absl::Status Check(const emu::v1::AddUserRequest& r) {
  return Name("name", "user", r.name());
}
absl::Status Check(const emu::v1::RemoveUserRequest& r) {
  return Name("name", "user", r.name());
}
absl::Status Check(const emu::v1::RotateTokenRequest& r) {
  return Name("name", "user", r.name());
}
absl::Status Check(const emu::v1::ShareLabRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  return Grantee("grantee", r.grantee());
}
absl::Status Check(const emu::v1::UnshareLabRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  return Grantee("grantee", r.grantee());
}

absl::Status Check(const emu::v1::CaptureRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  return CaptureTarget(r);
}
absl::Status Check(const emu::v1::GetLabStatsRequest& r) {
  return CheckLabRef("lab", r.lab());
}

absl::Status Check(const emu::v1::ListImagesRequest& r) {
  for (const std::string& h : r.hosts()) {
    EMU_CHECK_NAME(Name("hosts", "host", h));
  }
  return absl::OkStatus();
}
absl::Status Check(const emu::v1::BuildImageRequest& r) {
  // An image to build has a name (empty means "default" only where a node
  // names its image).
  if (r.name().empty()) return Bad("name", "image", r.name(), "is empty");
  EMU_CHECK_NAME(CheckImageName("name", r.name()));
  // The recipe only selects a script built into the agent (ImageStore
  // refuses an unknown one); it reaches no path or command line.
  for (const std::string& p : r.packages()) {
    EMU_CHECK_NAME(CheckPackageName("packages", p));
  }
  for (const std::string& h : r.hosts()) {
    EMU_CHECK_NAME(Name("hosts", "host", h));
  }
  return absl::OkStatus();
}

absl::Status Check(const emu::v1::ConsoleInput& first) {
  EMU_CHECK_NAME(CheckLabRef("lab", first.lab()));
  return Name("node", "node", first.node());
}

absl::Status Check(const emu::v1::RestartNodeRequest& r) {
  EMU_CHECK_NAME(CheckLabRef("lab", r.lab()));
  return Name("node", "node", r.node());
}

}  // namespace controller

namespace agent {

absl::Status Check(const emu::v1::ApplyLabRequest& r) {
  EMU_CHECK_NAME(CheckLabKey("lab", r.lab()));
  for (int i = 0; i < r.nodes_size(); ++i) {
    const emu::v1::Node& n = r.nodes(i);
    const std::string f = absl::StrCat("nodes[", i, "]");
    EMU_CHECK_NAME(Name(f + ".name", "node", n.name()));
    // Only a guest's image names a directory (others are ignored, and a
    // containerlab file's "alpine:3" is fine there).
    if (n.kind() == emu::v1::NODE_KIND_QEMU) {
      EMU_CHECK_NAME(CheckImageName(f + ".image", n.image()));
    }
    for (int j = 0; j < n.interfaces_size(); ++j) {
      EMU_CHECK_NAME(CheckInterfaceName(
          absl::StrCat(f, ".interfaces[", j, "].name"), n.interfaces(j).name()));
    }
    if (!n.foreign_lab().empty()) {
      EMU_CHECK_NAME(CheckLabKey(f + ".foreign_lab", n.foreign_lab()));
      EMU_CHECK_NAME(Name(f + ".foreign_node", "node", n.foreign_node()));
    }
  }
  for (int i = 0; i < r.links_size(); ++i) {
    EMU_CHECK_NAME(Link(absl::StrCat("links[", i, "]"), r.links(i)));
  }
  for (int i = 0; i < r.remote_links_size(); ++i) {
    const emu::v1::RemoteLinkEnd& e = r.remote_links(i);
    const std::string f = absl::StrCat("remote_links[", i, "]");
    EMU_CHECK_NAME(Link(f + ".link", e.link()));
    EMU_CHECK_NAME(Name(f + ".peer_host", "host", e.peer_host()));
  }
  return absl::OkStatus();
}
absl::Status Check(const emu::v1::SetLinkParamsRequest& r) {
  EMU_CHECK_NAME(CheckLabKey("lab", r.lab()));
  EMU_CHECK_NAME(Endpoint("a", r.a()));
  return Endpoint("b", r.b());
}
absl::Status Check(const emu::v1::ExecRequest& r) {
  EMU_CHECK_NAME(CheckLabKey("lab", r.lab()));
  return Name("node", "node", r.node());
}
absl::Status Check(const emu::v1::ListResourcesRequest& r) {
  if (r.lab().empty()) return absl::OkStatus();  // every lab
  return CheckLabKey("lab", r.lab());
}
absl::Status Check(const emu::v1::DestroyLabRequest& r) {
  return CheckLabKey("lab", r.lab());
}
absl::Status Check(const emu::v1::ConsoleInput& first) {
  EMU_CHECK_NAME(CheckLabKey("lab", first.lab()));
  return Name("node", "node", first.node());
}
absl::Status Check(const emu::v1::RestartNodeRequest& r) {
  EMU_CHECK_NAME(CheckLabKey("lab", r.lab()));
  return Name("node", "node", r.node());
}
absl::Status Check(const emu::v1::BuildImageRequest& r) {
  return controller::Check(r);
}

absl::Status Check(const emu::v1::CaptureRequest& r) {
  EMU_CHECK_NAME(CheckLabKey("lab", r.lab()));
  return CaptureTarget(r);
}
absl::Status Check(const emu::v1::GetLabStatsRequest& r) {
  return CheckLabKey("lab", r.lab());
}

}  // namespace agent

#undef EMU_CHECK_NAME

}  // namespace emu::request_names
