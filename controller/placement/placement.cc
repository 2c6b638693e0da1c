#include "controller/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <limits>
#include <queue>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "metis.h"
#include "linkemu/engine_choice.h"
#include "proto/topology_names.h"

namespace emu::controller::placement {
namespace {

using emu::v1::HostStatus;
using emu::v1::Node;
using emu::v1::PlacementOptions;
using emu::v1::Topology;

constexpr int64_t kLinkWeight = int64_t{1} << 20;
constexpr double kBandwidthCapBps = 100e9;  // unshaped counts as this
constexpr int kMaxPasses = 12;
// BuildShares copies on several threads from this many nodes + links on,
// on at most this many.
constexpr size_t kParallelSharesObjects = 20000;
constexpr int kMaxShareThreads = 8;
// An FM pass stops after this many moves without a new best cut.
constexpr int kMaxFruitlessMoves = 64;
// METIS's refinement passes per level (its default is 10). At 100k nodes
// on 256 hosts, 2 took 30% less time for 0.6% more cut, and 1 40% less
// for 0.9-1.6% more (docs/cluster.md); emu's own FM passes follow.
constexpr int kMetisRefineIterations = 2;
// FarthestSeed's BFS visits at most this many nodes.
constexpr int kMaxSeedSearch = 4096;
constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max() / 4;

emu::v1::NodeKind KindOf(const Node& n) {
  return n.kind() == emu::v1::NODE_KIND_UNSPECIFIED ? emu::v1::NODE_KIND_NETNS
                                                    : n.kind();
}

bool SupportsKind(const HostStatus& h, emu::v1::NodeKind kind) {
  for (int k : h.capabilities().node_kinds()) {
    if (k == kind) return true;
  }
  return false;
}

std::string Cpus(uint64_t milli) {
  if (milli % 1000 == 0) return absl::StrCat(milli / 1000);
  return absl::StrFormat("%.3g", milli / 1000.0);
}

// Weight of cutting a link: 1 (kLinkWeight) plus up to 1 more for its
// bandwidth (the larger direction; unshaped counts as the cap).
int64_t CutWeight(const emu::v1::Link& l) {
  auto bw = [](const emu::v1::LinkParams& p) {
    return p.rate_bps() == 0 ? kBandwidthCapBps
                             : std::min<double>(p.rate_bps(), kBandwidthCapBps);
  };
  double frac = std::max(bw(l.a_to_b()), bw(l.b_to_a())) / kBandwidthCapBps;
  return kLinkWeight + static_cast<int64_t>(frac * (kLinkWeight - 1));
}

// The partitioning problem, in indices: nodes 0..N-1 in topology order,
// hosts 0..H-1 in name order.
class Partitioner {
 public:
  Partitioner(const Topology& t, const std::vector<const HostStatus*>& hosts,
              const PlacementOptions& options)
      : t_(t),
        hosts_(hosts),
        opt_(options),
        n_(t.nodes_size()),
        h_(hosts.size()) {}

  absl::StatusOr<std::vector<int>> Run();
  // After Run: the most CPU (milli) each host was allowed; kUnlimited when
  // nothing bounds it.
  uint64_t limit(int h) const { return limit_[h]; }
  // After Run: the nodes (indices) at the ends of each link.
  const std::vector<std::pair<int, int>>& link_ends() const {
    return link_ends_;
  }

 private:
  absl::Status Setup();
  // ChooseHostsAndLimits: capacities, refusal of what cannot fit, then the
  // hosts used and each one's CPU limit for the strategy.
  absl::Status ChooseHostsAndLimits();
  void LoadCapacities();
  absl::Status CheckPinnedCapacity() const;
  absl::Status CheckTotalCapacity() const;
  absl::Status CheckCapacityPerKind() const;
  void ChoosePackHosts();
  void SetSpreadLimits();
  // Growth: one region per host, then a seed far from the others when a
  // region cannot grow along links.
  void Grow();
  // METIS k-way (multilevel) instead of Grow, where nothing constrains a
  // node to some hosts: false when it does not apply (pins, kinds or NetEm
  // that not every used host serves, one host, weights too large).
  bool PartitionWithMetis();
  // Takes nodes off hosts above their CPU limit or memory capacity (the
  // least connected to the host first) for PlaceLeftovers.
  void EvictOverLimit();
  int FarthestSeed(int first_free, const std::function<bool(int)>& can_take,
                   std::vector<int>* bfs_mark, int* stamp) const;
  absl::Status PlaceLeftovers();
  void Refine();
  bool Allowed(int v, int h) const { return class_allowed_[class_[v]][h]; }
  bool Fits(int v, int h) const {
    return Allowed(v, h) && used_[h] && load_[h] + cpu_[v] <= limit_[h] &&
           mem_[h] + memd_[v] <= mem_cap_[h];
  }
  using Arc = std::pair<int, int64_t>;  // (node or host, weight)
  // v's neighbours and the summed cut weight of its links to each.
  absl::Span<const Arc> Adj(int v) const {
    return absl::MakeConstSpan(arcs_.data() + first_[v],
                               first_[v + 1] - first_[v]);
  }
  // (host, weight of v's links to that host's nodes), hosts with weight.
  absl::Span<const Arc> Conns(int v) const {
    return absl::MakeConstSpan(conn_.data() + first_[v], conn_count_[v]);
  }
  // Weight of v's links to nodes on host h (0 when none).
  int64_t Conn(int v, int h) const {
    for (const auto& [host, w] : Conns(v)) {
      if (host == h) return w;
    }
    return 0;
  }
  void AddConn(int v, int h, int64_t w);
  bool IsGuest(int v) const { return guest_[v]; }
  static linkemu::SenderSide Sender(bool netem, bool userspace, bool guest) {
    linkemu::SenderSide side;
    side.netem = netem;
    side.userspace = userspace;
    // A QEMU guest sender is served as a namespace (the engine where the
    // host lacks sch_netem); without the engine, its NetEm runs inside the
    // guest, so its host's kernel need not have it
    // (linkemu/engine_choice.h).
    side.guest = guest;
    return side;
  }
  // Which of the four host capability sets (bit netem*2 + userspace) can
  // send direction `p` from a sender that is a guest or not. Decided once
  // per distinct direction (its bytes): a lab has few distinct conditions,
  // and deciding four times per direction was a tenth of placing 100k
  // nodes (issue 14).
  int SendMask(const emu::v1::LinkParams& p, bool guest);
  void Assign(int v, int h);
  void Unassign(int v);
  std::string HostRoom(int h) const;

  const Topology& t_;
  const std::vector<const HostStatus*>& hosts_;
  const PlacementOptions& opt_;
  const int n_;
  const int h_;

