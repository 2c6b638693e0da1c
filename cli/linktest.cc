// `emuctl linktest LAB [LINK...] [--json]`: measures each link from inside
// its end nodes and compares with what its configured conditions should
// give (docs/linkemu.md, "Calibration: emuctl linktest").
//
// Probes run through ControllerService.Exec (so the caller needs what
// `emuctl exec` needs): ping from the link's a end to its b end's address
// (round trip, jitter, loss and its bursts), and, for each direction with a
// rate, UDP iperf3 from a to b (a-to-b) or reversed (b-to-a). The expected
// figures come from linkemu/impair/probe_model.h: the same probe schedule
// run through the engine's pipeline with the configured conditions.
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/linktest_one_way.h"
#include "cli/linktest_output.h"
#include "cli/table.h"
#include "cli/wait_ready.h"
#include "linkemu/engine_choice.h"
#include "linkemu/impair/probe_model.h"
#include "linkemu/link_param_text.h"
#include "linkemu/units.h"
#include "nlohmann/json.hpp"
#include "proto/topology_names.h"

namespace emu::cli {
namespace {

constexpr size_t kUdpPayload = 1400;
constexpr double kUdpOverload = 1.2;  // offered payload rate / link rate
constexpr int kModelRuns = 20;
constexpr int kIperfPort = 5201;
// How long a capture may take to start, and to see its last frames after
// ping has ended (ping itself waits for late replies).
constexpr absl::Duration kCaptureArm = absl::Seconds(10);
constexpr absl::Duration kCaptureGrace = absl::Milliseconds(500);

struct LinktestArgs {
  std::string lab;
  std::vector<std::string> links;
  int count = 200;
  std::string interval = "10ms";
  std::string rate_time = "4s";
  bool no_rate = false;
  std::vector<std::string> expect;  // KEY=VALUE, both directions
  bool json = false;
};

// The first address of `node`'s interface `ifname` without its prefix
// length (IPv4 first), empty when it has none.
std::string AddressOf(const v1::Topology& t, const v1::Endpoint& e) {
  std::string v6;
  for (const auto& n : t.nodes()) {
    if (n.name() != e.node()) continue;
    for (const auto& i : n.interfaces()) {
      if (i.name() != e.interface()) continue;
      for (const auto& a : i.addresses()) {
        std::string ip = a.substr(0, a.find('/'));
        if (ip.find(':') == std::string::npos) return ip;
        if (v6.empty()) v6 = ip;
      }
    }
  }
  return v6;
}

bool IsGuest(const v1::Topology& t, const std::string& node) {
  for (const auto& n : t.nodes()) {
    if (n.name() == node) return n.kind() == v1::NODE_KIND_QEMU;
  }
  return false;
}

bool Selected(const LinktestArgs& args, const v1::Link& link) {
  if (args.links.empty()) return true;
  for (const auto& want : args.links) {
    if (want == LinkName(link) || want == EndpointName(link.a()) ||
        want == EndpointName(link.b())) {
      return true;
    }
  }
  return false;
}

// "rate 50mbit delay 20ms jitter 2ms loss 1%" (what shapes probes).
std::string Describe(const v1::LinkParams& p) {
  std::vector<std::string> parts;
  if (p.rate_bps() > 0) {
    parts.push_back(absl::StrFormat("rate %gmbit", p.rate_bps() / 1e6));
  }
  if (p.delay_us() > 0) {
    parts.push_back(absl::StrFormat("delay %gms", p.delay_us() / 1e3));
  }
  if (p.jitter_us() > 0) {
    parts.push_back(absl::StrFormat("jitter %gms", p.jitter_us() / 1e3));
  }
  if (p.delay_correlation_percent() > 0) {
    parts.push_back(
        absl::StrFormat("delay-corr %g%%", p.delay_correlation_percent()));
  }
  if (p.loss_percent() > 0) {
    parts.push_back(absl::StrFormat("loss %g%%", p.loss_percent()));
  }
  if (p.loss_correlation_percent() > 0) {
    parts.push_back(
        absl::StrFormat("loss-corr %g%%", p.loss_correlation_percent()));
  }
  if (p.has_gilbert_elliott()) parts.push_back("gilbert-elliott");
  if (p.duplicate_percent() > 0) {
    parts.push_back(absl::StrFormat("duplicate %g%%", p.duplicate_percent()));
  }
  if (p.reorder_percent() > 0) {
    parts.push_back(absl::StrFormat("reorder %g%%", p.reorder_percent()));
  }
  if (p.corrupt_percent() > 0) {
    parts.push_back(absl::StrFormat("corrupt %g%%", p.corrupt_percent()));
  }
  if (p.bit_error_rate() > 0) {
    parts.push_back(absl::StrFormat("ber %g", p.bit_error_rate()));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, " ");
}

absl::StatusOr<v1::ExecResponse> ExecIn(ControllerConnection& c,
                                        const std::string& lab,
                                        const std::string& node,
                                        const std::vector<std::string>& argv,
                                        absl::Duration timeout) {
  v1::LabExecRequest req;
  req.set_lab(lab);
  req.set_node(node);
  for (const auto& a : argv) req.add_argv(a);
  req.set_timeout_ms(absl::ToInt64Milliseconds(timeout));
  v1::ExecResponse resp;
  grpc::Status s =
      c.stub().Exec(c.NewContext(timeout + kExecGrace).get(), req, &resp);
  if (!s.ok()) return absl::UnavailableError(c.Describe(s, "Exec"));
  return resp;
}

// One direction's UDP goodput at its receiver (bits/s of payload). The
// server is a one-off daemon in b (it ends after the test; the namespace's
// processes go with the lab if no client ever came); a-to-b asks for the
// server's report through the client (--get-server-output), b-to-a
// (--reverse) reads the client's own.
absl::StatusOr<double> MeasureUdp(ControllerConnection& c,
                                  const std::string& lab, const v1::Link& link,
                                  const std::string& b_address, bool a_to_b,
                                  double offered_bps, absl::Duration time,
                                  int port) {
  auto server = ExecIn(c, lab, link.b().node(),
                       {"iperf3", "-s", "-1", "-D", "-J", "-i", "0.5", "-p",
                        absl::StrCat(port)},
                       absl::Seconds(20));
  if (!server.ok()) return server.status();
  if (server->exit_code() != 0) {
    return absl::UnavailableError(absl::StrCat(
        "iperf3 server in ", link.b().node(), " (exit ", server->exit_code(),
        "): ", server->stderr(), server->stdout()));
  }
  std::vector<std::string> client = {
      "iperf3", "-c", b_address, "-p", absl::StrCat(port), "-u", "-b",
      absl::StrCat(static_cast<uint64_t>(offered_bps)), "-l",
      absl::StrCat(kUdpPayload), "-t",
      absl::StrCat(absl::ToInt64Seconds(time)), "-i", "0.5", "-J",
      a_to_b ? "--get-server-output" : "-R"};
  absl::StatusOr<v1::ExecResponse> out = absl::UnknownError("not run");
  // The daemon may not listen yet: retried, bounded. With -J, iperf3 3.12
  // reports a refused connection in its JSON ("error") and exits 0, so
  // the text decides, not the exit status.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    out = ExecIn(c, lab, link.a().node(), client, time + absl::Seconds(15));
    if (!out.ok() || absl::Now() > deadline ||
        !(absl::StrContains(out->stdout(), "unable to connect") ||
          absl::StrContains(out->stderr(), "unable to connect"))) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (!out.ok()) return out.status();
  auto bps = ReceiverMedianBps(out->stdout(), a_to_b);
  if (!bps.ok() || out->exit_code() != 0) {
    return absl::UnavailableError(absl::StrCat(
        "iperf3 in ", link.a().node(), " (exit ", out->exit_code(), "): ",
        bps.ok() ? "" : bps.status().message(), " ", out->stderr()));
  }
  return bps;
}

// The ICMP echoes crossing one end's interface while linktest's ping runs
// (ControllerService.Capture, allowed to whoever may exec), for the
// one-way delay of a link whose ends share a clock. Owns the thread that
// reads the stream; Finish (or the destructor) ends and joins it.
class EchoCapture {
 public:
  EchoCapture(ControllerConnection& c, const std::string& lab,
              const v1::Endpoint& end, int max_packets)
      : ctx_(c.NewContext(absl::Hours(1))) {
    v1::CaptureRequest req;
    req.set_lab(lab);
    req.set_node(end.node());
    req.set_interface(end.interface());
    req.set_filter("icmp or icmp6");
    req.set_max_packets(max_packets);
    req.set_snaplen(128);  // headers are enough
    reader_ = c.stub().Capture(ctx_.get(), req);
    thread_ = std::thread([this] {
      v1::CaptureChunk chunk;
      while (reader_->Read(&chunk)) {
        absl::MutexLock lock(&mu_);
        bytes_ += chunk.pcapng();
        armed_ = true;
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~EchoCapture() {
    ctx_->TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  // Whether the capture is armed (its headers came: the agent's capture is
  // open and filtering) within `timeout`; false also when it ended first.
  bool WaitArmed(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return armed_ || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return armed_ && !done_;
  }

  // What it saw: waits up to `grace` for the stream to end by itself (every
  // frame it was asked for), then ends it.
  absl::StatusOr<std::vector<EchoStamp>> Finish(absl::Duration grace) {
    {
      absl::MutexLock lock(&mu_);
      auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_; };
      mu_.AwaitWithTimeout(absl::Condition(&cond), grace);
    }
    ctx_->TryCancel();
    thread_.join();
    absl::MutexLock lock(&mu_);
    if (!status_.ok() && status_.error_code() != grpc::StatusCode::CANCELLED) {
      return absl::UnavailableError(
          absl::StrCat("capture: ", status_.error_message()));
    }
    return EchoStampsFromPcapng(bytes_);
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderInterface<v1::CaptureChunk>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::string bytes_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct LinkResult {
  v1::LinkStatus status;
  CompensationFigures comp_ab, comp_ba;
  std::string error;  // the link could not be measured
  std::vector<linkemu::FigureCheck> checks;
  linkemu::PingFigures expected, measured;
  // Both ends on one host: each direction's one-way delay from captures at
  // the two ends (one clock); else (or when capturing failed, `one_way_note`
  // says why) delay is RTT/2.
  bool one_way = false;
  std::string one_way_note;
  double a_to_b_ms = 0, b_to_a_ms = 0;
  // Frames each direction's sender sent late while pinged (its counters
  // before and after the pings). Some 10 ms or more late: the host stalled
  // the sender by as much as the jitter tolerance.
  linkemu::LateFigures late_ab, late_ba;
  bool host_stalled() const {
    return late_ab.late_10ms + late_ba.late_10ms > 0;
  }
  bool ok() const {
    if (!error.empty()) return false;
    for (const auto& c : checks) {
      if (!c.ok) return false;
    }
    return true;
  }
};

std::string Num(double v) {
  return absl::StrFormat(std::fabs(v) >= 100 ? "%.1f" : "%.2f", v);
}

int RunLinktest(CommandEnv& env, const LinktestArgs& args) {
  auto interval = linkemu::ParseDurationUs(args.interval);
  auto rate_time = ParseTimeout(args.rate_time, "--rate-time");
  if (!interval.ok() || *interval == 0) {
    *env.err << "emuctl: --interval " << args.interval
             << ": want a duration such as 10ms\n";
    return kExitUsage;
  }
  if (!rate_time.ok() || *rate_time < absl::Seconds(2)) {
    *env.err << "emuctl: --rate-time " << args.rate_time
             << ": want 2s or more\n";
    return kExitUsage;
  }
  if (args.count < 10) {
    *env.err << "emuctl: --count " << args.count << ": want 10 or more\n";
    return kExitUsage;
  }
  v1::LinkParams expect;
  std::vector<std::string> expect_fields;
  for (const auto& kv : args.expect) {
    size_t eq = kv.find('=');
    absl::StatusOr<std::string> field =
        eq == std::string::npos
            ? absl::InvalidArgumentError("want KEY=VALUE, e.g. delay=30ms")
            : linkemu::SetLinkParamFromText(kv.substr(0, eq),
                                            kv.substr(eq + 1), &expect);
    if (!field.ok()) {
      *env.err << "emuctl: --expect " << kv << ": "
               << field.status().message() << "\n";
      return kExitUsage;
    }
    expect_fields.push_back(*field);
  }
  const absl::Duration step = absl::Microseconds(*interval);
  // `expect` with only the fields --expect named (MergeFrom then sets them
  // after they were cleared: a 0 given stays 0).
  std::vector<const google::protobuf::FieldDescriptor*> expect_fds;
  for (const auto& f : expect_fields) {
    if (const auto* fd = v1::LinkParams::descriptor()->FindFieldByName(f)) {
      expect_fds.push_back(fd);
    }
  }
  v1::LinkParams expect_only = expect;
  for (int i = 0; i < v1::LinkParams::descriptor()->field_count(); ++i) {
    const auto* fd = v1::LinkParams::descriptor()->field(i);
    if (std::find(expect_fds.begin(), expect_fds.end(), fd) == expect_fds.end()) {
      expect_only.GetReflection()->ClearField(&expect_only, fd);
    }
  }

  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  absl::Status ready = WaitUntilLabReady(c, args.lab, *env.err);
  if (!ready.ok()) return env.Fail(ready);
  v1::GetLabRequest get;
  get.set_lab(args.lab);
  v1::Lab lab;
  grpc::Status s = c.stub().GetLab(c.NewContext(kUnaryTimeout).get(), get, &lab);
  if (!s.ok()) return env.Fail(c.Describe(s, "GetLab"));

  // What the agents compensated (configured vs base vs applied delay).
  v1::GetLabStatsRequest stats_req;
  stats_req.set_lab(args.lab);
  v1::LabCounters counters;
  s = c.stub().GetLabStats(c.NewContext(kUnaryTimeout).get(), stats_req,
                           &counters);
  if (!s.ok()) return env.Fail(c.Describe(s, "GetLabStats"));

  // One link's counters now (none when they cannot be read: its late
  // frames are then not known).
  auto link_counters =
      [&](const std::string& name) -> std::optional<v1::LinkCounters> {
    v1::LabCounters now;
    grpc::Status st = c.stub().GetLabStats(c.NewContext(kUnaryTimeout).get(),
                                           stats_req, &now);
    if (!st.ok()) return std::nullopt;
    for (const auto& have : now.links()) {
      if (have.link() == name) return have;
    }
    return std::nullopt;
  };

  std::vector<LinkResult> results;
  for (const auto& l : lab.links()) {
    if (!Selected(args, l.link())) continue;
    LinkResult r;
    r.status = l;
    const std::string name = LinkName(l.link());
    const v1::LinkCounters* lc = nullptr;
    for (const auto& have : counters.links()) {
      if (have.link() == name) lc = &have;
    }
    auto comp = [&](const v1::LinkParams& p, const v1::DirectionCounters* d,
                    const std::string& engine) {
      CompensationFigures f;
      f.asked = linkemu::CompensationWanted(p, lab.topology().compensate());
      f.configured_us = p.delay_us();
      f.cross_host = l.host_a() != l.host_b();
      f.kernel = engine == "kernel";
      if (d != nullptr && d->compensated()) {
        f.applied = true;
        f.base_us = d->base_latency_us();
        f.applied_us = d->applied_delay_us();
        f.base_source = d->base_source();
      }
      return f;
    };
    r.comp_ab =
        comp(l.link().a_to_b(), lc ? &lc->a_to_b() : nullptr, l.engine_a_to_b());
    r.comp_ba =
        comp(l.link().b_to_a(), lc ? &lc->b_to_a() : nullptr, l.engine_b_to_a());
    // --expect: the expectation, not the link, takes these values.
    for (auto* p : {r.status.mutable_link()->mutable_a_to_b(),
                    r.status.mutable_link()->mutable_b_to_a()}) {
      for (const auto* fd : expect_fds) p->GetReflection()->ClearField(p, fd);
      p->MergeFrom(expect_only);
    }
    results.push_back(std::move(r));
  }
  if (!args.links.empty() && results.empty()) {
    return env.Fail(absl::StrCat("lab ", args.lab, " has no link ",
                                 absl::StrJoin(args.links, ", ")));
  }

  for (auto& r : results) {
    const v1::Link& link = r.status.link();
    const std::string b_address = AddressOf(lab.topology(), link.b());
    if (b_address.empty()) {
      r.error = absl::StrCat("interface ", EndpointName(link.b()),
                             " has no address to probe");
      continue;
    }
    const linkemu::ImpairmentSpec ab = linkemu::ImpairmentSpecFor(link.a_to_b());
    const linkemu::ImpairmentSpec ba = linkemu::ImpairmentSpecFor(link.b_to_a());
    // Warm-up, not counted and before the captures: right after `up` the
    // first echoes waited for neighbour resolution across the link's own
    // delay (ARP there and back), and their round trips were the run's
    // jitter p99 (8-15 ms on examples/netem.yaml's a<->b against 2.9 warm).
    (void)ExecIn(c, args.lab, link.a().node(),
                 {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", b_address},
                 absl::Seconds(10));
    // Both ends on one host share its clock: each direction's one-way delay
    // from captures at both ends (linktest_one_way.h), armed before ping.
    const bool a_guest = IsGuest(lab.topology(), link.a().node());
    const bool b_guest = IsGuest(lab.topology(), link.b().node());
    std::unique_ptr<EchoCapture> cap_a, cap_b;
    if (r.status.host_a().empty() || r.status.host_a() != r.status.host_b()) {
      r.one_way_note = "ends on two hosts: no shared clock";
    } else if ((a_guest && r.status.engine_a_to_b() == "kernel") ||
               (b_guest && r.status.engine_b_to_a() == "kernel")) {
      r.one_way_note =
          "a guest's own NetEm is inside it, beyond its interface's capture";
    } else {
      const int frames = 2 * args.count;  // requests and replies
      cap_a = std::make_unique<EchoCapture>(c, args.lab, link.a(), frames);
      cap_b = std::make_unique<EchoCapture>(c, args.lab, link.b(), frames);
      for (auto* cap : {&cap_a, &cap_b}) {
        if (*cap == nullptr || (*cap)->WaitArmed(kCaptureArm)) continue;
        auto why = (*cap)->Finish(absl::ZeroDuration());
        r.one_way_note = absl::StrCat(
            "capture did not start: ",
            why.ok() ? "no answer in time" : why.status().message());
        cap_a.reset();
        cap_b.reset();
      }
    }
    const std::optional<v1::LinkCounters> before =
        link_counters(LinkName(link));
    auto ping = ExecIn(
        c, args.lab, link.a().node(),
        {"ping", "-n", "-i", absl::StrFormat("%.6f", absl::ToDoubleSeconds(step)),
         "-c", absl::StrCat(args.count), "-W", "2", b_address},
        step * args.count + absl::Seconds(15));
    if (!ping.ok()) {
      r.error = std::string(ping.status().message());
      continue;
    }
    auto rtts = ParsePingReplies(ping->stdout(), args.count);
    if (std::none_of(rtts.begin(), rtts.end(),
                     [](const auto& x) { return x.has_value(); }) &&
        ping->stdout().find("transmitted") == std::string::npos) {
      r.error = absl::StrCat("ping in ", link.a().node(), " failed: ",
                             ping->stderr(), ping->stdout());
      continue;
    }
    if (const std::optional<v1::LinkCounters> after =
            link_counters(LinkName(link));
        before.has_value() && after.has_value()) {
      r.late_ab = linkemu::LateBetween(before->a_to_b(), after->a_to_b());
      r.late_ba = linkemu::LateBetween(before->b_to_a(), after->b_to_a());
    }
    r.measured = linkemu::SummarizePing(rtts);
    r.expected = linkemu::ModelPing(ab, ba, args.count, step, kModelRuns, 1);
    r.checks = linkemu::ComparePing(r.expected, r.measured);
    if (cap_a != nullptr && cap_b != nullptr) {
      auto at_a = cap_a->Finish(kCaptureGrace);
      auto at_b = cap_b->Finish(kCaptureGrace);
      if (!at_a.ok() || !at_b.ok()) {
        r.one_way_note = std::string(
            (at_a.ok() ? at_b.status() : at_a.status()).message());
      } else {
        OneWayDelays d = MatchEchoes(*at_a, *at_b, a_guest, b_guest);
        if (d.a_to_b_ms.empty() || d.b_to_a_ms.empty()) {
          r.one_way_note = "the captures saw no probe at both ends";
        } else {
          // Expected: the model through one direction, the other passing.
          const linkemu::ImpairmentSpec none;
          r.one_way = true;
          r.a_to_b_ms = MedianMs(d.a_to_b_ms);
          r.b_to_a_ms = MedianMs(d.b_to_a_ms);
          r.checks.push_back(linkemu::CompareOneWay(
              "delay a-to-b",
              linkemu::ModelPing(ab, none, args.count, step, kModelRuns, 1)
                  .rtt_p50_ms,
              r.a_to_b_ms, d.a_to_b_ms.size()));
          r.checks.push_back(linkemu::CompareOneWay(
              "delay b-to-a",
              linkemu::ModelPing(none, ba, args.count, step, kModelRuns, 1)
                  .rtt_p50_ms,
              r.b_to_a_ms, d.b_to_a_ms.size()));
        }
      }
    }
    if (args.no_rate) continue;
    for (bool a_to_b : {true, false}) {
      const v1::LinkParams& p = a_to_b ? link.a_to_b() : link.b_to_a();
      if (p.rate_bps() == 0) continue;
      const double offered = kUdpOverload * p.rate_bps();
      const std::string name =
          absl::StrCat("rate ", a_to_b ? "a-to-b" : "b-to-a");
      auto bps = MeasureUdp(c, args.lab, link, b_address, a_to_b, offered,
                            *rate_time, kIperfPort + (a_to_b ? 0 : 1));
      if (!bps.ok()) {
        r.error = absl::StrCat(name, ": ", bps.status().message());
        break;
      }
      r.checks.push_back(linkemu::CompareRate(
          name,
          linkemu::ModelUdpGoodputBps(a_to_b ? ab : ba, offered, kUdpPayload,
                                      *rate_time, 1),
          *bps));
    }
  }

  int off = 0;
  for (const auto& r : results) off += r.ok() ? 0 : 1;
  if (args.json) {
    nlohmann::json j;
    j["lab"] = args.lab;
    j["probe"] = {{"count", args.count},
                  {"interval_ms", absl::ToDoubleMilliseconds(step)},
                  {"from", "a"},
                  {"delay", "one-way where both ends share a host, else rtt/2"},
                  {"udp_payload_bytes", kUdpPayload},
                  {"udp_offered_over_rate", kUdpOverload}};
    j["links"] = nlohmann::json::array();
    for (const auto& r : results) {
      nlohmann::json lj;
      lj["link"] = LinkName(r.status.link());
      lj["hosts"] = {r.status.host_a(), r.status.host_b()};
      lj["engine"] = {{"a_to_b", r.status.engine_a_to_b()},
                      {"b_to_a", r.status.engine_b_to_a()}};
      lj["configured"] = {{"a_to_b", Describe(r.status.link().a_to_b())},
                          {"b_to_a", Describe(r.status.link().b_to_a())}};
      auto comp_json = [](const CompensationFigures& f) {
        return nlohmann::json{{"asked", f.asked},
                              {"applied", f.applied},
                              {"configured_delay_ms", f.configured_us / 1e3},
                              {"base_ms", f.base_us / 1e3},
                              {"base_source", CompensationBaseSource(f)},
                              {"applied_delay_ms", f.applied_us / 1e3}};
      };
      lj["compensation"] = {{"a_to_b", comp_json(r.comp_ab)},
                            {"b_to_a", comp_json(r.comp_ba)}};
      if (!r.error.empty()) lj["error"] = r.error;
      lj["checks"] = nlohmann::json::array();
      for (const auto& ch : r.checks) {
        lj["checks"].push_back({{"name", ch.name},
                                {"unit", ch.unit},
                                {"expected", ch.expected},
                                {"measured", ch.measured},
                                {"tolerance", ch.tolerance},
                                {"judged", ch.judged},
                                {"ok", ch.ok}});
      }
      lj["delay"] = r.one_way ? "one-way" : "rtt/2";
      if (!r.one_way_note.empty()) lj["delay_note"] = r.one_way_note;
      lj["measured"] = {{"sent", r.measured.sent},
                        {"received", r.measured.received},
                        {"rtt_p50_ms", r.measured.rtt_p50_ms},
                        {"delay_ms", r.measured.rtt_p50_ms / 2},
                        {"jitter_p50_ms", r.measured.jitter_p50_ms},
                        {"jitter_p99_ms", r.measured.jitter_p99_ms},
                        {"loss_percent", 100 * r.measured.loss_fraction},
                        {"mean_loss_burst", r.measured.mean_loss_burst}};
      if (r.one_way) {
        lj["measured"]["delay_a_to_b_ms"] = r.a_to_b_ms;
        lj["measured"]["delay_b_to_a_ms"] = r.b_to_a_ms;
      }
      auto late_json = [](const linkemu::LateFigures& f) {
        return nlohmann::json{{"known", f.known},
                              {"late_1ms", f.late_1ms},
                              {"late_10ms", f.late_10ms}};
      };
      lj["late"] = {{"a_to_b", late_json(r.late_ab)},
                    {"b_to_a", late_json(r.late_ba)}};
      lj["host_stalled"] = r.host_stalled();
      lj["verdict"] = r.ok() ? "ok" : "off";
      j["links"].push_back(lj);
    }
    j["verdict"] = off == 0 ? "ok" : "off";
    *env.out << j.dump(2) << "\n";
  } else {
    *env.out << "lab " << args.lab << ": " << results.size() << " link"
             << (results.size() == 1 ? "" : "s") << "; ping " << args.count
             << " x " << absl::FormatDuration(step)
             << " from each link's a end; delay one-way per direction where "
                "both ends are on one host (captured at both ends, one "
                "clock), else RTT/2 (round trips: no clock is shared)\n";
    for (const auto& r : results) {
      const v1::LinkStatus& st = r.status;
      *env.out << "\n" << LinkName(st.link()) << "  (" << st.host_a();
      if (st.host_b() != st.host_a()) *env.out << " - " << st.host_b();
      *env.out << ", engine a-to-b " << st.engine_a_to_b() << ", b-to-a "
               << st.engine_b_to_a() << ")\n"
               << "  a-to-b: " << Describe(st.link().a_to_b()) << "\n"
               << "  b-to-a: " << Describe(st.link().b_to_a()) << "\n";
      for (const auto& [dir, f] : {std::pair{"a-to-b", &r.comp_ab},
                                   std::pair{"b-to-a", &r.comp_ba}}) {
        std::string line = DescribeCompensation(*f);
        if (!line.empty()) *env.out << "  " << dir << " " << line << "\n";
      }
      if (!r.error.empty()) {
        *env.out << "  cannot measure: " << r.error << "\n  verdict: off\n";
        continue;
      }
      if (!r.one_way && st.host_a() == st.host_b()) {
        *env.out << "  delay as RTT/2: " << r.one_way_note << "\n";
      }
      Table t({"  FIGURE", "EXPECTED", "MEASURED", "TOLERANCE", "VERDICT"});
      for (const auto& ch : r.checks) {
        double e = ch.expected, m = ch.measured, tol = ch.tolerance;
        std::string unit = ch.unit, name = ch.name;
        if (ch.name == "rtt p50" && r.one_way) {
          name = "RTT p50";  // the one-way rows say the delay
        } else if (ch.name == "rtt p50") {  // shown as one-way delay, RTT/2
          name = "delay (RTT/2)";
          e /= 2;
          m /= 2;
          tol /= 2;
        } else if (absl::StartsWith(ch.name, "delay ")) {
          name = ch.name + " (one-way)";
        } else if (ch.name == "loss" && r.measured.sent > 0) {
          name = "loss (round trip)";
          e *= 100.0 / r.measured.sent;
          m *= 100.0 / r.measured.sent;
          tol *= 100.0 / r.measured.sent;
          unit = "%";
        } else if (ch.name == "burst") {
          name = "loss burst (mean)";
        }
        t.AddRow({"  " + name, Num(e) + " " + unit, Num(m) + " " + unit,
                  "+-" + Num(tol) + " " + unit,
                  !ch.judged ? "(not judged)" : ch.ok ? "ok" : "OFF"});
      }
      *env.out << t.Render();
      const std::string late = DescribeLate(r.late_ab, r.late_ba);
      if (!late.empty()) {
        *env.out << "  late: "
                 << absl::StrReplaceAll(late, {{"\n", "\n  late: "}}) << "\n";
      }
      *env.out << "  verdict: " << (r.ok() ? "ok" : "off")
               << (!r.ok() && r.host_stalled()
                       ? " (the host stalled the sender while pinged, not the "
                         "link's conditions; measure again on a quieter "
                         "host)"
                       : "")
               << "\n";
    }
    *env.out << "\nlinktest: " << (results.size() - off) << " of "
             << results.size() << " links ok" << (off ? "; some are off" : "")
             << "\n";
  }
  return off == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddLinktestCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "linktest", "Measure a lab's links and compare with their conditions");
  auto args = std::make_shared<LinktestArgs>();
  cmd->add_option("lab", args->lab, "Lab name")->required();
  cmd->add_option("links", args->links,
                  "Links to test (a:eth1<->b:eth1, or one end a:eth1); "
                  "default all");
  cmd->add_option("--count", args->count, "Pings per link")
      ->capture_default_str();
  cmd->add_option("--interval", args->interval, "Time between pings")
      ->capture_default_str();
  cmd->add_option("--rate-time", args->rate_time,
                  "Length of each UDP rate run (per direction with a rate)")
      ->capture_default_str();
  cmd->add_flag("--no-rate", args->no_rate, "Skip the UDP rate runs");
  cmd->add_option("--expect", args->expect,
                  "KEY=VALUE: compare against this condition instead of the "
                  "configured one, both directions (e.g. delay=30ms); "
                  "repeatable");
  cmd->add_flag("--json", args->json, "Print the results as JSON");
  cmd->footer(
      "For each link: ping COUNT times from its a end to the b end's first\n"
      "address (IPv4 first; two uncounted pings first resolve the\n"
      "neighbours), and for each direction with a rate a UDP\n"
      "iperf3 run offering 1.2 x the rate in 1400-byte datagrams to a\n"
      "one-off server in b (a-to-b: a sends; b-to-a: iperf3 --reverse).\n"
      "The commands run in the nodes through the controller, as `emuctl\n"
      "exec` runs them (same permission); where both ends are on one host\n"
      "the pings are also captured at both ends, as `emuctl capture` does.\n"
      "Expected figures: the same probes run through the engine's model of\n"
      "the configured conditions (NetEm's semantics, 20 seeded runs).\n"
      "Figures: delay one-way per direction where both ends share a host's\n"
      "clock (the echoes' stamps at both ends), else RTT p50 / 2 (the two\n"
      "hosts' clocks are not compared); jitter p50/p99 = |RTT - RTT p50|,\n"
      "loss of round trips and the mean length of loss bursts, receiver\n"
      "goodput (median of the 0.5 s intervals but the first and last).\n"
      "Tolerances (docs/linkemu.md): delay max(2 ms, 10 %), jitter p50\n"
      "max(1 ms, 25 %), jitter p99 max(10 ms, 50 %), loss 4 binomial sd + 2\n"
      "probes, burst max(0.5, 50 %) with 10+ lost, rate max(0.5 Mbit/s,\n"
      "5 %). A link is ok when every judged figure is.\n"
      "Where the userspace engine or a tunnel's pipeline sends a direction,\n"
      "the frames it sent 1 ms and 10 ms or more after their departure\n"
      "while pinged are counted (\"late:\"; JSON late): the host did not\n"
      "run the sender in time, and the figures include that. Any 10 ms late\n"
      "(JSON host_stalled): an off verdict says the host stalled.\n"
      "Exit status 0 when every link is ok, 1 when one is off or cannot be\n"
      "measured, 2 for a bad command line.\n\n"
      "Examples:\n"
      "  emuctl linktest netem\n"
      "  emuctl linktest netem 'a:eth1<->b:eth1' --count 1000 --json\n"
      "  emuctl linktest netem a:eth1 --expect delay=30ms   # shows off");
  cmd->callback([&env, args] { env.exit_code = RunLinktest(env, *args); });
}

}  // namespace emu::cli
