// One progress event of an apply (ApplyLabEvent), as the reconciler's files
// (reconciler.cc, reconciler_special_ends.cc) report it.
#ifndef EMU_AGENT_RECONCILE_APPLY_EVENT_H_
#define EMU_AGENT_RECONCILE_APPLY_EVENT_H_

#include <string>
#include <utility>

#include "proto/agent.pb.h"

namespace emu::agent::reconcile {

inline emu::v1::ApplyLabEvent MakeApplyEvent(emu::v1::ApplyLabEvent::Kind kind,
                                             std::string object,
                                             std::string detail = "") {
  emu::v1::ApplyLabEvent e;
  e.set_kind(kind);
  e.set_object(std::move(object));
  e.set_detail(std::move(detail));
  return e;
}

}  // namespace emu::agent::reconcile

#endif  // EMU_AGENT_RECONCILE_APPLY_EVENT_H_
