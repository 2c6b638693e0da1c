#include "cli/node_agent.h"

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/auth.h"
#include "common/pki/pki.h"
#include "common/transport_security.h"
#include "proto/topology_names.h"

namespace emu::cli {

absl::StatusOr<NodeAgent> FindGuestAgent(ControllerConnection& c,
                                         const std::string& lab,
                                         const std::string& node) {
  v1::GetLabRequest get;
  get.set_lab(lab);
  v1::Lab l;
  grpc::Status s = c.stub().GetLab(c.NewContext(kUnaryTimeout).get(), get, &l);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        c.Describe(s, "GetLab"));
  }
  NodeAgent agent;
  agent.lab_key = LabKey(
      l.owner().empty() || l.owner() == Caller::kAdminName ? "" : l.owner(), l.name());
  for (const auto& n : l.nodes()) {
    if (n.name() != node) continue;
    if (n.kind() != v1::NODE_KIND_QEMU) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", node, " of lab ", lab,
          " is not a qemu guest (console and restart are for guests; use "
          "`emuctl exec` for namespaces)"));
    }
    agent.host = n.host();
  }
  if (agent.host.empty()) {
    return absl::NotFoundError(
        absl::StrCat("lab ", lab, " has no node ", node));
  }
  v1::ListHostsResponse hosts;
  s = c.stub().ListHosts(c.NewContext(kUnaryTimeout).get(),
                         v1::ListHostsRequest(), &hosts);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        c.Describe(s, "ListHosts"));
  }
  for (const auto& h : hosts.hosts()) {
    if (h.name() == agent.host) agent.address = h.address();
  }
  if (agent.address.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "host ", agent.host, " of node ", node, " is not known to the "
        "controller"));
  }
  // Agents accept calls from the controller's certificate only: on the
  // cluster's own machine (root, the local cluster) emuctl presents it.
  TransportSecurity transport = TransportSecurity::Plaintext();
  if (!c.target().pki_dir.empty()) {
    absl::StatusOr<TransportSecurity> t = LoadDaemonTransport(
        c.target().pki_dir, common::pki::Role::kController, "", false);
    if (!t.ok()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "console and restart talk to host ", agent.host,
          "'s agent directly, which accepts only the controller's "
          "certificate: ", t.status().message()));
    }
    transport = *std::move(t);
  } else if (!c.target().ca_pem.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "console and restart talk to host ", agent.host,
        "'s agent directly, which accepts only the controller's certificate "
        "(run emuctl on the controller's machine with its cluster file)"));
  }
  agent.stub = v1::GuestService::NewStub(
      NewChannel(transport, agent.address, agent.host));
  return agent;
}

}  // namespace emu::cli
