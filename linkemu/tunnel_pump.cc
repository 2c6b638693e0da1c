#include "linkemu/tunnel_pump.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "common/thread_nice.h"
#include "linkemu/impair/impairment_pipeline.h"
#include "linkemu/tap_device.h"
#include "linkemu/tunnel_frame.h"

namespace emu::linkemu {
namespace {

constexpr uint64_t kWakeToken = 0;
constexpr uint64_t kTimerToken = 1;
constexpr size_t kLowWaterBytes = TunnelPump::kHighWaterBytes / 4;
// Output buffer: room for the high-water mark plus one largest frame.
constexpr size_t kOutBufferBytes =
    TunnelPump::kHighWaterBytes + kTunnelFrameHeaderBytes + kMaxTunnelFrame;

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

struct TunnelPump::Link {
  LinkId id = 0;
  int tap_fd = -1;
  uint64_t tap_token = 0;
  bool tap_armed = false;
  bool tap_dead = false;  // read failed for good: no longer polled
  int read_hint = 2;  // first round of the next TAP batch: 2 x the last
  std::unique_ptr<TunnelConnection> conn;
  int conn_fd = -1;  // conn->fd() while conn is set
  uint64_t conn_token = 0;
  bool conn_wants_out = false;
  // Frames towards the socket: [out_begin, out_end) of `out`.
  std::vector<char> out;
  size_t out_begin = 0;
  size_t out_end = 0;
  // Bytes from the socket not yet a whole frame: [0, in_end) of `in`.
  std::vector<char> in;
  size_t in_end = 0;
  Stats stats;
  uint64_t rx_data_frames = 0;  // data frames decoded from the stream
  // ProbeRtt's state; wanted == 0: no probe under way.
  struct Probe {
    int wanted = 0;  // counted round trips still wanted
    int attempts_left = 0;
    int64_t deadline_ns = 0;
    uint64_t sent_value = 0;  // the request outstanding (its instant); 0: none
    int64_t next_send_ns = 0;  // no request before (kEchoGap after a reply)
    uint64_t data_mark = 0;   // DataMark when it was sent
    int64_t min_ns = 0;
    int samples = 0;
  } probe;
  // Data frames moved either way: a round trip that saw it change waited
  // behind data.
  uint64_t DataMark() const { return stats.tap_to_tcp_frames + rx_data_frames; }
  // Egress impairment (SetEgress); null until the first call.
  std::unique_ptr<ImpairmentPipeline> egress;
  bool offloads_off = false;
};

absl::StatusOr<std::unique_ptr<TunnelPump>> TunnelPump::Create(
    DisconnectFn on_disconnect, FrameBatchIo::Mode io_mode, EchoFn on_echo) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ErrnoToStatus(errno, "tunnel pump: epoll_create1");
  int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    absl::Status s = ErrnoToStatus(errno, "tunnel pump: eventfd");
    close(ep);
    return s;
  }
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer < 0) {
    absl::Status s = ErrnoToStatus(errno, "tunnel pump: timerfd");
    close(ep);
    close(wake);
    return s;
  }
  for (auto [fd, token] :
       {std::pair{wake, kWakeToken}, std::pair{timer, kTimerToken}}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = token;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      absl::Status s = ErrnoToStatus(errno, "tunnel pump: epoll_ctl");
      close(ep);
      close(wake);
      close(timer);
      return s;
    }
  }
  return std::unique_ptr<TunnelPump>(new TunnelPump(
      ep, wake, timer, std::move(on_disconnect), io_mode, std::move(on_echo)));
}

TunnelPump::TunnelPump(int epoll_fd, int wake_fd, int timer_fd,
                       DisconnectFn on_disconnect, FrameBatchIo::Mode io_mode,
                       EchoFn on_echo)
    : epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      timer_fd_(timer_fd),
      on_disconnect_(std::move(on_disconnect)),
      on_echo_(std::move(on_echo)),
      io_(io_mode),
      slot_memory_(new char[kBatchFrames * kMaxTunnelFrame]) {
  for (int i = 0; i < kBatchFrames; ++i) {
    slots_.emplace_back(slot_memory_.get() + i * kMaxTunnelFrame,
                        kMaxTunnelFrame);
  }
  thread_ = std::thread([this] { Run(); });
}

