// EpollLinkEngine: LinkEngine on epoll event loops (one per
// Options::threads), a timerfd per loop on CLOCK_MONOTONIC, and an
// ImpairmentPipeline per link direction.
//
// Per loop: a min-heap of (departure, link, direction) says when the
// timerfd must next fire; a direction is pushed when its earliest
// departure becomes earlier than the one it is registered with, and
// entries that no longer match are skipped when popped (lazy deletion).
// A readable device is read up to kBatchFrames frames in one batch
// (FrameBatchIo: io_uring, one system call for many frames); a frame
// meeting a pass-through direction with nothing held is written from the
// loop's read slot (no copy) in the batch of writes that ends the wake-up,
// otherwise it is copied into the pipeline's pool and written at its
// departure, with every other frame due then, in batches.
//
// Corruption and BER act on the bytes the receiver checks: when a
// direction corrupts, the engine turns the sending TAP's offloads off
// (TUNSETOFFLOAD 0), so the kernel hands over MTU-sized frames with
// complete checksums and a flipped bit is caught (or not) exactly as on a
// wire; they are turned back on when the direction stops corrupting.
#include "linkemu/impair/link_engine.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "common/thread_nice.h"
#include "linkemu/impair/impairment_pipeline.h"
#include "linkemu/tap_device.h"

