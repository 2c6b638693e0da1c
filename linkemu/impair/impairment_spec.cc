#include "linkemu/impair/impairment_spec.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace emu::linkemu {
namespace {

auto Tie(const GilbertElliott& g) {
  return std::tie(g.p_percent, g.r_percent, g.loss_in_bad_percent,
                  g.loss_in_good_percent);
}

auto Tie(const ImpairmentSpec& s) {
  return std::tie(s.delay_us, s.jitter_us, s.delay_correlation_percent,
                  s.distribution, s.loss_percent, s.loss_correlation_percent,
                  s.duplicate_percent, s.duplicate_correlation_percent,
                  s.corrupt_percent, s.corrupt_correlation_percent,
                  s.bit_error_rate, s.reorder_percent,
                  s.reorder_correlation_percent, s.reorder_gap, s.rate_bps,
                  s.burst_bytes, s.overhead_bytes, s.limit_packets,
                  s.limit_bytes, s.compensate_own_latency);
}

}  // namespace

bool GilbertElliott::operator==(const GilbertElliott& o) const {
  return Tie(*this) == Tie(o);
}

bool ImpairmentSpec::operator==(const ImpairmentSpec& o) const {
  return Tie(*this) == Tie(o) && gilbert_elliott == o.gilbert_elliott;
}

bool ImpairmentSpec::IsPassThrough() const {
  // Queue limits alone change nothing: with no delay and no rate nothing
  // is ever queued. A Gilbert-Elliott model loses only when a loss
  // probability is non-zero in a state the chain can reach.
  bool ge_loses =
      gilbert_elliott.has_value() &&
      (gilbert_elliott->loss_in_good_percent > 0 ||
       (gilbert_elliott->p_percent > 0 &&
        gilbert_elliott->loss_in_bad_percent > 0));
  return delay_us == 0 && jitter_us == 0 && loss_percent == 0 && !ge_loses &&
         duplicate_percent == 0 && corrupt_percent == 0 &&
         bit_error_rate == 0 && reorder_percent == 0 && reorder_gap == 0 &&
         rate_bps == 0;
}

std::vector<std::string> ImpairmentSpecProblems(const ImpairmentSpec& s) {
  std::vector<std::string> problems;
  auto percent = [&](const char* name, double v) {
    if (!(v >= 0 && v <= 100)) {
      problems.push_back(absl::StrCat(name, " ", v, " is outside 0..100"));
    }
  };
  percent("delay_correlation_percent", s.delay_correlation_percent);
  percent("loss_percent", s.loss_percent);
  percent("loss_correlation_percent", s.loss_correlation_percent);
  percent("duplicate_percent", s.duplicate_percent);
  percent("duplicate_correlation_percent", s.duplicate_correlation_percent);
  percent("corrupt_percent", s.corrupt_percent);
  percent("corrupt_correlation_percent", s.corrupt_correlation_percent);
  percent("reorder_percent", s.reorder_percent);
  percent("reorder_correlation_percent", s.reorder_correlation_percent);
  if (s.gilbert_elliott) {
    percent("gilbert_elliott.p_percent", s.gilbert_elliott->p_percent);
    percent("gilbert_elliott.r_percent", s.gilbert_elliott->r_percent);
    percent("gilbert_elliott.loss_in_bad_percent",
            s.gilbert_elliott->loss_in_bad_percent);
    percent("gilbert_elliott.loss_in_good_percent",
            s.gilbert_elliott->loss_in_good_percent);
  }
  if (!(s.bit_error_rate >= 0 && s.bit_error_rate <= 1)) {
    problems.push_back(
        absl::StrCat("bit_error_rate ", s.bit_error_rate, " is outside 0..1"));
  }
  if (s.delay_us > kMaxImpairDelayUs) {
    problems.push_back(absl::StrCat("delay_us ", s.delay_us, " is above ",
                                    kMaxImpairDelayUs));
  }
  if (s.jitter_us > kMaxImpairDelayUs) {
    problems.push_back(absl::StrCat("jitter_us ", s.jitter_us, " is above ",
                                    kMaxImpairDelayUs));
  }
  if ((s.reorder_percent > 0 || s.reorder_gap > 0) && s.delay_us == 0) {
    problems.push_back("reordering needs a delay (as netem's)");
  }
  if (s.rate_bps > 0 && s.rate_bps < 8) {
    problems.push_back(absl::StrCat("rate_bps ", s.rate_bps,
                                    " is below 8 (one byte per second)"));
  }
  return problems;
}

}  // namespace emu::linkemu
