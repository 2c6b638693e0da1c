#include "linkemu/libnl_qdisc.h"

#include <linux/pkt_sched.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "linkemu/nl_error.h"

namespace emu::linkemu {
namespace {

// libnl's setters take int; the kernel fields are u32. The bit pattern is
// what matters (libnl stores it into a u32 again).
int AsInt(uint32_t v) { return static_cast<int>(v); }

RtnlQdiscPtr NewQdisc(int ifindex, uint32_t parent, uint32_t handle,
                      const char* kind) {
  RtnlQdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return q;
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  if (rtnl_tc_set_kind(TC_CAST(q.get()), kind) < 0) q.reset();
  return q;
}

bool IsRoot(const QdiscInfo& q) { return q.parent == kRootParent; }

// Qdiscs that hang off the egress tree (not ingress/clsact), excluding the
// kernel's handle-0 defaults.
std::vector<QdiscInfo> ConfiguredEgress(const std::vector<QdiscInfo>& all) {
  std::vector<QdiscInfo> out;
  for (const QdiscInfo& q : all) {
    if (q.handle == 0) continue;
    if (q.parent == TC_H_INGRESS || q.kind == "ingress" ||
        q.kind == "clsact") {
      continue;
    }
    out.push_back(q);
  }
  return out;
}

// The same qdiscs as `want`, ignoring order.
bool SameLayout(const std::vector<QdiscInfo>& have,
                const std::vector<QdiscInfo>& want) {
  if (have.size() != want.size()) return false;
  for (const QdiscInfo& w : want) {
    bool found = false;
    for (const QdiscInfo& h : have) found = found || h == w;
    if (!found) return false;
  }
  return true;
}

absl::Status AddQdisc(nl_sock* sock, rtnl_qdisc* q, const char* kind,
                      uint32_t parent, absl::string_view ifname) {
  const std::string what = absl::StrCat("set ", kind, " on ", ifname);
  if (q == nullptr) {
    return absl::InternalError(absl::StrCat(what, ": libnl has no ", kind));
  }
  NlErrorCapture capture(sock);
  int err = rtnl_qdisc_add(sock, q, NLM_F_CREATE | NLM_F_REPLACE);
  if (err == 0) return absl::OkStatus();
  absl::Status s = capture.ToStatus(err, what);
  if (capture.kernel_errno() == ENOENT &&
      (parent == kRootParent ||
       absl::StrContains(capture.kernel_message(), "kind is unknown"))) {
    const std::string why = capture.kernel_message().empty()
                                ? std::string(std::strerror(ENOENT))
                                : capture.kernel_message();
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": this kernel has no sch_", kind, " (", why, ")"));
  }
  return s;
}

absl::Status DeleteRoot(nl_sock* sock, int ifindex, const QdiscInfo& root,
                        absl::string_view ifname) {
  RtnlQdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return absl::ResourceExhaustedError("rtnl_qdisc_alloc");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
  rtnl_tc_set_handle(TC_CAST(q.get()), root.handle);
  NlErrorCapture capture(sock);
  int err = rtnl_qdisc_delete(sock, q.get());
  if (err == 0 || err == -NLE_OBJ_NOTFOUND) return absl::OkStatus();
  return capture.ToStatus(
      err, absl::StrCat("delete root qdisc ", root.kind, " ",
                        FormatTcHandle(root.handle), " on ", ifname));
}

struct ListContext {
  int ifindex;
  std::vector<QdiscInfo>* out;
};

void CollectQdisc(nl_object* obj, void* arg) {
  auto* ctx = static_cast<ListContext*>(arg);
  auto* tc = TC_CAST(obj);
  if (rtnl_tc_get_ifindex(tc) != ctx->ifindex) return;
  const char* kind = rtnl_tc_get_kind(tc);
  ctx->out->push_back(QdiscInfo{kind ? kind : "", rtnl_tc_get_handle(tc),
                                rtnl_tc_get_parent(tc)});
}

}  // namespace

void RtnlQdiscDeleter::operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); }

