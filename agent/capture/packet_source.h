// Where a capture's frames come from: an open capture on one interface of
// a node. An interface so the capture session's tests run without root or
// libpcap; pcap_source.h is the real one.
#ifndef EMU_AGENT_CAPTURE_PACKET_SOURCE_H_
#define EMU_AGENT_CAPTURE_PACKET_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace emu::agent::capture {

// One captured frame; `data` is valid only during the sink call.
struct Frame {
  absl::Time time;
  absl::string_view data;    // the bytes kept (at most the snaplen)
  uint32_t original_length;  // the frame's length on the wire
};

// An open capture. Used from one thread at a time.
class PacketSource {
 public:
  virtual ~PacketSource() = default;  // closes the capture

  virtual uint16_t linktype() const = 0;  // LINKTYPE_* (1 = Ethernet)
  virtual uint32_t snaplen() const = 0;

  // Waits up to `timeout` for frames and hands each one ready to `sink`, at
  // most `max`. Returns how many (0 when none came in time); an error when
  // the capture cannot go on (the interface went away).
  virtual absl::StatusOr<int> Next(
      absl::Duration timeout, int max,
      const std::function<void(const Frame&)>& sink) = 0;

  // Frames the kernel dropped before the capture read them (ps_drop +
  // ps_ifdrop), cumulative.
  virtual uint64_t KernelDrops() = 0;
};

// What to capture.
struct CaptureTarget {
  std::string netns;      // /run/netns/<netns>
  std::string interface;  // inside that namespace
  std::string filter;     // pcap-filter(7); empty = all
  uint32_t snaplen = 0;   // 0 = kDefaultSnaplen
};

inline constexpr uint32_t kDefaultSnaplen = 262144;

// Opens captures. Thread-safe.
class PacketSourceOpener {
 public:
  virtual ~PacketSourceOpener() = default;
  // NOT_FOUND for a namespace or interface that does not exist,
  // INVALID_ARGUMENT for a filter that does not compile (libpcap's words).
  virtual absl::StatusOr<std::unique_ptr<PacketSource>> Open(
      const CaptureTarget& target) = 0;
};

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_PACKET_SOURCE_H_
