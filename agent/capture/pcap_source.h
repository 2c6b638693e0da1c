// PacketSource over libpcap (Debian's libpcap-dev). The capture socket is
// made by a short-lived thread that joined the node's network namespace,
// so it sees that namespace's interface; reading it afterwards needs no
// namespace (a socket keeps the namespace it was made in).
#ifndef EMU_AGENT_CAPTURE_PCAP_SOURCE_H_
#define EMU_AGENT_CAPTURE_PCAP_SOURCE_H_

#include "agent/capture/packet_source.h"

namespace emu::agent::capture {

class PcapOpener : public PacketSourceOpener {
 public:
  absl::StatusOr<std::unique_ptr<PacketSource>> Open(
      const CaptureTarget& target) override;
};

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_PCAP_SOURCE_H_