  // The graph in compressed rows: v's arcs are arcs_[first_[v] ..
  // first_[v + 1]). One array rather than a vector per node: 100k small
  // vectors cost an allocation each and scattered reads (issue 14).
  std::vector<size_t> first_;
  std::vector<Arc> arcs_;
  std::vector<uint64_t> cpu_, memd_;
  std::vector<char> guest_;  // node -> a QEMU guest (read per link end)
  std::vector<std::pair<int, int>> link_ends_;  // link -> its end nodes
  // Nodes fall in few classes (kind, needs NetEm); which hosts may run each
  // class. A node's hosts are its class's: n_ x h_ flags would be 25 MB and
  // 25M checks for 100k nodes on 256 hosts.
  std::vector<int> class_;                       // node -> class
  std::vector<std::vector<char>> class_allowed_;  // class -> host -> ok
  std::vector<int> pin_;       // host index or -1
  std::vector<uint64_t> cpu_cap_, mem_cap_, limit_;
  std::vector<char> used_;
  std::vector<int> order_;  // hosts in filling order
  std::vector<int> part_;   // node -> host or -1
  std::vector<uint64_t> load_, mem_;
  // Node -> (host, weight of its links to that host's nodes), only hosts
  // with weight: a node's list is no longer than its degree, so it has
  // the slots of its arcs (conn_[first_[v] ..], conn_count_[v] used).
  std::vector<Arc> conn_;
  std::vector<int> conn_count_;
  // SendMask's decisions by key ('g' or 'n' for guest, then the
  // direction's bytes), and its key buffer.
  absl::flat_hash_map<std::string, int> send_masks_;
  std::string send_key_;
  // Demands summed over all nodes (CPU in milli, memory in MiB).
  uint64_t total_cpu_ = 0, total_mem_ = 0, max_cpu_ = 0;
};

absl::Status Partitioner::Setup() {
  absl::flat_hash_map<absl::string_view, int> index;
  index.reserve(n_);
  guest_.resize(n_);
  for (int i = 0; i < n_; ++i) {
    index.emplace(t_.nodes(i).name(), i);
    guest_[i] = KindOf(t_.nodes(i)) == emu::v1::NODE_KIND_QEMU;
  }
  // (smaller end, larger end, weight), summed per pair below.
  std::vector<std::tuple<int, int, int64_t>> edges;
  edges.reserve(t_.links_size());
  link_ends_.clear();
  link_ends_.reserve(t_.links_size());
  // The directions each node sends: its host must be able to apply them
  // (linkemu/engine_choice.h: kernel NetEm/TBF or the userspace engine).
  // Per node, which of the four host capability sets (bit netem*2 +
  // userspace) can send all of them.
  std::vector<int> engines_ok(n_, 0xF);
  for (const auto& l : t_.links()) {
    auto a = index.find(l.a().node());
    auto b = index.find(l.b().node());
    if (a == index.end() || b == index.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(SourcePrefix(l.source()), "link ", LinkName(l),
                       ": names a node that is not in the topology"));
    }
    link_ends_.emplace_back(a->second, b->second);
    engines_ok[a->second] &= SendMask(l.a_to_b(), IsGuest(a->second));
    engines_ok[b->second] &= SendMask(l.b_to_a(), IsGuest(b->second));
    if (a->second == b->second) continue;
    auto key = std::minmax(a->second, b->second);
    edges.emplace_back(key.first, key.second, CutWeight(l));
  }
  std::sort(edges.begin(), edges.end());
  // Parallel links summed into one edge, in place.
  size_t merged = 0;
  for (size_t i = 0; i < edges.size();) {
    auto [a, b, w] = edges[i];
    for (++i; i < edges.size() && std::get<0>(edges[i]) == a &&
              std::get<1>(edges[i]) == b;
         ++i) {
      w += std::get<2>(edges[i]);
    }
    edges[merged++] = {a, b, w};
  }
  edges.resize(merged);
  first_.assign(n_ + 1, 0);
  for (const auto& [a, b, w] : edges) {
    ++first_[a + 1];
    ++first_[b + 1];
  }
  for (int v = 0; v < n_; ++v) first_[v + 1] += first_[v];
  arcs_.resize(first_[n_]);
  std::vector<size_t> next(first_.begin(), first_.end() - 1);
  for (const auto& [a, b, w] : edges) {
    arcs_[next[a]++] = {b, w};
    arcs_[next[b]++] = {a, w};
  }

