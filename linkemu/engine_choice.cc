#include "linkemu/engine_choice.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "linkemu/qdisc_plan.h"

namespace emu::linkemu {
namespace {

using emu::v1::LinkEngineChoice;

bool WantsKernelNetem(const emu::v1::LinkParams& p) {
  absl::StatusOr<QdiscPlan> plan = PlanForLinkParams(p);
  return plan.ok() && plan->needs_netem();
}

bool HasConditions(const emu::v1::LinkParams& p) {
  return p.rate_bps() != 0 || NeedsMoreThanTbf(p);
}

LinkEngineChoice Effective(const emu::v1::LinkParams& p,
                           LinkEngineChoice lab_engine) {
  if (p.engine() != emu::v1::LINK_ENGINE_UNSPECIFIED) return p.engine();
  if (lab_engine != emu::v1::LINK_ENGINE_UNSPECIFIED) return lab_engine;
  return emu::v1::LINK_ENGINE_AUTO;
}

constexpr char kNetemKeys[] =
    "delay, jitter, loss, duplicate, reorder, corrupt or limit";

}  // namespace

const char* EngineUseName(EngineUse use) {
  switch (use) {
    case EngineUse::kNone:
      return "none";
    case EngineUse::kKernel:
      return "kernel";
    case EngineUse::kUserspace:
      return "userspace";
  }
  return "none";
}

const char* EngineChoiceName(LinkEngineChoice choice) {
  switch (choice) {
    case emu::v1::LINK_ENGINE_KERNEL:
      return "kernel";
    case emu::v1::LINK_ENGINE_USERSPACE:
      return "userspace";
    default:
      return "auto";
  }
}

absl::StatusOr<LinkEngineChoice> ParseEngineChoice(absl::string_view text) {
  if (text == "auto") return emu::v1::LINK_ENGINE_AUTO;
  if (text == "kernel") return emu::v1::LINK_ENGINE_KERNEL;
  if (text == "userspace") return emu::v1::LINK_ENGINE_USERSPACE;
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", text, "\" is not an engine: use auto, kernel or userspace"));
}

absl::StatusOr<emu::v1::DelayDistributionKind> ParseDelayDistribution(
    absl::string_view text) {
  if (text == "uniform") return emu::v1::DELAY_DISTRIBUTION_UNIFORM;
  if (text == "normal") return emu::v1::DELAY_DISTRIBUTION_NORMAL;
  if (text == "pareto") return emu::v1::DELAY_DISTRIBUTION_PARETO;
  if (text == "paretonormal") return emu::v1::DELAY_DISTRIBUTION_PARETO_NORMAL;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text,
                   "\" is not a distribution: use uniform, normal, pareto or "
                   "paretonormal"));
}

absl::StatusOr<EngineUse> ChooseDirectionEngine(const emu::v1::LinkParams& p,
                                                LinkEngineChoice lab_engine,
                                                bool lab_compensate,
                                                const SenderSide& sender) {
  const LinkEngineChoice engine = Effective(p, lab_engine);
  const std::vector<std::string> engine_only = UserspaceOnlyKeys(p);
  auto need_userspace = [&](const std::string& why) -> absl::StatusOr<EngineUse> {
    if (sender.userspace) return EngineUse::kUserspace;
    return absl::FailedPreconditionError(absl::StrCat(
        why, ", but its agent runs no userspace engine (an older emu-agent?)"));
  };
  switch (engine) {
    case emu::v1::LINK_ENGINE_USERSPACE:
      return need_userspace("engine userspace");
    case emu::v1::LINK_ENGINE_KERNEL:
      // A guest's "kernel" is its own NetEm, programmed inside it (its
      // kernel has sch_netem, its image tc's distribution tables): all but
      // the engine's own conditions (ber, limit-bytes, overhead).
      if (const std::vector<std::string> not_netem =
              UserspaceOnlyKeys(p, /*guest_netem=*/true);
          sender.guest && !not_netem.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            absl::StrJoin(not_netem, ", "),
            " need the userspace engine, but the direction asks for engine "
            "kernel (the guest's own NetEm)"));
      }
      if (WantsKernelNetem(p) && !sender.netem && !sender.guest) {
        return absl::FailedPreconditionError(absl::StrCat(
            kNetemKeys,
            " need NetEm with engine kernel, but the kernel has no sch_netem "
            "(rate alone works with TBF; engine auto or userspace uses the "
            "userspace engine)"));
      }
      return HasConditions(p) ? EngineUse::kKernel : EngineUse::kNone;
    default:
      break;
  }
  if (!HasConditions(p)) return EngineUse::kNone;
  // Compensation of the path's base latency is the engine's (it measures
  // the path and subtracts it); NetEm would apply the delay in full. Where
  // the agent has no engine the kernel applies it uncompensated, as before.
  if (sender.userspace && p.delay_us() > 0 &&
      CompensationWanted(p, lab_compensate)) {
    return EngineUse::kUserspace;
  }
  if (!engine_only.empty()) {
    // A guest without the engine beside it: its own NetEm, where it can.
    if (sender.guest && !sender.userspace &&
        UserspaceOnlyKeys(p, /*guest_netem=*/true).empty()) {
      return EngineUse::kKernel;
    }
    return need_userspace(absl::StrCat(
        absl::StrJoin(engine_only, ", "),
        engine_only.size() == 1 ? " needs" : " need", " the userspace engine"));
  }
  if (WantsKernelNetem(p) && !sender.netem) {
    // A guest sender is served like a namespace (its end is wired to the
    // engine's TAP as to a veth); an agent without the engine leaves it to
    // the guest's own NetEm.
    if (sender.guest && !sender.userspace) return EngineUse::kKernel;
    return need_userspace(absl::StrCat(
        kNetemKeys, " need NetEm or the userspace engine; the kernel has no "
                    "sch_netem"));
  }
  return EngineUse::kKernel;
}

