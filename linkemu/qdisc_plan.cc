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

// Whether `p` asks for anything NetEm does.
bool WantsNetem(const emu::v1::LinkParams& p) {
  return p.delay_us() != 0 || p.jitter_us() != 0 ||
         p.delay_correlation_percent() != 0 || p.loss_percent() != 0 ||
         p.loss_correlation_percent() != 0 || p.duplicate_percent() != 0 ||
         p.reorder_percent() != 0 || p.corrupt_percent() != 0 ||
         p.limit_packets() != 0 || p.has_gilbert_elliott();
}

// The bucket TBF gets: the given burst, else one HZ tick of tokens and at
// least two full frames (see the file comment).
uint64_t BurstFor(const emu::v1::LinkParams& p) {
  if (p.burst_bytes() != 0) return p.burst_bytes();
  return std::max<uint64_t>(p.rate_bps() / 8 / kAssumedHz, 2 * kFullFrameBytes);
}

void TbfProblems(const emu::v1::LinkParams& p, std::vector<std::string>* out) {
  if (p.rate_bps() == 0) {
    if (p.burst_bytes() != 0) {
      out->push_back(
          absl::StrCat("burst ", FormatSizeBytes(p.burst_bytes()),
                       " without rate: burst sizes the rate limiter's bucket"));
    }
    return;
  }
  if (p.rate_bps() < kMinTbfRateBps) {
    out->push_back(
        absl::StrCat("rate ", FormatRate(p.rate_bps()), " is below ",
                     FormatRate(kMinTbfRateBps),
                     ", the least TBF can shape with a frame-sized bucket"));
    return;
  }
  if (p.rate_bps() > kMaxTbfRateBps) {
    out->push_back(absl::StrCat(
        "rate ", FormatRate(p.rate_bps()), " is above ",
        FormatRate(kMaxTbfRateBps),
        ", the most TBF takes through libnl (32-bit bytes per second)"));
    return;
  }
  const uint64_t burst = BurstFor(p);
  if (p.burst_bytes() != 0 && burst < kFullFrameBytes) {
    out->push_back(absl::StrCat("burst ", FormatSizeBytes(burst),
                                " is smaller than one full-size frame (",
                                kFullFrameBytes,
                                " bytes): TBF could never send such a frame"));
    return;
  }
  if (burst > kMaxBurstBytes) {
    out->push_back(absl::StrCat("burst ", FormatSizeBytes(burst), " is above ",
                                FormatSizeBytes(kMaxBurstBytes),
                                " (TBF's bucket is a signed 32-bit size)"));
    return;
  }
  const double rate = static_cast<double>(p.rate_bps() / 8);
  if (static_cast<double>(burst) / rate > kMaxBurstSeconds) {
    out->push_back(absl::StrCat("burst ", FormatSizeBytes(burst), " at ",
                                FormatRate(p.rate_bps()), " takes more than ",
                                kMaxBurstSeconds,
                                " s to fill; TBF cannot represent it"));
  } else if (static_cast<double>(burst) * 1e6 / rate < kMinBurstMicros) {
    out->push_back(absl::StrCat(
        "burst ", FormatSizeBytes(burst), " lasts under ", kMinBurstMicros,
        " us at ", FormatRate(p.rate_bps()),
        "; TBF's microsecond-granular bucket would distort it (use at least ",
        static_cast<uint64_t>(rate * kMinBurstMicros / 1e6) + 1, "b)"));
  }
}

void NetemProblems(const emu::v1::LinkParams& p,
                   std::vector<std::string>* out) {
  const struct {
    const char* key;
    double value;
  } percents[] = {
      {"delay-correlation", p.delay_correlation_percent()},
      {"loss", p.loss_percent()},
      {"loss-correlation", p.loss_correlation_percent()},
      {"duplicate", p.duplicate_percent()},
      {"reorder", p.reorder_percent()},
      {"corrupt", p.corrupt_percent()},
  };
  for (const auto& pc : percents) {
    if (!std::isfinite(pc.value) || pc.value < 0 || pc.value > 100) {
      out->push_back(
          absl::StrCat(pc.key, " ", pc.value, "% is outside 0%..100%"));
    }
  }
  if (p.delay_us() > kMaxNetemDelayUs) {
    out->push_back(
        absl::StrCat("delay ", FormatDurationUs(p.delay_us()), " is above ",
                     FormatDurationUs(kMaxNetemDelayUs),
                     ", the most NetEm's 32-bit tick counters hold"));
  }
  if (p.jitter_us() != 0 && p.delay_us() == 0) {
    out->push_back(absl::StrCat(
        "jitter ", FormatDurationUs(p.jitter_us()),
        " without delay: jitter varies the delay, so set delay too"));
  } else if (p.jitter_us() > p.delay_us()) {
    out->push_back(
        absl::StrCat("jitter ", FormatDurationUs(p.jitter_us()),
                     " exceeds delay ", FormatDurationUs(p.delay_us()),
                     ": netem would clamp negative delays to zero and skew the "
                     "distribution"));
  }
  if (p.delay_correlation_percent() != 0 && p.jitter_us() == 0) {
    out->push_back("delay-correlation needs jitter (it correlates the jitter)");
  }
  if (p.loss_correlation_percent() != 0 && p.loss_percent() == 0) {
    out->push_back("loss-correlation needs loss (it correlates the losses)");
  }
  if (p.reorder_percent() != 0 && p.delay_us() == 0) {
    out->push_back(
        "reorder without delay: netem reorders by sending some packets "
        "ahead of delayed ones, so set delay too");
  }
}