  cpu_.resize(n_);
  memd_.resize(n_);
  pin_.assign(n_, -1);
  class_.assign(n_, 0);
  class_allowed_.clear();
  // (kind, engines_ok) -> class
  std::map<std::pair<int, int>, int> class_of;
  std::map<std::string, int> host_index;
  for (int h = 0; h < h_; ++h) host_index.emplace(hosts_[h]->name(), h);
  for (int i = 0; i < n_; ++i) {
    const Node& node = t_.nodes(i);
    NodeDemand d = DemandOf(node);
    cpu_[i] = d.cpu_milli;
    memd_[i] = d.memory_mib;
    const auto kind = KindOf(node);
    // Why node i's links cannot be sent from a host with these
    // capabilities ("" when they can): for messages only, so a walk of
    // every link is fine.
    auto engine_problem = [&](bool netem, bool userspace) -> std::string {
      const linkemu::SenderSide side = Sender(netem, userspace, IsGuest(i));
      for (const auto& l : t_.links()) {
        for (const auto& [end, p] : {std::make_pair(&l.a(), &l.a_to_b()),
                                     std::make_pair(&l.b(), &l.b_to_a())}) {
          if (end->node() != node.name()) continue;
          auto use = linkemu::ChooseDirectionEngine(*p, t_.engine(), t_.compensate(),
                                                    side);
          if (!use.ok()) return std::string(use.status().message());
        }
      }
      return "";
    };
    // The node's class: its kind and which host capabilities can send its
    // links.
    auto host_engines_ok = [&](int h) {
      const auto& caps = hosts_[h]->capabilities();
      return (engines_ok[i] >> ((caps.netem() ? 2 : 0) +
                                (caps.userspace_engine() ? 1 : 0))) & 1;
    };
    auto [cls, added] = class_of.try_emplace(
        std::make_pair(static_cast<int>(kind), engines_ok[i]),
        static_cast<int>(class_allowed_.size()));
    if (added) {
      std::vector<char> ok(h_, 0);
      for (int h = 0; h < h_; ++h) {
        ok[h] = SupportsKind(*hosts_[h], kind) && host_engines_ok(h);
      }
      class_allowed_.push_back(std::move(ok));
    }
    class_[i] = cls->second;
    if (!node.host().empty()) {
      auto pinned = host_index.find(node.host());
      if (pinned != host_index.end()) pin_[i] = pinned->second;
      const int p = pin_[i];
      if (p >= 0 && !Allowed(i, p)) {
        if (!SupportsKind(*hosts_[p], kind)) {
          return absl::FailedPreconditionError(absl::StrCat(
              SourcePrefix(node.source()), "node ", node.name(), ": kind ",
              NodeKindName(kind), " is not supported by host ", node.host(),
              " (it is pinned there)"));
        }
        return absl::FailedPreconditionError(absl::StrCat(
            SourcePrefix(node.source()), "node ", node.name(),
            ": host ", node.host(),
            " (where it is pinned) cannot apply the conditions of its links: ",
            engine_problem(hosts_[p]->capabilities().netem(),
                           hosts_[p]->capabilities().userspace_engine()),
            "; see docs/topology.md"));
      }
    }
    const std::vector<char>& ok = class_allowed_[class_[i]];
    if (std::find(ok.begin(), ok.end(), 1) != ok.end()) continue;
    // No host: name them, once, for the message.
    std::vector<std::string> no_kind, no_netem;
    std::string why;  // why the last such host cannot send its links
    for (int h = 0; h < h_; ++h) {
      bool kind_ok = SupportsKind(*hosts_[h], kind);
      if (!kind_ok) no_kind.push_back(hosts_[h]->name());
      if (kind_ok && !ok[h]) {
        no_netem.push_back(hosts_[h]->name());
        why = engine_problem(hosts_[h]->capabilities().netem(),
                             hosts_[h]->capabilities().userspace_engine());
      }
    }
    if (no_netem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(SourcePrefix(node.source()), "node ", node.name(),
                       ": no reachable host runs kind ", NodeKindName(kind),
                       " (", absl::StrJoin(no_kind, ", "), " do not)"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        SourcePrefix(node.source()), "node ", node.name(),
        ": no reachable host that runs it can apply the conditions of its "
        "links (",
        absl::StrJoin(no_netem, ", "), ": ", why,
        "); see docs/topology.md"));
  }
  return absl::OkStatus();
}

int Partitioner::SendMask(const emu::v1::LinkParams& p, bool guest) {
  send_key_.assign(1, guest ? 'g' : 'n');
  p.AppendToString(&send_key_);
  auto [it, added] = send_masks_.try_emplace(send_key_, 0);
  if (added) {
    for (int c = 0; c < 4; ++c) {
      if (linkemu::ChooseDirectionEngine(p, t_.engine(), t_.compensate(),
                                         Sender(c & 2, c & 1, guest))
              .ok()) {
        it->second |= 1 << c;
      }
    }
  }
  return it->second;
}

std::string Partitioner::HostRoom(int h) const {
  return absl::StrCat(hosts_[h]->name(), " has ",
                      Cpus(cpu_cap_[h] > load_[h] ? cpu_cap_[h] - load_[h] : 0),
                      " of ", Cpus(cpu_cap_[h]), " CPUs and ",
                      mem_cap_[h] > mem_[h] ? mem_cap_[h] - mem_[h] : 0, " of ",
                      mem_cap_[h], " MiB free");
}

absl::Status Partitioner::ChooseHostsAndLimits() {
  LoadCapacities();
  load_.assign(h_, 0);
  mem_.assign(h_, 0);
  if (opt_.overcommit()) {
    // Capacity no longer binds; shares still follow the real sizes.
    for (int h = 0; h < h_; ++h) mem_cap_[h] = kUnlimited;
  } else {
    EMU_RETURN_IF_ERROR(CheckPinnedCapacity());
    EMU_RETURN_IF_ERROR(CheckTotalCapacity());
    EMU_RETURN_IF_ERROR(CheckCapacityPerKind());
  }
  used_.assign(h_, 0);
  order_.clear();
  limit_.assign(h_, 0);
  if (opt_.strategy() == PlacementOptions::PACK) {
    ChoosePackHosts();
  } else {
    SetSpreadLimits();
  }
  return absl::OkStatus();
}

void Partitioner::LoadCapacities() {
  cpu_cap_.resize(h_);
  mem_cap_.resize(h_);
  for (int h = 0; h < h_; ++h) {
    cpu_cap_[h] = uint64_t{hosts_[h]->capabilities().cpus()} * 1000;
    mem_cap_[h] = hosts_[h]->capabilities().memory_mib();
  }
  total_cpu_ = total_mem_ = max_cpu_ = 0;
  for (int i = 0; i < n_; ++i) {
    total_cpu_ += cpu_[i];
    total_mem_ += memd_[i];
    max_cpu_ = std::max(max_cpu_, cpu_[i]);
  }
}

// The nodes pinned to a host must fit on it; named per host.
absl::Status Partitioner::CheckPinnedCapacity() const {
  std::vector<uint64_t> pc(h_, 0), pm(h_, 0);
  for (int i = 0; i < n_; ++i) {
    if (pin_[i] < 0) continue;
    pc[pin_[i]] += cpu_[i];
    pm[pin_[i]] += memd_[i];
  }
  for (int h = 0; h < h_; ++h) {
    if (pc[h] > cpu_cap_[h] || pm[h] > mem_cap_[h]) {
      return absl::FailedPreconditionError(absl::StrCat(
          "placement: the nodes pinned to host ", hosts_[h]->name(), " need ",
          Cpus(pc[h]), " CPUs and ", pm[h], " MiB; it has ", Cpus(cpu_cap_[h]),
          " CPUs and ", mem_cap_[h],
          " MiB (set placement: {overcommit: true} to allow it)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Partitioner::CheckTotalCapacity() const {
  const uint64_t total_cpu = total_cpu_, total_mem = total_mem_;
  uint64_t cap_cpu = 0, cap_mem = 0;
  for (int h = 0; h < h_; ++h) {
    cap_cpu += cpu_cap_[h];
    cap_mem += mem_cap_[h];
  }
  if (total_cpu <= cap_cpu && total_mem <= cap_mem) return absl::OkStatus();
  std::vector<std::string> per;
  for (int h = 0; h < h_; ++h) {
    per.push_back(absl::StrCat(hosts_[h]->name(), " ", Cpus(cpu_cap_[h]),
                               " CPUs/", mem_cap_[h], " MiB"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "placement: lab ", t_.name(), " needs ", Cpus(total_cpu), " CPUs and ",
      total_mem, " MiB; the reachable hosts have ", Cpus(cap_cpu), " CPUs and ",
      cap_mem, " MiB (", absl::StrJoin(per, ", "), "): short by ",
      total_cpu > cap_cpu ? absl::StrCat(Cpus(total_cpu - cap_cpu), " CPUs")
                          : "",
      total_cpu > cap_cpu && total_mem > cap_mem ? " and " : "",
      total_mem > cap_mem ? absl::StrCat(total_mem - cap_mem, " MiB") : "",
      "; add hosts, lower the nodes' cpus/memory, or set placement: "
      "{overcommit: true}"));
}

// Per node kind: the hosts that can run it must hold all of it.
absl::Status Partitioner::CheckCapacityPerKind() const {
  std::map<int, std::pair<uint64_t, uint64_t>> by_kind;
  for (int i = 0; i < n_; ++i) {
    auto& [c, m] = by_kind[KindOf(t_.nodes(i))];
    c += cpu_[i];
    m += memd_[i];
  }
  for (const auto& [kind, need] : by_kind) {
    uint64_t c = 0, m = 0;
    std::vector<std::string> names;
    for (int h = 0; h < h_; ++h) {
      if (!SupportsKind(*hosts_[h], static_cast<emu::v1::NodeKind>(kind)))
        continue;
      c += cpu_cap_[h];
      m += mem_cap_[h];
      names.push_back(hosts_[h]->name());
    }
    if (need.first > c || need.second > m) {
      return absl::FailedPreconditionError(absl::StrCat(
          "placement: the ", NodeKindName(static_cast<emu::v1::NodeKind>(kind)),
          " nodes of lab ", t_.name(), " need ", Cpus(need.first), " CPUs and ",
          need.second, " MiB; the hosts that run them (",
          absl::StrJoin(names, ", "), ") have ", Cpus(c), " CPUs and ", m,
          " MiB"));
    }
  }
  return absl::OkStatus();
}

// PACK: largest hosts first; enough of them to hold the lab, plus hosts
// with pins, plus a host for each node none of the chosen can run.
void Partitioner::ChoosePackHosts() {
  const uint64_t total_cpu = total_cpu_, total_mem = total_mem_;
  for (int h = 0; h < h_; ++h) order_.push_back(h);
  std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
    return std::tie(cpu_cap_[b], mem_cap_[b]) <
           std::tie(cpu_cap_[a], mem_cap_[a]);
  });
  uint64_t c = 0, m = 0;
  for (int h : order_) {
    if (c >= total_cpu && m >= total_mem) break;
    used_[h] = 1;
    c += cpu_cap_[h];
    m += opt_.overcommit() ? total_mem : mem_cap_[h];
    if (opt_.overcommit()) c = total_cpu;
  }
  for (int i = 0; i < n_; ++i) {
    if (pin_[i] >= 0) used_[pin_[i]] = 1;
  }
  for (int i = 0; i < n_; ++i) {
    bool ok = false;
    for (int h = 0; h < h_; ++h) ok = ok || (used_[h] && Allowed(i, h));
    if (ok) continue;
    for (int h : order_) {
      if (Allowed(i, h)) {
        used_[h] = 1;
        break;
      }
    }
  }
  for (int h = 0; h < h_; ++h) {
    limit_[h] = opt_.overcommit() ? kUnlimited : cpu_cap_[h];
  }
  order_.erase(std::remove_if(order_.begin(), order_.end(),
                              [&](int h) { return !used_[h]; }),
               order_.end());
}

// SPREAD: every host, shares in proportion to CPUs, within the tolerance
// (and at least one node's worth above the share).
void Partitioner::SetSpreadLimits() {
  uint64_t cap_sum = 0;
  for (int h = 0; h < h_; ++h) {
    used_[h] = 1;
    order_.push_back(h);
    cap_sum += cpu_cap_[h];
  }
  const double tol = opt_.tolerance_percent() / 100.0;
  for (int h = 0; h < h_; ++h) {
    double share =
        cap_sum == 0 ? static_cast<double>(total_cpu_) / h_
                     : static_cast<double>(total_cpu_) * cpu_cap_[h] / cap_sum;
    uint64_t lim = static_cast<uint64_t>(
        std::ceil(std::max(share * (1 + tol), share + max_cpu_)));
    if (!opt_.overcommit()) lim = std::min(lim, cpu_cap_[h]);
    limit_[h] = lim;
  }
}

void Partitioner::Assign(int v, int h) {
  part_[v] = h;
  load_[h] += cpu_[v];
  mem_[h] += memd_[v];
  for (const auto& [u, w] : Adj(v)) AddConn(u, h, w);
}

void Partitioner::AddConn(int v, int h, int64_t w) {
  Arc* list = conn_.data() + first_[v];
  int& count = conn_count_[v];
  for (int i = 0; i < count; ++i) {
    if (list[i].first != h) continue;
    list[i].second += w;
    if (list[i].second == 0) list[i] = list[--count];
    return;
  }
  list[count++] = {h, w};  // fewer hosts than neighbours: a slot is free
}

void Partitioner::Unassign(int v) {
  const int h = part_[v];
  load_[h] -= cpu_[v];
  mem_[h] -= memd_[v];
  for (const auto& [u, w] : Adj(v)) AddConn(u, h, -w);
  part_[v] = -1;
}

// Greedy graph growing: each host in turn grows a region from its pins or
// from a pseudo-peripheral seed, always taking the unassigned node most
// strongly connected to the region, until the region holds the host's
// target (its share for SPREAD, its capacity for PACK).
void Partitioner::Grow() {
  const bool pack = opt_.strategy() == PlacementOptions::PACK;
  uint64_t total = 0;
  for (int i = 0; i < n_; ++i) total += cpu_[i];
  uint64_t cap_sum = 0;
  for (int h : order_) cap_sum += cpu_cap_[h];
  std::vector<int> bfs_mark(n_, -1);
  int stamp = 0;
  std::vector<std::vector<int>> pinned_on(h_);
  for (int v = 0; v < n_; ++v) {
    if (pin_[v] >= 0) pinned_on[pin_[v]].push_back(v);
  }
  int first_free = 0;  // nodes before it are all placed (Grow only places)
  for (size_t oi = 0; oi < order_.size(); ++oi) {
    const int h = order_[oi];
    uint64_t target;
    if (pack) {
      target = limit_[h];
    } else {
      double share = cap_sum == 0
                         ? static_cast<double>(total) / order_.size()
                         : static_cast<double>(total) * cpu_cap_[h] / cap_sum;
      target = static_cast<uint64_t>(std::llround(share));
      if (oi + 1 == order_.size()) target = limit_[h];  // the rest
    }
    using Item = std::tuple<int64_t, int, int>;  // conn, -index, index
    std::priority_queue<Item> pq;
    // Only the host's pinned nodes are on it yet: their free neighbours are
    // the nodes connected to it.
    for (int p : pinned_on[h]) {
      for (const auto& [u, w] : Adj(p)) {
        if (part_[u] < 0) pq.emplace(Conn(u, h), -u, u);
      }
    }
    auto can_take = [&](int v) {
      return part_[v] < 0 && Fits(v, h) && load_[h] + cpu_[v] <= target;
    };
    while (load_[h] < target) {
      int pick = -1;
      while (!pq.empty()) {
        auto [c, neg, v] = pq.top();
        pq.pop();
        if (part_[v] >= 0 || c != Conn(v, h)) continue;
        if (!can_take(v)) continue;
        pick = v;
        break;
      }
      if (pick < 0) {
        while (first_free < n_ && part_[first_free] >= 0) ++first_free;
        pick = FarthestSeed(first_free, can_take, &bfs_mark, &stamp);
      }
      if (pick < 0) break;
      Assign(pick, h);
      for (const auto& [u, w] : Adj(pick)) {
        if (part_[u] < 0) pq.emplace(Conn(u, h), -u, u);
      }
    }
  }
}

// A new seed: the last node a BFS (over unassigned nodes) reaches from the
// first node (from `first_free` on) the host can take, far from other
// regions; -1 when it can take none. The BFS stops after kMaxSeedSearch
// nodes: far enough for a seed, and a lab of many regions does not pay a
// walk of the whole graph per region.
int Partitioner::FarthestSeed(int first_free,
                              const std::function<bool(int)>& can_take,
                              std::vector<int>* bfs_mark, int* stamp) const {
  int start = -1;
  for (int v = first_free; v < n_ && start < 0; ++v) {
    if (can_take(v)) start = v;
  }
  if (start < 0) return -1;
  ++*stamp;
  std::queue<int> q;
  q.push(start);
  (*bfs_mark)[start] = *stamp;
  int last = start;
  int visited = 0;
  while (!q.empty() && visited++ < kMaxSeedSearch) {
    int v = q.front();
    q.pop();
    if (can_take(v)) last = v;
    for (const auto& [u, w] : Adj(v)) {
      if (part_[u] >= 0 || (*bfs_mark)[u] == *stamp) continue;
      (*bfs_mark)[u] = *stamp;
      q.push(u);
    }
  }
  return last;
}

// Nodes growth left over (rounding, capacity granularity): each goes where
// it is most connected among the hosts it fits; if it fits no host within
// the balance limit, the host with the most room within capacity.
absl::Status Partitioner::PlaceLeftovers() {
  for (int v = 0; v < n_; ++v) {
    if (part_[v] >= 0) continue;
    int best = -1;
    for (int h : order_) {
      if (!Fits(v, h)) continue;
      int64_t c = Conn(v, h);
      const int64_t c_best = best < 0 ? 0 : Conn(v, best);
      if (best < 0 || c > c_best ||
          (c == c_best &&
           load_[h] * std::max<uint64_t>(limit_[best], 1) <
               load_[best] * std::max<uint64_t>(limit_[h], 1))) {
        best = h;
      }
    }
    if (best < 0) {
      // Balance yields; capacity does not.
      for (int h = 0; h < h_; ++h) {
        if (!Allowed(v, h)) continue;
        if (!opt_.overcommit() && (load_[h] + cpu_[v] > cpu_cap_[h] ||
                                   mem_[h] + memd_[v] > mem_cap_[h])) {
          continue;
        }
        if (best < 0 ||
            cpu_cap_[h] - std::min(cpu_cap_[h], load_[h]) >
                cpu_cap_[best] - std::min(cpu_cap_[best], load_[best])) {
          best = h;
        }
      }
    }
    if (best < 0) {
      const Node& node = t_.nodes(v);
      std::vector<std::string> rooms;
      for (int h = 0; h < h_; ++h) {
        if (Allowed(v, h)) rooms.push_back(HostRoom(h));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          SourcePrefix(node.source()), "node ", node.name(), ": needs ",
          Cpus(cpu_[v]), " CPUs and ", memd_[v],
          " MiB, and no host that can run it has that left (",
          absl::StrJoin(rooms, "; "),
          "); add hosts, lower the nodes' cpus/memory, or set placement: "
          "{overcommit: true}"));
    }
    Assign(v, best);
  }
  return absl::OkStatus();
}

// Fiduccia-Mattheyses refinement, k-way: each pass moves boundary nodes one
// at a time, always the move with the largest gain (cut weight saved) that
// keeps every limit, including moves that lose (to climb out of local
// minima); each node moves at most once per pass; the pass ends after
// kMaxFruitlessMoves moves without a new best, and the moves after the best
// point are undone. Passes repeat until one improves nothing.
void Partitioner::Refine() {
  // Best feasible move of v: (gain, target) or target -1. Only hosts v
  // has links to can gain anything: its connection list, not every host.
  auto best_move = [&](int v) -> std::pair<int64_t, int> {
    const int from = part_[v];
    int best = -1;
    int64_t best_w = 0, from_w = 0;
    for (const auto& [h, w] : Conns(v)) {
      if (h == from) {
        from_w = w;
        continue;
      }
      if (w == 0 || !Fits(v, h)) continue;
      if (best < 0 || w > best_w ||
          (w == best_w &&
           (load_[h] * std::max<uint64_t>(limit_[best], 1) <
                load_[best] * std::max<uint64_t>(limit_[h], 1) ||
            (load_[h] * std::max<uint64_t>(limit_[best], 1) ==
                 load_[best] * std::max<uint64_t>(limit_[h], 1) &&
             h < best)))) {
        best = h;
        best_w = w;
      }
    }
    if (best < 0) return {0, -1};
    return {best_w - from_w, best};
  };
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    std::vector<char> locked(n_, 0);
    // Gain (largest first), then node index (smallest first), and the
    // node's stamp when queued: a heap in one vector, where an entry whose
    // stamp is no longer its node's is skipped. (A std::set, erasing and
    // inserting, cost a tree node per boundary node and pass.)
    using Entry = std::tuple<int64_t, int, uint32_t>;  // gain, -node, stamp
    std::priority_queue<Entry> queue;
    std::vector<uint32_t> stamp(n_, 0);
    std::vector<char> queued(n_, 0);
    auto enqueue = [&](int v, int64_t gain) {
      queued[v] = 1;
      queue.emplace(gain, -v, ++stamp[v]);
    };
    auto push = [&](int v) {
      if (locked[v] || pin_[v] >= 0) return;
      queued[v] = 0;  // its entry, if any, is stale now
      auto [gain, to] = best_move(v);
      if (to < 0) return;
      enqueue(v, gain);
    };
    for (int v = 0; v < n_; ++v) push(v);
    std::vector<std::pair<int, int>> moves;  // node, from
    int64_t total = 0, best_total = 0;
    size_t best_len = 0;
    int fruitless = 0;
    while (!queue.empty() && fruitless < kMaxFruitlessMoves) {
      const auto [queued_gain, neg_v, queued_stamp] = queue.top();
      queue.pop();
      const int v = -neg_v;
      if (!queued[v] || queued_stamp != stamp[v]) continue;  // stale
      queued[v] = 0;
      auto [gain, to] = best_move(v);  // limits may have changed
      if (to < 0) continue;
      if (gain != queued_gain) {
        enqueue(v, gain);
        continue;
      }
      const int from = part_[v];
      Unassign(v);
      Assign(v, to);
      locked[v] = 1;
      moves.emplace_back(v, from);
      total += gain;
      if (total > best_total) {
        best_total = total;
        best_len = moves.size();
        fruitless = 0;
      } else {
        ++fruitless;
      }
      for (const auto& [u, w] : Adj(v)) push(u);
    }
    while (moves.size() > best_len) {
      auto [v, from] = moves.back();
      moves.pop_back();
      Unassign(v);
      Assign(v, from);
    }
    if (best_total <= 0) break;
  }
}

bool Partitioner::PartitionWithMetis() {
  const int parts = static_cast<int>(order_.size());
  if (parts < 2 || n_ <= parts) return false;
  for (int v = 0; v < n_; ++v) {
    if (pin_[v] >= 0) return false;
  }
  for (const std::vector<char>& ok : class_allowed_) {
    for (int h : order_) {
      if (!ok[h]) return false;
    }
  }
  // Vertex weights: CPU demand over its greatest common divisor (2 milli
  // for netns, 1000 for whole CPUs), so that their sum fits METIS's 32-bit
  // integers; edge weights: CutWeight scaled to 64..128 for the same
  // reason.
  uint64_t g = 0;
  for (int v = 0; v < n_; ++v) g = std::gcd(g, cpu_[v]);
  if (g == 0 || total_cpu_ / g > (uint64_t{1} << 30)) return false;
  std::vector<idx_t> xadj(n_ + 1, 0), adjncy, adjwgt, vwgt(n_);
  adjncy.reserve(arcs_.size());
  adjwgt.reserve(arcs_.size());
  for (int v = 0; v < n_; ++v) {
    vwgt[v] = static_cast<idx_t>(cpu_[v] / g);
    for (const auto& [u, w] : Adj(v)) {
      adjncy.push_back(u);
      adjwgt.push_back(static_cast<idx_t>(
          std::min<int64_t>(w / (kLinkWeight / 64), idx_t{1} << 24)));
    }
    xadj[v + 1] = static_cast<idx_t>(adjncy.size());
  }
  // Each used host's target: its share of the CPU its limit allows.
  std::vector<real_t> tpwgts(parts);
  double limit_sum = 0;
  for (int h : order_) limit_sum += static_cast<double>(limit_[h]);
  for (int i = 0; i < parts; ++i) {
    tpwgts[i] = limit_sum == 0 ? 1.0f / parts
                               : static_cast<real_t>(limit_[order_[i]] /
                                                     limit_sum);
  }
  real_t ubvec = static_cast<real_t>(
      1 + std::max(0.01, std::min(opt_.tolerance_percent(), 100.0) / 100));
  idx_t nvtxs = n_, ncon = 1, nparts = parts, objval = 0;
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = 1;  // deterministic
  options[METIS_OPTION_NITER] = kMetisRefineIterations;
  std::vector<idx_t> where(n_);
  if (METIS_PartGraphKway(&nvtxs, &ncon, xadj.data(), adjncy.data(),
                          vwgt.data(), nullptr, adjwgt.data(), &nparts,
                          tpwgts.data(), &ubvec, options, &objval,
                          where.data()) != METIS_OK) {
    return false;
  }
  for (int v = 0; v < n_; ++v) Assign(v, order_[where[v]]);
  EvictOverLimit();
  return true;
}

void Partitioner::EvictOverLimit() {
  std::vector<std::vector<int>> on(h_);
  for (int v = 0; v < n_; ++v) {
    if (part_[v] >= 0) on[part_[v]].push_back(v);
  }
  for (int h = 0; h < h_; ++h) {
    if (load_[h] <= limit_[h] && mem_[h] <= mem_cap_[h]) continue;
    std::vector<std::pair<int64_t, int>> by_conn;
    for (int v : on[h]) by_conn.emplace_back(Conn(v, h), v);
    std::sort(by_conn.begin(), by_conn.end());
    for (const auto& [c, v] : by_conn) {
      if (load_[h] <= limit_[h] && mem_[h] <= mem_cap_[h]) break;
      Unassign(v);
    }
  }
}

absl::StatusOr<std::vector<int>> Partitioner::Run() {
  if (auto s = Setup(); !s.ok()) return s;
  if (auto s = ChooseHostsAndLimits(); !s.ok()) return s;
  part_.assign(n_, -1);
  conn_.assign(arcs_.size(), {});
  conn_count_.assign(n_, 0);
  load_.assign(h_, 0);
  mem_.assign(h_, 0);
  for (int v = 0; v < n_; ++v) {
    if (pin_[v] >= 0) Assign(v, pin_[v]);
  }
  if (!PartitionWithMetis()) Grow();
  if (auto s = PlaceLeftovers(); !s.ok()) return s;
  Refine();
  return part_;
}

}  // namespace

uint32_t VxlanVni(absl::string_view lab, absl::string_view link,
                  const absl::flat_hash_set<uint32_t>& taken) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(lab);
  mix("\n");
  mix(link);
  constexpr uint32_t kVnis = 0xFFFFFF;  // 1 .. 2^24 - 1
  uint32_t vni = static_cast<uint32_t>(h % kVnis) + 1;
  while (taken.contains(vni)) vni = vni % kVnis + 1;
  return vni;
}