TunnelPump::~TunnelPump() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [id, l] : links_) {
    l->conn.reset();
    close(l->tap_fd);
  }
  links_.clear();
  close(timer_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

uint64_t TunnelPump::Register(int fd, uint32_t events, Channel ch) {
  uint64_t token = next_token_++;
  channels_[token] = ch;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return token;
}

absl::StatusOr<TunnelPump::LinkId> TunnelPump::AddLink(int tap_fd) {
  SetNonBlocking(tap_fd);
  absl::MutexLock lock(&mu_);
  auto l = std::make_unique<Link>();
  l->id = next_link_++;
  l->tap_fd = tap_fd;
  l->tap_token = Register(tap_fd, EPOLLIN, Channel{l->id, true});
  l->tap_armed = true;
  LinkId id = l->id;
  links_[id] = std::move(l);
  return id;
}

absl::Status TunnelPump::Attach(LinkId id, int conn_fd) {
  return Attach(id, PlainConnection(conn_fd));
}

absl::Status TunnelPump::Attach(LinkId id,
                                std::unique_ptr<TunnelConnection> conn) {
  const int conn_fd = conn->fd();
  SetNonBlocking(conn_fd);
  absl::MutexLock lock(&mu_);
  auto it = links_.find(id);
  if (it == links_.end()) {
    return absl::NotFoundError(absl::StrCat("tunnel link ", id, " not found"));
  }
  Link& l = *it->second;
  CloseConn(l);
  l.conn = std::move(conn);
  l.conn_fd = conn_fd;
  l.out.resize(kOutBufferBytes);
  l.in.resize(kInBufferBytes);
  l.conn_token = Register(conn_fd, EPOLLIN, Channel{id, false});
  l.conn_wants_out = false;
  l.stats.connected = true;
  ++l.stats.connections;
  SetTapArmed(l, true);
  return absl::OkStatus();
}

void TunnelPump::Detach(LinkId id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(id);
  if (it != links_.end()) CloseConn(*it->second);
}

void TunnelPump::RemoveLink(LinkId id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(id);
  if (it == links_.end()) return;
  Link& l = *it->second;
  CloseConn(l);
  if (!l.tap_dead) {
    channels_.erase(l.tap_token);
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.tap_fd, nullptr);
  }
  close(l.tap_fd);
  egress_links_.erase(id);
  links_.erase(it);
}

absl::Status TunnelPump::SetEgress(LinkId id, const ImpairmentSpec& spec,
                                   uint64_t seed) {
  std::vector<std::string> problems = ImpairmentSpecProblems(spec);
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel link ", id, " egress: ",
                     absl::StrJoin(problems, "; ")));
  }
  absl::MutexLock lock(&mu_);
  auto it = links_.find(id);
  if (it == links_.end()) {
    return absl::NotFoundError(absl::StrCat("tunnel link ", id, " not found"));
  }
  Link& l = *it->second;
  if (l.egress == nullptr) {
    l.egress = std::make_unique<ImpairmentPipeline>(
        spec, seed, TapVnetHeaderBytes(l.tap_fd));
    egress_links_.insert(id);
  } else {
    l.egress->SetSpec(spec);
  }
  // Bits flipped must meet the receiver's checksum: no offloads then
  // (link_engine.cc says why).
  bool want_off = spec.corrupt_percent > 0 || spec.bit_error_rate > 0;
  if (want_off != l.offloads_off) {
    (void)SetTapOffloads(l.tap_fd, !want_off);  // non-TAPs: nothing to do
    l.offloads_off = want_off;
  }
  return absl::OkStatus();
}

absl::Status TunnelPump::ProbeRtt(LinkId id, int samples) {
  if (samples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel link ", id, ": an echo probe of ", samples,
                     " samples"));
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(id);
    if (it == links_.end()) {
      return absl::NotFoundError(
          absl::StrCat("tunnel link ", id, " not found"));
    }
    Link& l = *it->second;
    if (l.conn_fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("tunnel link ", id, " has no connection to probe"));
    }
    l.probe = Link::Probe();
    l.probe.wanted = samples;
    l.probe.attempts_left = samples * kEchoAttemptsPerSample;
    l.probe.deadline_ns =
        MonotonicNowNs() + absl::ToInt64Nanoseconds(kEchoDeadline);
    probing_.insert(id);
    Flush(l);  // the first request, if the output is empty
  }
  // The loop's wait now needs a timeout (the probe's deadline), and a
  // failed send is reported from there.
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  return absl::OkStatus();
}

