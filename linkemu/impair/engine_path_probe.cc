#include "linkemu/impair/engine_path_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/arrival_stamp.h"
#include "linkemu/tap_device.h"

namespace emu::linkemu {
namespace {

constexpr char kIfname[] = "emubase0";
constexpr char kAddrA[] = "192.0.2.1";
constexpr char kAddrB[] = "192.0.2.2";
constexpr int kPort = 9;  // discard: nothing else lives in these namespaces

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(
      absl::StrCat("base-latency probe: ", what, ": ", std::strerror(errno)));
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Runs `fn` on a thread of its own (namespace changes stay on that thread).
template <typename Fn>
absl::Status OnThread(Fn fn) {
  absl::Status s;
  std::thread([&] { s = fn(); }).join();
  return s;
}

// A new unnamed network namespace; its fd.
absl::StatusOr<int> NewNamespace() {
  int fd = -1;
  absl::Status s = OnThread([&]() -> absl::Status {
    if (unshare(CLONE_NEWNET) != 0) return Errno("unshare(CLONE_NEWNET)");
    fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open /proc/thread-self/ns/net");
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return fd;
}

// Inside namespace `nsfd`: `addr`/24 on the probe's TAP, and a UDP socket
// bound to addr:kPort (a socket keeps the namespace it was made in).
absl::StatusOr<int> AddressAndSocket(int nsfd, const char* addr) {
  int sock = -1;
  absl::Status s = OnThread([&]() -> absl::Status {
    if (setns(nsfd, CLONE_NEWNET) != 0) return Errno("setns");
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return Errno("socket");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, kIfname, IFNAMSIZ - 1);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(sock, SIOCSIFADDR, &ifr) != 0) {
      return Errno(absl::StrCat("address ", addr, " on ", kIfname));
    }
    inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
    if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0) return Errno("netmask");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kPort);
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (bind(sock, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      return Errno(absl::StrCat("bind ", addr));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) {
    if (sock >= 0) close(sock);
    return s;
  }
  return sock;
}

// Closes what it holds, whatever path Sample() leaves by.
struct Scratch {
  LinkEngine* engine = nullptr;
  int ns[2] = {-1, -1};
  int sock[2] = {-1, -1};
  bool linked = false;
  LinkEngine::LinkId link = 0;
  ~Scratch() {
    for (int fd : sock) {
      if (fd >= 0) close(fd);
    }
    if (linked) engine->RemoveLink(link);  // closes both TAPs
    for (int fd : ns) {
      if (fd >= 0) close(fd);
    }
  }
};

}  // namespace

absl::StatusOr<std::vector<int64_t>> EngineTapPathProbe::Sample() {
  if (engine_ == nullptr) {
    return absl::FailedPreconditionError(
        "base-latency probe: no userspace engine");
  }
  Scratch x;
  x.engine = engine_;
  int taps[2] = {-1, -1};
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<int> ns = NewNamespace();
    if (!ns.ok()) {
      if (taps[0] >= 0) close(taps[0]);
      return ns.status();
    }
    x.ns[i] = *ns;
    absl::StatusOr<int> tap = OpenTapInNamespace(
        {absl::StrCat("/proc/self/fd/", x.ns[i]), kIfname, "", 0,
         "emu base-latency probe"});
    if (!tap.ok()) {
      if (taps[0] >= 0) close(taps[0]);
      return absl::Status(tap.status().code(),
                          absl::StrCat("base-latency probe: ",
                                       tap.status().message()));
    }
    taps[i] = *tap;
  }
  // Nothing to apply: the pass-through path every engine link has.
  absl::StatusOr<LinkEngine::LinkId> link =
      engine_->AddLink(taps[0], taps[1], {}, {}, 1);
  if (!link.ok()) {
    return absl::Status(link.status().code(),
                        absl::StrCat("base-latency probe: ",
                                     link.status().message()));
  }
  x.linked = true;
  x.link = *link;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<int> sock =
        AddressAndSocket(x.ns[i], i == 0 ? kAddrA : kAddrB);
    if (!sock.ok()) return sock.status();
    x.sock[i] = *sock;
  }

  if (!EnableArrivalStamps(x.sock[1])) return Errno("SO_TIMESTAMPNS");
  const int total = options_.warmup + options_.probes;
  std::vector<int64_t> delays;
  delays.reserve(options_.probes);
  // The receiver: every probe carries its index and send instant.
  std::atomic<int64_t> stop_at{0};
  std::thread reader([&] {
    char buf[64];
    while (true) {
      int64_t deadline = stop_at.load();
      if (deadline != 0 && NowNs() >= deadline) return;
      pollfd p{x.sock[1], POLLIN, 0};
      if (poll(&p, 1, 20) != 1) continue;
      // The kernel's arrival instant (SO_TIMESTAMPNS), not this thread's
      // wake-up: ping's reply comes from the kernel, no reader wakes up.
      int64_t now = 0;
      ssize_t n = RecvWithArrivalStamp(x.sock[1], buf, sizeof(buf), &now);
      if (now == 0) now = ArrivalClockNowNs();
      if (n != 16) continue;
      int64_t index, sent;
      std::memcpy(&index, buf, 8);
      std::memcpy(&sent, buf + 8, 8);
      if (index >= options_.warmup) delays.push_back(now - sent);
      if (static_cast<int>(delays.size()) == options_.probes) return;
    }
  });
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(kPort);
  inet_pton(AF_INET, kAddrB, &dst.sin_addr);
  const int64_t gap_ns = absl::ToInt64Nanoseconds(options_.gap);
  int64_t next = NowNs();
  for (int64_t i = 0; i < total; ++i) {
    // The first probe waits for ARP; the warm-up absorbs it.
    timespec at{static_cast<time_t>(next / 1'000'000'000),
                static_cast<long>(next % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    char buf[16];
    const int64_t now = ArrivalClockNowNs();  // the receiver's kernel stamps realtime
    std::memcpy(buf, &i, 8);
    std::memcpy(buf + 8, &now, 8);
    sendto(x.sock[0], buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&dst),
           sizeof(dst));
    next += (i < options_.warmup ? 10 : 1) * gap_ns;
  }
  stop_at = NowNs() + absl::ToInt64Nanoseconds(options_.linger);
  reader.join();
  if (static_cast<int>(delays.size()) < options_.probes / 2) {
    return absl::UnavailableError(absl::StrCat(
        "base-latency probe: ", delays.size(), " of ", options_.probes,
        " probes came through the scratch engine link"));
  }
  return delays;
}

}  // namespace emu::linkemu