NodeDemand DemandOf(const Node& node) {
  NodeDemand d =
      KindOf(node) == emu::v1::NODE_KIND_QEMU ? kQemuDemand : kNetnsDemand;
  if (node.resources().cpus() > 0) d.cpu_milli = node.resources().cpus() * 1000;
  if (node.resources().memory_mib() > 0)
    d.memory_mib = node.resources().memory_mib();
  return d;
}

namespace {

// Where the ends of a topology's nodes and links are, by host index: what
// the shares are built from. PlaceTopology has the indices already; for a
// map of names they are looked up once per node and link end.
struct HostIndex {
  std::vector<const std::string*> names;  // host index -> name
  std::vector<int> node_host;             // topology node -> host index
  std::vector<std::pair<int, int>> link_hosts;  // topology link -> hosts
};

std::map<std::string, emu::v1::ApplyLabRequest> BuildSharesByIndex(
    const Topology& topology, const HostIndex& where,
    const std::vector<HostStatus>& hosts,
    std::vector<emu::v1::CutLink>* cut_links) {
  absl::flat_hash_map<absl::string_view, const std::string*> tunnel_of;
  for (const auto& h : hosts) {
    tunnel_of[h.name()] = &h.capabilities().tunnel_address();
  }
  std::map<std::string, emu::v1::ApplyLabRequest> shares;
  std::vector<emu::v1::ApplyLabRequest*> share_of(where.names.size(), nullptr);
  auto share = [&](int h) -> emu::v1::ApplyLabRequest& {
    if (share_of[h] != nullptr) return *share_of[h];
    auto& s = shares[*where.names[h]];
    s.set_lab(topology.name());
    s.set_engine(topology.engine());
    s.set_seed(topology.seed());
    s.set_compensate(topology.compensate());
    s.set_carrier(topology.carrier());
    if (topology.has_mgmt()) *s.mutable_mgmt() = topology.mgmt();
    share_of[h] = &s;
    return s;
  };
  // Every share first (the map takes no concurrent inserts), in the order
  // the copies below would make them.
  for (int i = 0; i < topology.nodes_size(); ++i) share(where.node_host[i]);
  for (const auto& [a, b] : where.link_hosts) {
    share(a);
    share(b);
  }
  // The cut links' names, rows and VNIs, in topology order (the VNIs
  // depend on it).
  struct Cut {
    int link;
    std::string name;
    uint32_t vni;
  };
  std::vector<Cut> cuts;
  const bool vxlan = topology.carrier() == "vxlan";
  absl::flat_hash_set<uint32_t> vnis;  // the lab's, with carrier vxlan
  for (int j = 0; j < topology.links_size(); ++j) {
    const auto [a, b] = where.link_hosts[j];
    if (a == b) continue;
    const emu::v1::Link& link = topology.links(j);
    Cut& cut = cuts.emplace_back(Cut{j, LinkName(link), 0});
    if (cut_links != nullptr) {
      emu::v1::CutLink& row = cut_links->emplace_back();
      row.set_link(cut.name);
      row.set_host_a(*where.names[a]);
      row.set_host_b(*where.names[b]);
      row.set_a_to_b_rate_bps(link.a_to_b().rate_bps());
      row.set_b_to_a_rate_bps(link.b_to_a().rate_bps());
    }
    if (vxlan) {
      cut.vni = VxlanVni(topology.name(), cut.name, vnis);
      vnis.insert(cut.vni);
    }
  }
  // The copies of nodes and links into the shares, most of the time for a
  // big lab: each thread fills the shares of the hosts h with h % threads
  // == its index, in topology order, so the result is what one thread
  // makes; no two threads touch one share.
  auto fill = [&](int t, int threads) {
    auto mine = [&](int h) { return h % threads == t; };
    for (int i = 0; i < topology.nodes_size(); ++i) {
      const int h = where.node_host[i];
      if (mine(h)) *share_of[h]->add_nodes() = topology.nodes(i);
    }
    for (int j = 0; j < topology.links_size(); ++j) {
      const auto [a, b] = where.link_hosts[j];
      if (a == b && mine(a)) *share_of[a]->add_links() = topology.links(j);
    }
    for (const Cut& cut : cuts) {
      const emu::v1::Link& link = topology.links(cut.link);
      const auto [a, b] = where.link_hosts[cut.link];
      for (bool local_is_a : {true, false}) {
        const int h = local_is_a ? a : b;
        if (!mine(h)) continue;
        const std::string& here = *where.names[h];
        const std::string& there = *where.names[local_is_a ? b : a];
        emu::v1::RemoteLinkEnd* end = share_of[h]->add_remote_links();
        *end->mutable_link() = link;
        end->set_local_is_a(local_is_a);
        end->set_peer_host(there);
        auto tunnel = tunnel_of.find(there);
        if (tunnel != tunnel_of.end()) end->set_peer_address(*tunnel->second);
        end->set_listen(here < there);
        end->set_link_id(cut.name);
        end->set_vxlan_vni(cut.vni);
      }
    }
  };
  const size_t objects =
      static_cast<size_t>(topology.nodes_size()) + topology.links_size();
  const int threads =
      objects < kParallelSharesObjects
          ? 1
          : std::clamp(static_cast<int>(std::thread::hardware_concurrency()),
                       1, std::min(kMaxShareThreads,
                                   static_cast<int>(where.names.size())));
  if (threads == 1) {
    fill(0, 1);
  } else {
    std::vector<std::thread> workers;
    for (int t = 1; t < threads; ++t) workers.emplace_back(fill, t, threads);
    fill(0, threads);
    for (auto& w : workers) w.join();
  }
  // A namespace node's interface that no link (nor a host or dummy
  // link of containerlab's) uses has nothing to be:
  // the agent makes interfaces only as link ends, and would fail to
  // address a missing one. The validator warns about it in a file; an
  // interface export's interface is one after `emuctl community unexport`
  // (its bridge link gone) until it is exported again.
  // The set holds views of the share's own link ends (not changed below,
  // only its nodes are): no "node:iface" string built per end. It is made
  // only for a share with such an interface to check.
  using EndKey = std::pair<absl::string_view, absl::string_view>;
  auto prunable = [](const emu::v1::Node& node, const emu::v1::Interface& i) {
    // containerlab's host, dummy and vxlan links and bridges inside a node
    // are the interface's own: it stays.
    return (node.kind() == emu::v1::NODE_KIND_NETNS ||
            node.kind() == emu::v1::NODE_KIND_UNSPECIFIED) &&
           !IsSpecialEnd(i) && !i.bridge();
  };
  for (auto& [host, s] : shares) {
    const bool any = std::any_of(
        s.nodes().begin(), s.nodes().end(), [&](const emu::v1::Node& node) {
          return std::any_of(
              node.interfaces().begin(), node.interfaces().end(),
              [&](const emu::v1::Interface& i) { return prunable(node, i); });
        });
    if (!any) continue;
    absl::flat_hash_set<EndKey> used;
    used.reserve(2 * static_cast<size_t>(s.links_size()) +
                 s.remote_links_size());
    for (const auto& l : s.links()) {
      used.emplace(l.a().node(), l.a().interface());
      used.emplace(l.b().node(), l.b().interface());
    }
    for (const auto& r : s.remote_links()) {
      const emu::v1::Endpoint& e = r.local_is_a() ? r.link().a() : r.link().b();
      used.emplace(e.node(), e.interface());
    }
    for (auto& node : *s.mutable_nodes()) {
      auto* ifaces = node.mutable_interfaces();
      ifaces->erase(
          std::remove_if(ifaces->begin(), ifaces->end(),
                         [&](const emu::v1::Interface& i) {
                           return prunable(node, i) &&
                                  !used.contains(
                                      EndKey(node.name(), i.name()));
                         }),
          ifaces->end());
    }
  }
  return shares;
}

}  // namespace

