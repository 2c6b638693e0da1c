#include "agent/capture/pcapng.h"

namespace emu::agent::capture {
namespace {

constexpr uint16_t kOptEndOfOpt = 0;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfFilter = 11;

size_t Padded(size_t n) { return (n + 3) & ~size_t{3}; }

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

void Put32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void Put64(std::string* out, uint64_t v) {
  Put32(out, static_cast<uint32_t>(v));
  Put32(out, static_cast<uint32_t>(v >> 32));
}

void PutPadded(std::string* out, absl::string_view bytes) {
  out->append(bytes.data(), bytes.size());
  out->append(Padded(bytes.size()) - bytes.size(), '\0');
}

void PutOption(std::string* out, uint16_t code, absl::string_view value) {
  Put16(out, code);
  Put16(out, static_cast<uint16_t>(value.size()));
  PutPadded(out, value);
}

// type, total length, body, total length.
std::string Block(uint32_t type, const std::string& body) {
  const uint32_t total = static_cast<uint32_t>(12 + body.size());
  std::string out;
  out.reserve(total);
  Put32(&out, type);
  Put32(&out, total);
  out += body;
  Put32(&out, total);
  return out;
}

// Option values are limited to 65535 bytes.
absl::string_view Capped(absl::string_view v) { return v.substr(0, 0xfff0); }

}  // namespace

std::string SectionHeader(absl::string_view application) {
  std::string body;
  Put32(&body, kByteOrderMagic);
  Put16(&body, 1);  // major
  Put16(&body, 0);  // minor
  Put64(&body, ~uint64_t{0});  // section length: not given (-1)
  if (!application.empty()) PutOption(&body, kShbUserAppl, Capped(application));
  PutOption(&body, kOptEndOfOpt, "");
  return Block(kSectionHeaderBlock, body);
}

std::string InterfaceDescription(uint16_t linktype, uint32_t snaplen,
                                 absl::string_view name,
                                 absl::string_view filter) {
  std::string body;
  Put16(&body, linktype);
  Put16(&body, 0);  // reserved
  Put32(&body, snaplen);
  if (!name.empty()) PutOption(&body, kIfName, Capped(name));
  if (!filter.empty()) {
    // First byte 0: the filter is a libpcap filter string.
    std::string value(1, '\0');
    value.append(Capped(filter).data(), Capped(filter).size());
    PutOption(&body, kIfFilter, value);
  }
  PutOption(&body, kOptEndOfOpt, "");
  return Block(kInterfaceDescriptionBlock, body);
}

std::string EnhancedPacket(absl::Time time, absl::string_view data,
                           uint32_t original_length) {
  const uint64_t us = static_cast<uint64_t>(absl::ToUnixMicros(time));
  std::string body;
  body.reserve(20 + Padded(data.size()));
  Put32(&body, 0);  // interface id
  Put32(&body, static_cast<uint32_t>(us >> 32));
  Put32(&body, static_cast<uint32_t>(us));
  Put32(&body, static_cast<uint32_t>(data.size()));
  Put32(&body, original_length);
  PutPadded(&body, data);
  return Block(kEnhancedPacketBlock, body);
}

}  // namespace emu::agent::capture
