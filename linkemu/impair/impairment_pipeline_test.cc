#include "linkemu/impair/impairment_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000'000'000'000;  // any origin

// A frame of `len` bytes carrying `seq` in its first 8 bytes (after `hdr`).
std::vector<char> Frame(uint64_t seq, size_t len = 100, size_t hdr = 0) {
  std::vector<char> f(len, 0);
  std::memcpy(f.data() + hdr, &seq, sizeof(seq));
  return f;
}

uint64_t SeqOf(const HeldFrame* f, size_t hdr = 0) {
  uint64_t seq;
  std::memcpy(&seq, f->data + hdr, sizeof(seq));
  return seq;
}

struct Departure {
  uint64_t seq;
  int64_t arrival_ns;
  int64_t due_ns;
  bool reordered;
};

// Offers n frames, one every `gap_ns` from kT0, and drains everything in
// departure order (popping as time passes, as the engine does).
std::vector<Departure> Drive(ImpairmentPipeline& p, int n, int64_t gap_ns,
                           size_t len = 100) {
  std::vector<Departure> out;
  std::vector<int64_t> arrival(n);
  auto drain = [&](int64_t now) {
    while (HeldFrame* f = p.PopDue(now)) {
      uint64_t s = SeqOf(f);
      if (s >= arrival.size()) {  // corrupted: Drive is not for corruption
        ADD_FAILURE() << "sequence number " << s << " out of range";
        p.Release(f);
        continue;
      }
      out.push_back({s, arrival[s], f->due_ns, f->reordered});
      p.Release(f);
    }
  };
  for (int i = 0; i < n; ++i) {
    int64_t now = kT0 + i * gap_ns;
    drain(now);
    arrival[i] = now;
    std::vector<char> f = Frame(i, len);
    p.Offer(f, now);
  }
  drain(ImpairmentPipeline::kNever - 1);
  return out;
}

struct Moments {
  double mean = 0;
  double stddev = 0;
};

Moments DelayMoments(const std::vector<Departure>& d) {
  Moments m;
  for (const auto& x : d) m.mean += x.due_ns - x.arrival_ns;
  m.mean /= d.size();
  for (const auto& x : d) {
    double e = (x.due_ns - x.arrival_ns) - m.mean;
    m.stddev += e * e;
  }
  m.stddev = std::sqrt(m.stddev / (d.size() - 1));
  return m;
}

// Count inside the binomial's +/- 4 sigma (a fixed seed makes this
// deterministic; 4 sigma keeps the check meaningful if the seed changes).
void ExpectBinomial(uint64_t count, uint64_t n, double p) {
  double mean = n * p;
  double sigma = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(count), mean, 4 * sigma + 1)
      << "n=" << n << " p=" << p;
}

TEST(ImpairmentPipeline, DefaultSpecPassesThrough) {
  ImpairmentPipeline p(ImpairmentSpec{}, 1, 0);
  EXPECT_TRUE(p.PassThroughNow());
  ImpairmentSpec s;
  s.loss_percent = 1;
  p.SetSpec(s);
  EXPECT_FALSE(p.PassThroughNow());
}

TEST(ImpairmentPipeline, ConstantDelayHoldsEveryFrameExactly) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  ImpairmentPipeline p(s, 1, 0);
  auto d = Drive(p, 1000, kMs / 10);
  ASSERT_EQ(d.size(), 1000u);
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(d[i].seq, i);
    EXPECT_EQ(d[i].due_ns - d[i].arrival_ns, 10 * kMs);
  }
  EXPECT_EQ(p.held_frames(), 0u);
  EXPECT_EQ(p.stats().backlog_frames, 0u);
  EXPECT_EQ(p.stats().frames_in, 1000u);
}

TEST(ImpairmentPipeline, UniformJitterMeanSpreadAndBounds) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  s.jitter_us = 2'000;
  ImpairmentPipeline p(s, 7, 0);
  const int n = 50'000;
  auto d = Drive(p, n, kMs);
  ASSERT_EQ(d.size(), static_cast<size_t>(n));
  Moments m = DelayMoments(d);
  double sd = 2.0 * kMs / std::sqrt(3.0);  // uniform on [-2, 2) ms
  EXPECT_NEAR(m.mean, 10.0 * kMs, 4 * sd / std::sqrt(n));
  EXPECT_NEAR(m.stddev, sd, 0.02 * sd);
  for (const auto& x : d) {
    EXPECT_GE(x.due_ns - x.arrival_ns, 8 * kMs);
    EXPECT_LT(x.due_ns - x.arrival_ns, 12 * kMs);
  }
}

