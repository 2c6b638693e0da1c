#include "agent/net/libnl_host_network.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "linkemu/libnl_qdisc.h"
#include "linkemu/nl_error.h"

namespace emu::agent::net {

// One namespace: an fd on it (for IFLA_NET_NS_FD and setns) and a
// NETLINK_ROUTE socket opened inside it. `mu` serialises use of `sock`.
struct LibnlHostNetwork::Handle {
  std::string name;
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  absl::Mutex mu;
  nl_sock* sock ABSL_GUARDED_BY(mu) = nullptr;

  ~Handle() {
    if (sock != nullptr) nl_socket_free(sock);
    if (fd >= 0) close(fd);
  }
};

namespace {

using Handle = LibnlHostNetwork::Handle;

// Deleters for libnl objects.
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using AddrPtr = std::unique_ptr<rtnl_addr, AddrPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

// Runs `fn` on a fresh thread that first joins the namespace behind
// `ns_fd` (-1: a brand-new namespace via unshare). The thread ends with
// `fn`, so the caller's namespace never changes.
absl::Status RunInNamespace(int ns_fd, absl::string_view what,
                            const std::function<absl::Status()>& fn) {
  absl::Status result;
  std::thread t([&] {
    if (ns_fd < 0) {
      if (unshare(CLONE_NEWNET) != 0) {
        result = emu::ErrnoToStatus(errno, absl::StrCat(what, ": unshare"));
        return;
      }
    } else if (setns(ns_fd, CLONE_NEWNET) != 0) {
      result = emu::ErrnoToStatus(errno, absl::StrCat(what, ": setns"));
      return;
    }
    result = fn();
  });
  t.join();
  return result;
}

// A NETLINK_ROUTE socket in the calling thread's namespace.
absl::StatusOr<nl_sock*> OpenRouteSocket(absl::string_view what) {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": nl_socket_alloc"));
  }
  int err = nl_connect(sock, NETLINK_ROUTE);
  if (err < 0) {
    nl_socket_free(sock);
    return linkemu::NlErrorToStatus(err, absl::StrCat(what, ": connect"));
  }
  // Dumps of a namespace with many addresses/routes can be large.
  nl_socket_set_buffer_size(sock, 1 << 20, 1 << 20);
  return sock;
}

// Runs a libnl request and converts its failure, with the kernel's errno.
absl::Status NlCall(nl_sock* sock, absl::string_view what,
                    const std::function<int(nl_sock*)>& op) {
  linkemu::NlErrorCapture capture(sock);
  int err = op(sock);
  return capture.ToStatus(err < 0 ? err : 0, what);
}

bool IsNoDevice(int nl_err) {
  return nl_err == -NLE_NODEV || nl_err == -NLE_OBJ_NOTFOUND;
}

// The kernel's view of one link, by name. NOT_FOUND names the namespace.
absl::StatusOr<LinkPtr> GetLink(nl_sock* sock, const std::string& ns,
                                const std::string& ifname) {
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, ifname.c_str(), &link);
  if (IsNoDevice(err)) {
    return absl::NotFoundError(
        absl::StrCat("interface ", ifname, " not found in namespace ", ns));
  }
  if (err < 0) {
    return linkemu::NlErrorToStatus(
        err, absl::StrCat("look up interface ", ns, ":", ifname));
  }
  return LinkPtr(link);
}

// Fills a cache, retrying when a concurrent change interrupted the dump.
template <typename AllocFn>
absl::StatusOr<CachePtr> Dump(nl_sock* sock, absl::string_view what,
                              AllocFn alloc) {
  int err = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    nl_cache* cache = nullptr;
    linkemu::NlErrorCapture capture(sock);
    err = alloc(sock, &cache);
    if (err >= 0) return CachePtr(cache);
    if (err != -NLE_DUMP_INTR) return capture.ToStatus(err, what);
  }
  return linkemu::NlErrorToStatus(err, what);
}

// Every link of the socket's namespace.
absl::StatusOr<CachePtr> DumpLinks(nl_sock* sock, absl::string_view what) {
  return Dump(sock, what, [](nl_sock* s, nl_cache** c) {
    return rtnl_link_alloc_cache(s, AF_UNSPEC, c);
  });
}

// Sets flags/alias on an existing link.
absl::Status ChangeLink(nl_sock* sock, rtnl_link* orig, bool up,
                        const std::string* alias, absl::string_view what) {
  LinkPtr change(rtnl_link_alloc());
  if (!change) return absl::ResourceExhaustedError("rtnl_link_alloc");
  if (up) rtnl_link_set_flags(change.get(), IFF_UP);
  if (alias != nullptr) rtnl_link_set_ifalias(change.get(), alias->c_str());
  return NlCall(sock, what, [&](nl_sock* s) {
    return rtnl_link_change(s, orig, change.get(), 0);
  });
}

absl::StatusOr<NlAddrPtr> ParseMac(const std::string& mac) {
  EMU_RETURN_IF_ERROR(ValidateMac(mac));
  nl_addr* a = nullptr;
  if (nl_addr_parse(mac.c_str(), AF_LLC, &a) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad MAC address ", mac));
  }
  return NlAddrPtr(a);
}

NlAddrPtr ToNlAddr(const Cidr& c) {
  NlAddrPtr a(nl_addr_build(c.family, c.bytes.data(), c.byte_len()));
  if (a) nl_addr_set_prefixlen(a.get(), c.prefix_len);
  return a;
}

