// Text of `emuctl plan`: where each node would run, each host's load against
// its capacity and balance limit, and the links that would cross hosts.
#ifndef EMU_CLI_PLAN_RENDER_H_
#define EMU_CLI_PLAN_RENDER_H_

#include <string>

#include "proto/plan.pb.h"

namespace emu::cli {

// Sections HOSTS (HOST NODES CPU LIMIT MEMORY), NODES (NODE HOST PINNED) and
// CUT LINKS (LINK HOSTS RATE), with a summary line first.
std::string RenderPlan(const v1::PlanLabResponse& plan);

}  // namespace emu::cli

#endif  // EMU_CLI_PLAN_RENDER_H_