TEST(ImpairmentPipeline, NormalJitterMeanAndSpread) {
  ImpairmentSpec s;
  s.delay_us = 50'000;
  s.jitter_us = 5'000;
  s.distribution = DelayDistribution::kNormal;
  ImpairmentPipeline p(s, 11, 0);
  const int n = 50'000;
  auto d = Drive(p, n, kMs);
  Moments m = DelayMoments(d);
  EXPECT_NEAR(m.mean, 50.0 * kMs, 4 * 5.0 * kMs / std::sqrt(n));
  EXPECT_NEAR(m.stddev, 5.0 * kMs, 0.03 * 5.0 * kMs);
  // About 68 % within one sigma.
  int inside = 0;
  for (const auto& x : d) {
    if (std::abs((x.due_ns - x.arrival_ns) - 50 * kMs) <= 5 * kMs) ++inside;
  }
  EXPECT_NEAR(inside / static_cast<double>(n), 0.6827, 0.01);
}

// Mean and spread a table stands for (sigma = 1).
Moments TableMoments(const std::vector<int16_t>& t) {
  Moments m;
  for (int v : t) m.mean += v;
  m.mean /= t.size() * double{kNetemDistScale};
  for (int v : t) {
    double e = v / double{kNetemDistScale} - m.mean;
    m.stddev += e * e;
  }
  m.stddev = std::sqrt(m.stddev / t.size());
  return m;
}

class TableDistributions : public testing::TestWithParam<DelayDistribution> {};

TEST_P(TableDistributions, DelaysFollowTheTable) {
  ImpairmentSpec s;
  s.delay_us = 100'000;
  s.jitter_us = 10'000;
  s.distribution = GetParam();
  ImpairmentPipeline p(s, 3, 0);
  const int n = 100'000;
  auto d = Drive(p, n, kMs);
  Moments want = TableMoments(DistTable(GetParam()));
  Moments got = DelayMoments(d);
  double sigma = 10.0 * kMs;
  EXPECT_NEAR(got.mean, 100.0 * kMs + want.mean * sigma,
              4 * want.stddev * sigma / std::sqrt(n));
  EXPECT_NEAR(got.stddev, want.stddev * sigma, 0.03 * want.stddev * sigma);
  if (GetParam() != DelayDistribution::kNormal) {
    // Pareto tails are long on the late side: mean above median.
    std::vector<int64_t> delays;
    for (const auto& x : d) delays.push_back(x.due_ns - x.arrival_ns);
    std::nth_element(delays.begin(), delays.begin() + n / 2, delays.end());
    EXPECT_LT(static_cast<double>(delays[n / 2]), got.mean);
  }
}

INSTANTIATE_TEST_SUITE_P(All, TableDistributions,
                         testing::Values(DelayDistribution::kNormal,
                                         DelayDistribution::kPareto,
                                         DelayDistribution::kParetoNormal));

double Lag1Correlation(const std::vector<Departure>& d) {
  std::vector<Departure> by_seq = d;
  std::sort(by_seq.begin(), by_seq.end(),
            [](auto& a, auto& b) { return a.seq < b.seq; });
  Moments m = DelayMoments(by_seq);
  double c = 0;
  for (size_t i = 1; i < by_seq.size(); ++i) {
    c += ((by_seq[i].due_ns - by_seq[i].arrival_ns) - m.mean) *
         ((by_seq[i - 1].due_ns - by_seq[i - 1].arrival_ns) - m.mean);
  }
  return c / (by_seq.size() - 1) / (m.stddev * m.stddev);
}