std::map<std::string, emu::v1::ApplyLabRequest> BuildShares(
    const Topology& topology,
    const std::map<std::string, std::string>& host_of_node,
    const std::vector<HostStatus>& hosts,
    std::vector<emu::v1::CutLink>* cut_links) {
  // Each node's host found once by a view of its name, each host an index
  // (host "" for a node the map does not place).
  static const std::string* const kNoHost = new std::string;
  HostIndex where;
  absl::flat_hash_map<absl::string_view, int> index_of_host;
  absl::flat_hash_map<absl::string_view, int> host_of;
  host_of.reserve(host_of_node.size());
  for (const auto& [node, host] : host_of_node) {
    auto [it, added] = index_of_host.try_emplace(
        host, static_cast<int>(where.names.size()));
    if (added) where.names.push_back(&host);
    host_of.emplace(node, it->second);
  }
  auto host_index = [&](const std::string& node) {
    auto it = host_of.find(node);
    if (it != host_of.end()) return it->second;
    auto [none, added] = index_of_host.try_emplace(
        *kNoHost, static_cast<int>(where.names.size()));
    if (added) where.names.push_back(kNoHost);
    return none->second;
  };
  where.node_host.reserve(topology.nodes_size());
  for (const Node& node : topology.nodes()) {
    where.node_host.push_back(host_index(node.name()));
  }
  where.link_hosts.reserve(topology.links_size());
  for (const auto& link : topology.links()) {
    where.link_hosts.emplace_back(host_index(link.a().node()),
                                  host_index(link.b().node()));
  }
  return BuildSharesByIndex(topology, where, hosts, cut_links);
}

