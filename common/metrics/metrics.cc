#include "common/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <type_traits>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace emu::metrics {
namespace {

bool NameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return true;
  }
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool ValidName(absl::string_view s, bool colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!NameChar(s[i], i == 0, colon)) return false;
  }
  return true;
}

double FromBits(uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}
uint64_t ToBits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

void AtomicAdd(std::atomic<uint64_t>& bits, double v) {
  uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, ToBits(FromBits(old) + v),
                                     std::memory_order_relaxed)) {
  }
}

// HELP text: backslash and newline escaped.
std::string EscapeHelp(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Label values: backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string LabelSet(const std::vector<std::string>& names,
                     const LabelValues& values, const std::string& le = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!le.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", "le=\"", le, "\"");
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Why `f` cannot be rendered, or "" when it can.
std::string Problem(const Family& f) {
  if (!IsValidMetricName(f.name)) return "invalid metric name";
  std::set<std::string> seen;
  for (const std::string& l : f.label_names) {
    if (!IsValidLabelName(l)) return absl::StrCat("invalid label name ", l);
    if (f.type == MetricType::kHistogram && l == "le") {
      return "label le is reserved for histogram buckets";
    }
    if (!seen.insert(l).second) return absl::StrCat("label ", l, " twice");
  }
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (std::isnan(f.bounds[i]) || std::isinf(f.bounds[i]) ||
        (i > 0 && f.bounds[i] <= f.bounds[i - 1])) {
      return "bucket bounds must be finite and increasing";
    }
  }
  std::set<LabelValues> series;
  for (const Sample& s : f.samples) {
    if (s.labels.size() != f.label_names.size()) {
      return "a sample's label count differs from the label names";
    }
    if (!series.insert(s.labels).second) return "a series appears twice";
    if (f.type == MetricType::kHistogram &&
        s.bucket_counts.size() != f.bounds.size()) {
      return "a sample's bucket count differs from the bounds";
    }
  }
  return "";
}

}  // namespace

Family NewFamily(std::string name, std::string help, MetricType type,
                 std::vector<std::string> label_names) {
  Family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  f.label_names = std::move(label_names);
  return f;
}

bool IsValidMetricName(absl::string_view name) {
  return ValidName(name, /*colon=*/true);
}

bool IsValidLabelName(absl::string_view name) {
  return ValidName(name, /*colon=*/false) &&
         !(name.size() >= 2 && name[0] == '_' && name[1] == '_');
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) <= 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  // The shortest form that reads back as the same double.
  for (int precision = 6; precision <= 17; ++precision) {
    std::string s = absl::StrFormat("%.*g", precision, v);
    if (std::strtod(s.c_str(), nullptr) == v) return s;
  }
  return absl::StrFormat("%.17g", v);
}

std::vector<double> ExponentialBuckets(double start, double factor,
                                       int count) {
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

std::string Render(const std::vector<Family>& families) {
  std::string out;
  for (const Family& f : families) {
    if (std::string why = Problem(f); !why.empty()) {
      absl::StrAppend(&out, "# family ", IsValidMetricName(f.name) ? f.name : "?",
                      " left out: ", why, "\n");
      continue;
    }
    absl::StrAppend(&out, "# HELP ", f.name, " ", EscapeHelp(f.help), "\n",
                    "# TYPE ", f.name, " ", TypeName(f.type), "\n");
    for (const Sample& s : f.samples) {
      if (f.type != MetricType::kHistogram) {
        absl::StrAppend(&out, f.name, LabelSet(f.label_names, s.labels), " ",
                        FormatValue(s.value), "\n");
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += s.bucket_counts[i];
        absl::StrAppend(
            &out, f.name, "_bucket",
            LabelSet(f.label_names, s.labels, FormatValue(f.bounds[i])), " ",
            cumulative, "\n");
      }
      absl::StrAppend(&out, f.name, "_bucket",
                      LabelSet(f.label_names, s.labels, "+Inf"), " ", s.count,
                      "\n", f.name, "_sum", LabelSet(f.label_names, s.labels),
                      " ", FormatValue(s.sum), "\n", f.name, "_count",
                      LabelSet(f.label_names, s.labels), " ", s.count, "\n");
    }
  }
  return out;
}

void Counter::Increment(double v) {
  if (!(v >= 0)) return;
  AtomicAdd(bits_, v);
}
double Counter::Value() const { return FromBits(bits_.load()); }

void Gauge::Set(double v) { bits_.store(ToBits(v)); }
void Gauge::Add(double v) { AtomicAdd(bits_, v); }
double Gauge::Value() const { return FromBits(bits_.load()); }

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // The first bucket whose bound is >= v; past the last: only +Inf.
  size_t i = std::lower_bound(bounds_->begin(), bounds_->end(), v) -
             bounds_->begin();
  absl::MutexLock lock(&mu_);
  if (i < counts_.size()) ++counts_[i];
  sum_ += v;
  ++count_;
}

