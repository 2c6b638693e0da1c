#include "linkemu/link_param_text.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "linkemu/engine_choice.h"
#include "linkemu/units.h"

namespace emu::linkemu {
namespace {

using emu::v1::LinkParams;

constexpr absl::string_view kKeys[] = {
    "rate",          "burst",
    "delay",         "jitter",
    "delay-correlation", "distribution",
    "loss",          "loss-correlation",
    "gilbert-elliott", "duplicate",
    "duplicate-correlation", "reorder",
    "reorder-correlation", "reorder-gap",
    "corrupt",       "corrupt-correlation",
    "ber",           "limit",
    "limit-bytes",   "overhead",
    "engine",        "compensate"};

absl::StatusOr<uint64_t> WholeNumber(absl::string_view text, uint64_t max) {
  uint64_t v = 0;
  bool digits = !text.empty();
  for (char c : text) digits = digits && absl::ascii_isdigit(c);
  if (!digits || !absl::SimpleAtoi(text, &v) || v > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad number \"", text, "\": expected a whole number up to ", max));
  }
  return v;
}

absl::StatusOr<emu::v1::GilbertElliottParams> GilbertElliottFromText(
    absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  if (parts.size() < 2 || parts.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad Gilbert-Elliott model \"", text,
        "\": write P,R[,LOSS-BAD[,LOSS-GOOD]], e.g. 1%,25%"));
  }
  double v[4] = {0, 100, 100, 0};
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::StatusOr<double> pc = ParsePercent(parts[i]);
    if (!pc.ok()) return pc.status();
    v[i] = *pc;
  }
  emu::v1::GilbertElliottParams ge;
  ge.set_p_percent(v[0]);
  ge.set_r_percent(v[1]);
  ge.set_loss_in_bad_percent(v[2]);
  ge.set_loss_in_good_percent(v[3]);
  return ge;
}

}  // namespace

absl::Span<const absl::string_view> LinkParamKeys() { return kKeys; }

absl::StatusOr<std::string> SetLinkParamFromText(absl::string_view key,
                                                 absl::string_view text,
                                                 LinkParams* p) {
  auto percent = [&](void (LinkParams::*setter)(double),
                     const char* field) -> absl::StatusOr<std::string> {
    absl::StatusOr<double> v = ParsePercent(text);
    if (!v.ok()) return v.status();
    (p->*setter)(*v);
    return std::string(field);
  };
  auto duration = [&](void (LinkParams::*setter)(uint64_t),
                      const char* field) -> absl::StatusOr<std::string> {
    absl::StatusOr<uint64_t> v = ParseDurationUs(text);
    if (!v.ok()) return v.status();
    (p->*setter)(*v);
    return std::string(field);
  };
  auto whole32 = [&](void (LinkParams::*setter)(uint32_t),
                     const char* field) -> absl::StatusOr<std::string> {
    absl::StatusOr<uint64_t> v = WholeNumber(text, UINT32_MAX);
    if (!v.ok()) return v.status();
    (p->*setter)(static_cast<uint32_t>(*v));
    return std::string(field);
  };
  if (key == "rate") {
    absl::StatusOr<uint64_t> v = ParseRate(text);
    if (!v.ok()) return v.status();
    p->set_rate_bps(*v);
    return std::string("rate_bps");
  }
  if (key == "burst") {
    absl::StatusOr<uint64_t> v = ParseSizeBytes(text);
    if (!v.ok()) return v.status();
    if (*v > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad size \"", text, "\": larger than 4GiB"));
    }
    p->set_burst_bytes(static_cast<uint32_t>(*v));
    return std::string("burst_bytes");
  }
  if (key == "delay") return duration(&LinkParams::set_delay_us, "delay_us");
  if (key == "jitter") return duration(&LinkParams::set_jitter_us, "jitter_us");
  if (key == "delay-correlation") {
    return percent(&LinkParams::set_delay_correlation_percent,
                   "delay_correlation_percent");
  }
  if (key == "distribution") {
    auto v = ParseDelayDistribution(text);
    if (!v.ok()) return v.status();
    p->set_delay_distribution(*v);
    return std::string("delay_distribution");
  }
  if (key == "loss") return percent(&LinkParams::set_loss_percent, "loss_percent");
  if (key == "loss-correlation") {
    return percent(&LinkParams::set_loss_correlation_percent,
                   "loss_correlation_percent");
  }
  if (key == "gilbert-elliott") {
    auto v = GilbertElliottFromText(text);
    if (!v.ok()) return v.status();
    *p->mutable_gilbert_elliott() = *v;
    return std::string("gilbert_elliott");
  }
  if (key == "duplicate") {
    return percent(&LinkParams::set_duplicate_percent, "duplicate_percent");
  }
  if (key == "duplicate-correlation") {
    return percent(&LinkParams::set_duplicate_correlation_percent,
                   "duplicate_correlation_percent");
  }
  if (key == "reorder") {
    return percent(&LinkParams::set_reorder_percent, "reorder_percent");
  }
  if (key == "reorder-correlation") {
    return percent(&LinkParams::set_reorder_correlation_percent,
                   "reorder_correlation_percent");
  }
  if (key == "reorder-gap") {
    return whole32(&LinkParams::set_reorder_gap, "reorder_gap");
  }
  if (key == "corrupt") {
    return percent(&LinkParams::set_corrupt_percent, "corrupt_percent");
  }
  if (key == "corrupt-correlation") {
    return percent(&LinkParams::set_corrupt_correlation_percent,
                   "corrupt_correlation_percent");
  }
  if (key == "ber") {
    absl::StatusOr<double> v = ParseBitErrorRate(text);
    if (!v.ok()) return v.status();
    p->set_bit_error_rate(*v);
    return std::string("bit_error_rate");
  }
  if (key == "limit") {
    return whole32(&LinkParams::set_limit_packets, "limit_packets");
  }
  if (key == "limit-bytes") {
    absl::StatusOr<uint64_t> v = ParseSizeBytes(text);
    if (!v.ok()) return v.status();
    p->set_limit_bytes(*v);
    return std::string("limit_bytes");
  }
  if (key == "overhead") {
    absl::StatusOr<int64_t> v = ParseSignedSizeBytes(text);
    if (!v.ok()) return v.status();
    if (*v < INT32_MIN || *v > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad size \"", text, "\": out of range"));
    }
    p->set_overhead_bytes(static_cast<int32_t>(*v));
    return std::string("overhead_bytes");
  }
  if (key == "engine") {
    auto v = ParseEngineChoice(text);
    if (!v.ok()) return v.status();
    p->set_engine(*v);
    return std::string("engine");
  }
  if (key == "compensate") {
    if (text != "true" && text != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value \"", text, "\": expected true or false"));
    }
    p->set_compensate(text == "true");
    return std::string("compensate");
  }
  return absl::NotFoundError(
      absl::StrCat("\"", key, "\" is not a link condition"));
}

}  // namespace emu::linkemu
