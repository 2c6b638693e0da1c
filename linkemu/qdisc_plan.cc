#include "linkemu/qdisc_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "linkemu/units.h"

namespace emu::linkemu {
namespace {

absl::Status CheckPercent(absl::string_view field, double v) {
  if (!std::isfinite(v) || v < 0 || v > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", v, " is outside 0..100"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TbfSpec> PlanTbf(const emu::v1::LinkParams& p) {
  if (p.rate_bps() < kMinTbfRateBps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rate_bps ", p.rate_bps(), " is below the ", kMinTbfRateBps,
        " bit/s TBF can shape with a frame-sized bucket"));
  }
  if (p.rate_bps() > kMaxTbfRateBps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rate_bps ", p.rate_bps(), " is above ", FormatRate(kMaxTbfRateBps),
        ", the most TBF takes through libnl (32-bit bytes per second)"));
  }
  TbfSpec tbf;
  tbf.rate_bytes_per_sec = p.rate_bps() / 8;
  const uint64_t rate = tbf.rate_bytes_per_sec;
  uint64_t burst;
  if (p.burst_bytes() != 0) {
    burst = p.burst_bytes();
    if (burst < kFullFrameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burst_bytes ", burst, " is smaller than one full-size frame (",
          kFullFrameBytes, " bytes): TBF could never send such a frame"));
    }
    if (burst > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat("burst_bytes ", burst, " is above 2 GiB"));
    }
  } else {
    burst = std::max<uint64_t>(rate / kAssumedHz, 2 * kFullFrameBytes);
  }
  if (static_cast<double>(burst) / static_cast<double>(rate) >
      kMaxBurstSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burst ", burst, " bytes at ", FormatRate(p.rate_bps()),
        " takes more than ", kMaxBurstSeconds,
        " s to fill; TBF cannot represent it"));
  }
  if (static_cast<double>(burst) * 1e6 / static_cast<double>(rate) <
      kMinBurstMicros) {
    return absl::InvalidArgumentError(absl::StrCat(
        "burst ", burst, " bytes lasts under ", kMinBurstMicros, " us at ",
        FormatRate(p.rate_bps()),
        "; TBF's microsecond-granular bucket would distort it (use at least ",
        static_cast<uint64_t>(rate * kMinBurstMicros / 1e6) + 1, " bytes)"));
  }
  tbf.burst_bytes = static_cast<uint32_t>(burst);
  uint64_t limit = std::max<uint64_t>(rate * kTbfQueueMs / 1000,
                                      kMinTbfLimitFrames * kFullFrameBytes);
  limit = std::min<uint64_t>(limit, std::numeric_limits<int32_t>::max());
  tbf.limit_bytes = static_cast<uint32_t>(limit);
  return tbf;
}

bool WantsNetem(const emu::v1::LinkParams& p) {
  return p.delay_us() != 0 || p.jitter_us() != 0 ||
         p.delay_correlation_percent() != 0 || p.loss_percent() != 0 ||
         p.loss_correlation_percent() != 0 || p.duplicate_percent() != 0 ||
         p.reorder_percent() != 0 || p.corrupt_percent() != 0 ||
         p.limit_packets() != 0;
}

absl::StatusOr<NetemSpec> PlanNetem(const emu::v1::LinkParams& p) {
  struct Pct {
    const char* field;
    double value;
  };
  const Pct percents[] = {
      {"delay_correlation_percent", p.delay_correlation_percent()},
      {"loss_percent", p.loss_percent()},
      {"loss_correlation_percent", p.loss_correlation_percent()},
      {"duplicate_percent", p.duplicate_percent()},
      {"reorder_percent", p.reorder_percent()},
      {"corrupt_percent", p.corrupt_percent()},
  };
  for (const Pct& pct : percents) {
    absl::Status s = CheckPercent(pct.field, pct.value);
    if (!s.ok()) return s;
  }
  if (p.delay_us() > kMaxNetemDelayUs) {
    return absl::InvalidArgumentError(
        absl::StrCat("delay_us ", p.delay_us(), " is above ",
                     FormatDurationUs(kMaxNetemDelayUs)));
  }
  if (p.jitter_us() != 0 && p.delay_us() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("jitter_us ", p.jitter_us(), " needs delay_us"));
  }
  if (p.jitter_us() > p.delay_us()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jitter_us ", p.jitter_us(), " exceeds delay_us ", p.delay_us(),
        ": netem would clamp negative delays to zero and skew the "
        "distribution"));
  }
  if (p.delay_correlation_percent() != 0 && p.jitter_us() == 0) {
    return absl::InvalidArgumentError(
        "delay_correlation_percent needs jitter_us (it correlates the jitter)");
  }
  if (p.loss_correlation_percent() != 0 && p.loss_percent() == 0) {
    return absl::InvalidArgumentError(
        "loss_correlation_percent needs loss_percent");
  }
  if (p.reorder_percent() != 0 && p.delay_us() == 0) {
    return absl::InvalidArgumentError(
        "reorder_percent needs delay_us (netem reorders by sending some "
        "packets without the delay)");
  }
  NetemSpec n;
  n.delay_us = static_cast<uint32_t>(p.delay_us());
  n.jitter_us = static_cast<uint32_t>(p.jitter_us());
  n.delay_correlation_percent = p.delay_correlation_percent();
  n.loss_percent = p.loss_percent();
  n.loss_correlation_percent = p.loss_correlation_percent();
  n.duplicate_percent = p.duplicate_percent();
  n.reorder_percent = p.reorder_percent();
  n.corrupt_percent = p.corrupt_percent();
  n.limit_packets = p.limit_packets();
  return n;
}

