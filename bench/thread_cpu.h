// CPU time this thread has used: what the measured code costs, whatever
// else the machine runs (the benches print wall time beside it).
#ifndef EMU_BENCH_THREAD_CPU_H_
#define EMU_BENCH_THREAD_CPU_H_

#include <time.h>

namespace emu::bench {

inline double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace emu::bench

#endif  // EMU_BENCH_THREAD_CPU_H_