// The conditions only the userspace engine applies (UserspaceOnlyKeys).
void EngineOnlyProblems(const emu::v1::LinkParams& p,
                        emu::v1::LinkEngineChoice lab_engine,
                        bool guest_sender, std::vector<std::string>* out) {
  const auto& ge = p.gilbert_elliott();
  const struct {
    const char* key;
    double value;
  } percents[] = {
      {"reorder-correlation", p.reorder_correlation_percent()},
      {"duplicate-correlation", p.duplicate_correlation_percent()},
      {"corrupt-correlation", p.corrupt_correlation_percent()},
      {"gilbert-elliott p", ge.p_percent()},
      {"gilbert-elliott r", ge.r_percent()},
      {"gilbert-elliott loss-bad", ge.loss_in_bad_percent()},
      {"gilbert-elliott loss-good", ge.loss_in_good_percent()},
  };
  for (const auto& pc : percents) {
    if (!std::isfinite(pc.value) || pc.value < 0 || pc.value > 100) {
      out->push_back(
          absl::StrCat(pc.key, " ", pc.value, "% is outside 0%..100%"));
    }
  }
  if (!std::isfinite(p.bit_error_rate()) || p.bit_error_rate() < 0 ||
      p.bit_error_rate() > 1) {
    out->push_back(absl::StrCat("ber ", p.bit_error_rate(),
                                " is outside 0..1 (a probability per bit)"));
  }
  if (p.has_gilbert_elliott() && p.loss_percent() != 0) {
    out->push_back(
        "loss and gilbert-elliott are two loss models: set one of them");
  }
  if (p.reorder_gap() != 0 && p.reorder_percent() == 0) {
    out->push_back(
        "reorder-gap needs reorder (as netem's \"reorder P% gap N\")");
  }
  if (p.reorder_correlation_percent() != 0 && p.reorder_percent() == 0) {
    out->push_back("reorder-correlation needs reorder");
  }
  if (p.duplicate_correlation_percent() != 0 && p.duplicate_percent() == 0) {
    out->push_back("duplicate-correlation needs duplicate");
  }
  if (p.corrupt_correlation_percent() != 0 && p.corrupt_percent() == 0) {
    out->push_back("corrupt-correlation needs corrupt");
  }
  if (p.limit_bytes() != 0 && p.limit_bytes() < kFullFrameBytes) {
    out->push_back(absl::StrCat(
        "limit-bytes ", FormatSizeBytes(p.limit_bytes()),
        " is smaller than one full-size frame (", kFullFrameBytes,
        " bytes): such frames would all be dropped"));
  }
  if (p.overhead_bytes() != 0) {
    if (p.rate_bps() == 0) {
      out->push_back(
          "overhead without rate: it is counted towards the rate, so set "
          "rate too");
    }
    if (p.overhead_bytes() < -kMaxOverheadBytes ||
        p.overhead_bytes() > kMaxOverheadBytes) {
      out->push_back(absl::StrCat("overhead ", p.overhead_bytes(),
                                  "b is outside -", kMaxOverheadBytes, "b..",
                                  kMaxOverheadBytes, "b"));
    }
  }
  const emu::v1::LinkEngineChoice engine =
      p.engine() != emu::v1::LINK_ENGINE_UNSPECIFIED ? p.engine() : lab_engine;
  if (engine == emu::v1::LINK_ENGINE_KERNEL) {
    std::vector<std::string> keys = UserspaceOnlyKeys(p, guest_sender);
    if (!keys.empty()) {
      out->push_back(absl::StrCat(
          absl::StrJoin(keys, ", "),
          keys.size() == 1 ? " needs" : " need",
          " the userspace engine, but the engine is kernel (use engine: "
          "auto or userspace)"));
    }
    if (p.has_compensate() && p.compensate()) {
      out->push_back(
          "compensate needs the userspace engine (it measures the path's "
          "base latency), but the engine is kernel (use engine: auto or "
          "userspace)");
    }
  }
}