// The CIDR of a kernel address object.
bool FromRtnlAddr(rtnl_addr* a, Cidr* out) {
  nl_addr* local = rtnl_addr_get_local(a);
  if (local == nullptr) return false;
  int family = nl_addr_get_family(local);
  unsigned len = nl_addr_get_len(local);
  if (!((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16))) {
    return false;
  }
  out->family = family;
  out->bytes.fill(0);
  std::memcpy(out->bytes.data(), nl_addr_get_binary_addr(local), len);
  out->prefix_len = rtnl_addr_get_prefixlen(a);
  return true;
}

std::string MacString(rtnl_link* link) {
  nl_addr* a = rtnl_link_get_addr(link);
  if (a == nullptr) return "";
  char buf[64] = {};
  nl_addr2str(a, buf, sizeof(buf));
  return buf;
}

// Tries one qdisc kind as the root of `ifindex`: sends RTM_NEWQDISC with
// only TCA_KIND. The kernel answers ENOENT for a kind it does not have
// (after trying to load its module); any other answer, including EINVAL
// for the missing options most kinds need, means it has the kind.
bool KernelHasQdiscKind(nl_sock* sock, int ifindex, const char* kind) {
  nl_msg* msg = nlmsg_alloc_simple(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE);
  if (msg == nullptr) return false;
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  tcm.tcm_ifindex = ifindex;
  tcm.tcm_parent = TC_H_ROOT;
  tcm.tcm_handle = linkemu::kRootHandle;
  bool have = false;
  if (nlmsg_append(msg, &tcm, sizeof(tcm), NLMSG_ALIGNTO) == 0 &&
      nla_put_string(msg, TCA_KIND, kind) == 0) {
    linkemu::NlErrorCapture capture(sock);
    int err = nl_send_sync(sock, msg);  // frees msg
    msg = nullptr;
    have = err == 0 ||
           (capture.kernel_errno() != 0 && capture.kernel_errno() != ENOENT &&
            capture.kernel_errno() != EOPNOTSUPP);
  }
  if (msg != nullptr) nlmsg_free(msg);
  return have;
}

// "ns:ifname", or just "ifname" in this process's own namespace ("").
std::string QualifiedName(const std::string& ns, const std::string& ifname) {
  return ns.empty() ? ifname : absl::StrCat(ns, ":", ifname);
}

}  // namespace

LibnlHostNetwork::LibnlHostNetwork() : LibnlHostNetwork(Options()) {}

LibnlHostNetwork::LibnlHostNetwork(Options options)
    : options_(std::move(options)) {}

LibnlHostNetwork::~LibnlHostNetwork() = default;

std::string LibnlHostNetwork::PathOf(const std::string& ns) const {
  // "" is this process's own namespace. /proc/self names the main thread,
  // whose namespace is the process's (only our short-lived threads setns).
  if (ns.empty()) return "/proc/self/ns/net";
  return absl::StrCat(options_.netns_dir, "/", ns);
}

bool LibnlHostNetwork::IsStaleEntry(const std::string& path) const {
  // A live entry is a bind mount of an nsfs inode, on another device than
  // the directory holding it.
  struct stat entry, dir;
  if (stat(path.c_str(), &entry) != 0) return false;
  if (stat(options_.netns_dir.c_str(), &dir) != 0) return false;
  return entry.st_dev == dir.st_dev && S_ISREG(entry.st_mode) &&
         entry.st_size == 0;
}

absl::Status LibnlHostNetwork::EnsureNetnsDir() {
  absl::MutexLock lock(&mu_);
  if (netns_dir_ready_) return absl::OkStatus();
  const std::string& dir = options_.netns_dir;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return emu::ErrnoToStatus(errno, absl::StrCat("create ", dir));
  }
  // As iproute2 does: make the directory a shared mount point, so a bind
  // mount made here shows up in mount namespaces created later, and an
  // unmount propagates.
  bool made_mount_point = false;
  while (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || made_mount_point) {
      return emu::ErrnoToStatus(errno, absl::StrCat("make ", dir, " shared"));
    }
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) !=
        0) {
      return emu::ErrnoToStatus(
          errno, absl::StrCat("bind-mount ", dir, " onto itself"));
    }
    made_mount_point = true;
  }
  netns_dir_ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Handle>> LibnlHostNetwork::Get(
    const std::string& ns) {
  if (!ns.empty()) EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  const std::string path = PathOf(ns);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("namespace ", ns, " does not exist"));
    }
    return emu::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = handles_.find(ns);
    if (it != handles_.end() && it->second->ino == st.st_ino &&
        it->second->dev == st.st_dev) {
      return it->second;
    }
  }
  auto h = std::make_shared<Handle>();
  h->name = ns;
  h->fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (h->fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("namespace ", ns, " does not exist"));
    }
    return emu::ErrnoToStatus(errno, absl::StrCat("open ", path));
  }
  struct stat fst;
  if (fstat(h->fd, &fst) != 0) {
    return emu::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  h->dev = fst.st_dev;
  h->ino = fst.st_ino;
  nl_sock* sock = nullptr;
  absl::Status s = RunInNamespace(
      h->fd, absl::StrCat("enter namespace ", ns), [&]() -> absl::Status {
        EMU_ASSIGN_OR_RETURN(
            sock, OpenRouteSocket(absl::StrCat("netlink socket in ", ns)));
        return absl::OkStatus();
      });
  if (!s.ok()) {
    if (absl::IsInvalidArgument(s)) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is not a mounted network namespace (", s.message(), ")"));
    }
    return s;
  }
  {
    absl::MutexLock hl(&h->mu);
    h->sock = sock;
  }
  absl::MutexLock lock(&mu_);
  handles_[ns] = h;
  return h;
}

