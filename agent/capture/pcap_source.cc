#include "agent/capture/pcap_source.h"

#include <fcntl.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace emu::agent::capture {
namespace {

// The kernel's capture buffer: frames wait here while the session thread
// copies earlier ones out (beyond it the kernel drops and pcap_stats counts).
constexpr int kBufferBytes = 4 << 20;

class PcapSource : public PacketSource {
 public:
  explicit PcapSource(pcap_t* p) : p_(p) {}
  ~PcapSource() override { pcap_close(p_); }

  uint16_t linktype() const override {
    return static_cast<uint16_t>(pcap_datalink(p_));
  }
  uint32_t snaplen() const override {
    return static_cast<uint32_t>(pcap_snapshot(p_));
  }

  absl::StatusOr<int> Next(
      absl::Duration timeout, int max,
      const std::function<void(const Frame&)>& sink) override {
    pollfd pfd{pcap_get_selectable_fd(p_), POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (r < 0 && errno != EINTR) return ErrnoToStatus(errno, "capture: poll");
    if (r <= 0) return 0;
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
      return absl::UnavailableError(
          "capture: the interface went away (its socket reports an error)");
    }
    struct Ctx {
      const std::function<void(const Frame&)>* sink;
    } ctx{&sink};
    int n = pcap_dispatch(
        p_, max,
        [](u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
          auto* c = reinterpret_cast<Ctx*>(user);
          Frame f;
          f.time = absl::FromUnixMicros(int64_t{h->ts.tv_sec} * 1000000 +
                                        h->ts.tv_usec);
          f.data = absl::string_view(reinterpret_cast<const char*>(bytes),
                                     h->caplen);
          f.original_length = h->len;
          (*c->sink)(f);
        },
        reinterpret_cast<u_char*>(&ctx));
    if (n == PCAP_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("capture: ", pcap_geterr(p_)));
    }
    return n < 0 ? 0 : n;
  }

  uint64_t KernelDrops() override {
    pcap_stat st{};
    if (pcap_stats(p_, &st) != 0) return last_drops_;
    last_drops_ = uint64_t{st.ps_drop} + st.ps_ifdrop;
    return last_drops_;
  }

 private:
  pcap_t* const p_;
  uint64_t last_drops_ = 0;
};

// Creates and activates the capture in the calling thread's namespace.
absl::StatusOr<pcap_t*> OpenHere(const CaptureTarget& t,
                                 const std::string& what) {
  if (if_nametoindex(t.interface.c_str()) == 0) {
    return absl::NotFoundError(
        absl::StrCat(what, ": no interface ", t.interface, " in the node"));
  }
  char err[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_create(t.interface.c_str(), err);
  if (p == nullptr) return absl::InternalError(absl::StrCat(what, ": ", err));
  auto fail = [&](absl::Status s) {
    pcap_close(p);
    return s;
  };
  pcap_set_snaplen(p, static_cast<int>(t.snaplen == 0 ? kDefaultSnaplen
                                                      : t.snaplen));
  pcap_set_promisc(p, 1);
  pcap_set_immediate_mode(p, 1);  // frames as they come, not in batches
  pcap_set_buffer_size(p, kBufferBytes);
  int rc = pcap_activate(p);
  if (rc < 0) {
    return fail(absl::UnavailableError(
        absl::StrCat(what, ": activate: ", pcap_statustostr(rc), " ",
                     pcap_geterr(p))));
  }
  if (pcap_setnonblock(p, 1, err) != 0) {
    return fail(absl::InternalError(absl::StrCat(what, ": nonblock: ", err)));
  }
  if (!t.filter.empty()) {
    bpf_program prog{};
    if (pcap_compile(p, &prog, t.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) !=
        0) {
      return fail(absl::InvalidArgumentError(absl::StrCat(
          what, ": filter '", t.filter, "': ", pcap_geterr(p))));
    }
    int set = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (set != 0) {
      return fail(absl::InternalError(
          absl::StrCat(what, ": setfilter: ", pcap_geterr(p))));
    }
  }
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PacketSource>> PcapOpener::Open(
    const CaptureTarget& target) {
  const std::string what =
      absl::StrCat("capture ", target.netns, ":", target.interface);
  if (target.interface.empty() || target.interface.size() >= IFNAMSIZ) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": interface name must be 1..15 bytes"));
  }
  const std::string path = absl::StrCat("/run/netns/", target.netns);
  int ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) {
    return ErrnoToStatus(errno, absl::StrCat(what, ": namespace ", path));
  }
  absl::Cleanup close_ns = [ns_fd] { close(ns_fd); };
  absl::StatusOr<pcap_t*> opened;
  std::thread t([&] {
    if (setns(ns_fd, CLONE_NEWNET) != 0) {
      opened = ErrnoToStatus(errno, absl::StrCat(what, ": setns"));
      return;
    }
    opened = OpenHere(target, what);
  });
  t.join();
  if (!opened.ok()) return opened.status();
  return std::make_unique<PcapSource>(*opened);
}

}  // namespace emu::agent::capture