TbfSpec PlanTbf(const emu::v1::LinkParams& p) {
  TbfSpec tbf;
  tbf.rate_bytes_per_sec = p.rate_bps() / 8;
  tbf.burst_bytes = static_cast<uint32_t>(BurstFor(p));
  uint64_t limit =
      std::max<uint64_t>(tbf.rate_bytes_per_sec * kTbfQueueMs / 1000,
                         kMinTbfLimitFrames * kFullFrameBytes);
  limit = std::min<uint64_t>(limit, std::numeric_limits<int32_t>::max());
  tbf.limit_bytes = static_cast<uint32_t>(limit);
  return tbf;
}

NetemSpec PlanNetem(const emu::v1::LinkParams& p) {
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
  if (p.delay_distribution() != emu::v1::DELAY_DISTRIBUTION_UNIFORM) {
    n.distribution = p.delay_distribution();
  }
  n.reorder_gap = p.reorder_gap();
  n.reorder_correlation_percent = p.reorder_correlation_percent();
  n.duplicate_correlation_percent = p.duplicate_correlation_percent();
  n.corrupt_correlation_percent = p.corrupt_correlation_percent();
  if (p.has_gilbert_elliott()) n.gilbert_elliott = p.gilbert_elliott();
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
    if (n.distribution != emu::v1::DELAY_DISTRIBUTION_UNSPECIFIED) {
      absl::StrAppend(&d, " distribution ",
                      DelayDistributionName(n.distribution));
    }
    parts.push_back(d);
  }
  if (std::string clauses = NetemPacketClauses(n); !clauses.empty()) {
    parts.push_back(clauses);
  }
  if (n.limit_packets != 0) {
    parts.push_back(absl::StrCat("limit ", n.limit_packets, "p"));
  }
  return absl::StrCat("netem(", absl::StrJoin(parts, " "), ")");
}

}  // namespace

std::string NetemPacketClauses(const NetemSpec& n) {
  std::vector<std::string> parts;
  // "KEY P% [correlation%]".
  auto with_corr = [&parts](const char* key, double percent, double corr) {
    std::string s = absl::StrCat(key, " ", FormatPercent(percent));
    if (corr != 0) absl::StrAppend(&s, " ", FormatPercent(corr));
    parts.push_back(std::move(s));
  };
  if (n.gilbert_elliott) {
    // tc-netem(8): loss gemodel p r 1-h 1-k.
    const auto& ge = *n.gilbert_elliott;
    parts.push_back(absl::StrCat(
        "loss gemodel ", FormatPercent(ge.p_percent()), " ",
        FormatPercent(ge.r_percent()), " ",
        FormatPercent(ge.loss_in_bad_percent()), " ",
        FormatPercent(ge.loss_in_good_percent())));
  } else if (n.loss_percent != 0) {
    with_corr("loss", n.loss_percent, n.loss_correlation_percent);
  }
  if (n.duplicate_percent != 0) {
    with_corr("duplicate", n.duplicate_percent,
              n.duplicate_correlation_percent);
  }
  if (n.reorder_percent != 0) {
    with_corr("reorder", n.reorder_percent, n.reorder_correlation_percent);
    if (n.reorder_gap != 0) parts.back() += absl::StrCat(" gap ", n.reorder_gap);
  }
  if (n.corrupt_percent != 0) {
    with_corr("corrupt", n.corrupt_percent, n.corrupt_correlation_percent);
  }
  return absl::StrJoin(parts, " ");
}

