// The blocks are read back by libpcap (which reads pcapng files), an
// independent reader, and their layout is checked against the format.
#include "agent/capture/pcapng.h"

#include <pcap/pcap.h>
#include <stdio.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace emu::agent::capture {
namespace {

struct Read {
  int linktype = -1;
  int snaplen = -1;
  std::vector<pcap_pkthdr> headers;
  std::vector<std::string> frames;
  std::string error;
};

Read ReadWithLibpcap(const std::string& bytes) {
  Read r;
  FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "r");
  if (f == nullptr) {
    r.error = "fmemopen";
    return r;
  }
  char err[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(
      f, PCAP_TSTAMP_PRECISION_MICRO, err);
  if (p == nullptr) {
    fclose(f);
    r.error = err;
    return r;
  }
  r.linktype = pcap_datalink(p);
  r.snaplen = pcap_snapshot(p);
  pcap_pkthdr* h;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    r.headers.push_back(*h);
    r.frames.emplace_back(reinterpret_cast<const char*>(data), h->caplen);
  }
  if (rc == PCAP_ERROR) r.error = pcap_geterr(p);
  pcap_close(p);  // closes f
  return r;
}

uint32_t U32(const std::string& s, size_t at) {
  uint32_t v;
  memcpy(&v, s.data() + at, 4);
  return v;
}

TEST(PcapngTest, LibpcapReadsHeadersAndFramesBack) {
  const absl::Time t1 = absl::FromUnixMicros(1700000000123456);
  const absl::Time t2 = absl::FromUnixMicros(1700000001000001);
  std::string frame1(60, '\x11');
  frame1[0] = '\xff';
  std::string frame2 = "odd-sized frame";  // 15 bytes: padded to 16
  std::string file = SectionHeader("emu test");
  file += InterfaceDescription(1, 2000, "eth1", "icmp");
  file += EnhancedPacket(t1, frame1, 60);
  file += EnhancedPacket(t2, frame2, 1514);  // truncated by the snaplen

  Read r = ReadWithLibpcap(file);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.linktype, 1);
  EXPECT_EQ(r.snaplen, 2000);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0], frame1);
  EXPECT_EQ(r.frames[1], frame2);
  EXPECT_EQ(r.headers[0].ts.tv_sec, 1700000000);
  EXPECT_EQ(r.headers[0].ts.tv_usec, 123456);
  EXPECT_EQ(r.headers[1].ts.tv_sec, 1700000001);
  EXPECT_EQ(r.headers[1].ts.tv_usec, 1);
  EXPECT_EQ(r.headers[1].caplen, 15u);
  EXPECT_EQ(r.headers[1].len, 1514u);
}

TEST(PcapngTest, BlocksAreWholeAndAligned) {
  for (const std::string& block :
       {SectionHeader("x"), SectionHeader(""),
        InterfaceDescription(1, 65535, "eth1", ""),
        InterfaceDescription(1, 65535, "a-long-if", "tcp port 80"),
        EnhancedPacket(absl::UnixEpoch(), "", 0),
        EnhancedPacket(absl::UnixEpoch(), "abc", 3),
        EnhancedPacket(absl::UnixEpoch(), std::string(1499, 'z'), 1499)}) {
    SCOPED_TRACE(block.size());
    ASSERT_GE(block.size(), 12u);
    EXPECT_EQ(block.size() % 4, 0u);
    // The total length opens and closes the block.
    EXPECT_EQ(U32(block, 4), block.size());
    EXPECT_EQ(U32(block, block.size() - 4), block.size());
  }
  EXPECT_EQ(U32(SectionHeader(""), 0), kSectionHeaderBlock);
  EXPECT_EQ(U32(SectionHeader(""), 8), kByteOrderMagic);
  EXPECT_EQ(U32(EnhancedPacket(absl::UnixEpoch(), "abc", 3), 0),
            kEnhancedPacketBlock);
}

TEST(PcapngTest, ConcatenatedStreamOfManyFramesReadsBackInOrder) {
  std::string file = SectionHeader("emu");
  file += InterfaceDescription(1, 262144, "eth0", "");
  for (int i = 0; i < 100; ++i) {
    file += EnhancedPacket(absl::FromUnixMicros(1000000 + i),
                           std::string(i + 1, static_cast<char>(i)), i + 1);
  }
  Read r = ReadWithLibpcap(file);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.frames.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.frames[i], std::string(i + 1, static_cast<char>(i)));
    EXPECT_EQ(r.headers[i].ts.tv_usec, i);
  }
}

}  // namespace
}  // namespace emu::agent::capture