std::string NetemString(const NetemSpec& n) {
  std::vector<std::string> parts;
  if (n.delay_us != 0) {
    std::string d = absl::StrCat("delay ", FormatDurationUs(n.delay_us));
    if (n.jitter_us != 0) {
      absl::StrAppend(&d, " jitter ", FormatDurationUs(n.jitter_us));
    }
    if (n.delay_correlation_percent != 0) {
      absl::StrAppend(&d, " ", FormatPercent(n.delay_correlation_percent));
    }
    parts.push_back(d);
  }
  if (n.loss_percent != 0) {
    std::string l = absl::StrCat("loss ", FormatPercent(n.loss_percent));
    if (n.loss_correlation_percent != 0) {
      absl::StrAppend(&l, " ", FormatPercent(n.loss_correlation_percent));
    }
    parts.push_back(l);
  }
  if (n.duplicate_percent != 0) {
    parts.push_back(
        absl::StrCat("duplicate ", FormatPercent(n.duplicate_percent)));
  }
  if (n.reorder_percent != 0) {
    parts.push_back(absl::StrCat("reorder ", FormatPercent(n.reorder_percent)));
  }
  if (n.corrupt_percent != 0) {
    parts.push_back(absl::StrCat("corrupt ", FormatPercent(n.corrupt_percent)));
  }
  if (n.limit_packets != 0) {
    parts.push_back(absl::StrCat("limit ", n.limit_packets, "p"));
  }
  return absl::StrCat("netem(", absl::StrJoin(parts, " "), ")");
}

}  // namespace

bool NetemSpec::operator==(const NetemSpec& o) const {
  return delay_us == o.delay_us && jitter_us == o.jitter_us &&
         delay_correlation_percent == o.delay_correlation_percent &&
         loss_percent == o.loss_percent &&
         loss_correlation_percent == o.loss_correlation_percent &&
         duplicate_percent == o.duplicate_percent &&
         reorder_percent == o.reorder_percent &&
         corrupt_percent == o.corrupt_percent &&
         limit_packets == o.limit_packets;
}

std::string QdiscPlan::DebugString() const {
  std::vector<std::string> parts;
  if (netem) parts.push_back(NetemString(*netem));
  if (tbf) {
    parts.push_back(absl::StrCat(
        "tbf(rate ", FormatRate(tbf->rate_bytes_per_sec * 8), " burst ",
        FormatSizeBytes(tbf->burst_bytes), " limit ",
        FormatSizeBytes(tbf->limit_bytes), ")"));
  }
  if (parts.empty()) return "none";
  return absl::StrJoin(parts, " + ");
}

absl::StatusOr<QdiscPlan> PlanForLinkParams(const emu::v1::LinkParams& p) {
  QdiscPlan plan;
  if (p.rate_bps() != 0) {
    auto tbf = PlanTbf(p);
    if (!tbf.ok()) return tbf.status();
    plan.tbf = *tbf;
  } else if (p.burst_bytes() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("burst_bytes ", p.burst_bytes(), " needs rate_bps"));
  }
  if (WantsNetem(p)) {
    auto netem = PlanNetem(p);
    if (!netem.ok()) return netem.status();
    plan.netem = *netem;
  }
  return plan;
}

uint32_t PercentToNetemProbability(double percent) {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(std::rint(
      percent / 100.0 *
      static_cast<double>(std::numeric_limits<uint32_t>::max())));
}

std::vector<QdiscInfo> LayoutFor(const QdiscPlan& plan) {
  std::vector<QdiscInfo> out;
  if (plan.netem) {
    out.push_back({"netem", kRootHandle, kRootParent});
    if (plan.tbf) out.push_back({"tbf", kTbfChildHandle, kTbfChildParent});
  } else if (plan.tbf) {
    out.push_back({"tbf", kRootHandle, kRootParent});
  }
  return out;
}

std::string FormatTcHandle(uint32_t handle) {
  if (handle == kRootParent) return "root";
  if (handle == 0) return "none";
  uint32_t major = handle >> 16;
  uint32_t minor = handle & 0xFFFF;
  if (minor == 0) return absl::StrFormat("%x:", major);
  return absl::StrFormat("%x:%x", major, minor);
}

}  // namespace emu::linkemu
