// pcapng blocks (the IETF draft "PCAP Next Generation Dump File Format",
// draft-ietf-opsawg-pcapng): a section header, one interface description
// and enhanced packet blocks are all a live capture needs, written here so
// that a stream can be cut into whole blocks (libpcap's dumper writes
// classic pcap to a FILE* only). Little-endian; timestamps in microseconds
// (the default if_tsresol, so the description carries no resolution option).
//
// Pure functions; thread-safe.
#ifndef EMU_AGENT_CAPTURE_PCAPNG_H_
#define EMU_AGENT_CAPTURE_PCAPNG_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace emu::agent::capture {

inline constexpr uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
inline constexpr uint32_t kInterfaceDescriptionBlock = 0x00000001;
inline constexpr uint32_t kEnhancedPacketBlock = 0x00000006;
inline constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

// The section header (version 1.0, section length unknown) with a
// shb_userappl option naming the writer.
std::string SectionHeader(absl::string_view application);

// An interface description: `linktype` is the LINKTYPE_* value (1 =
// Ethernet), `snaplen` the bytes kept per frame; if_name and, when not
// empty, if_filter (as a filter string) as options.
std::string InterfaceDescription(uint16_t linktype, uint32_t snaplen,
                                 absl::string_view name,
                                 absl::string_view filter);

// One frame of interface 0 seen at `time`: `data` is what was kept,
// `original_length` the frame's length on the wire.
std::string EnhancedPacket(absl::Time time, absl::string_view data,
                           uint32_t original_length);

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_PCAPNG_H_
