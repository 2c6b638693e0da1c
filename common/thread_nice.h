// The nice value of one thread (Linux: setpriority(PRIO_PROCESS, tid)),
// for the threads that send impaired frames on time: the userspace
// engine's loops and the tunnels' pump (emu-agent --engine_nice).
#ifndef EMU_COMMON_THREAD_NICE_H_
#define EMU_COMMON_THREAD_NICE_H_

#include <sys/types.h>

#include "absl/status/status.h"

namespace emu {

// INVALID_ARGUMENT "nice N is outside -20..19", else OK.
absl::Status CheckNice(int nice);

// Sets thread `tid`'s nice value: CheckNice's error, or the errno of a
// refusal (a value below the current one needs CAP_SYS_NICE), each
// "nice N: ...".
absl::Status SetThreadNice(pid_t tid, int nice);

// Whether this process may give its threads `nice`: SetThreadNice on a
// thread of its own that ends at once, so a value the kernel refuses (below
// the current one without CAP_SYS_NICE or RLIMIT_NICE) is found before
// anything depends on it. The same errors as SetThreadNice.
absl::Status CheckNiceAllowed(int nice);

}  // namespace emu

#endif  // EMU_COMMON_THREAD_NICE_H_
