#include "linkemu/late_frames.h"

#include <tuple>

#include "absl/strings/match.h"

namespace emu::linkemu {

LateFigures LateBetween(const emu::v1::DirectionCounters& before,
                        const emu::v1::DirectionCounters& after) {
  LateFigures f;
  f.known = absl::StrContains(after.carrier(), "engine");
  if (!f.known) return f;
  f.tunnel = absl::StartsWith(after.carrier(), "tunnel");
  auto delta = [](uint64_t b, uint64_t a) { return a >= b ? a - b : a; };
  f.late_1ms = delta(before.late_1ms_packets(), after.late_1ms_packets());
  f.late_10ms = delta(before.late_10ms_packets(), after.late_10ms_packets());
  return f;
}

std::vector<StalledDirection> StalledBetween(
    const emu::v1::LabCounters& before, const emu::v1::LabCounters& after) {
  std::vector<StalledDirection> out;
  for (const auto& l : after.links()) {
    const emu::v1::LinkCounters* was = nullptr;
    for (const auto& b : before.links()) {
      if (b.link() == l.link()) was = &b;
    }
    const emu::v1::LinkCounters none;
    if (was == nullptr) was = &none;
    for (const auto& [dir, b, a] :
         {std::tuple{"a-to-b", &was->a_to_b(), &l.a_to_b()},
          std::tuple{"b-to-a", &was->b_to_a(), &l.b_to_a()}}) {
      LateFigures f = LateBetween(*b, *a);
      if (f.late_10ms > 0) out.push_back({l.link(), dir, f});
    }
  }
  return out;
}

}  // namespace emu::linkemu
