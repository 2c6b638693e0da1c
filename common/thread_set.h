// Threads with an owner: each Start()ed thread is joined by the set, either
// when the next Start() finds it finished or in JoinAll()/the destructor.
//
// For work that blocks for as long as something outside runs (a Task
// command until its process exits, an experiment run until it ends), where a
// fixed ThreadPool would make one item wait for another; short work belongs
// on a ThreadPool.
//
// Thread-safe. The destructor calls JoinAll(); no Start() may race with it.
#ifndef EMU_COMMON_THREAD_SET_H_
#define EMU_COMMON_THREAD_SET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace emu {

class ThreadSet {
 public:
  ThreadSet() = default;
  ~ThreadSet();
  ThreadSet(const ThreadSet&) = delete;
  ThreadSet& operator=(const ThreadSet&) = delete;

  // Runs `fn` on a new thread owned by this set.
  void Start(std::function<void()> fn);

  // Waits until no thread of the set runs or `deadline` passes; true if none
  // runs.
  bool WaitIdle(absl::Time deadline);

  // Waits for every thread, including ones started meanwhile, and joins it.
  void JoinAll();

  // Threads whose function has not returned yet.
  int running();

 private:
  // Joins the threads whose function has returned.
  void Reap();

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu

#endif  // EMU_COMMON_THREAD_SET_H_