void LibnlHostNetwork::Drop(const std::string& ns) {
  std::shared_ptr<Handle> old;
  {
    absl::MutexLock lock(&mu_);
    auto it = handles_.find(ns);
    if (it == handles_.end()) return;
    old = std::move(it->second);
    handles_.erase(it);
  }
  // `old` closes here unless a call in flight still holds it.
}

absl::Status LibnlHostNetwork::CreateEntry(const std::string& path,
                                           absl::string_view what) const {
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0 && errno == EEXIST && IsStaleEntry(path)) {
    // The namespace died with its mount (e.g. the agent's private mount
    // namespace went away with a killed agent): only the file is left.
    unlink(path.c_str());
    fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  }
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(what, ": already exists"));
    }
    return emu::ErrnoToStatus(errno, absl::StrCat(what, ": create ", path));
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status LibnlHostNetwork::CreateNamespace(const std::string& ns) {
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  EMU_RETURN_IF_ERROR(EnsureNetnsDir());
  const std::string what = absl::StrCat("create namespace ", ns);
  const std::string path = PathOf(ns);
  EMU_RETURN_IF_ERROR(CreateEntry(path, what));

  auto h = std::make_shared<Handle>();
  h->name = ns;
  nl_sock* sock = nullptr;
  absl::Status s = RunInNamespace(-1, what, [&]() -> absl::Status {
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND,
              nullptr) != 0) {
      return emu::ErrnoToStatus(errno,
                                absl::StrCat(what, ": bind-mount onto ", path));
    }
    h->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (h->fd < 0)
      return emu::ErrnoToStatus(errno, absl::StrCat(what, ": open"));
    struct stat st;
    if (fstat(h->fd, &st) != 0) {
      return emu::ErrnoToStatus(errno, absl::StrCat(what, ": stat"));
    }
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    EMU_ASSIGN_OR_RETURN(sock, OpenRouteSocket(what));
    // Loopback is always ifindex 1 in a new namespace.
    LinkPtr lo(rtnl_link_alloc());
    rtnl_link_set_ifindex(lo.get(), 1);
    return ChangeLink(sock, lo.get(), /*up=*/true, nullptr,
                      absl::StrCat(what, ": set lo up"));
  });
  if (sock != nullptr) {
    absl::MutexLock hl(&h->mu);
    h->sock = sock;
  }
  if (!s.ok()) {
    umount2(path.c_str(), MNT_DETACH);
    unlink(path.c_str());
    return s;
  }
  absl::MutexLock lock(&mu_);
  handles_[ns] = std::move(h);
  return absl::OkStatus();
}

absl::Status LibnlHostNetwork::DeleteNamespace(const std::string& ns) {
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  Drop(ns);
  const std::string path = PathOf(ns);
  // EINVAL: not a mount point (a half-created entry); ENOENT: gone.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return emu::ErrnoToStatus(
        errno, absl::StrCat("delete namespace ", ns, ": unmount ", path));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return emu::ErrnoToStatus(
        errno, absl::StrCat("delete namespace ", ns, ": remove ", path));
  }
  return absl::OkStatus();
}

