// Programs a QdiscPlan on one network interface through libnl-route-3
// (rtnetlink), and lists what the kernel has on it. No `tc` processes.
//
// Layout (see qdisc_plan.h LayoutFor): NetEm, when wanted, is the root qdisc
// (handle 1:) and TBF its child (handle 10:, parent 1:1); TBF alone is the
// root (1:). NetEm sits on top because that is the arrangement sch_netem is
// built for: netem keeps packets in its time-ordered queue until their
// send time and then hands them to its child, whose watchdog wakes the root
// when TBF has tokens again. TBF on top with netem as its child makes TBF
// peek a non-work-conserving child; the netem documentation and iproute2's
// examples use the netem-on-top form, and the end-to-end delay is the same
// (delay + queueing at the rate) either way. Not measured here: this
// machine's kernel has no sch_netem.
//
// Idempotent: re-applying the same plan replaces each qdisc in place
// (NLM_F_CREATE | NLM_F_REPLACE), which the kernel turns into a parameter
// change. When the layout must change (netem added or removed, a foreign
// root qdisc), the current root is deleted first and the layout rebuilt;
// if that rebuild fails half way the interface is left with fewer qdiscs
// than planned, never with a wrong one. An empty plan deletes the root
// qdisc, if any was configured (the kernel's default root, handle 0, is
// left alone).
//
// Thread-safety: functions here use the given socket and are as
// thread-safe as the caller's use of it: one thread per socket at a time.
// They do not own the socket.
#ifndef EMU_LINKEMU_LIBNL_QDISC_H_
#define EMU_LINKEMU_LIBNL_QDISC_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "linkemu/qdisc_plan.h"

struct nl_sock;
struct rtnl_qdisc;

namespace emu::linkemu {

// Makes the qdiscs on interface `ifindex` match `plan`. `sock` is a
// connected NETLINK_ROUTE socket in the interface's namespace.
// `ifname_for_errors` names the interface in errors: "set tbf on
// r1:eth1: Invalid argument (...)". A kernel without the qdisc kind gives
// FAILED_PRECONDITION: "set netem on r1:eth1: this kernel has no sch_netem
// (...)".
absl::Status ApplyQdiscPlan(nl_sock* sock, int ifindex,
                            absl::string_view ifname_for_errors,
                            const QdiscPlan& plan);

// Every qdisc the kernel reports on `ifindex`, in dump order, including its
// default root (handle 0) and ingress/clsact if present.
absl::StatusOr<std::vector<QdiscInfo>> ListQdiscs(nl_sock* sock, int ifindex);

// Owning handle for a libnl qdisc object.
struct RtnlQdiscDeleter {
  void operator()(rtnl_qdisc* q) const;
};
using RtnlQdiscPtr = std::unique_ptr<rtnl_qdisc, RtnlQdiscDeleter>;

// The libnl objects ApplyQdiscPlan sends (exposed so tests can check the
// netlink messages they turn into without a kernel).
RtnlQdiscPtr BuildNetemQdisc(int ifindex, uint32_t parent, uint32_t handle,
                             const NetemSpec& spec);
RtnlQdiscPtr BuildTbfQdisc(int ifindex, uint32_t parent, uint32_t handle,
                           const TbfSpec& spec);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_LIBNL_QDISC_H_
