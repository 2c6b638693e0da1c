// Current rates from two samples of a lab's counters (proto/counters.proto):
// the difference of the cumulative counters over the time between the
// samples. emuctl stats uses it; so can metrics and the web view.
//
// Pure functions; thread-safe.
#ifndef EMU_COMMON_COUNTER_RATES_H_
#define EMU_COMMON_COUNTER_RATES_H_

#include <cstdint>

#include "proto/counters.pb.h"

namespace emu {

// (later - earlier) / seconds; 0 when the counter went backwards (the
// object was re-created between the samples) or no time passed.
double RatePerSecond(uint64_t earlier, uint64_t later, double seconds);

// `later` with its rate fields filled from the difference to `earlier`:
// per link direction (matched by link name) bits and packets per second of
// delivered traffic, per node (matched by node name) CPU percent. Links and
// nodes absent from `earlier` get rate 0.
emu::v1::LabCounters WithRates(const emu::v1::LabCounters& earlier,
                               emu::v1::LabCounters later);

}  // namespace emu

#endif  // EMU_COMMON_COUNTER_RATES_H_
