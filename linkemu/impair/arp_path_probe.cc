#include "linkemu/impair/arp_path_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/arrival_stamp.h"

namespace emu::linkemu {
namespace {

constexpr size_t kEthHeader = 14;
constexpr size_t kArpBody = 28;
constexpr size_t kMinFrame = 60;
// Requests without any reply after which the probe gives up.
constexpr int kGiveUpAfter = 4;
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

void Put16(std::string* out, size_t at, uint16_t v) {
  (*out)[at] = static_cast<char>(v >> 8);
  (*out)[at + 1] = static_cast<char>(v & 0xff);
}

// A packet socket bound to `ifname` in `netns`, made on a thread of its own
// (setns moves only the calling thread; the socket keeps its namespace).
absl::StatusOr<int> PacketSocketIn(const std::string& netns,
                                   const std::string& ifname) {
  const std::string path = netns.find('/') == std::string::npos
                               ? absl::StrCat("/run/netns/", netns)
                               : netns;
  const std::string what = absl::StrCat("ARP probe on ", ifname, " in ", netns);
  int sock = -1;
  absl::Status s;
  std::thread([&] {
    int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      s = absl::NotFoundError(
          absl::StrCat(what, ": namespace: ", std::strerror(errno)));
      return;
    }
    const bool entered = setns(nsfd, CLONE_NEWNET) == 0;
    const int setns_errno = errno;
    close(nsfd);
    if (!entered) {
      s = absl::UnavailableError(
          absl::StrCat(what, ": setns: ", std::strerror(setns_errno)));
      return;
    }
    const unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0) {
      s = absl::NotFoundError(absl::StrCat(what, ": no such interface"));
      return;
    }
    sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (sock < 0) {
      s = absl::UnavailableError(
          absl::StrCat(what, ": packet socket: ", std::strerror(errno)));
      return;
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(index);
    if (bind(sock, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
      s = absl::UnavailableError(
          absl::StrCat(what, ": bind: ", std::strerror(errno)));
      return;
    }
    // Our own requests are not replies; older kernels show them, and the
    // reply filter skips them there.
    int on = 1;
    setsockopt(sock, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof(on));
    if (!EnableArrivalStamps(sock)) {
      s = absl::UnavailableError(
          absl::StrCat(what, ": SO_TIMESTAMPNS: ", std::strerror(errno)));
    }
  }).join();
  if (!s.ok()) {
    if (sock >= 0) close(sock);
    return s;
  }
  return sock;
}

// Drains what the socket holds (frames from before this request).
void Drain(int sock) {
  char buf[64];
  int64_t ignored;
  while (RecvWithArrivalStamp(sock, buf, sizeof(buf), &ignored) >= 0) {
  }
}

}  // namespace

absl::StatusOr<std::string> ArpProbeFrame(const std::string& target) {
  in_addr tip;
  if (inet_pton(AF_INET, target.c_str(), &tip) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ARP probe: '", target, "' is not an IPv4 address"));
  }
  std::string f(kMinFrame, '\0');
  std::memset(f.data(), 0xff, 6);                     // broadcast
  std::memcpy(f.data() + 6, kArpProbeMac.data(), 6);  // from the probe
  Put16(&f, 12, ETH_P_ARP);
  Put16(&f, 14, 1);          // hardware: Ethernet
  Put16(&f, 16, ETH_P_IP);   // protocol: IPv4
  f[18] = 6;
  f[19] = 4;
  Put16(&f, 20, 1);  // request
  std::memcpy(f.data() + 22, kArpProbeMac.data(), 6);  // sender MAC
  // Sender address 0.0.0.0 (28..31) and target MAC 0 (32..37): RFC 5227.
  std::memcpy(f.data() + 38, &tip, 4);
  return f;
}

bool IsArpProbeReply(absl::string_view frame, const std::string& target) {
  in_addr tip;
  if (inet_pton(AF_INET, target.c_str(), &tip) != 1) return false;
  if (frame.size() < kEthHeader + kArpBody) return false;
  auto u16 = [&](size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(frame[at]) << 8 |
                                 static_cast<uint8_t>(frame[at + 1]));
  };
  return std::memcmp(frame.data(), kArpProbeMac.data(), 6) == 0 &&
         u16(12) == ETH_P_ARP && u16(14) == 1 && u16(16) == ETH_P_IP &&
         frame[18] == 6 && frame[19] == 4 && u16(20) == 2 &&
         std::memcmp(frame.data() + 28, &tip, 4) == 0 &&
         std::memcmp(frame.data() + 32, kArpProbeMac.data(), 6) == 0;
}

absl::StatusOr<std::vector<int64_t>> ArpRoundTripsNs(
    const std::string& netns, const std::string& ifname,
    const std::string& target, const ArpProbeOptions& options) {
  absl::StatusOr<std::string> request = ArpProbeFrame(target);
  if (!request.ok()) return request.status();
  absl::StatusOr<int> sock = PacketSocketIn(netns, ifname);
  if (!sock.ok()) return sock.status();
  std::vector<int64_t> rtts;
  std::string send_error;
  // One request; its round trip, or 0 when no reply came in time.
  auto round_trip = [&]() -> int64_t {
    Drain(*sock);
    const int64_t sent_at = ArrivalClockNowNs();  // the arrival stamp is realtime
    if (send(*sock, request->data(), request->size(), 0) < 0) {
      send_error = std::strerror(errno);
      return 0;
    }
    const absl::Time deadline = absl::Now() + options.reply_timeout;
    char buf[128];
    for (absl::Duration left = options.reply_timeout;
         left > absl::ZeroDuration(); left = deadline - absl::Now()) {
      pollfd p{*sock, POLLIN, 0};
      const int wait_ms =
          static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
      if (poll(&p, 1, wait_ms) != 1) continue;
      int64_t arrived = 0;
      const ssize_t n = RecvWithArrivalStamp(*sock, buf, sizeof(buf), &arrived);
      if (n <= 0 ||
          !IsArpProbeReply(absl::string_view(buf, static_cast<size_t>(n)),
                           target)) {
        continue;
      }
      if (arrived == 0) arrived = ArrivalClockNowNs();
      return std::max<int64_t>(arrived - sent_at, 1);
    }
    return 0;
  };
  int sent = 0;
  while (sent < options.attempts &&
         static_cast<int>(rtts.size()) < options.samples &&
         // An interface whose kernel does not answer (no such address, ARP
         // off) is given up soon, not after every attempt's timeout.
         !(rtts.empty() && sent >= kGiveUpAfter)) {
    absl::SleepFor(options.gap);
    ++sent;
    if (int64_t rtt = round_trip(); rtt > 0) rtts.push_back(rtt);
  }
  close(*sock);
  if (rtts.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "no ARP reply from ", target, " on ", ifname, " to ",
        sent, " requests",
        send_error.empty() ? "" : absl::StrCat(" (send: ", send_error, ")")));
  }
  return rtts;
}

}  // namespace emu::linkemu