RtnlQdiscPtr BuildNetemQdisc(int ifindex, uint32_t parent, uint32_t handle,
                             const NetemSpec& n) {
  RtnlQdiscPtr q = NewQdisc(ifindex, parent, handle, "netem");
  if (!q) return q;
  rtnl_qdisc* r = q.get();
  // libnl converts microseconds to kernel ticks itself.
  if (n.delay_us != 0) rtnl_netem_set_delay(r, AsInt(n.delay_us));
  if (n.jitter_us != 0) rtnl_netem_set_jitter(r, AsInt(n.jitter_us));
  if (n.delay_correlation_percent != 0) {
    rtnl_netem_set_delay_correlation(
        r, AsInt(PercentToNetemProbability(n.delay_correlation_percent)));
  }
  if (n.loss_percent != 0) {
    rtnl_netem_set_loss(r, AsInt(PercentToNetemProbability(n.loss_percent)));
  }
  if (n.loss_correlation_percent != 0) {
    rtnl_netem_set_loss_correlation(
        r, AsInt(PercentToNetemProbability(n.loss_correlation_percent)));
  }
  if (n.duplicate_percent != 0) {
    rtnl_netem_set_duplicate(
        r, AsInt(PercentToNetemProbability(n.duplicate_percent)));
  }
  if (n.reorder_percent != 0) {
    rtnl_netem_set_reorder_probability(
        r, AsInt(PercentToNetemProbability(n.reorder_percent)));
  }
  if (n.corrupt_percent != 0) {
    rtnl_netem_set_corruption_probability(
        r, AsInt(PercentToNetemProbability(n.corrupt_percent)));
  }
  // 0 lets libnl send netem's default of 1000 packets.
  if (n.limit_packets != 0) rtnl_netem_set_limit(r, AsInt(n.limit_packets));
  return q;
}

RtnlQdiscPtr BuildTbfQdisc(int ifindex, uint32_t parent, uint32_t handle,
                           const TbfSpec& t) {
  RtnlQdiscPtr q = NewQdisc(ifindex, parent, handle, "tbf");
  if (!q) return q;
  // Rate in bytes/s (32-bit, checked by the plan), bucket in bytes, cell
  // size 0 = let libnl pick the rate table's cell size.
  rtnl_qdisc_tbf_set_rate(q.get(),
                          AsInt(static_cast<uint32_t>(t.rate_bytes_per_sec)),
                          AsInt(t.burst_bytes), 0);
  rtnl_qdisc_tbf_set_limit(q.get(), AsInt(t.limit_bytes));
  return q;
}

absl::StatusOr<std::vector<QdiscInfo>> ListQdiscs(nl_sock* sock,
                                                  int ifindex) {
  nl_cache* cache = nullptr;
  NlErrorCapture capture(sock);
  int err = rtnl_qdisc_alloc_cache(sock, &cache);
  if (err < 0) {
    return capture.ToStatus(err,
                            absl::StrCat("list qdiscs of ifindex ", ifindex));
  }
  std::vector<QdiscInfo> out;
  ListContext ctx{ifindex, &out};
  nl_cache_foreach(cache, &CollectQdisc, &ctx);
  nl_cache_free(cache);
  return out;
}

absl::Status ApplyQdiscPlan(nl_sock* sock, int ifindex,
                            absl::string_view ifname_for_errors,
                            const QdiscPlan& plan) {
  auto all = ListQdiscs(sock, ifindex);
  if (!all.ok()) {
    return absl::Status(all.status().code(),
                        absl::StrCat("list qdiscs on ", ifname_for_errors,
                                     ": ", all.status().message()));
  }
  const std::vector<QdiscInfo> have = ConfiguredEgress(*all);
  const QdiscInfo* root = nullptr;
  for (const QdiscInfo& q : have) {
    if (IsRoot(q)) root = &q;
  }
  const std::vector<QdiscInfo> want = LayoutFor(plan);

  if (root != nullptr && !SameLayout(have, want)) {
    absl::Status s = DeleteRoot(sock, ifindex, *root, ifname_for_errors);
    if (!s.ok()) return s;
  }
  if (plan.empty()) return absl::OkStatus();

  if (plan.netem) {
    RtnlQdiscPtr netem =
        BuildNetemQdisc(ifindex, kRootParent, kRootHandle, *plan.netem);
    absl::Status s =
        AddQdisc(sock, netem.get(), "netem", kRootParent, ifname_for_errors);
    if (!s.ok()) return s;
    if (plan.tbf) {
      RtnlQdiscPtr tbf =
          BuildTbfQdisc(ifindex, kTbfChildParent, kTbfChildHandle, *plan.tbf);
      return AddQdisc(sock, tbf.get(), "tbf", kTbfChildParent,
                      ifname_for_errors);
    }
    return absl::OkStatus();
  }
  RtnlQdiscPtr tbf = BuildTbfQdisc(ifindex, kRootParent, kRootHandle,
                                   *plan.tbf);
  return AddQdisc(sock, tbf.get(), "tbf", kRootParent, ifname_for_errors);
}

}  // namespace emu::linkemu
