#include "agent/net/host_cleanup.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/net/resource_names.h"

namespace emu::agent::net {

HostCleanupResult RemoveHostResources(absl::string_view host, HostNetwork* net,
                                      NamespaceProcesses* procs,
                                      absl::Duration grace) {
  HostCleanupResult result;
  if (!IsValidName(host)) {
    // An empty or dotted host would widen the prefix to other hosts' names.
    result.status = absl::InvalidArgumentError(
        absl::StrCat("clean up host '", host, "': not a valid host name"));
    return result;
  }
  absl::StatusOr<std::vector<std::string>> namespaces =
      net->ListNamespaces(NamespacePrefix(host));
  if (!namespaces.ok()) {
    result.status = absl::Status(
        namespaces.status().code(),
        absl::StrCat("clean up host ", host,
                     ": list namespaces: ", namespaces.status().message()));
    return result;
  }
  auto note = [&result](const absl::Status& s) {
    if (!s.ok() && result.status.ok()) result.status = s;
  };
  // The host's ends of containerlab host links (HostEndAlias naming this
  // host) in the root namespace; the kernel would take them with their
  // node's namespace, but only once its last process is gone.
  if (auto root = net->ListInterfaces(""); root.ok()) {
    for (const auto& i : *root) {
      auto owner = ParseHostEndAlias(i.alias);
      auto bridge = ParseMgmtBridgeAlias(i.alias);
      if ((!owner || owner->host != host) &&
          (!bridge || bridge->host != host)) {
        continue;
      }
      absl::Status deleted = net->DeleteInterface("", i.name);
      if (deleted.ok()) {
        result.removed_host_ends.push_back(i.name);
      } else {
        note(deleted);
      }
    }
  } else {
    note(root.status());
  }
  for (const std::string& ns : *namespaces) {
    // A process left inside would keep the namespace (and a TAP's tunnel)
    // alive after its file is gone; end them first.
    absl::Status killed = procs->KillAll(ns, grace);
    if (!killed.ok() && !absl::IsNotFound(killed)) {
      note(absl::Status(killed.code(),
                        absl::StrCat("end processes in namespace ", ns, ": ",
                                     killed.message())));
    }
    absl::Status deleted = net->DeleteNamespace(ns);
    if (deleted.ok()) {
      result.removed.push_back(ns);
    } else {
      note(absl::Status(deleted.code(), absl::StrCat("delete namespace ", ns,
                                                     ": ", deleted.message())));
    }
  }
  return result;
}

bool ArgvIsAgentOf(const std::vector<std::string>& argv,
                   absl::string_view host) {
  if (argv.empty()) return false;
  absl::string_view exe = argv[0];
  if (size_t slash = exe.rfind('/'); slash != absl::string_view::npos) {
    exe.remove_prefix(slash + 1);
  }
  if (exe != "emu-agent") return false;
  bool serves = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    absl::string_view a = argv[i];
    if (a == "--cleanup" || a == "-cleanup" || a == "--cleanup=true") {
      return false;
    }
    if (a == absl::StrCat("--host_name=", host) ||
        a == absl::StrCat("-host_name=", host) ||
        ((a == "--host_name" || a == "-host_name") && i + 1 < argv.size() &&
         argv[i + 1] == host)) {
      serves = true;
    }
  }
  return serves;
}

std::vector<pid_t> FindAgentProcesses(absl::string_view host) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) ||
        pid == getpid()) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    std::string cmdline = content.str();
    if (cmdline.empty()) continue;  // kernel thread, zombie, or gone
    if (cmdline.back() == '\0') cmdline.pop_back();
    std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
    if (ArgvIsAgentOf(argv, host)) found.push_back(pid);
  }
  return found;
}

}  // namespace emu::agent::net
