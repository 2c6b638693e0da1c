// Which engine applies one direction's conditions, and what the userspace
// engine is told (docs/topology.md, "Choosing the engine").
//
// One decision, used by the controller (placement: can this host serve the
// node's links? status: which engine each direction uses) and by the agent
// (veth + qdiscs, or two TAPs served by its LinkEngine), so they agree.
//
//  * A direction's engine is its LinkParams.engine, else the lab's
//    (Topology.engine), else AUTO.
//  * AUTO: the kernel (TBF, NetEm) when the sending host's kernel can apply
//    every condition (rate alone needs only TBF; delay, loss, ... need
//    sch_netem), else the userspace engine. Conditions only the userspace
//    engine has (UserspaceOnlyKeys: distribution, gilbert-elliott, ber, ...)
//    always take it, and so does a direction with a delay that asks for
//    compensation (its `compensate`, else the lab's): only the engine
//    subtracts the path's base latency. (Where the agent runs no engine,
//    such a direction stays with the kernel, uncompensated.)
//  * KERNEL: TBF/NetEm, refused where the kernel lacks sch_netem and NetEm
//    is needed (as before the engine existed).
//  * USERSPACE: always the engine.
//  * A QEMU guest's end of a same-host link is wired like a namespace's (a
//    veth end, or a TAP of the engine, joined to the guest's NIC by two
//    mirred redirects), so the engine serves both directions of a guest
//    link as it does for namespaces. The one difference: KERNEL (and AUTO
//    where the agent runs no engine) for a direction the guest sends is the
//    guest's own NetEm, programmed inside it (its kernel has sch_netem);
//    rate alone is TBF on the host side. A cross-host link's end is a host
//    TAP whatever the node (its sender is not a guest here): the kernel on
//    the TAP, or the tunnel's egress pipeline (TunnelPump::SetEgress).
//  * A same-host link is a veth pair unless a direction uses the engine;
//    then both ends are TAPs and every frame crosses the engine, so its
//    other direction is "userspace" too unless it is KERNEL with conditions
//    (TBF/NetEm on its TAP, frames then passed through unchanged).
//
// Pure functions; thread-safe.
#ifndef EMU_LINKEMU_ENGINE_CHOICE_H_
#define EMU_LINKEMU_ENGINE_CHOICE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "linkemu/impair/impairment_spec.h"
#include "linkemu/qdisc_plan.h"
#include "proto/topology.pb.h"

namespace emu::linkemu {

enum class EngineUse {
  kNone,       // no conditions: the kernel's default qdisc
  kKernel,     // TBF and/or NetEm on the sending interface
  kUserspace,  // the agent's LinkEngine
};

// "none", "kernel", "userspace" (LinkStatus.engine_a_to_b).
const char* EngineUseName(EngineUse use);

// "auto", "kernel", "userspace" (UNSPECIFIED reads "auto").
const char* EngineChoiceName(emu::v1::LinkEngineChoice choice);

// "auto", "kernel", "userspace" -> the choice; INVALID_ARGUMENT naming the
// accepted words otherwise. (Topology files and emuctl link set.)
absl::StatusOr<emu::v1::LinkEngineChoice> ParseEngineChoice(
    absl::string_view text);

// tc-netem's distribution names: "uniform", "normal", "pareto",
// "paretonormal" (the other way: DelayDistributionName, qdisc_plan.h).
absl::StatusOr<emu::v1::DelayDistributionKind> ParseDelayDistribution(
    absl::string_view text);

// What the sending side offers.
struct SenderSide {
  bool netem = false;      // its host's kernel has sch_netem
  bool userspace = false;  // its agent runs the userspace engine
  bool guest = false;      // a QEMU guest (its own NetEm: engine kernel)
};

// The engine of one direction. FAILED_PRECONDITION when the sender cannot
// apply `p` with the chosen engine; the message says why in the file's
// words ("delay ... need NetEm, but the kernel has no sch_netem ...") and
// the caller adds the host and link.
// `lab_compensate` is the lab's Topology.compensate.
absl::StatusOr<EngineUse> ChooseDirectionEngine(
    const emu::v1::LinkParams& p, emu::v1::LinkEngineChoice lab_engine,
    bool lab_compensate, const SenderSide& sender);

struct LinkEngines {
  EngineUse a_to_b = EngineUse::kNone;
  EngineUse b_to_a = EngineUse::kNone;
  // The ends are TAPs served by the engine (a direction uses it).
  bool userspace_link() const {
    return a_to_b == EngineUse::kUserspace || b_to_a == EngineUse::kUserspace;
  }
};

// Both directions of a same-host link (see the file comment). `a` and `b`
// describe each end as a sender. FAILED_PRECONDITION as above, naming the
// direction ("a-to-b: ...").
absl::StatusOr<LinkEngines> ChooseLinkEngines(
    const emu::v1::Link& link, emu::v1::LinkEngineChoice lab_engine,
    bool lab_compensate, const SenderSide& a, const SenderSide& b);

// A direction of a cross-host link carried by a kernel VXLAN device (a
// lab's `carrier: vxlan`, docs/tunnel.md "Kernel VXLAN"): frames go from
// the node's stack straight into the device, so the userspace engine
// cannot sit on the path and only the sender's kernel shapes it (TBF,
// NetEm where the host has it). "" when `sender` (its real capabilities)
// can send `p` that way; else why not, in the file's words, for the caller
// to prefix with the link, direction and host. The controller's placement
// (before anything is made) and the agent (CheckRemoteLinks) both ask it.
std::string VxlanDirectionProblem(const emu::v1::LinkParams& p,
                                  emu::v1::LinkEngineChoice lab_engine,
                                  const SenderSide& sender);

// Whether a direction's delay is compensated for its path's base latency
// (docs/linkemu.md, "Compensating the path's base latency"): its own
// `compensate` when set, else the lab's.
bool CompensationWanted(const emu::v1::LinkParams& p, bool lab_compensate);

// THE conversion of a direction's LinkParams into the engine's terms.
// Expects `p` free of LinkParamsProblems.
ImpairmentSpec ImpairmentSpecFor(const emu::v1::LinkParams& p);

// The engine's seed for one link: a stable mix of the lab's seed and the
// link's name (FNV-1a), so each link draws its own sequence and the same lab
// replays the same. `lab_seed` 0 (no seed: set) mixes in `fallback`, which
// the agent takes from a random source.
uint64_t LinkSeed(uint64_t lab_seed, absl::string_view link_name,
                  uint64_t fallback);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_ENGINE_CHOICE_H_
