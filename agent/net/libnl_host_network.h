// LibnlHostNetwork: HostNetwork on the real kernel, through rtnetlink
// (libnl-route-3) and a few plain system calls (unshare, setns, mount).
// No `ip` or `tc` processes.
//
// How namespaces are entered: setns(CLONE_NEWNET) changes only the calling
// thread, so each operation that must run "inside" a namespace does so on a
// short-lived std::thread. A netlink socket keeps the namespace it was
// opened in for good, so one NETLINK_ROUTE socket is opened per namespace
// (inside such a thread) and cached with an fd of the namespace; every
// later netlink request for that namespace goes through it from whatever
// thread calls. Sysctls are the exception: /proc/sys/net resolves against
// the namespace of the thread that opens the file, so SetSysctl writes from
// a thread that has entered the namespace.
//
// The cache is checked against /run/netns/<ns> (its inode) on each call,
// so a namespace deleted and re-created behind our back is re-opened
// rather than silently addressed through a stale socket. DeleteNamespace
// drops the cached socket: a socket pins its namespace, and a pinned
// namespace keeps its interfaces alive.
//
// Thread-safety: thread-safe. Calls on different namespaces run in
// parallel; calls on one namespace are serialised on its socket.
#ifndef EMU_AGENT_NET_LIBNL_HOST_NETWORK_H_
#define EMU_AGENT_NET_LIBNL_HOST_NETWORK_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/net/host_network.h"

namespace emu::agent::net {

class LibnlHostNetwork : public HostNetwork {
 public:
  struct Options {
    // Where named namespaces live; iproute2's default.
    std::string netns_dir = "/run/netns";
  };

  LibnlHostNetwork();
  explicit LibnlHostNetwork(Options options);
  ~LibnlHostNetwork() override;  // closes cached sockets and fds
  LibnlHostNetwork(const LibnlHostNetwork&) = delete;
  LibnlHostNetwork& operator=(const LibnlHostNetwork&) = delete;

  absl::Status CreateNamespace(const std::string& ns) override;
  absl::Status DeleteNamespace(const std::string& ns) override;
  absl::Status ShareNamespace(const std::string& target,
                              const std::string& ns) override;
  absl::StatusOr<std::string> NamespaceId(const std::string& ns) override;
  absl::StatusOr<std::vector<std::string>> ListNamespaces(
      absl::string_view prefix) override;
  absl::Status CreateVeth(const VethEnd& a, const VethEnd& b,
                          const std::string& alias) override;
  absl::Status DeleteInterface(const std::string& ns,
                               const std::string& ifname) override;
  absl::Status CreateVxlan(const VxlanSpec& spec,
                           const std::string& alias) override;
  absl::Status CreateDummy(const DummySpec& spec,
                           const std::string& alias) override;
  absl::Status CreateBridge(const std::string& ns, const std::string& name,
                            const std::string& alias = "") override;
  absl::Status SetMaster(const std::string& ns, const std::string& ifname,
                         const std::string& master) override;
  absl::Status SetPortLearning(const std::string& ns, const std::string& ifname,
                               bool learning) override;
  absl::StatusOr<std::vector<InterfaceInfo>> ListInterfaces(
      const std::string& ns) override;
  absl::Status SetAddresses(const std::string& ns, const std::string& ifname,
                            const std::vector<std::string>& cidrs) override;
  absl::Status ReplaceRoute(const std::string& ns,
                            const RouteSpec& route) override;
  absl::StatusOr<std::vector<RouteInfo>> ListRoutes(
      const std::string& ns) override;
  absl::Status SetSysctl(const std::string& ns, const std::string& key,
                         const std::string& value) override;
  absl::Status ApplyQdiscs(const std::string& ns, const std::string& ifname,
                           const linkemu::QdiscPlan& plan) override;
  absl::StatusOr<std::vector<linkemu::QdiscInfo>> ListQdiscs(
      const std::string& ns, const std::string& ifname) override;
  absl::StatusOr<KernelFeatures> ProbeKernel() override;

  // One namespace's cached fd and socket (defined in the .cc).
  struct Handle;

 private:
  std::string PathOf(const std::string& ns) const;
  // True for a leftover file in netns_dir with no namespace mounted on it.
  bool IsStaleEntry(const std::string& path) const;
  // Creates the empty file a namespace is mounted on (replacing a stale
  // one); ALREADY_EXISTS if a live entry has the name.
  absl::Status CreateEntry(const std::string& path,
                           absl::string_view what) const;
  absl::Status EnsureNetnsDir();
  // The cached handle for `ns`, opened (or re-opened) as needed. NOT_FOUND
  // if /run/netns/<ns> does not exist.
  absl::StatusOr<std::shared_ptr<Handle>> Get(const std::string& ns);
  void Drop(const std::string& ns);

  const Options options_;
  std::atomic<int> probe_counter_{0};
  absl::Mutex mu_;
  bool netns_dir_ready_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::shared_ptr<Handle>> handles_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_LIBNL_HOST_NETWORK_H_