std::optional<TunnelPump::Stats> TunnelPump::GetStats(LinkId id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(id);
  if (it == links_.end()) return std::nullopt;
  Stats s = it->second->stats;
  if (it->second->egress != nullptr) s.egress = it->second->egress->stats();
  return s;
}

void TunnelPump::CloseConn(Link& l) {
  if (l.conn_fd < 0) return;
  channels_.erase(l.conn_token);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.conn_fd, nullptr);
  l.conn.reset();
  l.conn_fd = -1;
  l.conn_token = 0;
  l.conn_wants_out = false;
  l.out_begin = l.out_end = 0;
  l.in_end = 0;
  // Free the buffers of an idle link; Attach allocates them again.
  std::vector<char>().swap(l.out);
  std::vector<char>().swap(l.in);
  if (l.egress != nullptr) {
    l.stats.dropped_disconnected += l.egress->held_frames();
    l.egress->Clear();
  }
  // A probe ends with its connection, unreported: the next one probes.
  l.probe = Link::Probe();
  probing_.erase(l.id);
  l.stats.connected = false;
  SetTapArmed(l, true);  // keep draining (and dropping) the TAP
}

void TunnelPump::Fail(Link& l, absl::Status why) {
  CloseConn(l);
  failed_.emplace_back(l.id, std::move(why));
}

void TunnelPump::SetTapArmed(Link& l, bool armed) {
  if (l.tap_dead || l.tap_armed == armed) return;
  epoll_event ev{};
  ev.events = armed ? EPOLLIN : 0;
  ev.data.u64 = l.tap_token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.tap_fd, &ev);
  l.tap_armed = armed;
}

void TunnelPump::SetConnWantsOut(Link& l, bool want) {
  if (l.conn_fd < 0 || l.conn_wants_out == want) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
  ev.data.u64 = l.conn_token;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.conn_fd, &ev);
  l.conn_wants_out = want;
}

void TunnelPump::TapFailed(Link& l) {
  // The device is gone (EBADFD once its namespace was removed). epoll
  // reports errors even with no events armed, so stop polling it for good;
  // the owner re-creates the TAP on its next reconcile (Stats::tap_failed).
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.tap_fd, nullptr);
  channels_.erase(l.tap_token);
  l.tap_dead = true;
  l.tap_armed = false;
  l.stats.tap_failed = true;
}

void TunnelPump::ReserveOut(Link& l, size_t bytes) {
  if (l.out.size() - l.out_end < bytes) {
    std::memmove(l.out.data(), l.out.data() + l.out_begin,
                 l.out_end - l.out_begin);
    l.out_end -= l.out_begin;
    l.out_begin = 0;
  }
  // A batch read from the TAP may carry more than the high-water mark
  // leaves room for (64 frames of up to 128 KiB): grow for it; CloseConn
  // frees the buffer.
  if (l.out.size() - l.out_end < bytes) l.out.resize(l.out_end + bytes);
}

int TunnelPump::ReadTapBatch(Link& l, int max) {
  max = std::clamp(max, 1, kBatchFrames);
  FrameBatchIo::ReadResult r = io_.ReadFrames(
      l.tap_fd, absl::MakeConstSpan(slots_).first(max), lens_,
      std::min(l.read_hint, max));
  l.read_hint = std::max(2 * r.frames, 2);
  if (r.error != 0) TapFailed(l);
  return r.slots;
}

void TunnelPump::DrainEgress(Link& l, int64_t now_ns) {
  if (l.conn_fd < 0 || l.egress == nullptr) return;
  size_t hdr = l.egress->header_bytes();
  while (l.out_end - l.out_begin < kHighWaterBytes) {
    HeldFrame* f = l.egress->PopDue(now_ns);
    if (f == nullptr) break;
    ReserveOut(l, kTunnelFrameHeaderBytes + f->len);
    EncodeTunnelFrameHeader(f->len, l.out.data() + l.out_end);
    std::memcpy(l.out.data() + l.out_end + kTunnelFrameHeaderBytes, f->data,
                f->len);
    l.out_end += kTunnelFrameHeaderBytes + f->len;
    ++l.stats.tap_to_tcp_frames;
    l.stats.tap_to_tcp_bytes += f->len;
    DirectionStats& es = l.egress->stats();
    ++es.frames_out;
    es.bytes_out += f->len > hdr ? f->len - hdr : 0;
    // Framed at the wake-up's instant: its lateness is what the delay stage
    // then subtracts (delay compensation, OwnLatency).
    l.egress->RecordSent(f->due_ns, now_ns);
    l.egress->Release(f);
  }
  Flush(l);
}

