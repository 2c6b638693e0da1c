// `emuctl stats` output: a lab's counters (proto/counters.proto) as two
// tables, link directions and nodes. Pure; thread-safe.
#ifndef EMU_CLI_STATS_RENDER_H_
#define EMU_CLI_STATS_RENDER_H_

#include <cstdint>
#include <string>

#include "proto/counters.pb.h"

namespace emu::cli {

// Bytes in binary units: "0B", "512B", "1.5KiB", "12MiB", "3.2GiB".
std::string FormatBytes(uint64_t bytes);

// The LATE column: frames the sender (userspace engine or tunnel egress
// pipeline) sent 1 ms or more after their departure, "5 (max 28.4ms)";
// "0"; "-" where kernel qdiscs send the direction (they do not say).
std::string FormatLate(const emu::v1::DirectionCounters& d);

// The tables. `rated`: the sample carries rates (a second sample was
// compared); otherwise the RATE and CPU% columns read "-".
std::string RenderLabCounters(const emu::v1::LabCounters& counters,
                              bool rated);

}  // namespace emu::cli

#endif  // EMU_CLI_STATS_RENDER_H_
