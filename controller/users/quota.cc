#include "controller/users/quota.h"

#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/placement/placement.h"

namespace emu::controller::users {
namespace {

// One quota dimension: its name (as `--quota` and messages spell it) and
// how to read it from a Quota and a Usage.
struct Dimension {
  absl::string_view name;
  bool (*has)(const emu::v1::Quota&);
  uint64_t (*limit)(const emu::v1::Quota&);
  void (*set)(emu::v1::Quota*, uint64_t);
  uint64_t (*used)(const emu::v1::Usage&);
};

const Dimension kDimensions[] = {
    {"labs", [](const emu::v1::Quota& q) { return q.has_labs(); },
     [](const emu::v1::Quota& q) -> uint64_t { return q.labs(); },
     [](emu::v1::Quota* q, uint64_t v) { q->set_labs(v); },
     [](const emu::v1::Usage& u) -> uint64_t { return u.labs(); }},
    {"nodes", [](const emu::v1::Quota& q) { return q.has_nodes(); },
     [](const emu::v1::Quota& q) -> uint64_t { return q.nodes(); },
     [](emu::v1::Quota* q, uint64_t v) { q->set_nodes(v); },
     [](const emu::v1::Usage& u) -> uint64_t { return u.nodes(); }},
    {"vcpus", [](const emu::v1::Quota& q) { return q.has_vcpus(); },
     [](const emu::v1::Quota& q) -> uint64_t { return q.vcpus(); },
     [](emu::v1::Quota* q, uint64_t v) { q->set_vcpus(v); },
     [](const emu::v1::Usage& u) -> uint64_t { return u.vcpus(); }},
    {"memory", [](const emu::v1::Quota& q) { return q.has_memory_mib(); },
     [](const emu::v1::Quota& q) -> uint64_t { return q.memory_mib(); },
     [](emu::v1::Quota* q, uint64_t v) { q->set_memory_mib(v); },
     [](const emu::v1::Usage& u) -> uint64_t { return u.memory_mib(); }},
    {"guests", [](const emu::v1::Quota& q) { return q.has_guests(); },
     [](const emu::v1::Quota& q) -> uint64_t { return q.guests(); },
     [](emu::v1::Quota* q, uint64_t v) { q->set_guests(v); },
     [](const emu::v1::Usage& u) -> uint64_t { return u.guests(); }},
};

}  // namespace

emu::v1::Usage UsageOf(const emu::v1::Topology& topology) {
  emu::v1::Usage u;
  u.set_labs(1);
  for (const auto& node : topology.nodes()) {
    const placement::NodeDemand d = placement::DemandOf(node);
    u.set_nodes(u.nodes() + 1);
    u.set_vcpus(u.vcpus() + static_cast<uint32_t>(d.cpu_milli / 1000));
    u.set_memory_mib(u.memory_mib() + d.memory_mib);
    if (node.kind() == emu::v1::NODE_KIND_QEMU) u.set_guests(u.guests() + 1);
  }
  return u;
}

emu::v1::Usage InUse(const std::vector<emu::v1::Lab>& labs,
                     absl::string_view key_owner) {
  emu::v1::Usage total;
  for (const auto& lab : labs) {
    if (lab.owner() != key_owner || lab.state() == emu::v1::FAILED ||
        lab.state() == emu::v1::DESTROYED) {
      continue;
    }
    total = Sum(total, UsageOf(lab.topology()));
  }
  return total;
}

emu::v1::Usage Sum(const emu::v1::Usage& a, const emu::v1::Usage& b) {
  emu::v1::Usage u;
  u.set_labs(a.labs() + b.labs());
  u.set_nodes(a.nodes() + b.nodes());
  u.set_vcpus(a.vcpus() + b.vcpus());
  u.set_memory_mib(a.memory_mib() + b.memory_mib());
  u.set_guests(a.guests() + b.guests());
  return u;
}

absl::Status CheckQuota(absl::string_view user, const emu::v1::Quota& quota,
                        const emu::v1::Usage& in_use,
                        absl::string_view lab_name,
                        const emu::v1::Usage& lab) {
  for (const Dimension& d : kDimensions) {
    if (!d.has(quota)) continue;
    const uint64_t limit = d.limit(quota);
    const uint64_t used = d.used(in_use);
    const uint64_t needs = d.used(lab);
    if (used + needs <= limit) continue;
    return absl::ResourceExhaustedError(absl::StrCat(
        "quota ", d.name, ": lab ", lab_name, " needs ", needs, ", ", user,
        " has ", used, " of ", limit, " in use; nothing was created"));
  }
  return absl::OkStatus();
}

std::string QuotaText(const emu::v1::Quota& quota) {
  std::vector<std::string> items;
  for (const Dimension& d : kDimensions) {
    if (d.has(quota)) items.push_back(absl::StrCat(d.name, "=", d.limit(quota)));
  }
  return items.empty() ? "none" : absl::StrJoin(items, ",");
}

absl::Status ParseQuota(absl::string_view text, emu::v1::Quota* quota) {
  for (absl::string_view item :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> kv = absl::StrSplit(item, '=');
    const Dimension* dim = nullptr;
    for (const Dimension& d : kDimensions) {
      if (kv.size() == 2 && kv[0] == d.name) dim = &d;
    }
    uint64_t value = 0;
    if (dim == nullptr || !absl::SimpleAtoi(kv[1], &value) ||
        (dim->name != "memory" && value > UINT32_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "quota item '", item,
          "': use labs=N, nodes=N, vcpus=N, memory=MiB or guests=N"));
    }
    dim->set(quota, value);
  }
  return absl::OkStatus();
}

}  // namespace emu::controller::users