namespace emu::linkemu {
namespace {

constexpr int kBatchFrames = FrameBatchIo::kMaxBatch;
constexpr uint64_t kWakeToken = 0;
constexpr uint64_t kTimerToken = 1;

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool Corrupts(const ImpairmentSpec& s) {
  return s.corrupt_percent > 0 || s.bit_error_rate > 0;
}

absl::Status CheckSpecs(const ImpairmentSpec& a_to_b,
                        const ImpairmentSpec& b_to_a) {
  std::vector<std::string> problems;
  for (const std::string& p : ImpairmentSpecProblems(a_to_b)) {
    problems.push_back(absl::StrCat("a_to_b: ", p));
  }
  for (const std::string& p : ImpairmentSpecProblems(b_to_a)) {
    problems.push_back(absl::StrCat("b_to_a: ", p));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

class EpollLinkEngine : public LinkEngine {
 public:
  EpollLinkEngine(int threads, int nice, FrameBatchIo::Mode io_mode)
      : loops_(threads), nice_(nice), io_mode_(io_mode) {}
  ~EpollLinkEngine() override;

  absl::Status Start();
  absl::StatusOr<LinkId> AddLink(int tap_a, int tap_b,
                                 const ImpairmentSpec& a_to_b,
                                 const ImpairmentSpec& b_to_a,
                                 uint64_t seed) override;
  absl::Status Update(LinkId id, const ImpairmentSpec& a_to_b,
                      const ImpairmentSpec& b_to_a) override;
  void RemoveLink(LinkId id) override;
  std::optional<LinkStats> GetStats(LinkId id) override;

 private:
  struct Direction {
    Direction(const ImpairmentSpec& spec, uint64_t seed, size_t hdr)
        : pipe(spec, seed, hdr) {}
    int in_fd = -1;   // read from
    int out_fd = -1;  // written to
    bool in_dead = false;
    bool offloads_off = false;
    int64_t registered_ns = ImpairmentPipeline::kNever;
    int read_hint = 2;  // first round of the next batch: 2 x the last
    ImpairmentPipeline pipe;
  };
  struct Link {
    LinkId id = 0;
    std::unique_ptr<Direction> dir[2];  // 0: a->b, 1: b->a
  };
  struct TimerEntry {
    int64_t due_ns;
    LinkId link;
    int dir;
    bool operator>(const TimerEntry& o) const { return due_ns > o.due_ns; }
  };
  struct Loop {
    int epoll_fd = -1;
    int timer_fd = -1;
    int wake_fd = -1;
    std::thread thread;
    absl::Mutex mu;
    bool stopping ABSL_GUARDED_BY(mu) = false;
    absl::flat_hash_map<LinkId, std::unique_ptr<Link>> links
        ABSL_GUARDED_BY(mu);
    std::vector<TimerEntry> timers ABSL_GUARDED_BY(mu);  // min-heap
    int64_t armed_ns ABSL_GUARDED_BY(mu) = ImpairmentPipeline::kNever;
    // The frames of one read batch: kBatchFrames slots of the largest
    // frame (allocated, untouched until used), and their sizes.
    std::unique_ptr<FrameBatchIo> io ABSL_GUARDED_BY(mu);
    std::unique_ptr<char[]> slot_memory;
    std::vector<absl::Span<char>> slots ABSL_GUARDED_BY(mu);
    size_t lens[kBatchFrames] ABSL_GUARDED_BY(mu);
  };

  Loop& LoopOf(LinkId id) { return loops_[id % loops_.size()]; }
  void Run(Loop& loop);
  void OnReadable(Loop& loop, Link& l, int d)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop.mu);
  void Flush(Loop& loop, Link& l, int d, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop.mu);
  void Register(Loop& loop, Link& l, int d)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop.mu);
  void RunTimers(Loop& loop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop.mu);
  void ArmTimer(Loop& loop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(loop.mu);
  void ApplyOffloads(Direction& d) ;
  static void CloseLink(Loop& loop, Link& l);

  std::vector<Loop> loops_;
  const int nice_;
  const FrameBatchIo::Mode io_mode_;
  absl::Mutex ids_mu_;
  LinkId next_id_ ABSL_GUARDED_BY(ids_mu_) = 1;
};

EpollLinkEngine::~EpollLinkEngine() {
  for (Loop& loop : loops_) {
    {
      absl::MutexLock lock(&loop.mu);
      loop.stopping = true;
    }
    uint64_t one = 1;
    if (loop.wake_fd >= 0) (void)!write(loop.wake_fd, &one, sizeof(one));
    if (loop.thread.joinable()) loop.thread.join();
    absl::MutexLock lock(&loop.mu);
    for (auto& [id, l] : loop.links) CloseLink(loop, *l);
    loop.links.clear();
    for (int fd : {loop.epoll_fd, loop.timer_fd, loop.wake_fd}) {
      if (fd >= 0) close(fd);
    }
  }
}

absl::Status EpollLinkEngine::Start() {
  for (Loop& loop : loops_) {
    loop.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (loop.epoll_fd < 0) return ErrnoToStatus(errno, "link engine: epoll");
    loop.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (loop.timer_fd < 0) return ErrnoToStatus(errno, "link engine: timerfd");
    loop.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop.wake_fd < 0) return ErrnoToStatus(errno, "link engine: eventfd");
    for (auto [fd, token] : {std::pair{loop.wake_fd, kWakeToken},
                             std::pair{loop.timer_fd, kTimerToken}}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = token;
      if (epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return ErrnoToStatus(errno, "link engine: epoll_ctl");
      }
    }
    {
      absl::MutexLock lock(&loop.mu);
      loop.io = std::make_unique<FrameBatchIo>(io_mode_);
      loop.slot_memory.reset(new char[kBatchFrames * FramePool::kLargestBytes]);
      for (int i = 0; i < kBatchFrames; ++i) {
        loop.slots.emplace_back(
            loop.slot_memory.get() + i * FramePool::kLargestBytes,
            FramePool::kLargestBytes);
      }
    }
  }
  absl::Mutex started_mu;
  int started = 0;
  absl::Status nice_status;
  for (Loop& loop : loops_) {
    loop.thread = std::thread([&, this] {
      const absl::Status s =
          nice_ == 0 ? absl::OkStatus()
                     : Annotate(SetThreadNice(gettid(), nice_), "link engine");
      {
        absl::MutexLock lock(&started_mu);
        if (!s.ok()) nice_status = s;
        ++started;
      }
      if (s.ok()) Run(loop);
    });
  }
  absl::MutexLock lock(&started_mu);
  auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(started_mu) {
    return started == static_cast<int>(loops_.size());
  };
  started_mu.Await(absl::Condition(&all));
  return nice_status;
}

void EpollLinkEngine::CloseLink(Loop& loop, Link& l) {
  for (auto& d : l.dir) {
    d->pipe.Clear();
    if (!d->in_dead) epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, d->in_fd, nullptr);
  }
  close(l.dir[0]->in_fd);
  close(l.dir[1]->in_fd);
}

void EpollLinkEngine::ApplyOffloads(Direction& d) {
  bool want_off = Corrupts(d.pipe.spec());
  if (want_off == d.offloads_off) return;
  (void)SetTapOffloads(d.in_fd, !want_off);  // non-TAPs: nothing to do
  d.offloads_off = want_off;
}

absl::StatusOr<LinkEngine::LinkId> EpollLinkEngine::AddLink(
    int tap_a, int tap_b, const ImpairmentSpec& a_to_b,
    const ImpairmentSpec& b_to_a, uint64_t seed) {
  absl::Status ok = CheckSpecs(a_to_b, b_to_a);
  if (!ok.ok() || tap_a < 0 || tap_b < 0 || tap_a == tap_b) {
    if (tap_a >= 0) close(tap_a);
    if (tap_b >= 0 && tap_b != tap_a) close(tap_b);
    if (!ok.ok()) return ok;
    return absl::InvalidArgumentError("link engine: two distinct devices needed");
  }
  SetNonBlocking(tap_a);
  SetNonBlocking(tap_b);
  LinkId id;
  {
    absl::MutexLock lock(&ids_mu_);
    id = next_id_++;
  }
  auto l = std::make_unique<Link>();
  l->id = id;
  // Two independent streams from one seed: the directions must not mirror
  // each other.
  l->dir[0] = std::make_unique<Direction>(a_to_b, seed * 2 + 0,
                                          TapVnetHeaderBytes(tap_a));
  l->dir[1] = std::make_unique<Direction>(b_to_a, seed * 2 + 1,
                                          TapVnetHeaderBytes(tap_b));
  l->dir[0]->in_fd = tap_a;
  l->dir[0]->out_fd = tap_b;
  l->dir[1]->in_fd = tap_b;
  l->dir[1]->out_fd = tap_a;
  Loop& loop = LoopOf(id);
  absl::MutexLock lock(&loop.mu);
  for (int d = 0; d < 2; ++d) {
    ApplyOffloads(*l->dir[d]);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (id << 1) | d;
    if (epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, l->dir[d]->in_fd, &ev) != 0) {
      absl::Status s = ErrnoToStatus(
          errno, absl::StrCat("link engine: poll device ", d == 0 ? "a" : "b"));
      if (d == 1) epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, tap_a, nullptr);
      close(tap_a);
      close(tap_b);
      return s;
    }
  }
  loop.links[id] = std::move(l);
  return id;
}

