#include "agent/host_cleanup.h"

#include "absl/strings/str_cat.h"
#include "agent/resource_names.h"

namespace emu::agent {

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

}  // namespace emu::agent
