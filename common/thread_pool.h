// A fixed pool of worker threads for blocking work that must not run on
// gRPC's callback threads (netlink calls, waiting for a command).
//
// Thread-safe. The destructor finishes queued work, then joins the workers.
#ifndef EMU_COMMON_THREAD_POOL_H_
#define EMU_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace emu {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `fn` to run on a worker.
  void Schedule(std::function<void()> fn);

 private:
  void WorkerLoop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace emu

#endif  // EMU_COMMON_THREAD_POOL_H_
