// The physical hosts the controller knows: each host's agent client, its
// last reported capabilities, and whether it answered the last heartbeat.
// Hosts come from the controller's --agents list (Add) or register
// themselves (Register, RegistrationService). A host that comes back
// (answers again after failing, or registers with a new instance id after
// a restart) is queued for a resync: TakeReturnedHosts.
//
// Thread-safe. Owns the clients.
#ifndef EMU_CONTROLLER_HOSTS_HOST_REGISTRY_H_
#define EMU_CONTROLLER_HOSTS_HOST_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/thread_pool.h"
#include "controller/hosts/agent_client.h"
#include "proto/controller.pb.h"

namespace emu::controller::hosts {

// "h1=198.18.0.11:7471,h2=..." -> (name, address) pairs.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseAgentList(
    const std::string& flag);

class HostRegistry {
 public:
  HostRegistry() = default;

  // Adds a host. ALREADY_EXISTS for a duplicate name.
  absl::Status Add(const std::string& name, const std::string& address,
                   std::unique_ptr<AgentClient> client);

  struct RegisterResult {
    bool new_host = false;
    bool restarted = false;  // a new instance_id for a known instance
  };
  // Adds or refreshes a self-registered host. `make_client` is called when
  // the host is new or its address changed (the old client stays alive for
  // callers still holding it). ALREADY_EXISTS when `name` is a --agents
  // host at another address.
  // `certificate` is the PEM the agent presented (empty over plain text).
  // PERMISSION_DENIED when Remove retired that certificate or that
  // instance_id for `name` (the agent `emuctl cluster remove` stopped).
  absl::StatusOr<RegisterResult> Register(
      const std::string& name, const std::string& address,
      const emu::v1::Capabilities& capabilities, const std::string& instance_id,
      const std::function<std::unique_ptr<AgentClient>()>& make_client,
      const std::string& certificate = "");

  // Forgets host `name` (`emuctl cluster remove`): it leaves Snapshot and
  // placement at once, and the certificate and instance id it last
  // registered with are refused by Register from then on (a new agent with
  // a new certificate, from `cluster add`, is accepted). The client stays
  // alive for callers holding it. NOT_FOUND for an unknown host.
  absl::Status Remove(const std::string& name);

  // Hosts that came back since the last call (in name order): unreachable
  // at one Refresh and reachable at a later one, or restarted per Register.
  // A host's first successful contact does not count.
  std::vector<std::string> TakeReturnedHosts();

  // Asks every agent for its capabilities (in parallel, each bounded by
  // `timeout`) and records who answered.
  void Refresh(absl::Duration timeout);

  // Hosts in name order, as of the last Refresh.
  std::vector<emu::v1::HostStatus> Snapshot() const;

  // NOT_FOUND for an unknown host. The pointer lives as long as the registry.
  absl::StatusOr<AgentClient*> Client(const std::string& name) const;

  bool Reachable(const std::string& name) const;

  // Runs call(0) .. call(n-1) on the registry's fan-out pool, at most
  // kFanoutThreads at a time, and returns when all have: for asking several
  // agents at once (each call bounded by its RPC deadline). Must not be
  // called from inside such a call.
  void CallEach(size_t n, const std::function<void(size_t)>& call);
  static constexpr int kFanoutThreads = 16;

 private:
  struct Entry {
    emu::v1::HostStatus status;
    std::unique_ptr<AgentClient> client;
    bool registered = false;  // self-registered, not from --agents
    bool ever_reachable = false;
    std::string instance_id;
    std::string certificate;  // PEM of the last registration; may be empty
  };
  // What Remove retired, per host name: refused at Register.
  struct Retired {
    std::set<std::string> certificates;
    std::set<std::string> instance_ids;
  };
  mutable absl::Mutex mu_;
  std::vector<Entry> hosts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<AgentClient>> retired_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> returned_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Retired> removed_ ABSL_GUARDED_BY(mu_);
  // Last member: joined before the hosts go.
  ThreadPool fanout_{kFanoutThreads};
};

}  // namespace emu::controller::hosts

#endif  // EMU_CONTROLLER_HOSTS_HOST_REGISTRY_H_