Sample Histogram::Snapshot() const {
  absl::MutexLock lock(&mu_);
  Sample s;
  s.bucket_counts = counts_;
  s.sum = sum_;
  s.count = count_;
  return s;
}

template <typename T>
T* MetricFamily<T>::WithLabels(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    ABSL_RAW_LOG(FATAL, "metric %s: %zu label values for %zu label names",
                 name_.c_str(), values.size(), label_names_.size());
  }
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return it->second.get();
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>) {
    child = std::make_unique<T>(&bounds_);
  } else {
    child = std::make_unique<T>();
  }
  T* raw = child.get();
  children_.emplace(values, std::move(child));
  return raw;
}

template <typename T>
Family MetricFamily<T>::Collect() const {
  Family f;
  f.name = name_;
  f.help = help_;
  f.type = type_;
  f.label_names = label_names_;
  f.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, child] : children_) {
    Sample s;
    if constexpr (std::is_same_v<T, Histogram>) {
      s = child->Snapshot();
    } else {
      s.value = child->Value();
    }
    s.labels = labels;
    f.samples.push_back(std::move(s));
  }
  return f;
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

void Registry::Reserve(const std::string& name,
                       const std::vector<std::string>& labels,
                       bool histogram) {
  Family probe;
  probe.name = name;
  probe.label_names = labels;
  probe.type = histogram ? MetricType::kHistogram : MetricType::kGauge;
  if (std::string why = Problem(probe); !why.empty()) {
    ABSL_RAW_LOG(FATAL, "metric %s: %s", name.c_str(), why.c_str());
  }
  if (counters_.count(name) || gauges_.count(name) || histograms_.count(name)) {
    ABSL_RAW_LOG(FATAL, "metric %s registered twice", name.c_str());
  }
}

CounterFamily* Registry::AddCounter(const std::string& name,
                                    const std::string& help,
                                    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Reserve(name, label_names, false);
  auto* f = new CounterFamily(name, help, std::move(label_names),
                              MetricType::kCounter, {});
  counters_.emplace(name, std::unique_ptr<CounterFamily>(f));
  return f;
}

GaugeFamily* Registry::AddGauge(const std::string& name,
                                const std::string& help,
                                std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  Reserve(name, label_names, false);
  auto* f = new GaugeFamily(name, help, std::move(label_names),
                            MetricType::kGauge, {});
  gauges_.emplace(name, std::unique_ptr<GaugeFamily>(f));
  return f;
}

HistogramFamily* Registry::AddHistogram(const std::string& name,
                                        const std::string& help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  Reserve(name, label_names, true);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      ABSL_RAW_LOG(FATAL, "metric %s: bucket bounds must be finite and "
                   "increasing", name.c_str());
    }
  }
  auto* f = new HistogramFamily(name, help, std::move(label_names),
                                MetricType::kHistogram, std::move(bounds));
  histograms_.emplace(name, std::unique_ptr<HistogramFamily>(f));
  return f;
}

void Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<Family> Registry::Collect() const {
  // Collectors first: what they count while collecting (e.g. a source that
  // failed) then shows in this scrape, not the next.
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  std::vector<Family> collected;
  for (const Collector& c : collectors) c(&collected);
  std::vector<Family> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [n, f] : counters_) out.push_back(f->Collect());
    for (const auto& [n, f] : gauges_) out.push_back(f->Collect());
    for (const auto& [n, f] : histograms_) out.push_back(f->Collect());
  }
  std::set<std::string> names;
  for (const Family& f : out) names.insert(f.name);
  for (Family& f : collected) {
    if (names.insert(f.name).second) out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const Family& a, const Family& b) {
    return a.name < b.name;
  });
  return out;
}

std::string Registry::Exposition() const { return Render(Collect()); }

}  // namespace emu::metrics
