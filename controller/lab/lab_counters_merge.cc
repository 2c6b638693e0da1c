#include "controller/lab/lab_counters_merge.h"

#include <algorithm>

namespace emu::controller::lab {
namespace {

void AddDirection(const emu::v1::DirectionCounters& p,
                  emu::v1::DirectionCounters* d) {
  if (d->from().empty()) d->set_from(p.from());
  if (d->to().empty()) d->set_to(p.to());
  // The sender's host knows how the direction is carried ("tunnel+engine").
  if (p.sent_packets() > 0 || p.carrier().size() > d->carrier().size()) {
    d->set_carrier(p.carrier());
  }
  d->set_sent_bytes(d->sent_bytes() + p.sent_bytes());
  d->set_sent_packets(d->sent_packets() + p.sent_packets());
  d->set_delivered_bytes(d->delivered_bytes() + p.delivered_bytes());
  d->set_delivered_packets(d->delivered_packets() + p.delivered_packets());
  d->set_dropped_packets(d->dropped_packets() + p.dropped_packets());
  d->set_backlog_bytes(d->backlog_bytes() + p.backlog_bytes());
  d->set_backlog_packets(d->backlog_packets() + p.backlog_packets());
  d->set_late_1ms_packets(d->late_1ms_packets() + p.late_1ms_packets());
  d->set_late_10ms_packets(d->late_10ms_packets() + p.late_10ms_packets());
  d->set_late_max_us(std::max(d->late_max_us(), p.late_max_us()));
  // Compensation is reported by the one host whose engine applies it.
  if (p.compensated()) {
    d->set_compensated(true);
    d->set_base_latency_us(p.base_latency_us());
    d->set_applied_delay_us(p.applied_delay_us());
    d->set_base_source(p.base_source());
  }
}

}  // namespace

void MergeLabCounters(const emu::v1::LabCounters& part,
                      emu::v1::LabCounters* into) {
  if (into->lab().empty()) into->set_lab(part.lab());
  into->set_time_unix_us(std::max(into->time_unix_us(), part.time_unix_us()));
  for (const auto& l : part.links()) {
    emu::v1::LinkCounters* target = nullptr;
    for (auto& have : *into->mutable_links()) {
      if (have.link() == l.link()) {
        target = &have;
        break;
      }
    }
    if (target == nullptr) {
      target = into->add_links();
      target->set_link(l.link());
    }
    target->set_cross_host(target->cross_host() || l.cross_host());
    AddDirection(l.a_to_b(), target->mutable_a_to_b());
    AddDirection(l.b_to_a(), target->mutable_b_to_a());
  }
  for (const auto& n : part.nodes()) *into->add_nodes() = n;
  for (const auto& p : part.problems()) into->add_problems(p);
}

}  // namespace emu::controller::lab
