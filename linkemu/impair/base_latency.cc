#include "linkemu/impair/base_latency.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace emu::linkemu {

int64_t BaseFromSamplesNs(std::vector<int64_t> samples) {
  if (samples.empty()) return 0;
  const size_t k = samples.size() / kBaseQuantileDivisor;
  std::nth_element(samples.begin(), samples.begin() + k, samples.end());
  return std::clamp<int64_t>(samples[k], 0, kMaxBaseNs);
}

uint64_t CompensatedDelayUs(uint64_t delay_us, uint64_t base_us) {
  return delay_us - std::min(delay_us, base_us);
}

int64_t BaseFromMinRttNs(absl::Duration min_rtt) {
  return std::max<int64_t>(0, absl::ToInt64Nanoseconds(min_rtt) / 2);
}

int64_t BaseWithPartsNs(int64_t base_ns, const std::vector<BasePart>& parts) {
  for (const BasePart& p : parts) {
    if (p.measured) base_ns += std::max<int64_t>(p.ns, 0);
  }
  return base_ns;
}

std::string BaseSourceWithParts(const std::string& source,
                                const std::vector<BasePart>& parts) {
  std::string out = source;
  for (const BasePart& p : parts) {
    if (p.measured) absl::StrAppend(&out, " + ", p.source);
  }
  for (const BasePart& p : parts) {
    if (!p.measured) absl::StrAppend(&out, "; ", p.source);
  }
  return out;
}

DelayCompensation CompensationFor(uint64_t delay_us, int64_t base_ns,
                                  const std::string& source,
                                  const std::vector<BasePart>& parts) {
  DelayCompensation how;
  how.on = true;
  how.base_us = static_cast<uint64_t>(BaseWithPartsNs(base_ns, parts) / 1000);
  how.applied_delay_us = CompensatedDelayUs(delay_us, how.base_us);
  how.source = BaseSourceWithParts(source, parts);
  return how;
}

absl::StatusOr<int64_t> BaseLatency::Ns() {
  absl::MutexLock lock(&mu_);
  if (ns_.has_value()) return *ns_;
  absl::StatusOr<std::vector<int64_t>> samples = probe_->Sample();
  if (!samples.ok()) {
    return absl::Status(samples.status().code(),
                        absl::StrCat("measuring the path's base latency: ",
                                     samples.status().message()));
  }
  if (samples->empty()) {
    return absl::UnavailableError(
        "measuring the path's base latency: no probe came through");
  }
  ns_ = BaseFromSamplesNs(*std::move(samples));
  return *ns_;
}

std::optional<int64_t> BaseLatency::MeasuredNs() const {
  absl::MutexLock lock(&mu_);
  return ns_;
}

}  // namespace emu::linkemu