std::optional<Topology> FoldSharedNamespaces(const Topology& topology) {
  absl::flat_hash_map<absl::string_view, const Node*> sharer;
  for (const Node& n : topology.nodes()) {
    if (!n.netns_of().empty()) sharer[n.name()] = &n;
  }
  if (sharer.empty()) return std::nullopt;
  Topology folded = topology;
  folded.clear_nodes();
  folded.clear_links();
  absl::flat_hash_map<std::string, Node*> kept;
  for (const Node& n : topology.nodes()) {
    if (!n.netns_of().empty()) continue;
    Node* copy = folded.add_nodes();
    *copy = n;
    kept[n.name()] = copy;
  }
  for (const Node& n : topology.nodes()) {
    if (n.netns_of().empty() || n.host().empty()) continue;
    auto it = kept.find(n.netns_of());
    if (it != kept.end() && it->second->host().empty()) {
      it->second->set_host(n.host());
    }
  }
  auto root = [&](const std::string& node) -> const std::string& {
    auto it = sharer.find(node);
    return it == sharer.end() ? node : it->second->netns_of();
  };
  for (const emu::v1::Link& l : topology.links()) {
    const std::string& a = root(l.a().node());
    const std::string& b = root(l.b().node());
    if (a == b) continue;  // inside one namespace: never cut
    emu::v1::Link* copy = folded.add_links();
    *copy = l;
    copy->mutable_a()->set_node(a);
    copy->mutable_b()->set_node(b);
  }
  return folded;
}

