// How the agent names what it creates, so it can find exactly its own
// resources again after a restart and never touches anything else.
//
// A node's network namespace is /run/netns/emu.<host>.<lab>.<node>, where
// <lab> is the lab key (emu::LabKey: "core" for the cluster administrator's
// lab, "alice+core" for user alice's). Host, lab key and node names never
// contain '.', so the name parses back uniquely,
// and the host part keeps two agents on one machine (the local cluster)
// apart. Every veth end carries the alias "emu lab=<lab> link=<link>" (a
// TAP of the userspace engine the same plus " engine=userspace").
#ifndef EMU_AGENT_NET_RESOURCE_NAMES_H_
#define EMU_AGENT_NET_RESOURCE_NAMES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/topology.pb.h"
#include "proto/topology_names.h"

namespace emu::agent::net {

struct NodeRef {
  std::string lab;
  std::string node;
};

std::string NamespacePrefix(absl::string_view host);
std::string NamespacePrefix(absl::string_view host, absl::string_view lab);
std::string NamespaceName(absl::string_view host, absl::string_view lab,
                          absl::string_view node);
// The namespace `node` of `lab` lives in on `host`: its own, or for a
// community anchor (Node.foreign_lab) the exporting lab's segment's.
std::string NodeNamespace(absl::string_view host, absl::string_view lab,
                          const emu::v1::Node& node);
// Inverse of NamespaceName for this host; nullopt for foreign names.
std::optional<NodeRef> ParseNamespaceName(absl::string_view host,
                                          absl::string_view ns);

std::string LinkAlias(absl::string_view lab, const emu::v1::Link& link);
// The alias of both TAP ends of a link the userspace engine serves:
// LinkAlias plus " engine=userspace", so a veth and a TAP of the same link
// are told apart (a change of engine re-creates the ends).
std::string EngineLinkAlias(absl::string_view lab, const emu::v1::Link& link);
// True when `alias` marks an interface of `lab` created by emu.
bool IsLabAlias(absl::string_view alias, absl::string_view lab);

// containerlab's host links (Interface.host_end): both ends of the veth
// carry "emu lab=<lab> hostlink=<node>:<if><->host:<peer> host=<host>".
// The agent's host name is in it because every agent on a machine (the
// local cluster) shares the root namespace the host end lives in: each
// finds and removes only its own.
std::string HostEndAlias(absl::string_view host, absl::string_view lab,
                         absl::string_view node, absl::string_view ifname,
                         absl::string_view peer);
struct HostEndRef {
  std::string host;
  std::string lab;
  std::string node;
  std::string ifname;
  std::string peer;
};
// Inverse of HostEndAlias; nullopt for any other alias.
std::optional<HostEndRef> ParseHostEndAlias(absl::string_view alias);
// containerlab's dummy links (Interface.dummy): "emu lab=<lab>
// dummy=<node>:<if>".
std::string DummyAlias(absl::string_view lab, absl::string_view node,
                       absl::string_view ifname);
// containerlab's vxlan links (Interface.vxlan): "emu lab=<lab>
// vxlan=<node>:<if> vni=<vni> remote=<address> port=<port>" (a change of
// the far side is a new alias, so the device is made again).
std::string VxlanEndAlias(absl::string_view lab, absl::string_view node,
                          absl::string_view ifname, uint32_t vni,
                          absl::string_view remote, uint32_t port);

// The management network (ApplyLabRequest.mgmt; docs/topology.md,
// "Management network"): one bridge per lab in the agent's host namespace,
// "emu lab=<lab> mgmt=<bridge> host=<host>". Its name, unless the lab
// names it: "emm" and 8 hex digits of a hash of host and lab key.
std::string MgmtBridgeAlias(absl::string_view host, absl::string_view lab,
                            absl::string_view bridge);
struct MgmtBridgeRef {
  std::string host;
  std::string lab;
  std::string bridge;
};
// Inverse of MgmtBridgeAlias; nullopt for any other alias.
std::optional<MgmtBridgeRef> ParseMgmtBridgeAlias(absl::string_view alias);
std::string MgmtBridgeName(absl::string_view host, absl::string_view lab);
// The host end of a node's management interface (Interface.mgmt with an
// unnamed host_end): "emg" and 8 hex digits of a hash of host, lab key,
// node and interface. Owned like a host link's end (HostEndAlias).
std::string MgmtHostEndName(absl::string_view host, absl::string_view lab,
                            absl::string_view node, absl::string_view ifname);

// Lab, node and host names: emu::IsValidName (proto/topology_names.h), the
// one rule the controller checks too; kept here so agent code reads as
// before.
bool IsValidName(absl::string_view name);

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_RESOURCE_NAMES_H_