absl::Status LibnlHostNetwork::ShareNamespace(const std::string& target,
                                              const std::string& ns) {
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(target));
  EMU_RETURN_IF_ERROR(EnsureNetnsDir());
  const std::string what = absl::StrCat("share namespace ", target, " as ", ns);
  const std::string from = PathOf(target);
  if (IsStaleEntry(from) || access(from.c_str(), F_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat(what, ": namespace ", target, " does not exist"));
  }
  const std::string path = PathOf(ns);
  EMU_RETURN_IF_ERROR(CreateEntry(path, what));
  Drop(ns);
  if (mount(from.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
    absl::Status s = emu::ErrnoToStatus(
        errno, absl::StrCat(what, ": bind-mount ", from, " onto ", path));
    unlink(path.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LibnlHostNetwork::NamespaceId(
    const std::string& ns) {
  EMU_RETURN_IF_ERROR(ValidateNamespaceName(ns));
  const std::string path = PathOf(ns);
  struct stat st;
  if (IsStaleEntry(path) || stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("namespace ", ns, " does not exist"));
  }
  return absl::StrCat(st.st_dev, ":", st.st_ino);
}

absl::StatusOr<std::vector<std::string>> LibnlHostNetwork::ListNamespaces(
    absl::string_view prefix) {
  std::vector<std::string> out;
  DIR* dir = opendir(options_.netns_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return out;
    return emu::ErrnoToStatus(errno, absl::StrCat("list ", options_.netns_dir));
  }
  while (dirent* e = readdir(dir)) {
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (!absl::StartsWith(name, prefix)) continue;
    // An entry with nothing mounted on it is no namespace (CreateNamespace
    // replaces it).
    if (IsStaleEntry(PathOf(std::string(name)))) continue;
    out.emplace_back(name);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status LibnlHostNetwork::CreateVeth(const VethEnd& a, const VethEnd& b,
                                          const std::string& alias) {
  const std::string what = VethWhat(a, b);
  EMU_RETURN_IF_ERROR(ValidateVeth(a, b));
  absl::StatusOr<std::shared_ptr<Handle>> ha = Get(a.ns);
  if (!ha.ok()) return Annotate(ha.status(), what);
  absl::StatusOr<std::shared_ptr<Handle>> hb = Get(b.ns);
  if (!hb.ok()) return Annotate(hb.status(), what);

  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return absl::ResourceExhaustedError("rtnl_link_veth_alloc");
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
  struct Side {
    rtnl_link* link;
    const VethEnd* end;
    int ns_fd;
  };
  for (const Side& side :
       {Side{link.get(), &a, (*ha)->fd}, Side{peer.get(), &b, (*hb)->fd}}) {
    rtnl_link_set_name(side.link, side.end->ifname.c_str());
    rtnl_link_set_ns_fd(side.link, side.ns_fd);
    if (side.end->mtu != 0) rtnl_link_set_mtu(side.link, side.end->mtu);
    if (!side.end->mac.empty()) {
      absl::StatusOr<NlAddrPtr> mac = ParseMac(side.end->mac);
      if (!mac.ok()) return Annotate(mac.status(), what);
      rtnl_link_set_addr(side.link, mac->get());
    }
  }
  {
    absl::MutexLock lock(&(*ha)->mu);
    EMU_RETURN_IF_ERROR(NlCall((*ha)->sock, what, [&](nl_sock* s) {
      return rtnl_link_add(s, link.get(), NLM_F_CREATE | NLM_F_EXCL);
    }));
  }
  // The kernel ignores IFLA_IFALIAS when creating a link, and refuses to
  // bring a veth's peer up while the pair is still being created
  // (ENOTCONN), so alias and up are a change on each end afterwards. If
  // that fails the pair is removed again: a half-tagged pair would look
  // foreign to the owner's next scan.
  absl::Status s;
  for (const auto& [h, end] :
       {std::make_pair(*ha, &a), std::make_pair(*hb, &b)}) {
    absl::MutexLock lock(&h->mu);
    absl::StatusOr<LinkPtr> l = GetLink(h->sock, end->ns, end->ifname);
    s = l.ok() ? ChangeLink(h->sock, l->get(), /*up=*/true, &alias,
                            absl::StrCat(what, ": set ", end->ns, ":",
                                         end->ifname, " up with alias"))
               : Annotate(l.status(), what);
    if (!s.ok()) break;
  }
  if (!s.ok()) {
    DeleteInterface(a.ns, a.ifname).IgnoreError();
  }
  return s;
}

absl::Status LibnlHostNetwork::DeleteInterface(const std::string& ns,
                                               const std::string& ifname) {
  const std::string what = absl::StrCat("delete interface ", ns, ":", ifname);
  {
    absl::Status s = ValidateInterfaceName(ifname);
    if (!s.ok()) return Annotate(s, what);
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (absl::IsNotFound(h.status())) return absl::OkStatus();
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), ifname.c_str());
  linkemu::NlErrorCapture capture((*h)->sock);
  int err = rtnl_link_delete((*h)->sock, link.get());
  if (err == 0 || capture.kernel_errno() == ENODEV || IsNoDevice(err)) {
    return absl::OkStatus();
  }
  return capture.ToStatus(err, what);
}

absl::Status LibnlHostNetwork::CreateVxlan(const VxlanSpec& spec,
                                           const std::string& alias) {
  const std::string what =
      absl::StrCat("create vxlan ", QualifiedName(spec.ns, spec.ifname),
                   " (VNI ", spec.vni, " to ", spec.remote, " port ",
                   spec.port, ")");
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(spec.ifname), what));
  if (!spec.mac.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateMac(spec.mac), what));
  }
  if (spec.vni == 0 || spec.vni > 0xFFFFFF) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the VNI must be in 1..16777215"));
  }
  nl_addr* parsed = nullptr;
  if (spec.remote.empty() ||
      (nl_addr_parse(spec.remote.c_str(), AF_INET, &parsed) < 0 &&
       nl_addr_parse(spec.remote.c_str(), AF_INET6, &parsed) < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": remote '", spec.remote,
                     "' is not an IPv4 or IPv6 address"));
  }
  NlAddrPtr remote(parsed);
  // The request goes through the socket of this process's namespace: the
  // device's UDP socket lives there (the hosts' network); IFLA_NET_NS_FD
  // puts the device itself into the node's namespace.
  absl::StatusOr<std::shared_ptr<Handle>> host = Get("");
  if (!host.ok()) return Annotate(host.status(), what);
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(spec.ns);
  if (!h.ok()) return Annotate(h.status(), what);
  LinkPtr link(rtnl_link_vxlan_alloc());
  if (!link) return absl::ResourceExhaustedError("rtnl_link_vxlan_alloc");
  rtnl_link_set_name(link.get(), spec.ifname.c_str());
  rtnl_link_set_ns_fd(link.get(), (*h)->fd);
  rtnl_link_vxlan_set_id(link.get(), spec.vni);
  rtnl_link_vxlan_set_group(link.get(), remote.get());
  rtnl_link_vxlan_set_port(link.get(), spec.port);
  if (spec.mtu != 0) rtnl_link_set_mtu(link.get(), spec.mtu);
  NlAddrPtr mac;
  if (!spec.mac.empty()) {
    absl::StatusOr<NlAddrPtr> m = ParseMac(spec.mac);
    if (!m.ok()) return Annotate(m.status(), what);
    mac = std::move(*m);
    rtnl_link_set_addr(link.get(), mac.get());
  }
  {
    absl::MutexLock lock(&(*host)->mu);
    linkemu::NlErrorCapture capture((*host)->sock);
    int err = rtnl_link_add((*host)->sock, link.get(),
                            NLM_F_CREATE | NLM_F_EXCL);
    if (err < 0 && capture.kernel_errno() == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          what, ": the name is taken in the namespace, or another VXLAN "
                "device of this host has this VNI on this port (",
          capture.ToStatus(err, "kernel").message(), ")"));
    }
    if (err < 0) return capture.ToStatus(err, what);
  }
  // Alias and up afterwards (the kernel ignores IFLA_IFALIAS in a create
  // request); untagged it would look foreign: removed again.
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  absl::StatusOr<LinkPtr> made = GetLink(sock, spec.ns, spec.ifname);
  absl::Status s =
      made.ok() ? ChangeLink(sock, made->get(), /*up=*/true, &alias,
                             absl::StrCat(what, ": set up with alias"))
                : Annotate(made.status(), what);
  if (!s.ok() && made.ok()) rtnl_link_delete(sock, made->get());
  return s;
}

