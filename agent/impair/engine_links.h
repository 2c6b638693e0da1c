// EngineLinks: the same-host links of every lab that the agent's userspace
// impairment engine serves (linkemu/impair/link_engine.h). Each is two TAPs,
// one in each end's namespace under the interface's final name, MAC, MTU
// and an alias of the lab's (agent/net/resource_names.h EngineLinkAlias),
// handed to the one LinkEngine the agent owns.
//
// A TAP lives exactly as long as its fd, which the engine holds: removing a
// link (or the agent dying) removes both devices, and the restarted agent's
// reconciler re-creates them from the saved spec. The reconciler decides
// which links are here (linkemu/engine_choice.h) and observes the kernel;
// this class only remembers which engine link serves which lab link, so it
// can update or remove it.
//
// Thread-safe. Borrows the engine and the TAP opener (both may be shared).
#ifndef EMU_AGENT_IMPAIR_ENGINE_LINKS_H_
#define EMU_AGENT_IMPAIR_ENGINE_LINKS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/tunnel/tunnel_manager.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/impair/link_engine.h"
#include "linkemu/tap_device.h"
#include "proto/topology.pb.h"

namespace emu::agent::impair {

// One link as the engine serves it. The params are what the ENGINE applies
// per direction (an empty LinkParams passes frames through: a direction
// shaped by TBF/NetEm on its TAP). A direction with `compensate` set true
// (resolved by the caller: linkemu::CompensationWanted) gets its delay
// less the engine path's base latency (linkemu::BaseLatency).
struct EngineLinkSpec {
  std::string link;  // LinkName: "a:eth1<->b:eth1"
  linkemu::TapSpec tap_a;
  linkemu::TapSpec tap_b;
  emu::v1::LinkParams a_to_b;
  emu::v1::LinkParams b_to_a;
  uint64_t seed = 0;
};

class EngineLinks {
 public:
  // `engine` null: this agent has no userspace engine; Create then fails
  // with FAILED_PRECONDITION (the reconciler refuses such specs before).
  // `base` (may be null: compensation is then refused, FAILED_PRECONDITION)
  // measures the engine path's base latency the first time a compensated
  // direction with a delay needs it.
  EngineLinks(linkemu::LinkEngine* engine, tunnel::TapOpener* taps,
              linkemu::BaseLatency* base = nullptr);
  ~EngineLinks();

  EngineLinks(const EngineLinks&) = delete;
  EngineLinks& operator=(const EngineLinks&) = delete;

  bool available() const { return engine_ != nullptr; }

  // Removes the lab's engine links whose names are not in `keep` (their
  // TAPs go with them). Returns how many.
  int Retain(const std::string& lab,
             const absl::flat_hash_set<std::string>& keep);

  // Whether the engine serves `link` of `lab`.
  bool Has(const std::string& lab, const std::string& link) const;

  // Opens both TAPs and adds the link to the engine, replacing (removing
  // first) one of the same name. On failure nothing of it is left.
  absl::Status Create(const std::string& lab, const EngineLinkSpec& spec);

  // What each direction's path has beyond the engine path whose base the
  // agent measured (a guest end's NIC, linkemu::BasePart): added to a
  // compensated direction's base.
  struct PathParts {
    std::vector<linkemu::BasePart> a_to_b;
    std::vector<linkemu::BasePart> b_to_a;
  };

  // Live change of both directions (LinkEngine::Update: queued frames keep
  // their schedule). No call into the engine when nothing changed.
  // NOT_FOUND for a link the engine does not serve; the base probe's error
  // (naming the link and direction) when a compensated direction's base
  // cannot be measured, and then nothing changes.
  absl::Status Update(const std::string& lab, const std::string& link,
                      const emu::v1::LinkParams& a_to_b,
                      const emu::v1::LinkParams& b_to_a,
                      const PathParts& parts = {});

  // The engine path's base as a part of another path's base (a cross-host
  // link's: the TAPs and stacks at its ends, which the tunnel's echo does
  // not cross; TunnelManager::SetEgress): measured the first time it is
  // asked for (BaseLatency), "engine path probe". A failed measurement is
  // a part that says why; nullopt when this agent cannot measure it.
  std::optional<linkemu::BasePart> EnginePathPart();

  // Removes every engine link of `lab`; returns how many.
  int RemoveLab(const std::string& lab);

  // Removes every engine link, of any lab, with a TAP in a namespace whose
  // name starts with `netns_prefix`; returns how many. For a lab being
  // destroyed: another lab's community attachment has a TAP in its
  // segment's namespace, and an open TAP fd would keep that namespace
  // alive (TunnelManager::RemoveInNamespaces does the same for tunnels).
  int RemoveInNamespaces(const std::string& netns_prefix);

  // How a direction's delay was compensated (the figures emuctl linktest
  // and GetLabStats show).
  using Compensation = linkemu::DelayCompensation;

  // The lab's links the engine serves ("" = every lab's), sorted, with
  // their counters.
  struct Served {
    std::string lab;
    std::string link;
    std::optional<linkemu::LinkStats> stats;
    Compensation a_to_b;
    Compensation b_to_a;
  };
  std::vector<Served> List(const std::string& lab);

 private:
  struct Entry {
    linkemu::LinkEngine::LinkId id = 0;
    std::string a_to_b;  // serialized LinkParams last given to the engine
    std::string b_to_a;
    std::string parts;  // PartsKey of the PathParts last given
    std::string netns_a;  // where the TAPs are (RemoveInNamespaces)
    std::string netns_b;
    Compensation comp_a_to_b;
    Compensation comp_b_to_a;
  };

  // `p` as the engine applies it (compensated: less the base and the
  // measured `parts`), and what was done.
  absl::StatusOr<emu::v1::LinkParams> ForEngine(
      const std::string& link, const char* direction,
      const emu::v1::LinkParams& p,
      const std::vector<linkemu::BasePart>& parts, Compensation* how);
  using Key = std::pair<std::string, std::string>;  // lab, link

  linkemu::LinkEngine* const engine_;
  tunnel::TapOpener* const taps_;
  linkemu::BaseLatency* const base_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> links_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::impair

#endif  // EMU_AGENT_IMPAIR_ENGINE_LINKS_H_