bool NetemSpec::operator==(const NetemSpec& o) const {
  return delay_us == o.delay_us && jitter_us == o.jitter_us &&
         delay_correlation_percent == o.delay_correlation_percent &&
         loss_percent == o.loss_percent &&
         loss_correlation_percent == o.loss_correlation_percent &&
         duplicate_percent == o.duplicate_percent &&
         reorder_percent == o.reorder_percent &&
         corrupt_percent == o.corrupt_percent &&
         limit_packets == o.limit_packets && distribution == o.distribution &&
         reorder_gap == o.reorder_gap &&
         reorder_correlation_percent == o.reorder_correlation_percent &&
         duplicate_correlation_percent == o.duplicate_correlation_percent &&
         corrupt_correlation_percent == o.corrupt_correlation_percent &&
         gilbert_elliott.has_value() == o.gilbert_elliott.has_value() &&
         (!gilbert_elliott ||
          (gilbert_elliott->p_percent() == o.gilbert_elliott->p_percent() &&
           gilbert_elliott->r_percent() == o.gilbert_elliott->r_percent() &&
           gilbert_elliott->loss_in_bad_percent() ==
               o.gilbert_elliott->loss_in_bad_percent() &&
           gilbert_elliott->loss_in_good_percent() ==
               o.gilbert_elliott->loss_in_good_percent()));
}

std::string QdiscPlan::DebugString() const {
  std::vector<std::string> parts;
  if (netem) parts.push_back(NetemString(*netem));
  if (tbf) {
    parts.push_back(
        absl::StrCat("tbf(rate ", FormatRate(tbf->rate_bytes_per_sec * 8),
                     " burst ", FormatSizeBytes(tbf->burst_bytes), " limit ",
                     FormatSizeBytes(tbf->limit_bytes), ")"));
  }
  if (parts.empty()) return "none";
  return absl::StrJoin(parts, " + ");
}

std::vector<std::string> LinkParamsProblems(
    const emu::v1::LinkParams& p, emu::v1::LinkEngineChoice lab_engine,
    bool guest_sender) {
  std::vector<std::string> out;
  TbfProblems(p, &out);
  NetemProblems(p, &out);
  EngineOnlyProblems(p, lab_engine, guest_sender, &out);
  return out;
}

bool IsGuestNetemKey(const std::string& key) {
  return key == "distribution" || key == "gilbert-elliott" ||
         key == "reorder-gap" || key == "reorder-correlation" ||
         key == "duplicate-correlation" || key == "corrupt-correlation";
}

std::vector<std::string> UserspaceOnlyKeys(const emu::v1::LinkParams& p,
                                           bool guest_netem) {
  std::vector<std::string> keys;
  if (p.delay_distribution() != emu::v1::DELAY_DISTRIBUTION_UNSPECIFIED &&
      p.delay_distribution() != emu::v1::DELAY_DISTRIBUTION_UNIFORM) {
    keys.push_back("distribution");
  }
  if (p.has_gilbert_elliott()) keys.push_back("gilbert-elliott");
  if (p.bit_error_rate() != 0) keys.push_back("ber");
  if (p.reorder_gap() != 0) keys.push_back("reorder-gap");
  if (p.reorder_correlation_percent() != 0) {
    keys.push_back("reorder-correlation");
  }
  if (p.duplicate_correlation_percent() != 0) {
    keys.push_back("duplicate-correlation");
  }
  if (p.corrupt_correlation_percent() != 0) {
    keys.push_back("corrupt-correlation");
  }
  if (p.limit_bytes() != 0) keys.push_back("limit-bytes");
  if (p.overhead_bytes() != 0) keys.push_back("overhead");
  if (guest_netem) {
    keys.erase(std::remove_if(keys.begin(), keys.end(), IsGuestNetemKey),
               keys.end());
  }
  return keys;
}

bool NeedsMoreThanTbf(const emu::v1::LinkParams& p) {
  return WantsNetem(p) || !UserspaceOnlyKeys(p).empty();
}

absl::StatusOr<QdiscPlan> PlanForLinkParams(const emu::v1::LinkParams& p,
                                            bool guest_sender) {
  std::vector<std::string> problems =
      LinkParamsProblems(p, emu::v1::LINK_ENGINE_UNSPECIFIED, guest_sender);
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  }
  QdiscPlan plan;
  if (p.rate_bps() != 0) plan.tbf = PlanTbf(p);
  if (WantsNetem(p)) plan.netem = PlanNetem(p);
  return plan;
}

const char* DelayDistributionName(emu::v1::DelayDistributionKind kind) {
  switch (kind) {
    case emu::v1::DELAY_DISTRIBUTION_NORMAL:
      return "normal";
    case emu::v1::DELAY_DISTRIBUTION_PARETO:
      return "pareto";
    case emu::v1::DELAY_DISTRIBUTION_PARETO_NORMAL:
      return "paretonormal";
    default:
      return "uniform";
  }
}

uint32_t PercentToNetemProbability(double percent) {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(
      std::rint(percent / 100.0 *
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