absl::Status LibnlHostNetwork::CreateDummy(const DummySpec& spec,
                                           const std::string& alias) {
  const std::string what = absl::StrCat(
      "create ", spec.kind, " ", QualifiedName(spec.ns, spec.ifname));
  if (spec.kind != "dummy" && spec.kind != "ifb") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": kind must be dummy or ifb"));
  }
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(spec.ifname), what));
  if (!spec.mac.empty()) {
    EMU_RETURN_IF_ERROR(Annotate(ValidateMac(spec.mac), what));
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(spec.ns);
  if (!h.ok()) return Annotate(h.status(), what);
  LinkPtr link(rtnl_link_alloc());
  if (!link) return absl::ResourceExhaustedError("rtnl_link_alloc");
  rtnl_link_set_name(link.get(), spec.ifname.c_str());
  int err = rtnl_link_set_type(link.get(), spec.kind.c_str());
  if (err < 0) return linkemu::NlErrorToStatus(err, what);
  if (spec.mtu != 0) rtnl_link_set_mtu(link.get(), spec.mtu);
  // The MAC in the create request: ifb refuses a change of a live one.
  NlAddrPtr mac;
  if (!spec.mac.empty()) {
    absl::StatusOr<NlAddrPtr> parsed = ParseMac(spec.mac);
    if (!parsed.ok()) return Annotate(parsed.status(), what);
    mac = std::move(*parsed);
    rtnl_link_set_addr(link.get(), mac.get());
  }
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  EMU_RETURN_IF_ERROR(NlCall(sock, what, [&](nl_sock* s) {
    return rtnl_link_add(s, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  }));
  // Alias and up as a change afterwards (the kernel ignores IFLA_IFALIAS
  // in a create request); untagged it would look foreign: removed again.
  absl::StatusOr<LinkPtr> made = GetLink(sock, spec.ns, spec.ifname);
  absl::Status s =
      made.ok() ? ChangeLink(sock, made->get(), /*up=*/true, &alias,
                             absl::StrCat(what, ": set up with alias"))
                : Annotate(made.status(), what);
  if (!s.ok() && made.ok()) {
    rtnl_link_delete(sock, made->get());
  }
  return s;
}

absl::Status LibnlHostNetwork::CreateBridge(const std::string& ns,
                                            const std::string& name,
                                            const std::string& alias) {
  const std::string what =
      absl::StrCat("create bridge ", QualifiedName(ns, name));
  {
    absl::Status s = ValidateInterfaceName(name);
    if (!s.ok()) return Annotate(s, what);
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  LinkPtr link(rtnl_link_alloc());
  if (!link) return absl::ResourceExhaustedError("rtnl_link_alloc");
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_set_type(link.get(), "bridge");
  if (err < 0) return linkemu::NlErrorToStatus(err, what);
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  // NLM_F_EXCL: an existing link of that name is ALREADY_EXISTS, not reused.
  EMU_RETURN_IF_ERROR(NlCall(sock, what, [&](nl_sock* s) {
    return rtnl_link_add(s, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  }));
  // Up as a change afterwards, as CreateVeth does: then "up" does not rest
  // on how the kernel treats flags in a create request.
  absl::StatusOr<LinkPtr> made = GetLink(sock, ns, name);
  if (!made.ok()) return Annotate(made.status(), what);
  return ChangeLink(sock, made->get(), /*up=*/true,
                    alias.empty() ? nullptr : &alias,
                    absl::StrCat(what, ": set up"));
}

absl::Status LibnlHostNetwork::SetMaster(const std::string& ns,
                                         const std::string& ifname,
                                         const std::string& master) {
  const std::string what = absl::StrCat("make ", QualifiedName(ns, ifname),
                                        " a port of bridge ", master);
  for (const std::string* n : {&ifname, &master}) {
    absl::Status s = ValidateInterfaceName(*n);
    if (!s.ok()) return Annotate(s, what);
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  absl::StatusOr<LinkPtr> port = GetLink(sock, ns, ifname);
  if (!port.ok()) return Annotate(port.status(), what);
  absl::StatusOr<LinkPtr> bridge = GetLink(sock, ns, master);
  if (!bridge.ok()) return Annotate(bridge.status(), what);
  const int master_index = rtnl_link_get_ifindex(bridge->get());
  if (rtnl_link_get_master(port->get()) == master_index) {
    return absl::OkStatus();
  }
  LinkPtr change(rtnl_link_alloc());
  if (!change) return absl::ResourceExhaustedError("rtnl_link_alloc");
  rtnl_link_set_master(change.get(), master_index);
  return NlCall(sock, what, [&](nl_sock* s) {
    return rtnl_link_change(s, port->get(), change.get(), 0);
  });
}

absl::Status LibnlHostNetwork::SetPortLearning(const std::string& ns,
                                               const std::string& ifname,
                                               bool learning) {
  const std::string what =
      absl::StrCat("set learning ", learning ? "on" : "off", " on bridge port ",
                   QualifiedName(ns, ifname));
  EMU_RETURN_IF_ERROR(Annotate(ValidateInterfaceName(ifname), what));
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  absl::StatusOr<LinkPtr> port = GetLink(sock, ns, ifname);
  if (!port.ok()) return Annotate(port.status(), what);
  if (rtnl_link_get_master(port->get()) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": not a bridge port"));
  }
  // libnl 3.7 has no setter for bridge port options through
  // IFLA_INFO_SLAVE_DATA, so the message is built here as
  // `ip link set IF type bridge_slave learning off` sends it.
  std::unique_ptr<nl_msg, void (*)(nl_msg*)> msg(
      nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK), nlmsg_free);
  if (!msg) return absl::ResourceExhaustedError("nlmsg_alloc_simple");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = rtnl_link_get_ifindex(port->get());
  nlattr* info = nullptr;
  nlattr* data = nullptr;
  if (nlmsg_append(msg.get(), &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
      (info = nla_nest_start(msg.get(), IFLA_LINKINFO)) == nullptr ||
      nla_put_string(msg.get(), IFLA_INFO_SLAVE_KIND, "bridge") < 0 ||
      (data = nla_nest_start(msg.get(), IFLA_INFO_SLAVE_DATA)) == nullptr ||
      nla_put_u8(msg.get(), IFLA_BRPORT_LEARNING, learning ? 1 : 0) < 0 ||
      nla_nest_end(msg.get(), data) < 0 || nla_nest_end(msg.get(), info) < 0) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": message"));
  }
  return NlCall(sock, what, [&](nl_sock* s) {
    int err = nl_send_auto(s, msg.get());
    return err < 0 ? err : nl_wait_for_ack(s);
  });
}