absl::StatusOr<LinkEngines> ChooseLinkEngines(const emu::v1::Link& link,
                                              LinkEngineChoice lab_engine,
                                              bool lab_compensate,
                                              const SenderSide& a,
                                              const SenderSide& b) {
  LinkEngines out;
  absl::StatusOr<EngineUse> ab =
      ChooseDirectionEngine(link.a_to_b(), lab_engine, lab_compensate, a);
  if (!ab.ok()) {
    return absl::Status(ab.status().code(),
                        absl::StrCat("a-to-b: ", ab.status().message()));
  }
  absl::StatusOr<EngineUse> ba =
      ChooseDirectionEngine(link.b_to_a(), lab_engine, lab_compensate, b);
  if (!ba.ok()) {
    return absl::Status(ba.status().code(),
                        absl::StrCat("b-to-a: ", ba.status().message()));
  }
  out.a_to_b = *ab;
  out.b_to_a = *ba;
  if (!out.userspace_link()) return out;
  // Every frame of a TAP link crosses the engine: a direction without
  // conditions is the engine passing frames through.
  if (out.a_to_b == EngineUse::kNone) out.a_to_b = EngineUse::kUserspace;
  if (out.b_to_a == EngineUse::kNone) out.b_to_a = EngineUse::kUserspace;
  return out;
}

ImpairmentSpec ImpairmentSpecFor(const emu::v1::LinkParams& p) {
  ImpairmentSpec s;
  s.delay_us = p.delay_us();
  s.jitter_us = p.jitter_us();
  s.delay_correlation_percent = p.delay_correlation_percent();
  switch (p.delay_distribution()) {
    case emu::v1::DELAY_DISTRIBUTION_NORMAL:
      s.distribution = DelayDistribution::kNormal;
      break;
    case emu::v1::DELAY_DISTRIBUTION_PARETO:
      s.distribution = DelayDistribution::kPareto;
      break;
    case emu::v1::DELAY_DISTRIBUTION_PARETO_NORMAL:
      s.distribution = DelayDistribution::kParetoNormal;
      break;
    default:
      s.distribution = DelayDistribution::kUniform;
      break;
  }
  s.loss_percent = p.loss_percent();
  s.loss_correlation_percent = p.loss_correlation_percent();
  if (p.has_gilbert_elliott()) {
    const auto& g = p.gilbert_elliott();
    GilbertElliott ge;
    ge.p_percent = g.p_percent();
    ge.r_percent = g.r_percent();
    ge.loss_in_bad_percent = g.loss_in_bad_percent();
    ge.loss_in_good_percent = g.loss_in_good_percent();
    s.gilbert_elliott = ge;
  }
  s.duplicate_percent = p.duplicate_percent();
  s.duplicate_correlation_percent = p.duplicate_correlation_percent();
  s.corrupt_percent = p.corrupt_percent();
  s.corrupt_correlation_percent = p.corrupt_correlation_percent();
  s.bit_error_rate = p.bit_error_rate();
  s.reorder_percent = p.reorder_percent();
  s.reorder_correlation_percent = p.reorder_correlation_percent();
  s.reorder_gap = p.reorder_gap();
  s.rate_bps = p.rate_bps();
  s.burst_bytes = p.burst_bytes();
  s.overhead_bytes = p.overhead_bytes();
  s.limit_packets = p.limit_packets();
  s.limit_bytes = p.limit_bytes();
  return s;
}

uint64_t LinkSeed(uint64_t lab_seed, absl::string_view link_name,
                  uint64_t fallback) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a offset basis
  auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;  // FNV prime
  };
  const uint64_t base = lab_seed != 0 ? lab_seed : fallback;
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(base >> (8 * i)));
  for (char c : link_name) mix(static_cast<unsigned char>(c));
  return h;
}

std::string VxlanDirectionProblem(const emu::v1::LinkParams& p,
                                  emu::v1::LinkEngineChoice lab_engine,
                                  const SenderSide& sender) {
  // A VXLAN device is never compensated (the engine is not on its path), so
  // compensation does not make a direction need the engine here.
  absl::StatusOr<EngineUse> use =
      ChooseDirectionEngine(p, lab_engine, /*lab_compensate=*/false, sender);
  if (!use.ok()) return std::string(use.status().message());
  if (*use != EngineUse::kUserspace || ImpairmentSpecFor(p).IsPassThrough()) {
    return "";
  }
  return absl::StrCat(
      "its conditions need the userspace engine, which cannot serve a link "
      "the lab's carrier vxlan puts in a kernel VXLAN device; use carrier: "
      "tunnel for this lab, or only conditions the kernel applies there "
      "(rate",
      sender.netem ? ", NetEm's delay, loss, ...)"
                   : "; this host has no sch_netem)",
      " with engine: auto or kernel");
}

bool CompensationWanted(const emu::v1::LinkParams& p, bool lab_compensate) {
  return p.has_compensate() ? p.compensate() : lab_compensate;
}

}  // namespace emu::linkemu
