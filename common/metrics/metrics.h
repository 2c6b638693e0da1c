// Prometheus metrics without prometheus-cpp (not in Debian 12): a registry
// of counters, gauges and histograms with labels, plus collectors (callbacks
// asked at every scrape for values that live elsewhere, e.g. how many labs
// are in each state), rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Names follow Prometheus conventions: `emu_` prefix, base units
// (`_seconds`, `_bytes`), counters end in `_total`. A name or label name
// that is not valid is a programming error: registration aborts naming it.
//
// Thread-safety: Registry, the families and their children are thread-safe;
// children (Counter, Gauge, Histogram) live as long as the registry, so
// callers keep the raw pointers. Collectors are called on the scraping
// thread, outside every lock of the registry; they must be thread-safe.
#ifndef EMU_COMMON_METRICS_METRICS_H_
#define EMU_COMMON_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace emu::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// One time series at scrape time.
struct Sample {
  LabelValues labels;
  double value = 0;  // counters and gauges
  // Histograms: per bucket (same order as Family::bounds) the count of
  // observations <= that bound, NOT cumulative; the +Inf bucket is `count`.
  std::vector<uint64_t> bucket_counts;
  double sum = 0;
  uint64_t count = 0;
};

// One metric family at scrape time: what Render prints.
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histograms: upper bounds, increasing
  std::vector<Sample> samples;
};

// An empty family (collectors fill its samples).
Family NewFamily(std::string name, std::string help, MetricType type,
                 std::vector<std::string> label_names = {});

// [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]* not
// starting with "__" (reserved); "le" is reserved for histograms.
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);

// The exposition text of `families` (sorted by name as given). Families
// whose name, labels or bucket bounds are not valid are left out, each with
// a comment line naming the problem, so one bad collector cannot make the
// whole scrape unparsable. Pure.
std::string Render(const std::vector<Family>& families);

// Formats a sample value as the format wants it: integers without exponent
// up to 2^53, "+Inf", "-Inf", "NaN", else the shortest round-trip form.
std::string FormatValue(double v);

// Bucket bounds: `count` bounds start, start*factor, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class Counter {
 public:
  // `v` < 0 is ignored (a counter only goes up).
  void Increment(double v = 1);
  double Value() const;

 private:
  std::atomic<uint64_t> bits_{0};  // a double's bits
};

class Gauge {
 public:
  void Set(double v);
  void Add(double v);
  double Value() const;

 private:
  std::atomic<uint64_t> bits_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds) : bounds_(bounds) {
    counts_.assign(bounds->size(), 0);
  }
  void Observe(double v);
  // Bucket counts as in Sample (not cumulative), sum, count.
  Sample Snapshot() const;

 private:
  const std::vector<double>* const bounds_;  // the family's
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// A family of one type: one child per distinct label values.
template <typename T>
class MetricFamily {
 public:
  // The child for these label values, made on first use. The number of
  // values must equal the number of label names (aborts otherwise: a
  // programming error).
  T* WithLabels(const LabelValues& values);

 private:
  friend class Registry;
  MetricFamily(std::string name, std::string help,
               std::vector<std::string> label_names, MetricType type,
               std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type),
        bounds_(std::move(bounds)) {}
  Family Collect() const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const MetricType type_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// Values computed at scrape time; appends its families to `out`. It may be
// called from any thread, concurrently with itself.
using Collector = std::function<void(std::vector<Family>* out)>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name twice aborts (a programming error). Returned
  // pointers live as long as the registry.
  CounterFamily* AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(const std::string& name,
                                const std::string& help,
                                std::vector<std::string> label_names,
                                std::vector<double> bounds);
  void AddCollector(Collector collector);

  // Every family: the registered ones, then the collectors', sorted by
  // name. A collector's family whose name is already taken is dropped
  // (Render would print it twice).
  std::vector<Family> Collect() const;
  // Render(Collect()).
  std::string Exposition() const;

 private:
  void Reserve(const std::string& name, const std::vector<std::string>& labels,
               bool histogram) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_
      ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// The exposition format's Content-Type.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace emu::metrics

#endif  // EMU_COMMON_METRICS_METRICS_H_
