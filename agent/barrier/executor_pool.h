// Pre-forked executors of one barrier session: for each node a run uses, a
// process already created in the node's place (forked, namespaces entered,
// mount namespace made: ProcessLauncher::Prepare) and waiting for its
// command, so that releasing a Task only hands the argv over. Each node
// keeps up to `depth` of them: the next one is prepared in the background
// once one has exec'd, while its command runs; with depth 2 a Task that
// follows at once (a short command) finds one ready even though the fork
// after the previous exec has not finished, so the fork never falls
// between a Task's end and the next one's release.
//
// Thread-safe. Create with std::make_shared (background preparations hold
// it); Shutdown() before the session's last reference goes.
#ifndef EMU_AGENT_BARRIER_EXECUTOR_POOL_H_
#define EMU_AGENT_BARRIER_EXECUTOR_POOL_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/process_launcher.h"
#include "common/thread_set.h"

namespace emu::agent::barrier {

class ExecutorPool : public std::enable_shared_from_this<ExecutorPool> {
 public:
  // A ready process for `node`; nullptr when the node's commands do not run
  // as host processes (a QEMU guest's go through its console).
  using PrepareFn =
      std::function<absl::StatusOr<std::unique_ptr<PreparedProcess>>(
          const std::string& node)>;

  // `threads` runs the background preparations and outlives the pool's
  // last one (the agent's barrier service owns it).
  ExecutorPool(PrepareFn prepare, ThreadSet* threads, int depth = 1)
      : prepare_(std::move(prepare)), threads_(threads), depth_(depth) {}

  // Starts preparing one executor for each of `nodes` that has none (the
  // node is topped up to `depth` from its first Refill on).
  void Warm(const std::vector<std::string>& nodes);

  // The node's ready executor, waiting up to `wait` for one being prepared;
  // nullptr when there is none (the caller then creates the process itself:
  // a node never prepared, a guest, a preparation that failed).
  std::unique_ptr<PreparedProcess> Take(const std::string& node,
                                        absl::Duration wait);

  // Waits up to `wait` until every node warmed so far has an executor
  // ready or has failed to get one; true when none is still preparing.
  bool AwaitWarm(absl::Duration wait);

  // Tops the node up to `depth` executors (after one exec'd).
  void Refill(const std::string& node);

  // Ends every ready executor's process and prepares no more. Idempotent.
  void Shutdown();

  // Counters, for tests and logs.
  struct Stats {
    int prepared = 0;   // preparations that succeeded
    int failed = 0;     // ... and failed
    int taken = 0;      // Take calls that found one ready
    int missed = 0;     // Take calls that found none
  };
  Stats stats() const;

 private:
  struct Slot {
    std::deque<std::unique_ptr<PreparedProcess>> ready;
    int preparing = 0;
    bool refilling = false;  // Refill came: keep it topped up to depth
  };
  // Starts preparations until the node has `depth` ready or preparing.
  void TopUpLocked(const std::string& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PrepareOne(const std::string& node);

  const PrepareFn prepare_;
  ThreadSet* const threads_;
  const int depth_;

  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::barrier

#endif  // EMU_AGENT_BARRIER_EXECUTOR_POOL_H_