absl::StatusOr<std::vector<HostNetwork::RouteInfo>>
LibnlHostNetwork::ListRoutes(const std::string& ns) {
  const std::string what = absl::StrCat("list routes of ", ns);
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Handle> h, Get(ns));
  absl::MutexLock lock(&h->mu);
  EMU_ASSIGN_OR_RETURN(CachePtr links, DumpLinks(h->sock, what));
  EMU_ASSIGN_OR_RETURN(CachePtr routes,
                       Dump(h->sock, what, [](nl_sock* s, nl_cache** c) {
                         return rtnl_route_alloc_cache(s, AF_UNSPEC, 0, c);
                       }));
  std::vector<RouteInfo> out;
  for (nl_object* o = nl_cache_get_first(routes.get()); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    const int family = rtnl_route_get_family(r);
    const uint8_t type = rtnl_route_get_type(r);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN ||
        (type != RTN_UNICAST && type != RTN_BLACKHOLE &&
         type != RTN_UNREACHABLE && type != RTN_PROHIBIT) ||
        (family != AF_INET && family != AF_INET6)) {
      continue;
    }
    Cidr c;
    c.family = family;
    if (nl_addr* dst = rtnl_route_get_dst(r); dst != nullptr) {
      const unsigned len = nl_addr_get_len(dst);
      if (len == static_cast<unsigned>(c.byte_len())) {
        std::memcpy(c.bytes.data(), nl_addr_get_binary_addr(dst), len);
      }
      c.prefix_len = static_cast<int>(nl_addr_get_prefixlen(dst));
    }
    RouteInfo info;
    info.destination = c.ToString();
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      char name[IFNAMSIZ + 1] = {};
      if (nh != nullptr &&
          rtnl_link_i2name(links.get(), rtnl_route_nh_get_ifindex(nh), name,
                           sizeof(name)) != nullptr) {
        info.dev = name;
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<std::vector<HostNetwork::InterfaceInfo>>
LibnlHostNetwork::ListInterfaces(const std::string& ns) {
  const std::string what = absl::StrCat("list interfaces of ", ns);
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Handle> h, Get(ns));
  absl::MutexLock lock(&h->mu);
  EMU_ASSIGN_OR_RETURN(CachePtr links, DumpLinks(h->sock, what));
  EMU_ASSIGN_OR_RETURN(CachePtr addrs,
                       Dump(h->sock, what, rtnl_addr_alloc_cache));
  std::vector<InterfaceInfo> out;
  std::vector<int> master_index;  // parallel to `out`; 0: no master
  for (nl_object* o = nl_cache_get_first(links.get()); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    master_index.push_back(rtnl_link_get_master(link));
    InterfaceInfo info;
    const char* name = rtnl_link_get_name(link);
    info.name = name ? name : "";
    info.ifindex = rtnl_link_get_ifindex(link);
    const char* kind = rtnl_link_get_type(link);
    info.kind = kind ? kind : "";
    const char* alias = rtnl_link_get_ifalias(link);
    info.alias = alias ? alias : "";
    info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
    info.mac = MacString(link);
    info.mtu = rtnl_link_get_mtu(link);
    out.push_back(std::move(info));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (master_index[i] == 0) continue;
    for (const InterfaceInfo& m : out) {
      if (m.ifindex == master_index[i]) out[i].master = m.name;
    }
  }
  for (nl_object* o = nl_cache_get_first(addrs.get()); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(o);
    Cidr c;
    if (!FromRtnlAddr(addr, &c)) continue;
    int ifindex = rtnl_addr_get_ifindex(addr);
    for (InterfaceInfo& info : out) {
      if (info.ifindex == ifindex) info.addresses.push_back(c.ToString());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const InterfaceInfo& x, const InterfaceInfo& y) {
              return x.ifindex < y.ifindex;
            });
  return out;
}