absl::StatusOr<Placement> PlaceTopology(const Topology& topology,
                                        const std::vector<HostStatus>& hosts) {
  return PlaceTopology(topology, hosts, topology.placement());
}

absl::StatusOr<Placement> PlaceTopology(const Topology& topology,
                                        const std::vector<HostStatus>& hosts,
                                        const PlacementOptions& raw_options) {
  PlacementOptions options = raw_options;
  if (options.strategy() == PlacementOptions::STRATEGY_UNSPECIFIED) {
    // A management network lives on one host (CheckManagementHost): such a
    // lab is packed, so it fits on one whenever one has room.
    options.set_strategy(topology.has_mgmt() ? PlacementOptions::PACK
                                             : PlacementOptions::SPREAD);
  }
  if (!(options.tolerance_percent() >= 0) ||
      options.tolerance_percent() > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("placement: tolerance ", options.tolerance_percent(),
                     "% is out of range (0-10000%)"));
  }
  if (options.tolerance_percent() == 0) {
    options.set_tolerance_percent(kDefaultTolerancePercent);
  }

  std::vector<const HostStatus*> up;
  std::vector<std::string> down;
  for (const auto& h : hosts) {
    if (h.reachable()) {
      up.push_back(&h);
    } else {
      down.push_back(absl::StrCat(h.name(), " (", h.error(), ")"));
    }
  }
  std::sort(up.begin(), up.end(), [](const HostStatus* a, const HostStatus* b) {
    return a->name() < b->name();
  });
  if (up.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "no agent is reachable",
        down.empty() ? " (the controller knows no hosts)"
                     : absl::StrCat(": ", absl::StrJoin(down, "; "))));
  }
  for (const auto& node : topology.nodes()) {
    if (node.host().empty()) continue;
    bool is_up = std::any_of(up.begin(), up.end(), [&](const HostStatus* h) {
      return h->name() == node.host();
    });
    if (is_up) continue;
    bool known = std::any_of(hosts.begin(), hosts.end(), [&](const auto& x) {
      return x.name() == node.host();
    });
    std::string msg =
        absl::StrCat(SourcePrefix(node.source()), "node ", node.name(),
                     ": pinned to host ", node.host(), ", which ",
                     known ? "is unreachable" : "is not in the cluster");
    if (known) return absl::UnavailableError(msg);
    return absl::InvalidArgumentError(msg);
  }

  // Nodes that share another's namespace (Node.netns_of) go where it goes:
  // the partitioner sees the lab with each such node folded into its
  // target (its links retargeted, its pin carried over).
  std::optional<Topology> folded = FoldSharedNamespaces(topology);
  const Topology& partitioned = folded ? *folded : topology;
  Partitioner partitioner(partitioned, up, options);
  auto part = partitioner.Run();
  if (!part.ok()) return part.status();
  // Host index of each node of `topology`.
  std::vector<int> host_index(topology.nodes_size());
  if (folded) {
    absl::flat_hash_map<absl::string_view, int> placed;
    for (int i = 0; i < partitioned.nodes_size(); ++i) {
      placed[partitioned.nodes(i).name()] = (*part)[i];
    }
    for (int i = 0; i < topology.nodes_size(); ++i) {
      const Node& n = topology.nodes(i);
      host_index[i] =
          placed.at(n.netns_of().empty() ? n.name() : n.netns_of());
    }
  } else {
    for (int i = 0; i < topology.nodes_size(); ++i) host_index[i] = (*part)[i];
  }

  Placement p;
  p.options = options;
  // Indexed by host (up is in name order): a lookup by name per node cost
  // more than the sums.
  p.loads.resize(up.size());
  for (size_t h = 0; h < up.size(); ++h) {
    emu::v1::HostLoad& l = p.loads[h];
    l.set_host(up[h]->name());
    l.set_cpu_capacity_milli(uint64_t{up[h]->capabilities().cpus()} * 1000);
    l.set_memory_capacity_mib(up[h]->capabilities().memory_mib());
  }
  for (int i = 0; i < topology.nodes_size(); ++i) {
    const Node& node = topology.nodes(i);
    const int h = host_index[i];
    p.host_of_node[node.name()] = up[h]->name();
    NodeDemand d = DemandOf(node);
    emu::v1::HostLoad& l = p.loads[h];
    l.set_nodes(l.nodes() + 1);
    l.set_cpu_milli(l.cpu_milli() + d.cpu_milli);
    l.set_memory_mib(l.memory_mib() + d.memory_mib);
  }
  for (size_t h = 0; h < up.size(); ++h) {
    const uint64_t lim = partitioner.limit(h);
    p.loads[h].set_cpu_limit_milli(lim >= kUnlimited ? 0 : lim);
  }
  if (folded) {
    // The partitioner's links are the folded lab's: ends found by name.
    p.per_host = BuildShares(topology, p.host_of_node, hosts, &p.cut_links);
  } else {
    // The shares from the partition's indices: no lookup of a name.
    HostIndex where;
    for (const HostStatus* h : up) where.names.push_back(&h->name());
    where.node_host = std::move(host_index);
    where.link_hosts.reserve(topology.links_size());
    for (const auto& [a, b] : partitioner.link_ends()) {
      where.link_hosts.emplace_back(where.node_host[a], where.node_host[b]);
    }
    p.per_host = BuildSharesByIndex(topology, where, hosts, &p.cut_links);
  }
  EMU_RETURN_IF_ERROR(CheckTunnelCarriers(p.cut_links, hosts));
  EMU_RETURN_IF_ERROR(CheckVxlanConditions(topology, p.host_of_node, hosts));
  EMU_RETURN_IF_ERROR(CheckManagementHost(topology, p.host_of_node));
  return p;
}

