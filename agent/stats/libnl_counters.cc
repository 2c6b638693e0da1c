#include "agent/stats/libnl_counters.h"

#include <fcntl.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <sched.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace emu::agent::stats {
namespace {

absl::Status NlFailed(int err, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", nl_geterror(err)));
}

// Both dumps, in the calling thread's namespace.
absl::StatusOr<std::vector<InterfaceSample>> ReadHere(const std::string& what) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return absl::ResourceExhaustedError(what);
  absl::Cleanup free_sock = [sock] { nl_socket_free(sock); };
  if (int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
    return NlFailed(err, absl::StrCat(what, ": connect"));
  }
  nl_cache* links = nullptr;
  if (int err = rtnl_link_alloc_cache(sock, AF_UNSPEC, &links); err < 0) {
    return NlFailed(err, absl::StrCat(what, ": link dump"));
  }
  absl::Cleanup free_links = [links] { nl_cache_free(links); };
  nl_cache* qdiscs = nullptr;
  if (int err = rtnl_qdisc_alloc_cache(sock, &qdiscs); err < 0) {
    return NlFailed(err, absl::StrCat(what, ": qdisc dump"));
  }
  absl::Cleanup free_qdiscs = [qdiscs] { nl_cache_free(qdiscs); };

  std::map<int, InterfaceSample> by_index;
  for (nl_object* o = nl_cache_get_first(links); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    InterfaceSample& s = by_index[rtnl_link_get_ifindex(l)];
    s.name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "";
    s.rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
    s.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
    s.tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
    s.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
    s.rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
    s.tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED);
  }
  for (nl_object* o = nl_cache_get_first(qdiscs); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* tc = reinterpret_cast<rtnl_tc*>(o);
    if (rtnl_tc_get_parent(tc) != TC_H_ROOT) continue;
    auto it = by_index.find(rtnl_tc_get_ifindex(tc));
    if (it == by_index.end()) continue;
    InterfaceSample& s = it->second;
    s.qdisc = rtnl_tc_get_kind(tc) ? rtnl_tc_get_kind(tc) : "";
    s.qdisc_drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
    s.backlog_bytes = rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
    s.backlog_packets = rtnl_tc_get_stat(tc, RTNL_TC_QLEN);
  }
  std::vector<InterfaceSample> out;
  out.reserve(by_index.size());
  for (auto& [index, s] : by_index) out.push_back(std::move(s));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<InterfaceSample>> LibnlNamespaceCounters::Read(
    const std::string& ns) {
  const std::string what = absl::StrCat("counters of namespace ", ns);
  const std::string path = absl::StrCat("/run/netns/", ns);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, what);
  absl::Cleanup close_fd = [fd] { close(fd); };
  absl::StatusOr<std::vector<InterfaceSample>> result;
  std::thread t([&] {
    if (setns(fd, CLONE_NEWNET) != 0) {
      result = ErrnoToStatus(errno, absl::StrCat(what, ": setns"));
      return;
    }
    result = ReadHere(what);
  });
  t.join();
  return result;
}

}  // namespace emu::agent::stats
