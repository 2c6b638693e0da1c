#include "agent/stats/lab_counters.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/net/resource_names.h"
#include "proto/topology_names.h"

namespace emu::agent::stats {
namespace {

using emu::v1::DirectionCounters;
using emu::v1::Endpoint;

// Interface samples per namespace, read once per Collect.
class Samples {
 public:
  Samples(NamespaceCounters* counters, emu::v1::LabCounters* out)
      : counters_(counters), out_(out) {}

  const InterfaceSample* Find(const std::string& ns,
                              const std::string& ifname) {
    auto it = by_ns_.find(ns);
    if (it == by_ns_.end()) {
      auto read = counters_->Read(ns);
      std::map<std::string, InterfaceSample> ifs;
      if (read.ok()) {
        for (auto& s : *read) ifs[s.name] = std::move(s);
      } else {
        out_->add_problems(std::string(read.status().message()));
      }
      it = by_ns_.emplace(ns, std::move(ifs)).first;
    }
    auto i = it->second.find(ifname);
    return i == it->second.end() ? nullptr : &i->second;
  }

 private:
  NamespaceCounters* const counters_;
  emu::v1::LabCounters* const out_;
  std::map<std::string, std::map<std::string, InterfaceSample>> by_ns_;
};

void AddSent(const InterfaceSample& s, DirectionCounters* d) {
  d->set_sent_bytes(d->sent_bytes() + s.tx_bytes);
  d->set_sent_packets(d->sent_packets() + s.tx_packets);
  d->set_dropped_packets(d->dropped_packets() + s.qdisc_drops + s.tx_dropped);
  d->set_backlog_bytes(d->backlog_bytes() + s.backlog_bytes);
  d->set_backlog_packets(d->backlog_packets() + s.backlog_packets);
}

void AddDelivered(const InterfaceSample& s, DirectionCounters* d) {
  d->set_delivered_bytes(d->delivered_bytes() + s.rx_bytes);
  d->set_delivered_packets(d->delivered_packets() + s.rx_packets);
}

void AddEngine(const linkemu::DirectionStats& e, DirectionCounters* d) {
  d->set_dropped_packets(d->dropped_packets() + e.dropped_loss +
                         e.dropped_queue + e.dropped_write);
  d->set_backlog_bytes(d->backlog_bytes() + e.backlog_bytes);
  d->set_backlog_packets(d->backlog_packets() + e.backlog_frames);
  d->set_late_1ms_packets(d->late_1ms_packets() + e.late_1ms);
  d->set_late_10ms_packets(d->late_10ms_packets() + e.late_10ms);
  d->set_late_max_us(
      std::max<uint64_t>(d->late_max_us(), e.late_max_ns / 1000));
}

}  // namespace

LabCounterCollector::LabCounterCollector(std::string host, Sources sources)
    : host_(std::move(host)), sources_(sources) {}

emu::v1::LabCounters LabCounterCollector::Collect(
    const emu::v1::ApplyLabRequest& spec) {
  emu::v1::LabCounters out;
  out.set_lab(spec.lab());
  out.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
  const std::string& lab = spec.lab();

  std::map<std::string, const emu::v1::Node*> nodes;
  for (const auto& n : spec.nodes()) nodes[n.name()] = &n;
  auto ns_of = [&](const Endpoint& e) {
    auto it = nodes.find(e.node());
    return it == nodes.end() ? net::NamespaceName(host_, lab, e.node())
                             : net::NodeNamespace(host_, lab, *it->second);
  };
  Samples samples(sources_.counters, &out);
  auto sample = [&](const Endpoint& e) -> const InterfaceSample* {
    const InterfaceSample* s = samples.Find(ns_of(e), e.interface());
    if (s == nullptr) {
      out.add_problems(absl::StrCat(EndpointName(e),
                                    ": no such interface on host ", host_));
    }
    return s;
  };

  std::map<std::string, linkemu::LinkStats> engine;
  std::map<std::string, impair::EngineLinks::Served> served_by_link;
  if (sources_.engine_links != nullptr) {
    for (auto& served : sources_.engine_links->List(lab)) {
      if (served.stats) engine[served.link] = *served.stats;
      served_by_link[served.link] = served;
    }
  }
  auto compensation = [](const impair::EngineLinks::Compensation& c,
                         DirectionCounters* d) {
    if (!c.on) return;
    d->set_compensated(true);
    d->set_base_latency_us(c.base_us);
    d->set_applied_delay_us(c.applied_delay_us);
    d->set_base_source(c.source);
  };
  std::map<std::string, tunnel::TunnelStatus> tunnels;
  if (sources_.tunnels != nullptr) {
    for (auto& t : sources_.tunnels->List(lab)) tunnels[t.spec.link_id] = t;
  }

  for (const auto& link : spec.links()) {
    auto* lc = out.add_links();
    lc->set_link(LinkName(link));
    auto e = engine.find(lc->link());
    const bool by_engine = e != engine.end();
    const InterfaceSample* a = sample(link.a());
    const InterfaceSample* b = sample(link.b());
    auto fill = [&](const Endpoint& from, const Endpoint& to,
                    const InterfaceSample* sf, const InterfaceSample* st,
                    const linkemu::DirectionStats* es, DirectionCounters* d) {
      d->set_from(EndpointName(from));
      d->set_to(EndpointName(to));
      d->set_carrier(by_engine ? "engine" : "kernel");
      if (sf != nullptr) AddSent(*sf, d);
      if (st != nullptr) AddDelivered(*st, d);
      if (es != nullptr) AddEngine(*es, d);
    };
    fill(link.a(), link.b(), a, b, by_engine ? &e->second.a_to_b : nullptr,
         lc->mutable_a_to_b());
    fill(link.b(), link.a(), b, a, by_engine ? &e->second.b_to_a : nullptr,
         lc->mutable_b_to_a());
    if (auto sv = served_by_link.find(lc->link());
        sv != served_by_link.end()) {
      compensation(sv->second.a_to_b, lc->mutable_a_to_b());
      compensation(sv->second.b_to_a, lc->mutable_b_to_a());
    }
  }

  for (const auto& remote : spec.remote_links()) {
    const auto& link = remote.link();
    auto* lc = out.add_links();
    lc->set_link(LinkName(link));
    lc->set_cross_host(true);
    const Endpoint& local = remote.local_is_a() ? link.a() : link.b();
    const Endpoint& peer = remote.local_is_a() ? link.b() : link.a();
    DirectionCounters* leaving =
        remote.local_is_a() ? lc->mutable_a_to_b() : lc->mutable_b_to_a();
    DirectionCounters* arriving =
        remote.local_is_a() ? lc->mutable_b_to_a() : lc->mutable_a_to_b();
    leaving->set_from(EndpointName(local));
    leaving->set_to(EndpointName(peer));
    arriving->set_from(EndpointName(peer));
    arriving->set_to(EndpointName(local));
    const InterfaceSample* s = sample(local);
    if (s != nullptr) {
      AddSent(*s, leaving);
      AddDelivered(*s, arriving);
    }
    std::string carrier = "tunnel";
    auto t = tunnels.find(remote.link_id());
    if (t != tunnels.end()) {
      const auto& st = t->second.stats;
      leaving->set_dropped_packets(leaving->dropped_packets() +
                                   st.dropped_disconnected);
      arriving->set_dropped_packets(arriving->dropped_packets() +
                                    st.dropped_tap_write);
      if (t->second.egress) {
        AddEngine(st.egress, leaving);
        carrier = "tunnel+engine";
      }
      compensation(t->second.compensation, leaving);
    }
    leaving->set_carrier(carrier);
    arriving->set_carrier("tunnel");
  }

  for (const auto& n : spec.nodes()) {
    if (!n.foreign_lab().empty()) continue;  // another lab's node
    auto* u = out.add_nodes();
    u->set_node(n.name());
    u->set_host(host_);
    if (sources_.processes == nullptr || sources_.usage == nullptr) continue;
    auto pids = sources_.processes->List(net::NodeNamespace(host_, lab, n));
    if (!pids.ok()) {
      out.add_problems(absl::StrCat("node ", n.name(), ": ",
                                    pids.status().message()));
      continue;
    }
    for (pid_t pid : *pids) {
      auto p = sources_.usage->Read(pid);
      if (!p.ok()) continue;  // ended meanwhile
      u->set_processes(u->processes() + 1);
      u->set_cpu_seconds(u->cpu_seconds() + p->cpu_seconds);
      u->set_memory_bytes(u->memory_bytes() + p->rss_bytes);
    }
  }
  return out;
}

}  // namespace emu::agent::stats