TEST(ImpairmentPipeline, DelayCorrelationAsGetCrandom) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  s.jitter_us = 5'000;
  ImpairmentPipeline uncorrelated(s, 5, 0);
  EXPECT_NEAR(Lag1Correlation(Drive(uncorrelated, 20'000, kMs)), 0, 0.05);
  s.delay_correlation_percent = 75;
  ImpairmentPipeline correlated(s, 5, 0);
  // get_crandom's next = 0.25 u + 0.75 last: lag-1 correlation 0.75, and
  // the spread shrinks to sqrt((1 - 0.75) / (1 + 0.75)) of the uniform's.
  auto d = Drive(correlated, 20'000, kMs);
  EXPECT_NEAR(Lag1Correlation(d), 0.75, 0.05);
  EXPECT_NEAR(DelayMoments(d).stddev,
              std::sqrt(0.25 / 1.75) * 5.0 * kMs / std::sqrt(3.0),
              0.05 * 5.0 * kMs / std::sqrt(3.0));
  EXPECT_NEAR(DelayMoments(d).mean, 10.0 * kMs, 0.1 * kMs);
}

class RandomLoss : public testing::TestWithParam<double> {};

TEST_P(RandomLoss, RatioInsideBinomialInterval) {
  ImpairmentSpec s;
  s.loss_percent = GetParam();
  ImpairmentPipeline p(s, 42, 0);
  const int n = 100'000;
  auto d = Drive(p, n, kMs);
  ExpectBinomial(p.stats().dropped_loss, n, GetParam() / 100);
  EXPECT_EQ(d.size() + p.stats().dropped_loss, static_cast<size_t>(n));
}

INSTANTIATE_TEST_SUITE_P(Percents, RandomLoss,
                         testing::Values(0.1, 1.0, 10.0, 50.0));

TEST(ImpairmentPipeline, AllOrNothingLoss) {
  ImpairmentSpec s;
  s.loss_percent = 100;
  ImpairmentPipeline all(s, 1, 0);
  EXPECT_TRUE(Drive(all, 1000, kMs).empty());
  EXPECT_EQ(all.stats().dropped_loss, 1000u);
}

// Mean length of runs of consecutive lost sequence numbers.
double MeanLossBurst(const std::vector<Departure>& d, int n) {
  std::vector<bool> got(n, false);
  for (const auto& x : d) got[x.seq] = true;
  int bursts = 0, lost = 0;
  for (int i = 0; i < n; ++i) {
    if (got[i]) continue;
    ++lost;
    if (i == 0 || got[i - 1]) ++bursts;
  }
  return bursts ? lost / static_cast<double>(bursts) : 0;
}

TEST(ImpairmentPipeline, LossCorrelationLengthensBursts) {
  ImpairmentSpec s;
  s.loss_percent = 10;
  ImpairmentPipeline plain(s, 9, 0);
  double plain_burst = MeanLossBurst(Drive(plain, 100'000, kMs), 100'000);
  EXPECT_NEAR(plain_burst, 1 / 0.9, 0.05);  // geometric, p(continue) = 0.1
  s.loss_correlation_percent = 90;
  ImpairmentPipeline corr(s, 9, 0);
  EXPECT_GT(MeanLossBurst(Drive(corr, 100'000, kMs), 100'000), 2 * plain_burst);
}

TEST(ImpairmentPipeline, GilbertElliottLossRatioAndBurstLengths) {
  ImpairmentSpec s;
  s.gilbert_elliott = GilbertElliott{/*p=*/1, /*r=*/25,
                                     /*loss_in_bad=*/100, /*loss_in_good=*/0};
  ImpairmentPipeline p(s, 17, 0);
  const int n = 400'000;
  auto d = Drive(p, n, kMs);
  // Stationary Bad share p / (p + r) = 1/26; bursts geometric, mean 1/r.
  double ratio = p.stats().dropped_loss / static_cast<double>(n);
  EXPECT_NEAR(ratio, 1.0 / 26, 0.1 / 26);
  EXPECT_NEAR(MeanLossBurst(d, n), 4.0, 0.2);
  // Gaps between bursts: mean 1/p = 100 frames.
  double bursts = p.stats().dropped_loss / MeanLossBurst(d, n);
  EXPECT_NEAR((n - p.stats().dropped_loss) / bursts, 100, 5);
}

TEST(ImpairmentPipeline, GilbertElliottPartialLossInStates) {
  ImpairmentSpec s;
  // Always Bad after the first frame (r = 0), losing half.
  s.gilbert_elliott = GilbertElliott{100, 0, 50, 0};
  ImpairmentPipeline p(s, 2, 0);
  Drive(p, 100'001, kMs);
  ExpectBinomial(p.stats().dropped_loss, 100'000, 0.5);
}

TEST(ImpairmentPipeline, DuplicatesAreExactCopiesAtTheirRate) {
  ImpairmentSpec s;
  s.duplicate_percent = 10;
  ImpairmentPipeline p(s, 23, 0);
  const int n = 100'000;
  auto d = Drive(p, n, kMs);
  ExpectBinomial(p.stats().duplicated, n, 0.1);
  EXPECT_EQ(d.size(), n + p.stats().duplicated);
  std::vector<int> seen(n, 0);
  for (const auto& x : d) ++seen[x.seq];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 2),
            static_cast<long>(p.stats().duplicated));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0);
}

TEST(ImpairmentPipeline, DuplicatedAndLostLeavesOneCopy) {
  ImpairmentSpec s;
  s.duplicate_percent = 100;
  s.loss_percent = 100;
  ImpairmentPipeline p(s, 1, 0);
  // netem: count 1 + 1 - 1 = 1: no clone is made and the original goes on.
  auto d = Drive(p, 100, kMs);
  EXPECT_EQ(d.size(), 100u);
  EXPECT_EQ(p.stats().dropped_loss, 0u);
  EXPECT_EQ(p.stats().duplicated, 0u);
}

int FlippedBits(const char* a, const char* b, size_t len) {
  int n = 0;
  for (size_t i = 0; i < len; ++i) {
    n += __builtin_popcount(static_cast<uint8_t>(a[i] ^ b[i]));
  }
  return n;
}

TEST(ImpairmentPipeline, CorruptFlipsExactlyOneBitOutsideTheHeader) {
  ImpairmentSpec s;
  s.corrupt_percent = 100;
  const size_t hdr = 10;
  ImpairmentPipeline p(s, 31, hdr);
  for (int i = 0; i < 1000; ++i) {
    std::vector<char> f(1514, static_cast<char>(0x5A));
    p.Offer(f, kT0);
    HeldFrame* h = p.PopDue(kT0);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(FlippedBits(h->data, f.data(), hdr), 0);
    EXPECT_EQ(FlippedBits(h->data, f.data(), f.size()), 1);
    p.Release(h);
  }
  EXPECT_EQ(p.stats().corrupted, 1000u);
}

TEST(ImpairmentPipeline, CorruptPercent) {
  ImpairmentSpec s;
  s.corrupt_percent = 5;
  ImpairmentPipeline p(s, 37, 0);
  std::vector<char> f(100, 0);
  uint64_t changed = 0;
  for (int i = 0; i < 100'000; ++i) {
    p.Offer(f, kT0);
    HeldFrame* h = p.PopDue(kT0);
    ASSERT_NE(h, nullptr);
    changed += FlippedBits(h->data, f.data(), f.size()) > 0;
    p.Release(h);
  }
  ExpectBinomial(p.stats().corrupted, 100'000, 0.05);
  EXPECT_EQ(changed, p.stats().corrupted);
}

TEST(ImpairmentPipeline, BitErrorRateOnPayloadBits) {
  for (double ber : {1e-3, 1e-5}) {
    ImpairmentSpec s;
    s.bit_error_rate = ber;
    const size_t hdr = 10;
    ImpairmentPipeline p(s, 41, hdr);
    const int frames = 20'000;
    const size_t len = 1514 + hdr;
    uint64_t flipped = 0, corrupted_frames = 0;
    std::vector<char> f(len, 0);
    for (int i = 0; i < frames; ++i) {
      p.Offer(f, kT0);
      HeldFrame* h = p.PopDue(kT0);
      ASSERT_NE(h, nullptr);
      ASSERT_EQ(FlippedBits(h->data, f.data(), hdr), 0);
      int b = FlippedBits(h->data, f.data(), len);
      flipped += b;
      corrupted_frames += b > 0;
      p.Release(h);
    }
    uint64_t bits = uint64_t{frames} * 1514 * 8;
    ExpectBinomial(flipped, bits, ber);
    EXPECT_EQ(p.stats().corrupted, corrupted_frames);
    // P(frame hit) = 1 - (1 - ber)^bits_per_frame.
    ExpectBinomial(corrupted_frames, frames,
                   1 - std::pow(1 - ber, 1514 * 8));
  }
}

TEST(ImpairmentPipeline, ReorderPercentSendsFramesAhead) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  s.reorder_percent = 25;
  ImpairmentPipeline p(s, 43, 0);
  const int n = 100'000;
  auto d = Drive(p, n, kMs / 10);  // 100 frames inside one delay
  ExpectBinomial(p.stats().reordered, n, 0.25);
  int ahead = 0;
  for (size_t i = 1; i < d.size(); ++i) ahead += d[i].seq < d[i - 1].seq;
  EXPECT_GT(ahead, 0);
  for (const auto& x : d) {
    EXPECT_EQ(x.due_ns - x.arrival_ns, x.reordered ? 0 : 10 * kMs);
  }
}

TEST(ImpairmentPipeline, ReorderGapSendsEveryNthAhead) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  s.reorder_gap = 5;  // with 0 % meaning every 5th
  ImpairmentPipeline p(s, 47, 0);
  auto d = Drive(p, 1000, kMs);
  EXPECT_EQ(p.stats().reordered, 200u);
  for (const auto& x : d) EXPECT_EQ(x.reordered, (x.seq + 1) % 5 == 0) << x.seq;
}

TEST(ImpairmentPipeline, RateWithinOnePercentOverManyFrames) {
  for (uint64_t rate : {1'000'000ull, 10'000'000ull, 100'000'000ull,
                        1'000'000'000ull}) {
    ImpairmentSpec s;
    s.rate_bps = rate;
    s.limit_packets = 1'000'000;
    ImpairmentPipeline p(s, 1, 0);
    const int n = 20'000;
    // Offered at twice the rate: the bucket sets the pace.
    int64_t gap = static_cast<int64_t>(1514 * 8 * 1e9 / rate / 2);
    auto d = Drive(p, n, gap, 1514);
    ASSERT_EQ(d.size(), static_cast<size_t>(n));
    // After the burst drains, departures are 1514 bytes at `rate` apart.
    int64_t span = d.back().due_ns - d[n / 10].due_ns;
    double measured = (n - 1 - n / 10) * 1514 * 8 * 1e9 / span;
    EXPECT_NEAR(measured, static_cast<double>(rate), 0.01 * rate) << rate;
    for (size_t i = 1; i < d.size(); ++i) EXPECT_LT(d[i - 1].seq, d[i].seq);
  }
}

TEST(ImpairmentPipeline, RateCountsOverheadAndStartsWithAFullBucket) {
  ImpairmentSpec s;
  s.rate_bps = 8'000'000;  // 1 byte per microsecond
  s.burst_bytes = 10 * 1000;
  s.overhead_bytes = 24;
  ImpairmentPipeline p(s, 1, 0);
  std::vector<Departure> d = Drive(p, 100, 0, 976);  // 1000 bytes with overhead
  ASSERT_EQ(d.size(), 100u);
  // Ten frames fit the bucket; then one every 1000 us.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d[i].due_ns, kT0) << i;
  for (int i = 10; i < 100; ++i) {
    EXPECT_EQ(d[i].due_ns, kT0 + (i - 9) * 1000 * 1000) << i;
  }
}

TEST(ImpairmentPipeline, RateThenDelay) {
  ImpairmentSpec s;
  s.rate_bps = 8'000'000;
  s.burst_bytes = 1000;
  s.delay_us = 5000;
  ImpairmentPipeline p(s, 1, 0);
  auto d = Drive(p, 3, 0, 1000);
  EXPECT_EQ(d[0].due_ns, kT0 + 5 * kMs);
  EXPECT_EQ(d[1].due_ns, kT0 + 6 * kMs);
  EXPECT_EQ(d[2].due_ns, kT0 + 7 * kMs);
}

// A TCPv4 GSO frame as a TAP hands it over: virtio-net header, Ethernet,
// IPv4 (20), TCP with options (32), `segs` x 1448 bytes of payload.
std::vector<char> GsoFrame(int segs) {
  std::vector<char> f(10 + 14 + 20 + 32 + segs * 1448, 0);
  f[0] = 1;  // NEEDS_CSUM
  f[1] = 1;  // GSO TCPV4
  f[4] = static_cast<char>(1448 & 0xff);
  f[5] = static_cast<char>(1448 >> 8);
  f[6] = 34;  // csum_start: Ethernet 14 + IPv4 20
  f[10 + 34 + 12] = static_cast<char>(8 << 4);  // TCP data offset 32
  return f;
}

TEST(WireBytes, GsoFrameCountsEverySegmentsHeaders) {
  std::vector<char> f = GsoFrame(44);
  uint32_t segs = 0;
  EXPECT_EQ(WireBytes(f, 10, 0, &segs), 44u * 1514);
  EXPECT_EQ(segs, 44u);
  EXPECT_EQ(WireBytes(f, 10, 4), 44u * 1518);
  std::vector<char> plain(10 + 1514, 0);
  EXPECT_EQ(WireBytes(plain, 10, 0, &segs), 1514u);
  EXPECT_EQ(segs, 1u);
  EXPECT_EQ(WireBytes(plain, 10, -2000), 0u);
}

TEST(ImpairmentPipeline, QueueLimitInPacketsTailDrops) {
  ImpairmentSpec s;
  s.delay_us = 1'000'000;
  s.limit_packets = 10;
  ImpairmentPipeline p(s, 1, 0);
  auto d = Drive(p, 15, 0);
  EXPECT_EQ(d.size(), 10u);
  EXPECT_EQ(p.stats().dropped_queue, 5u);
  for (size_t i = 0; i < d.size(); ++i) EXPECT_EQ(d[i].seq, i);  // tail drop
}

TEST(ImpairmentPipeline, QueueLimitInBytes) {
  ImpairmentSpec s;
  s.delay_us = 1'000'000;
  s.limit_bytes = 10'000;
  ImpairmentPipeline p(s, 1, 0);
  auto d = Drive(p, 20, 0, 1000);
  EXPECT_EQ(d.size(), 10u);
  EXPECT_EQ(p.stats().dropped_queue, 10u);
}

TEST(ImpairmentPipeline, DefaultLimitIsNetemsThousand) {
  ImpairmentSpec s;
  s.delay_us = 1'000'000;
  ImpairmentPipeline p(s, 1, 0);
  Drive(p, 1500, 0);
  EXPECT_EQ(p.stats().dropped_queue, 500u);
}

TEST(ImpairmentPipeline, PoolMemoryBoundedByTheLimit) {
  ImpairmentSpec s;
  s.delay_us = 100'000;
  s.limit_packets = 100;
  ImpairmentPipeline p(s, 1, 0);
  Drive(p, 10'000, kMs / 10, 1514);
  EXPECT_GT(p.stats().dropped_queue, 0u);
  EXPECT_LE(p.pool().owned_bytes(), 100u * 2048);
}

TEST(ImpairmentPipeline, SameSeedSameScheduleOtherSeedOther) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  s.jitter_us = 3'000;
  s.distribution = DelayDistribution::kNormal;
  s.loss_percent = 5;
  s.duplicate_percent = 2;
  s.reorder_percent = 3;
  auto schedule = [&](uint64_t seed) {
    ImpairmentPipeline p(s, seed, 0);
    std::vector<std::pair<uint64_t, int64_t>> out;
    for (const auto& x : Drive(p, 5000, kMs)) out.push_back({x.seq, x.due_ns});
    return out;
  };
  EXPECT_EQ(schedule(77), schedule(77));
  EXPECT_NE(schedule(77), schedule(78));
}

TEST(ImpairmentPipeline, LiveChangeKeepsHeldFramesOnSchedule) {
  ImpairmentSpec s;
  s.delay_us = 100'000;
  ImpairmentPipeline p(s, 1, 0);
  for (int i = 0; i < 10; ++i) p.Offer(Frame(i), kT0 + i * kMs);
  s.delay_us = 10'000;
  p.SetSpec(s);
  for (int i = 10; i < 20; ++i) p.Offer(Frame(i), kT0 + i * kMs);
  std::vector<std::pair<uint64_t, int64_t>> got;
  while (HeldFrame* f = p.PopDue(ImpairmentPipeline::kNever - 1)) {
    got.push_back({SeqOf(f), f->due_ns});
    p.Release(f);
  }
  ASSERT_EQ(got.size(), 20u);
  // The new frames (10 ms) overtake the old ones (100 ms).
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].first, 10u + i);
    EXPECT_EQ(got[i].second, kT0 + (10 + i) * kMs + 10 * kMs);
    EXPECT_EQ(got[10 + i].first, static_cast<uint64_t>(i));
    EXPECT_EQ(got[10 + i].second, kT0 + i * kMs + 100 * kMs);
  }
}

TEST(ImpairmentPipeline, ClearDropsEverythingHeld) {
  ImpairmentSpec s;
  s.delay_us = 100'000;
  ImpairmentPipeline p(s, 1, 0);
  Drive(p, 0, 0);
  for (int i = 0; i < 10; ++i) p.Offer(Frame(i), kT0);
  EXPECT_EQ(p.stats().backlog_frames, 10u);
  p.Clear();
  EXPECT_EQ(p.held_frames(), 0u);
  EXPECT_EQ(p.stats().backlog_frames, 0u);
  EXPECT_EQ(p.stats().backlog_bytes, 0u);
  EXPECT_EQ(p.NextDepartureNs(), ImpairmentPipeline::kNever);
}

// A loop that wakes `late_ns(k)` after the k-th departure it serves, sends
// what is due then and reports it (RecordSent), as LinkEngine::Flush does:
// the fake clock of the delay compensation tests. Returns each frame's
// (arrival, sent) in sending order.
struct Sent {
  uint64_t seq;
  int64_t arrival_ns;
  int64_t sent_ns;
};
template <typename Late>
std::vector<Sent> DriveLate(ImpairmentPipeline& p, int n, int64_t gap_ns,
                            Late late_ns) {
  std::vector<Sent> out;
  std::vector<int64_t> arrival(n);
  int i = 0;
  int wakes = 0;
  while (i < n || p.held_frames() > 0) {
    const int64_t next_arrival =
        i < n ? kT0 + i * gap_ns : ImpairmentPipeline::kNever;
    const int64_t due = p.NextDepartureNs();
    const int64_t wake =
        due == ImpairmentPipeline::kNever ? due : due + late_ns(wakes);
    if (next_arrival <= wake) {
      arrival[i] = next_arrival;
      p.Offer(Frame(i), next_arrival);
      ++i;
      continue;
    }
    ++wakes;
    while (HeldFrame* f = p.PopDue(wake)) {
      out.push_back({SeqOf(f), arrival[SeqOf(f)], wake});
      p.RecordSent(f->due_ns, wake);
      p.Release(f);
    }
  }
  return out;
}

// Frames that left 1 ms or more after their departure instant are
// counted, whatever the spec (here compensation is off and only a rate
// holds frames); the on-time ones are not.
TEST(ImpairmentPipeline, LateFramesAreCountedByHowLateTheyLeft) {
  ImpairmentSpec s;
  s.delay_us = 5'000;
  s.compensate_own_latency = false;
  ImpairmentPipeline p(s, 1, 0);
  // Wake-ups 0.2 ms late, but the 10th 3 ms and the 20th 25 ms late.
  auto sent = DriveLate(p, 100, 4 * kMs, [](int k) -> int64_t {
    return k == 10 ? 3 * kMs : k == 20 ? 25 * kMs : 200'000;
  });
  ASSERT_EQ(sent.size(), 100u);
  // A wake-up 25 ms late sends every frame due meanwhile: the frames due
  // 25, 21, 17, 13, 9, 5 and 1 ms before it.
  EXPECT_EQ(p.stats().late_1ms, 1u + 7u);
  EXPECT_EQ(p.stats().late_10ms, 4u);
  EXPECT_EQ(p.stats().late_max_ns, 25 * static_cast<uint64_t>(kMs));

  ImpairmentSpec rate_only;
  rate_only.rate_bps = 160'000;  // a 100-byte frame every 5 ms
  rate_only.burst_bytes = 100;
  ImpairmentPipeline q(rate_only, 1, 0);
  DriveLate(q, 10, 0, [](int k) -> int64_t { return k == 3 ? 2 * kMs : 0; });
  EXPECT_EQ(q.stats().late_1ms, 1u);
  EXPECT_EQ(q.stats().late_10ms, 0u);
}

TEST(ImpairmentPipeline, DelayCompensationSubtractsTheDirectionsOwnLatency) {
  ImpairmentSpec s;
  s.delay_us = 10'000;
  ImpairmentPipeline p(s, 1, 0);
  // Every wake-up 300 us late: the first frames arrive 10.3 ms after they
  // were sent; once a quarter window of samples is in, exactly 10 ms.
  auto sent = DriveLate(p, 200, kMs, [](int) { return 300'000; });
  ASSERT_EQ(sent.size(), 200u);
  EXPECT_EQ(sent[0].sent_ns - sent[0].arrival_ns, 10'300'000);
  for (size_t k = 20; k < sent.size(); ++k) {
    EXPECT_EQ(sent[k].sent_ns - sent[k].arrival_ns, 10 * kMs) << k;
  }
  EXPECT_EQ(p.own_latency().estimate_ns(), 300'000);
  EXPECT_EQ(p.stats().own_latency_ns, 300'000u);

  // Turned off: the configured delay plus the loop's lateness, as before.
  s.compensate_own_latency = false;
  ImpairmentPipeline off(s, 1, 0);
  sent = DriveLate(off, 100, kMs, [](int) { return 300'000; });
  for (const auto& x : sent) EXPECT_EQ(x.sent_ns - x.arrival_ns, 10'300'000);
  EXPECT_EQ(off.own_latency().estimate_ns(), 0);
  // A live change turning it off forgets the estimate.
  s.compensate_own_latency = true;
  p.SetSpec(s);
  EXPECT_EQ(p.own_latency().estimate_ns(), 300'000);
  s.compensate_own_latency = false;
  p.SetSpec(s);
  EXPECT_EQ(p.own_latency().estimate_ns(), 0);
  EXPECT_EQ(p.stats().own_latency_ns, 0u);
}

TEST(ImpairmentPipeline, DelayCompensationNeverReordersAConstantDelay) {
  // Frames 100 us apart while the estimate grows from 0 to 300 us: without
  // the bound, the first compensated frames would overtake the last
  // uncompensated ones.
  ImpairmentSpec s;
  s.delay_us = 10'000;
  ImpairmentPipeline p(s, 1, 0);
  auto sent = DriveLate(p, 2000, 100'000, [](int) { return 300'000; });
  ASSERT_EQ(sent.size(), 2000u);
  for (size_t k = 0; k < sent.size(); ++k) EXPECT_EQ(sent[k].seq, k);
  // A wake-up 300 us after a departure also sends the frames due 100, 200
  // and 300 us later: this direction's lateness is 300, 200, 100, 0 us, in
  // equal numbers, and the compensation their low quantile, 0. Nothing is
  // taken off a frame that was on time, so none is early; each is late by
  // at most the wake-up's lateness.
  EXPECT_EQ(p.own_latency().estimate_ns(), 0);
  for (size_t k = 1000; k < sent.size(); ++k) {
    const int64_t d = sent[k].sent_ns - sent[k].arrival_ns;
    EXPECT_GE(d, 10 * kMs) << k;
    EXPECT_LE(d, 10 * kMs + 300'000) << k;
  }
}

TEST(ImpairmentPipeline, DelayCompensationSendsNoneEarlyWhenTheLatenessVaries) {
  // Wake-ups 200 to 510 us late, spread evenly: the compensation settles on
  // the low end (240 us, the 5th of 32), so at most the few wake-ups less
  // late than that bring a frame early, and by no more than 40 us.
  ImpairmentSpec s;
  s.delay_us = 10'000;
  ImpairmentPipeline p(s, 1, 0);
  auto sent = DriveLate(p, 400, 20 * kMs,
                        [](int k) { return 200'000 + (k % 32) * 10'000; });
  ASSERT_EQ(sent.size(), 400u);
  EXPECT_EQ(p.own_latency().estimate_ns(), 240'000);
  int early = 0;
  for (size_t k = 100; k < sent.size(); ++k) {
    const int64_t d = sent[k].sent_ns - sent[k].arrival_ns;
    EXPECT_GE(d, 10 * kMs - 40'000) << k;
    EXPECT_LE(d, 10 * kMs + 270'000) << k;
    early += d < 10 * kMs;
  }
  EXPECT_LE(early, 300 * 4 / 32);  // 4 wake-ups in 32
}

TEST(ImpairmentPipeline, DelayCompensationIsBoundedAndNeverNegative) {
  // Lateness larger than the delay: at most the delay is taken off (a
  // frame never leaves before it arrived), never more.
  ImpairmentSpec s;
  s.delay_us = 100;
  ImpairmentPipeline small(s, 1, 0);
  auto sent = DriveLate(small, 100, kMs, [](int) { return 500'000; });
  for (size_t k = 0; k < sent.size(); ++k) {
    EXPECT_GE(sent[k].sent_ns - sent[k].arrival_ns, 500'000) << k;
  }
  EXPECT_EQ(sent.back().sent_ns - sent.back().arrival_ns, 500'000);

  // Lateness of 5 ms: at most OwnLatency::kMaxNs (2 ms) is subtracted.
  s.delay_us = 20'000;
  ImpairmentPipeline big(s, 1, 0);
  sent = DriveLate(big, 100, 10 * kMs, [](int) { return 5 * kMs; });
  EXPECT_EQ(sent.back().sent_ns - sent.back().arrival_ns,
            20 * kMs + 5 * kMs - OwnLatency::kMaxNs);

  // A stall now and then (one wake-up in five, 40 ms) moves nothing: the
  // others arrive on time.
  ImpairmentPipeline spiky(s, 1, 0);
  sent = DriveLate(spiky, 300, 50 * kMs,
                   [](int k) { return k % 5 == 4 ? 40 * kMs : 200'000; });
  EXPECT_EQ(spiky.own_latency().estimate_ns(), 200'000);
  int on_time = 0;
  for (size_t k = 20; k < sent.size(); ++k) {
    on_time += sent[k].sent_ns - sent[k].arrival_ns == 20 * kMs;
  }
  EXPECT_GE(on_time, 200);  // 4 in 5 of the 280

  // Rate without delay: nothing recorded, nothing subtracted.
  ImpairmentSpec rate;
  rate.rate_bps = 1'000'000;
  ImpairmentPipeline r(rate, 1, 0);
  DriveLate(r, 50, kMs, [](int) { return 300'000; });
  EXPECT_EQ(r.own_latency().samples(), 0u);
}

}  // namespace
}  // namespace emu::linkemu