void TunnelPump::RunEgressTimers() {
  int64_t now = MonotonicNowNs();
  int64_t next = ImpairmentPipeline::kNever;
  for (LinkId id : egress_links_) {
    auto it = links_.find(id);
    if (it == links_.end()) continue;
    Link& l = *it->second;
    if (l.egress->NextDepartureNs() <= now) DrainEgress(l, now);
    // A due frame left behind waits for EPOLLOUT, not for the timer.
    int64_t due = l.egress->NextDepartureNs();
    if (due > now) next = std::min(next, due);
  }
  if (next == timer_armed_ns_) return;
  itimerspec its{};
  if (next != ImpairmentPipeline::kNever) {
    its.it_value.tv_sec = next / 1'000'000'000;
    its.it_value.tv_nsec = next % 1'000'000'000;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  timer_armed_ns_ = next;
}

void TunnelPump::OnTapReadable(Link& l) {
  if (l.egress != nullptr && !l.egress->PassThroughNow() && l.conn_fd >= 0) {
    // Through the egress pipeline: read, offer, frame what is due.
    int slots = ReadTapBatch(l, kBatchFrames);
    int64_t now = MonotonicNowNs();
    for (int i = 0; i < slots; ++i) {
      if (lens_[i] > 0) {
        l.egress->Offer(absl::MakeConstSpan(slots_[i].data(), lens_[i]), now);
      }
    }
    DrainEgress(l, MonotonicNowNs());
    return;
  }
  if (l.conn_fd < 0) {
    int slots = ReadTapBatch(l, kBatchFrames);
    for (int i = 0; i < slots; ++i) {
      if (lens_[i] > 0) ++l.stats.dropped_disconnected;
    }
    return;
  }
  if (l.out_end - l.out_begin >= kHighWaterBytes) {
    SetTapArmed(l, false);
    Flush(l);
    return;
  }
  int slots = ReadTapBatch(l, kBatchFrames);
  const size_t hdr = l.egress != nullptr ? l.egress->header_bytes() : 0;
  for (int i = 0; i < slots; ++i) {
    const size_t n = lens_[i];
    if (n == 0) continue;
    ReserveOut(l, kTunnelFrameHeaderBytes + n);
    EncodeTunnelFrameHeader(static_cast<uint32_t>(n), l.out.data() + l.out_end);
    std::memcpy(l.out.data() + l.out_end + kTunnelFrameHeaderBytes,
                slots_[i].data(), n);
    l.out_end += kTunnelFrameHeaderBytes + n;
    ++l.stats.tap_to_tcp_frames;
    l.stats.tap_to_tcp_bytes += n;
    if (l.egress != nullptr) {  // pass-through now: counted all the same
      l.egress->CountPassThrough(n);
      DirectionStats& es = l.egress->stats();
      ++es.frames_out;
      es.bytes_out += n > hdr ? n - hdr : 0;
    }
  }
  Flush(l);
}

void TunnelPump::Flush(Link& l) {
  if (absl::Status s = l.conn->FlushPending(); !s.ok()) {
    Fail(l, s);
    return;
  }
  // Twice at most: an echo request goes once the output has drained.
  for (int round = 0; round < 2; ++round) {
    if (l.probe.wanted > 0) MaybeSendEcho(l);
    while (l.out_begin < l.out_end) {
      auto n =
          l.conn->Write(l.out.data() + l.out_begin, l.out_end - l.out_begin);
      if (!n.ok()) {
        Fail(l, n.status());
        return;
      }
      if (*n == 0) break;
      l.out_begin += *n;
    }
    if (l.out_begin != l.out_end) break;
    l.out_begin = l.out_end = 0;
    if (l.probe.wanted == 0 || l.probe.sent_value != 0) break;
  }
  size_t pending = l.out_end - l.out_begin;
  SetConnWantsOut(l, pending > 0 || l.conn->HasPendingWrite());
  if (pending < kLowWaterBytes) SetTapArmed(l, true);
}

void TunnelPump::QueueControl(Link& l, const TunnelControl& c) {
  ReserveOut(l, kTunnelControlFrameBytes);
  EncodeTunnelControl(c, l.out.data() + l.out_end);
  l.out_end += kTunnelControlFrameBytes;
}

void TunnelPump::MaybeSendEcho(Link& l) {
  if (l.probe.wanted == 0 || l.probe.sent_value != 0 || l.conn_fd < 0 ||
      l.probe.attempts_left == 0) {
    return;
  }
  // Not behind data of our own: the round trip is the idle path's.
  if (l.out_end != l.out_begin || l.conn->HasPendingWrite()) return;
  const int64_t now = MonotonicNowNs();
  if (now < l.probe.next_send_ns) return;  // RunProbes sends it
  --l.probe.attempts_left;
  QueueControl(l, {TunnelControlType::kEchoRequest, uint64_t(now)});
  l.probe.sent_value = now;
  l.probe.data_mark = l.DataMark();
}

void TunnelPump::OnControl(Link& l, const TunnelControl& c, int64_t now_ns) {
  if (c.type == TunnelControlType::kEchoRequest) {
    // Straight back, in stream order after what is queued: bounded like
    // the data (a peer asks one at a time; more is a broken peer).
    if (l.out_end - l.out_begin >= kHighWaterBytes) {
      ++l.stats.echoes_refused;
      return;
    }
    QueueControl(l, {TunnelControlType::kEchoReply, c.value});
    ++l.stats.echoes_answered;
    return;
  }
  // A reply: to the request outstanding, else stale (a replaced probe).
  Link::Probe& p = l.probe;
  if (p.wanted == 0 || p.sent_value == 0 || c.value != p.sent_value) return;
  const int64_t rtt = now_ns - static_cast<int64_t>(p.sent_value);
  p.sent_value = 0;
  p.next_send_ns = now_ns + absl::ToInt64Nanoseconds(kEchoGap);
  if (l.DataMark() == p.data_mark && rtt >= 0) {
    p.min_ns = p.samples == 0 ? rtt : std::min(p.min_ns, rtt);
    ++p.samples;
    --p.wanted;
  }
  if (p.wanted == 0) {
    FinishProbe(l, absl::OkStatus());
  } else if (p.attempts_left == 0) {
    FinishProbe(l, absl::DeadlineExceededError(absl::StrCat(
                       "no idle echo round trip in ",
                       (p.samples + p.wanted) * kEchoAttemptsPerSample,
                       " attempts: data crossed the link during each")));
  }
}

void TunnelPump::FinishProbe(Link& l, absl::Status why) {
  if (l.probe.samples > 0) {
    echoed_.emplace_back(
        l.id, EchoResult{absl::Nanoseconds(l.probe.min_ns), l.probe.samples});
  } else {
    echoed_.emplace_back(l.id, std::move(why));
  }
  l.probe = Link::Probe();
  probing_.erase(l.id);
}

int TunnelPump::RunProbes(int64_t now_ns) {
  constexpr int64_t kTickNs = 100'000'000;  // for the deadlines
  std::vector<LinkId> expired, due;
  int64_t wait_ns = kTickNs;
  for (LinkId id : probing_) {
    auto it = links_.find(id);
    if (it == links_.end()) continue;
    const Link::Probe& p = it->second->probe;
    if (p.deadline_ns <= now_ns) {
      expired.push_back(id);
    } else if (p.sent_value == 0) {
      if (p.next_send_ns <= now_ns) {
        due.push_back(id);
      } else {
        wait_ns = std::min(wait_ns, p.next_send_ns - now_ns);
      }
    }
  }
  for (LinkId id : expired) {
    FinishProbe(*links_[id],
                absl::DeadlineExceededError(absl::StrCat(
                    "no idle echo round trip in ",
                    absl::FormatDuration(kEchoDeadline),
                    ": the link was busy or its peer slow")));
  }
  for (LinkId id : due) {
    Link& l = *links_[id];
    if (l.conn_fd >= 0) Flush(l);  // sends the request (output empty)
  }
  if (probing_.empty()) return -1;
  // epoll_wait's milliseconds, rounded up: never early.
  return static_cast<int>((wait_ns + 999'999) / 1'000'000);
}

void TunnelPump::OnConnReadable(Link& l) {
  // A TLS connection may hold decrypted bytes epoll does not announce:
  // read on while it says so.
  const uint64_t answered = l.stats.echoes_answered;
  bool drained = false;  // the connection had nothing more to read
  do {
    auto n = l.conn->Read(l.in.data() + l.in_end, l.in.size() - l.in_end);
    if (!n.ok()) {
      Fail(l, n.status());
      return;
    }
    if (*n == 0) {
      drained = true;
      break;
    }
    l.in_end += *n;
    int64_t now = 0;  // read when a control frame needs it
    auto used = ForEachTunnelFrame(
        absl::string_view(l.in.data(), l.in_end),
        [&](absl::string_view f) {
          io_.QueueWrite(l.tap_fd, f.data(), f.size());
          ++l.rx_data_frames;
        },
        [&](const TunnelControl& c) {
          if (now == 0) now = MonotonicNowNs();
          OnControl(l, c, now);
        });
    // The frames point into `in`: written before it moves.
    FrameBatchIo::WriteResult w = io_.Submit();
    l.stats.dropped_tap_write += w.refused;
    l.stats.tcp_to_tap_frames += w.written;
    l.stats.tcp_to_tap_bytes += w.bytes;
    if (!used.ok()) {
      Fail(l, absl::DataLossError(absl::StrCat("tunnel stream: ",
                                               used.status().message())));
      return;
    }
    std::memmove(l.in.data(), l.in.data() + *used, l.in_end - *used);
    l.in_end -= *used;
  } while (l.conn->HasBuffered());
  // Echo replies to send, or a probe's next request.
  if (l.conn_fd >= 0 && (l.stats.echoes_answered != answered ||
                         (l.probe.wanted > 0 && l.probe.sent_value == 0))) {
    Flush(l);
    if (l.conn_fd < 0) return;
  }
  // Reading may have made TLS answer the peer (a key update): send it when
  // the socket takes it.
  if (!drained && l.conn->HasPendingWrite()) SetConnWantsOut(l, true);
}

absl::Status TunnelPump::SetNice(int nice) {
  return Annotate(SetThreadNice(thread_id(), nice), "tunnel pump");
}

pid_t TunnelPump::thread_id() {
  absl::MutexLock lock(&mu_);
  auto started = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return thread_id_ != 0;
  };
  mu_.Await(absl::Condition(&started));
  return thread_id_;
}

void TunnelPump::Run() {
  {
    absl::MutexLock lock(&mu_);
    thread_id_ = gettid();
  }
  constexpr int kMaxEvents = 64;
  // While a probe is under way the wait wakes for its requests and deadline.
  epoll_event events[kMaxEvents];
  int timeout_ms = -1;
  while (true) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    std::vector<std::pair<LinkId, absl::Status>> failed;
    std::vector<std::pair<LinkId, absl::StatusOr<EchoResult>>> echoed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      for (int i = 0; i < n; ++i) {
        uint64_t token = events[i].data.u64;
        if (token == kWakeToken) {
          uint64_t v;
          (void)!read(wake_fd_, &v, sizeof(v));
          continue;
        }
        if (token == kTimerToken) {
          uint64_t v;
          (void)!read(timer_fd_, &v, sizeof(v));
          timer_armed_ns_ = 0;  // fired
          continue;
        }
        auto ch = channels_.find(token);
        if (ch == channels_.end()) continue;  // closed meanwhile
        auto it = links_.find(ch->second.link);
        if (it == links_.end()) continue;
        Link& l = *it->second;
        if (ch->second.is_tap) {
          OnTapReadable(l);
          continue;
        }
        uint32_t ev = events[i].events;
        if (ev & EPOLLOUT) {
          Flush(l);
          if (l.egress != nullptr) DrainEgress(l, MonotonicNowNs());
        }
        if (l.conn_fd >= 0 && l.conn_token == token &&
            (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
          OnConnReadable(l);
        }
      }
      if (!egress_links_.empty()) RunEgressTimers();
      timeout_ms = probing_.empty() ? -1 : RunProbes(MonotonicNowNs());
      failed.swap(failed_);
      echoed.swap(echoed_);
    }
    for (auto& [id, why] : failed) {
      if (on_disconnect_) on_disconnect_(id, why);
    }
    for (auto& [id, result] : echoed) {
      if (on_echo_) on_echo_(id, result);
    }
  }
}

}  // namespace emu::linkemu
