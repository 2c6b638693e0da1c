#include "linkemu/tap_device.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "linkemu/nl_error.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace emu::linkemu {
namespace {

constexpr unsigned kTcpOffloads =
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

// Sets MAC, MTU, alias and IFF_UP through rtnetlink, from inside the
// namespace (the calling thread's).
absl::Status Configure(const TapSpec& spec, absl::string_view what) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) return absl::ResourceExhaustedError("nl_socket_alloc");
  absl::Cleanup free_sock = [sock] { nl_socket_free(sock); };
  int err = nl_connect(sock, NETLINK_ROUTE);
  if (err < 0) return NlErrorToStatus(err, absl::StrCat(what, ": netlink"));
  rtnl_link* orig = nullptr;
  err = rtnl_link_get_kernel(sock, 0, spec.ifname.c_str(), &orig);
  if (err < 0) return NlErrorToStatus(err, absl::StrCat(what, ": look up"));
  absl::Cleanup put_orig = [orig] { rtnl_link_put(orig); };
  rtnl_link* change = rtnl_link_alloc();
  if (change == nullptr) return absl::ResourceExhaustedError("rtnl_link_alloc");
  absl::Cleanup put_change = [change] { rtnl_link_put(change); };
  rtnl_link_set_flags(change, IFF_UP);
  rtnl_link_set_ifalias(change, spec.alias.c_str());
  rtnl_link_set_txqlen(change, 1000);
  if (spec.mtu > 0) rtnl_link_set_mtu(change, spec.mtu);
  nl_addr* mac = nullptr;
  if (!spec.mac.empty()) {
    if (nl_addr_parse(spec.mac.c_str(), AF_LLC, &mac) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": bad MAC address ", spec.mac));
    }
    rtnl_link_set_addr(change, mac);
  }
  absl::Cleanup put_mac = [mac] {
    if (mac != nullptr) nl_addr_put(mac);
  };
  NlErrorCapture capture(sock);
  err = rtnl_link_change(sock, orig, change, 0);
  return capture.ToStatus(err < 0 ? err : 0,
                          absl::StrCat(what, ": set mac/mtu/alias/up"));
}

absl::StatusOr<int> OpenHere(const TapSpec& spec, absl::string_view what) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat(what, ": /dev/net/tun"));
  absl::Cleanup close_fd = [fd] { close(fd); };
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, spec.ifname.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    // An existing non-TAP interface of that name: EINVAL/EBUSY from tun.
    if (e == EBUSY || e == EINVAL || e == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          what, ": an interface of that name exists (", std::strerror(e),
          ")"));
    }
    return ErrnoToStatus(e, absl::StrCat(what, ": TUNSETIFF"));
  }
  int hdr = 10;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) != 0) {
    return ErrnoToStatus(errno, absl::StrCat(what, ": TUNSETVNETHDRSZ"));
  }
  absl::Status s = SetTapOffloads(fd, true);
  if (!s.ok()) return Annotate(s, what);
  s = Configure(spec, what);
  if (!s.ok()) return s;
  std::move(close_fd).Cancel();
  return fd;
}

}  // namespace

absl::StatusOr<int> OpenTapInNamespace(const TapSpec& spec) {
  std::string what = absl::StrCat("create tap ", spec.netns, ":", spec.ifname);
  if (spec.ifname.empty() || spec.ifname.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": interface name must be 1..15 bytes"));
  }
  std::string path = spec.netns.find('/') == std::string::npos
                         ? absl::StrCat("/run/netns/", spec.netns)
                         : spec.netns;
  int ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat(what, ": namespace ", path));
  }
  absl::Cleanup close_ns = [ns_fd] { close(ns_fd); };
  absl::StatusOr<int> result;
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      result = ErrnoToStatus(errno, absl::StrCat(what, ": setns"));
      return;
    }
    result = OpenHere(spec, what);
  });
  t.join();
  return result;
}

bool TapIsAlive(int fd) {
  ifreq ifr{};
  return ioctl(fd, TUNGETIFF, &ifr) == 0;
}

size_t TapVnetHeaderBytes(int fd) {
  ifreq ifr{};
  if (ioctl(fd, TUNGETIFF, &ifr) != 0) return 0;
  if ((ifr.ifr_flags & IFF_VNET_HDR) == 0) return 0;
  int sz = 0;
  if (ioctl(fd, TUNGETVNETHDRSZ, &sz) != 0) return 10;
  return static_cast<size_t>(sz);
}

absl::Status SetTapOffloads(int fd, bool on) {
  if (!TapIsAlive(fd)) {
    return absl::FailedPreconditionError("TUNSETOFFLOAD: not a TAP");
  }
  if (!on) {
    if (ioctl(fd, TUNSETOFFLOAD, 0) != 0) {
      return ErrnoToStatus(errno, "TUNSETOFFLOAD 0");
    }
    return absl::OkStatus();
  }
  if (ioctl(fd, TUNSETOFFLOAD, kTcpOffloads | TUN_F_USO4 | TUN_F_USO6) != 0 &&
      ioctl(fd, TUNSETOFFLOAD, kTcpOffloads) != 0) {
    return ErrnoToStatus(errno, "TUNSETOFFLOAD");
  }
  return absl::OkStatus();
}

}  // namespace emu::linkemu