absl::Status EpollLinkEngine::Update(LinkId id, const ImpairmentSpec& a_to_b,
                                     const ImpairmentSpec& b_to_a) {
  Loop& loop = LoopOf(id);
  absl::MutexLock lock(&loop.mu);
  auto it = loop.links.find(id);
  if (it == loop.links.end()) {
    return absl::NotFoundError(absl::StrCat("engine link ", id, " not found"));
  }
  absl::Status ok = CheckSpecs(a_to_b, b_to_a);
  if (!ok.ok()) return ok;
  Link& l = *it->second;
  l.dir[0]->pipe.SetSpec(a_to_b);
  l.dir[1]->pipe.SetSpec(b_to_a);
  ApplyOffloads(*l.dir[0]);
  ApplyOffloads(*l.dir[1]);
  return absl::OkStatus();
}

void EpollLinkEngine::RemoveLink(LinkId id) {
  Loop& loop = LoopOf(id);
  absl::MutexLock lock(&loop.mu);
  auto it = loop.links.find(id);
  if (it == loop.links.end()) return;
  CloseLink(loop, *it->second);
  loop.links.erase(it);
}

std::optional<LinkStats> EpollLinkEngine::GetStats(LinkId id) {
  Loop& loop = LoopOf(id);
  absl::MutexLock lock(&loop.mu);
  auto it = loop.links.find(id);
  if (it == loop.links.end()) return std::nullopt;
  LinkStats s;
  s.a_to_b = it->second->dir[0]->pipe.stats();
  s.b_to_a = it->second->dir[1]->pipe.stats();
  return s;
}

void EpollLinkEngine::Register(Loop& loop, Link& l, int d) {
  Direction& dir = *l.dir[d];
  int64_t next = dir.pipe.NextDepartureNs();
  if (next >= dir.registered_ns) return;
  dir.registered_ns = next;
  loop.timers.push_back(TimerEntry{next, l.id, d});
  std::push_heap(loop.timers.begin(), loop.timers.end(), std::greater<>());
}

void EpollLinkEngine::Flush(Loop& loop, Link& l, int d, int64_t now) {
  Direction& dir = *l.dir[d];
  DirectionStats& st = dir.pipe.stats();
  size_t hdr = dir.pipe.header_bytes();
  // Every frame due, in batches of writes; a frame goes back to the pool
  // once its batch is written.
  HeldFrame* batch[kBatchFrames];
  while (true) {
    int n = 0;
    while (n < kBatchFrames) {
      HeldFrame* f = dir.pipe.PopDue(now);
      if (f == nullptr) break;
      loop.io->QueueWrite(dir.out_fd, f->data, f->len);
      batch[n++] = f;
    }
    if (n == 0) break;
    FrameBatchIo::WriteResult w = loop.io->Submit();
    st.dropped_write += w.refused;
    st.frames_out += w.written;
    st.bytes_out += w.bytes - std::min<uint64_t>(w.bytes, hdr * w.written);
    // How late this batch left: the delay stage subtracts it from later
    // frames (delay compensation, OwnLatency).
    const int64_t sent = MonotonicNowNs();
    for (int i = 0; i < n; ++i) {
      dir.pipe.RecordSent(batch[i]->due_ns, sent);
      dir.pipe.Release(batch[i]);
    }
    if (n < kBatchFrames) break;
  }
  dir.registered_ns = ImpairmentPipeline::kNever;
  Register(loop, l, d);
}