absl::Status CheckManagementHost(
    const Topology& topology,
    const std::map<std::string, std::string>& host_of_node) {
  if (!topology.has_mgmt()) return absl::OkStatus();
  std::map<std::string, std::vector<std::string>> nodes_of_host;
  for (const Node& n : topology.nodes()) {
    const bool attached =
        std::any_of(n.interfaces().begin(), n.interfaces().end(),
                    [](const emu::v1::Interface& i) { return i.mgmt(); });
    auto it = host_of_node.find(n.name());
    if (attached && it != host_of_node.end()) {
      nodes_of_host[it->second].push_back(n.name());
    }
  }
  if (nodes_of_host.size() <= 1) return absl::OkStatus();
  std::vector<std::string> parts;
  for (const auto& [host, nodes] : nodes_of_host) {
    constexpr size_t kShown = 5;
    std::vector<std::string> shown(
        nodes.begin(), nodes.begin() + std::min(nodes.size(), kShown));
    parts.push_back(absl::StrCat(
        host, ": ", absl::StrJoin(shown, ", "),
        nodes.size() > kShown ? absl::StrCat(" and ", nodes.size() - kShown,
                                             " more")
                              : ""));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      SourcePrefix(topology.mgmt().source()), "lab ", topology.name(),
      ": its management network is one bridge on one host, but its nodes "
      "on it would run on ", nodes_of_host.size(), " hosts (",
      absl::StrJoin(parts, "; "),
      "); emu does not stretch a management network across hosts: pin "
      "those nodes to one host (host:) or make room on one"));
}

absl::Status CheckVxlanConditions(
    const Topology& topology,
    const std::map<std::string, std::string>& host_of_node,
    const std::vector<HostStatus>& hosts) {
  if (topology.carrier() != "vxlan") return absl::OkStatus();
  absl::flat_hash_map<absl::string_view, const emu::v1::Capabilities*> caps;
  for (const auto& h : hosts) caps[h.name()] = &h.capabilities();
  auto host = [&](const std::string& node) -> std::string {
    auto it = host_of_node.find(node);
    return it == host_of_node.end() ? std::string() : it->second;
  };
  for (const auto& l : topology.links()) {
    const std::string ha = host(l.a().node());
    const std::string hb = host(l.b().node());
    if (ha.empty() || hb.empty() || ha == hb) continue;
    for (bool a_to_b : {true, false}) {
      const std::string& sender = a_to_b ? ha : hb;
      auto c = caps.find(sender);
      if (c == caps.end()) continue;
      linkemu::SenderSide side;
      side.netem = c->second->netem();
      side.userspace = c->second->userspace_engine();
      const std::string problem = linkemu::VxlanDirectionProblem(
          a_to_b ? l.a_to_b() : l.b_to_a(), topology.engine(), side);
      if (problem.empty()) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          SourcePrefix(l.source()), "link ", LinkName(l),
          a_to_b ? " a-to-b: " : " b-to-a: ", problem, " (host ", sender,
          ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTunnelCarriers(const std::vector<emu::v1::CutLink>& cut_links,
                                 const std::vector<HostStatus>& hosts) {
  absl::flat_hash_map<absl::string_view, absl::string_view> carrier_of;
  for (const auto& h : hosts) {
    carrier_of[h.name()] = h.capabilities().tunnel_carrier();
  }
  auto carrier = [&](const std::string& host) -> absl::string_view {
    auto it = carrier_of.find(host);
    return it == carrier_of.end() ? absl::string_view() : it->second;
  };
  for (const auto& cut : cut_links) {
    absl::string_view a = carrier(cut.host_a());
    absl::string_view b = carrier(cut.host_b());
    if (a.empty() || b.empty() || a == b) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "link ", cut.link(), " would join host ", cut.host_a(),
        " (tunnel carrier ", a, ") and host ", cut.host_b(),
        " (tunnel carrier ", b, "): the two agents cannot connect; start "
        "every agent of the cluster with the same --tunnel_carrier "
        "(docs/tunnel.md)"));
  }
  return absl::OkStatus();
}

}  // namespace emu::controller::placement