absl::Status LibnlHostNetwork::SetAddresses(
    const std::string& ns, const std::string& ifname,
    const std::vector<std::string>& cidrs) {
  const std::string what = absl::StrCat("set addresses on ", ns, ":", ifname);
  std::vector<Cidr> want;
  for (const std::string& text : cidrs) {
    absl::StatusOr<Cidr> c = ParseCidr(text);
    if (!c.ok()) return Annotate(c.status(), what);
    if (std::find(want.begin(), want.end(), *c) == want.end()) {
      want.push_back(*c);
    }
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  EMU_ASSIGN_OR_RETURN(LinkPtr link, GetLink(sock, ns, ifname));
  const int ifindex = rtnl_link_get_ifindex(link.get());
  EMU_ASSIGN_OR_RETURN(CachePtr addrs, Dump(sock, what, rtnl_addr_alloc_cache));

  std::vector<Cidr> have;
  std::vector<AddrPtr> remove;
  for (nl_object* o = nl_cache_get_first(addrs.get()); o != nullptr;
       o = nl_cache_get_next(o)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(addr) != ifindex) continue;
    Cidr c;
    if (!FromRtnlAddr(addr, &c)) continue;
    if (std::find(want.begin(), want.end(), c) != want.end()) {
      have.push_back(c);
    } else if (!c.IsIpv6LinkLocal()) {
      nl_object_get(o);
      remove.emplace_back(addr);
    }
  }
  // Remove first: an address changing only its prefix length is a remove
  // and an add.
  for (const AddrPtr& a : remove) {
    Cidr c;
    FromRtnlAddr(a.get(), &c);
    linkemu::NlErrorCapture capture(sock);
    int err = rtnl_addr_delete(sock, a.get(), 0);
    // Deleting a primary IPv4 address can take its secondaries with it.
    if (err < 0 && capture.kernel_errno() != EADDRNOTAVAIL &&
        !IsNoDevice(err) && err != -NLE_NOADDR) {
      return capture.ToStatus(err, absl::StrCat("remove ", c.ToString(),
                                                " from ", ns, ":", ifname));
    }
  }
  for (const Cidr& c : want) {
    if (std::find(have.begin(), have.end(), c) != have.end()) continue;
    AddrPtr addr(rtnl_addr_alloc());
    NlAddrPtr local = ToNlAddr(c);
    if (!addr || !local) return absl::ResourceExhaustedError("rtnl_addr");
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_family(addr.get(), c.family);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_prefixlen(addr.get(), c.prefix_len);
    if (c.family == AF_INET6) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    EMU_RETURN_IF_ERROR(NlCall(
        sock, absl::StrCat("add ", c.ToString(), " to ", ns, ":", ifname),
        [&](nl_sock* s) {
          return rtnl_addr_add(s, addr.get(), NLM_F_REPLACE);
        }));
  }
  return absl::OkStatus();
}

absl::Status LibnlHostNetwork::ReplaceRoute(const std::string& ns,
                                            const RouteSpec& r) {
  const std::string what =
      absl::StrCat("replace route ", r.destination, " in ", ns);
  {
    absl::Status s = ValidateRoute(r);
    if (!s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("in ", ns, ": ", s.message()));
  }
  EMU_ASSIGN_OR_RETURN(Cidr dst, ParseRouteDestination(r.destination));
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  nl_sock* sock = (*h)->sock;
  int ifindex = 0;
  if (!r.dev.empty()) {
    absl::StatusOr<LinkPtr> link = GetLink(sock, ns, r.dev);
    if (!link.ok()) return Annotate(link.status(), what);
    ifindex = rtnl_link_get_ifindex(link->get());
  }
  RoutePtr route(rtnl_route_alloc());
  NlAddrPtr dst_addr = ToNlAddr(dst);
  if (!route || !dst_addr) return absl::ResourceExhaustedError("rtnl_route");
  rtnl_route_set_family(route.get(), dst.family);
  rtnl_route_set_dst(route.get(), dst_addr.get());
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_scope(route.get(),
                       r.via.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  if (r.metric != 0) rtnl_route_set_priority(route.get(), r.metric);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr) return absl::ResourceExhaustedError("rtnl_nexthop");
  if (ifindex != 0) rtnl_route_nh_set_ifindex(nh, ifindex);
  if (!r.via.empty()) {
    EMU_ASSIGN_OR_RETURN(Cidr via, ParseCidr(r.via));
    NlAddrPtr gw = ToNlAddr(via);
    rtnl_route_nh_set_gateway(nh, gw.get());  // takes its own reference
  }
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
  linkemu::NlErrorCapture capture(sock);
  int err = rtnl_route_add(sock, route.get(), NLM_F_REPLACE);
  if (err < 0 && !r.via.empty() &&
      (capture.kernel_errno() == ENETUNREACH ||
       capture.kernel_errno() == EHOSTUNREACH)) {
    // Retry meaning: set the address that makes the gateway on-link first.
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": gateway ", r.via, " is not reachable",
        r.dev.empty() ? "" : absl::StrCat(" via ", r.dev),
        " (no address in its subnet?): ",
        capture.ToStatus(err, what).message().substr(what.size() + 2)));
  }
  return capture.ToStatus(err < 0 ? err : 0, what);
}

