// A datagram with the instant its kernel received it (SO_TIMESTAMPNS),
// which no reader's wake-up delays: what the delay probes of the engine
// (linkemu/impair/engine_path_probe) and the benchmarks time frames with.
#ifndef EMU_COMMON_ARRIVAL_STAMP_H_
#define EMU_COMMON_ARRIVAL_STAMP_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace emu {

// Now on the clock of the arrival stamps (CLOCK_REALTIME), nanoseconds:
// what a sender stamps its datagram with to compare with the arrival.
int64_t ArrivalClockNowNs();

// Turns SO_TIMESTAMPNS on for `fd`; false (errno set) when refused.
bool EnableArrivalStamps(int fd);

// One datagram from `fd` without waiting (MSG_DONTWAIT): recvmsg's result,
// and in `*arrival_ns` the kernel's arrival stamp (CLOCK_REALTIME,
// nanoseconds), or 0 when the datagram carried none (stamps not enabled).
ssize_t RecvWithArrivalStamp(int fd, void* buf, size_t len,
                             int64_t* arrival_ns);

}  // namespace emu

#endif  // EMU_COMMON_ARRIVAL_STAMP_H_