void EpollLinkEngine::OnReadable(Loop& loop, Link& l, int d) {
  Direction& dir = *l.dir[d];
  DirectionStats& st = dir.pipe.stats();
  size_t hdr = dir.pipe.header_bytes();
  FrameBatchIo::ReadResult r = loop.io->ReadFrames(
      dir.in_fd, loop.slots, loop.lens, dir.read_hint);
  dir.read_hint = std::max(2 * r.frames, 2);
  bool offered = false;
  int64_t now = 0;
  for (int i = 0; i < r.slots; ++i) {
    if (loop.lens[i] == 0) continue;
    absl::Span<const char> frame(loop.slots[i].data(), loop.lens[i]);
    if (dir.pipe.PassThroughNow()) {
      dir.pipe.CountPassThrough(frame.size());
      loop.io->QueueWrite(dir.out_fd, frame.data(), frame.size());
      continue;
    }
    if (now == 0) now = MonotonicNowNs();
    dir.pipe.Offer(frame, now);
    offered = true;
  }
  // The pass-through frames point into the slots: written before the
  // next read.
  FrameBatchIo::WriteResult w = loop.io->Submit();
  st.dropped_write += w.refused;
  st.frames_out += w.written;
  st.bytes_out += w.bytes - std::min<uint64_t>(w.bytes, hdr * w.written);
  if (r.error != 0) {
    // The device is gone (its namespace removed): stop polling it; the
    // other direction goes on.
    epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, dir.in_fd, nullptr);
    dir.in_dead = true;
  }
  if (offered) {
    now = MonotonicNowNs();
    if (dir.pipe.NextDepartureNs() <= now) {
      Flush(loop, l, d, now);
    } else {
      Register(loop, l, d);
    }
  }
}

void EpollLinkEngine::RunTimers(Loop& loop) {
  int64_t now = MonotonicNowNs();
  while (!loop.timers.empty() && loop.timers.front().due_ns <= now) {
    std::pop_heap(loop.timers.begin(), loop.timers.end(), std::greater<>());
    TimerEntry e = loop.timers.back();
    loop.timers.pop_back();
    auto it = loop.links.find(e.link);
    if (it == loop.links.end()) continue;
    Direction& dir = *it->second->dir[e.dir];
    if (dir.registered_ns != e.due_ns) continue;  // superseded
    Flush(loop, *it->second, e.dir, now);
  }
}

void EpollLinkEngine::ArmTimer(Loop& loop) {
  int64_t next =
      loop.timers.empty() ? ImpairmentPipeline::kNever : loop.timers.front().due_ns;
  if (next == loop.armed_ns) return;
  itimerspec its{};
  if (next != ImpairmentPipeline::kNever) {
    // An it_value of zero disarms: never ask for the instant 0.
    int64_t at = std::max<int64_t>(next, 1);
    its.it_value.tv_sec = at / 1'000'000'000;
    its.it_value.tv_nsec = at % 1'000'000'000;
  }
  timerfd_settime(loop.timer_fd, TFD_TIMER_ABSTIME, &its, nullptr);
  loop.armed_ns = next;
}

void EpollLinkEngine::Run(Loop& loop) {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    int n = epoll_wait(loop.epoll_fd, events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) return;
    absl::MutexLock lock(&loop.mu);
    if (loop.stopping) return;
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == kWakeToken) {
        uint64_t v;
        (void)!read(loop.wake_fd, &v, sizeof(v));
        continue;
      }
      if (token == kTimerToken) {
        uint64_t v;
        (void)!read(loop.timer_fd, &v, sizeof(v));
        loop.armed_ns = ImpairmentPipeline::kNever;  // fired
        continue;
      }
      auto it = loop.links.find(token >> 1);
      if (it == loop.links.end()) continue;  // removed meanwhile
      int d = static_cast<int>(token & 1);
      if (it->second->dir[d]->in_dead) continue;
      OnReadable(loop, *it->second, d);
    }
    RunTimers(loop);
    ArmTimer(loop);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<LinkEngine>> LinkEngine::Create(
    Options options) {
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "link engine: threads ", options.threads, " is outside 1..64"));
  }
  EMU_RETURN_IF_ERROR(Annotate(CheckNice(options.nice), "link engine"));
  auto engine = std::make_unique<EpollLinkEngine>(
      options.threads, options.nice, options.io_mode);
  absl::Status s = engine->Start();
  if (!s.ok()) return s;
  return std::unique_ptr<LinkEngine>(std::move(engine));
}

}  // namespace emu::linkemu