absl::Status LibnlHostNetwork::SetSysctl(const std::string& ns,
                                         const std::string& key,
                                         const std::string& value) {
  const std::string what =
      absl::StrCat("set sysctl ", key, "=", value, " in ", ns);
  absl::StatusOr<std::string> path = SysctlPath(key);
  if (!path.ok()) return Annotate(path.status(), absl::StrCat("in ", ns));
  if (value.empty() || value.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": value must be one non-empty line"));
  }
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  // /proc/sys/net is resolved against the opening thread's namespace.
  return RunInNamespace((*h)->fd, what, [&]() -> absl::Status {
    int fd = open(path->c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return emu::ErrnoToStatus(errno, what);
    absl::Cleanup closer = [fd] { close(fd); };
    ssize_t n = write(fd, value.data(), value.size());
    if (n < 0) return emu::ErrnoToStatus(errno, what);
    if (static_cast<size_t>(n) != value.size()) {
      return absl::InternalError(absl::StrCat(what, ": short write"));
    }
    return absl::OkStatus();
  });
}

absl::Status LibnlHostNetwork::ApplyQdiscs(const std::string& ns,
                                           const std::string& ifname,
                                           const linkemu::QdiscPlan& plan) {
  const std::string where = absl::StrCat(ns, ":", ifname);
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) {
    return Annotate(h.status(), absl::StrCat("set qdiscs on ", where));
  }
  absl::MutexLock lock(&(*h)->mu);
  absl::StatusOr<LinkPtr> link = GetLink((*h)->sock, ns, ifname);
  if (!link.ok()) {
    return Annotate(link.status(), absl::StrCat("set qdiscs on ", where));
  }
  return linkemu::ApplyQdiscPlan((*h)->sock, rtnl_link_get_ifindex(link->get()),
                                 where, plan);
}

absl::StatusOr<std::vector<linkemu::QdiscInfo>> LibnlHostNetwork::ListQdiscs(
    const std::string& ns, const std::string& ifname) {
  const std::string what = absl::StrCat("list qdiscs on ", ns, ":", ifname);
  absl::StatusOr<std::shared_ptr<Handle>> h = Get(ns);
  if (!h.ok()) return Annotate(h.status(), what);
  absl::MutexLock lock(&(*h)->mu);
  absl::StatusOr<LinkPtr> link = GetLink((*h)->sock, ns, ifname);
  if (!link.ok()) return Annotate(link.status(), what);
  absl::StatusOr<std::vector<linkemu::QdiscInfo>> q =
      linkemu::ListQdiscs((*h)->sock, rtnl_link_get_ifindex(link->get()));
  if (!q.ok()) return Annotate(q.status(), what);
  return q;
}

absl::StatusOr<HostNetwork::KernelFeatures> LibnlHostNetwork::ProbeKernel() {
  const std::string ns =
      absl::StrCat("emu-probe-", getpid(), "-", probe_counter_.fetch_add(1));
  EMU_RETURN_IF_ERROR(Annotate(CreateNamespace(ns), "probe kernel"));
  absl::Cleanup remove = [&] { DeleteNamespace(ns).IgnoreError(); };

  KernelFeatures f;
  f.veth = CreateVeth({ns, "probe0", "", 0}, {ns, "probe1", "", 0}, "emu-probe")
               .ok();
  EMU_ASSIGN_OR_RETURN(std::shared_ptr<Handle> h, Get(ns));
  absl::MutexLock lock(&h->mu);
  nl_sock* sock = h->sock;
  int ifindex = 1;  // loopback, if there is no veth
  if (f.veth) {
    absl::StatusOr<LinkPtr> link = GetLink(sock, ns, "probe0");
    if (link.ok()) ifindex = rtnl_link_get_ifindex(link->get());
  }
  const linkemu::QdiscPlan none;
  for (const char* kind : {"tbf", "netem", "htb", "fq_codel", "pfifo", "red",
                           "sfq", "prio", "cake"}) {
    bool have = false;
    if (std::string(kind) == "tbf" || std::string(kind) == "netem") {
      // The two kinds emu programs: probe with real parameters.
      linkemu::QdiscPlan plan;
      if (std::string(kind) == "tbf") {
        plan.tbf = linkemu::TbfSpec{125000, 3028, 24224};
      } else {
        plan.netem = linkemu::NetemSpec();
        plan.netem->delay_us = 1000;
      }
      have = linkemu::ApplyQdiscPlan(sock, ifindex, ns, plan).ok();
    } else {
      have = KernelHasQdiscKind(sock, ifindex, kind);
    }
    if (have) f.qdiscs.push_back(kind);
    linkemu::ApplyQdiscPlan(sock, ifindex, ns, none).IgnoreError();
  }

  LinkPtr bridge(rtnl_link_alloc());
  rtnl_link_set_name(bridge.get(), "probebr0");
  f.bridge = rtnl_link_set_type(bridge.get(), "bridge") == 0 &&
             rtnl_link_add(sock, bridge.get(), NLM_F_CREATE | NLM_F_EXCL) == 0;

  LinkPtr vxlan(rtnl_link_vxlan_alloc());
  if (vxlan) {
    rtnl_link_set_name(vxlan.get(), "probevx0");
    rtnl_link_vxlan_set_id(vxlan.get(), 42);
    rtnl_link_vxlan_set_port(vxlan.get(), 4789);
    f.vxlan = rtnl_link_add(sock, vxlan.get(), NLM_F_CREATE | NLM_F_EXCL) == 0;
  }
  for (const char* kind : {"dummy", "ifb"}) {
    LinkPtr l(rtnl_link_alloc());
    if (!l) continue;
    const std::string name = absl::StrCat("probe", kind, "0");
    rtnl_link_set_name(l.get(), name.c_str());
    const bool have =
        rtnl_link_set_type(l.get(), kind) == 0 &&
        rtnl_link_add(sock, l.get(), NLM_F_CREATE | NLM_F_EXCL) == 0;
    (std::string(kind) == "dummy" ? f.dummy : f.ifb) = have;
  }
  return f;
}

}  // namespace emu::agent::net
