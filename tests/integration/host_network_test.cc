// LibnlHostNetwork against the real kernel: namespaces, veths, addresses,
// routes, sysctls and TBF, checked with real traffic (busybox ping, iperf3)
// between namespaces this test creates. Every namespace is named
// "emuhn<pid>-..." and removed in TearDown, also after a failure; the only
// processes started (ping, iperf3) are ended by their pid.
//
// Goodput basis: TBF counts layer-2 frames without FCS, 1514 bytes for a
// full-size frame, of which TCP with timestamps carries 1448 bytes of
// payload, so the expected TCP goodput at rate R is R * 1448 / 1514.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/net/libnl_host_network.h"
#include "common/process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The bits_per_second of iperf3 -J's end.sum_received.
double ReceivedBitsPerSecond(const std::string& json) {
  size_t at = json.find("\"sum_received\"");
  if (at == std::string::npos) return -1;
  at = json.find("\"bits_per_second\"", at);
  if (at == std::string::npos) return -1;
  at = json.find(':', at);
  return std::strtod(json.c_str() + at + 1, nullptr);
}

class HostNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    prefix_ = absl::StrCat("emuhn", getpid(), "-");
    RemoveOurs();
  }
  void TearDown() override {
    for (pid_t pid : daemons_) {
      launcher_.Terminate(pid, absl::Seconds(1)).IgnoreError();
    }
    if (!prefix_.empty()) RemoveOurs();
  }
  void RemoveOurs() {
    auto ours = net_.ListNamespaces(prefix_);
    if (!ours.ok()) return;
    for (const std::string& ns : *ours) {
      EXPECT_TRUE(net_.DeleteNamespace(ns).ok()) << ns;
    }
  }
  // ListInterfaces' value (empty on error, which fails the test).
  std::vector<net::HostNetwork::InterfaceInfo> Ifs(const std::string& ns) {
    auto r = net_.ListInterfaces(ns);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<net::HostNetwork::InterfaceInfo>{};
  }
  std::string Ns(absl::string_view suffix) {
    return absl::StrCat(prefix_, suffix);
  }

  // Runs argv inside namespace `ns`; returns the result (asserting it ran).
  ProcessResult RunIn(const std::string& ns, std::vector<std::string> argv,
                      absl::Duration timeout = absl::Seconds(20)) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.netns = ns;
    spec.timeout = timeout;
    auto r = launcher_.Run(spec);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ProcessResult{-1};
  }
  bool Ping(const std::string& from, const std::string& to) {
    ProcessResult r =
        RunIn(from, {"/bin/busybox", "ping", "-c", "2", "-w", "4", to});
    return r.exit_code == 0;
  }

  // a:eth1 (10.1.0.1/24) <-> b:eth1 (10.1.0.2/24).
  void Pair(const std::string& a, const std::string& b) {
    ASSERT_TRUE(net_.CreateNamespace(a).ok());
    ASSERT_TRUE(net_.CreateNamespace(b).ok());
    ASSERT_TRUE(net_.CreateVeth({a, "eth1", "", 0}, {b, "eth1", "", 0},
                                absl::StrCat(prefix_, "link"))
                    .ok());
    ASSERT_TRUE(net_.SetAddresses(a, "eth1", {"10.1.0.1/24"}).ok());
    ASSERT_TRUE(net_.SetAddresses(b, "eth1", {"10.1.0.2/24"}).ok());
  }

  // iperf3 TCP goodput from a to b (10.1.0.2), bits per second.
  double Goodput(const std::string& a, const std::string& b, int seconds) {
    const std::string port = absl::StrCat(20000 + getpid() % 20000);
    ProcessSpec server;
    server.argv = {"iperf3", "-s", "-1", "-B", "10.1.0.2", "-p", port};
    server.netns = b;
    auto pid = launcher_.Spawn(
        server, absl::StrCat(::testing::TempDir(), "/iperf3-", port, ".log"));
    EXPECT_TRUE(pid.ok()) << pid.status();
    if (!pid.ok()) return -1;
    daemons_.push_back(*pid);
    std::string json;
    for (int attempt = 0; attempt < 50; ++attempt) {
      ProcessResult r = RunIn(a,
                              {"iperf3", "-c", "10.1.0.2", "-p", port, "-t",
                               absl::StrCat(seconds), "-J"},
                              absl::Seconds(seconds + 20));
      json = r.stdout_data;
      // iperf3 3.12 with -J can exit 0 with "unable to connect to server:
      // Connection refused" in its JSON while the server is not listening
      // yet: tried again like a failed run.
      if (r.exit_code == 0 && ReceivedBitsPerSecond(json) > 0) break;
      absl::SleepFor(absl::Milliseconds(100));  // server not listening yet
    }
    if (ReceivedBitsPerSecond(json) <= 0) {
      std::cout << "iperf3 reported nothing received:\n" << json << "\n";
    }
    launcher_.Terminate(*pid, absl::Seconds(1)).IgnoreError();
    return ReceivedBitsPerSecond(json);
  }

  std::string prefix_;
  net::LibnlHostNetwork net_;
  PosixProcessLauncher launcher_;
  std::vector<pid_t> daemons_;
};

TEST_F(HostNetworkTest, NamespaceLifecycle) {
  const std::string a = Ns("a");
  ASSERT_TRUE(net_.CreateNamespace(a).ok());
  EXPECT_EQ(net_.CreateNamespace(a).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(*net_.ListNamespaces(prefix_), ElementsAre(a));
  // iproute2 sees it too.
  EXPECT_EQ(access(absl::StrCat("/run/netns/", a).c_str(), F_OK), 0);
  auto ifs = net_.ListInterfaces(a);
  ASSERT_TRUE(ifs.ok()) << ifs.status();
  ASSERT_EQ(ifs->size(), 1u);
  EXPECT_EQ((*ifs)[0].name, "lo");
  EXPECT_TRUE((*ifs)[0].up);
  EXPECT_THAT((*ifs)[0].addresses, Contains("127.0.0.1/8"));
  EXPECT_TRUE(Ping(a, "127.0.0.1"));

  ASSERT_TRUE(net_.DeleteNamespace(a).ok());
  EXPECT_THAT(*net_.ListNamespaces(prefix_), IsEmpty());
  EXPECT_TRUE(net_.DeleteNamespace(a).ok());  // absent is fine
  EXPECT_EQ(net_.ListInterfaces(a).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.SetSysctl(a, "net.ipv4.ip_forward", "1").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(net_.DeleteInterface(a, "eth1").ok());

  // Re-created under the same name: a new namespace, not the cached one.
  ASSERT_TRUE(net_.CreateNamespace(a).ok());
  ASSERT_TRUE(net_.ListInterfaces(a).ok());
}

// What the local cluster builds in the root namespace, here inside a
// scratch one: a bridge with veth ports, and traffic across it.
TEST_F(HostNetworkTest, BridgeWithPortsCarriesTraffic) {
  const std::string a = Ns("br"), h1 = Ns("h1"), h2 = Ns("h2");
  for (const std::string& ns : {a, h1, h2}) {
    ASSERT_TRUE(net_.CreateNamespace(ns).ok()) << ns;
  }
  ASSERT_TRUE(net_.CreateBridge(a, "br0").ok());
  absl::Status again = net_.CreateBridge(a, "br0");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr("br0"));
  int i = 0;
  for (const std::string& h : {h1, h2}) {
    const std::string port = absl::StrCat("v", ++i);
    ASSERT_TRUE(net_.CreateVeth({a, port, "", 0}, {h, "eth0", "", 0},
                                absl::StrCat(prefix_, "port"))
                    .ok());
    ASSERT_TRUE(net_.SetMaster(a, port, "br0").ok());
    ASSERT_TRUE(net_.SetMaster(a, port, "br0").ok()) << "idempotent";
    ASSERT_TRUE(
        net_.SetAddresses(h, "eth0", {absl::StrCat("10.2.0.", i, "/24")}).ok());
  }
  EXPECT_EQ(net_.SetMaster(a, "v1", "nope").code(),
            absl::StatusCode::kNotFound);
  for (const net::HostNetwork::InterfaceInfo& info : Ifs(a)) {
    if (info.name == "br0") {
      EXPECT_EQ(info.kind, "bridge");
      EXPECT_TRUE(info.up);
      EXPECT_EQ(info.master, "");
    } else if (info.name != "lo") {
      EXPECT_EQ(info.master, "br0") << info.name;
    }
  }
  EXPECT_TRUE(Ping(h1, "10.2.0.2"));
}

// "" is the namespace the process runs in, always readable.
TEST_F(HostNetworkTest, OwnNamespaceIsTheEmptyName) {
  std::vector<net::HostNetwork::InterfaceInfo> own = Ifs("");
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(own[0].name, "lo");
  EXPECT_EQ(own[0].ifindex, 1);
  EXPECT_THAT(*net_.ListNamespaces(""), Not(Contains("")));
  EXPECT_EQ(net_.CreateNamespace("").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.DeleteNamespace("").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HostNetworkTest, VethAddressesRoutesSysctlAndPing) {
  const std::string a = Ns("a"), b = Ns("b"), c = Ns("c");
  for (const std::string& ns : {a, b, c}) {
    ASSERT_TRUE(net_.CreateNamespace(ns).ok()) << ns;
  }
  const std::string tag = absl::StrCat(prefix_, "lab");
  ASSERT_TRUE(net_.CreateVeth({a, "eth1", "02:00:00:00:0a:01", 1400},
                              {b, "eth1", "02:00:00:00:0b:01", 1400}, tag)
                  .ok());
  ASSERT_TRUE(
      net_.CreateVeth({b, "eth2", "", 0}, {c, "eth1", "", 0}, tag).ok());
  // Names taken on either side.
  absl::Status again =
      net_.CreateVeth({a, "eth1", "", 0}, {b, "eth9", "", 0}, tag);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(
      std::string(again.message()),
      HasSubstr(absl::StrCat("create veth ", a, ":eth1<->", b, ":eth9")));
  EXPECT_EQ(net_.CreateVeth({a, "eth9", "", 0}, {b, "eth1", "", 0}, tag).code(),
            absl::StatusCode::kAlreadyExists);
  // Neither failed attempt left a half-made end behind.
  for (const auto& i : Ifs(a)) EXPECT_NE(i.name, "eth9");
  for (const auto& i : Ifs(b)) EXPECT_NE(i.name, "eth9");

  ASSERT_TRUE(net_.SetAddresses(a, "eth1", {"10.1.0.1/24"}).ok());
  ASSERT_TRUE(net_.SetAddresses(b, "eth1", {"10.1.0.2/24"}).ok());
  ASSERT_TRUE(net_.SetAddresses(b, "eth2", {"10.2.0.2/24"}).ok());
  ASSERT_TRUE(net_.SetAddresses(c, "eth1", {"10.2.0.1/24"}).ok());
  ASSERT_TRUE(net_.ReplaceRoute(a, {"10.2.0.0/24", "10.1.0.2", "", 0}).ok());
  ASSERT_TRUE(net_.ReplaceRoute(c, {"default", "10.2.0.2", "", 0}).ok());
  // Replace semantics: the same route again is fine.
  ASSERT_TRUE(net_.ReplaceRoute(a, {"10.2.0.0/24", "10.1.0.2", "", 0}).ok());
  ASSERT_TRUE(net_.ReplaceRoute(c, {"default", "10.2.0.2", "eth1", 0}).ok());
  // The main table as ListRoutes sees it: connected and added routes, each
  // with its interface (what the management network's check reads).
  auto routes = [&](const std::string& ns) {
    std::vector<std::string> out;
    auto r = net_.ListRoutes(ns);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const auto& x : *r) out.push_back(x.destination + " " + x.dev);
    }
    return out;
  };
  EXPECT_THAT(routes(a), Contains("10.1.0.0/24 eth1"));
  EXPECT_THAT(routes(a), Contains("10.2.0.0/24 eth1"));
  EXPECT_THAT(routes(c), Contains("0.0.0.0/0 eth1"));
  EXPECT_THAT(routes(c), Not(Contains(HasSubstr("10.1.0.0/24"))));

  auto ifs = net_.ListInterfaces(a);
  ASSERT_TRUE(ifs.ok()) << ifs.status();
  ASSERT_EQ(ifs->size(), 2u);
  const net::HostNetwork::InterfaceInfo& eth1 = (*ifs)[1];
  EXPECT_EQ(eth1.name, "eth1");
  EXPECT_EQ(eth1.kind, "veth");
  EXPECT_EQ(eth1.alias, tag);
  EXPECT_TRUE(eth1.up);
  EXPECT_EQ(eth1.mac, "02:00:00:00:0a:01");
  EXPECT_EQ(eth1.mtu, 1400u);
  EXPECT_THAT(eth1.addresses, Contains("10.1.0.1/24"));
  for (const auto& i : Ifs(c)) {
    if (i.name == "eth1") {
      EXPECT_EQ(i.alias, tag);
    }
  }

  // Forwarding off in b: no way through. The host's own value must not
  // move whatever the namespaces do.
  const std::string host_forward = ReadFile("/proc/sys/net/ipv4/ip_forward");
  ASSERT_TRUE(net_.SetSysctl(b, "net.ipv4.ip_forward", "0").ok());
  EXPECT_TRUE(Ping(a, "10.1.0.2"));
  EXPECT_FALSE(Ping(a, "10.2.0.1"));
  ASSERT_TRUE(net_.SetSysctl(b, "net.ipv4.ip_forward", "1").ok());
  EXPECT_EQ(RunIn(b, {"cat", "/proc/sys/net/ipv4/ip_forward"}).stdout_data,
            "1\n");
  EXPECT_EQ(RunIn(a, {"cat", "/proc/sys/net/ipv4/ip_forward"}).stdout_data,
            "0\n");
  EXPECT_EQ(ReadFile("/proc/sys/net/ipv4/ip_forward"), host_forward);
  EXPECT_TRUE(Ping(a, "10.2.0.1"));
  EXPECT_TRUE(Ping(c, "10.1.0.1"));

  EXPECT_EQ(net_.SetSysctl(b, "net.ipv4.no_such_knob", "1").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.SetSysctl(b, "kernel.hostname", "x").code(),
            absl::StatusCode::kInvalidArgument);

  // Addresses: exactly the given set, idempotent, IPv6 link-local kept.
  ASSERT_TRUE(
      net_.SetAddresses(a, "eth1", {"10.1.0.1/24", "fd00:1::1/64"}).ok());
  ASSERT_TRUE(
      net_.SetAddresses(a, "eth1", {"10.1.0.1/24", "fd00:1::1/64"}).ok());
  auto addrs = [&](const std::string& ns, const std::string& ifname) {
    for (const auto& i : Ifs(ns)) {
      if (i.name == ifname) return i.addresses;
    }
    return std::vector<std::string>{};
  };
  std::vector<std::string> got = addrs(a, "eth1");
  EXPECT_THAT(got, Contains("10.1.0.1/24"));
  EXPECT_THAT(got, Contains("fd00:1::1/64"));
  bool link_local = false;
  for (const std::string& s : got) link_local |= s.rfind("fe80:", 0) == 0;
  EXPECT_TRUE(link_local);
  ASSERT_TRUE(
      net_.SetAddresses(b, "eth1", {"10.1.0.2/24", "fd00:1::2/64"}).ok());
  EXPECT_TRUE(Ping(a, "fd00:1::2"));  // usable at once: no DAD wait
  ASSERT_TRUE(net_.SetAddresses(a, "eth1", {"10.1.0.9/25"}).ok());
  got = addrs(a, "eth1");
  EXPECT_THAT(got, Contains("10.1.0.9/25"));
  EXPECT_THAT(got, Not(Contains("10.1.0.1/24")));
  EXPECT_THAT(got, Not(Contains("fd00:1::1/64")));
  EXPECT_EQ(net_.SetAddresses(a, "eth7", {"10.9.0.1/24"}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.SetAddresses(a, "eth1", {"10.9.0.1/33"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.ReplaceRoute(a, {"10.9.0.0/24", "", "eth7", 0}).code(),
            absl::StatusCode::kNotFound);
  absl::Status unreachable =
      net_.ReplaceRoute(a, {"10.9.0.0/24", "10.77.0.1", "", 0});
  EXPECT_EQ(unreachable.code(), absl::StatusCode::kFailedPrecondition)
      << unreachable;
  EXPECT_THAT(std::string(unreachable.message()),
              HasSubstr("gateway 10.77.0.1 is not reachable"));
  EXPECT_EQ(net_.ReplaceRoute(a, {"default6", "fd00:77::1", "", 0}).code(),
            absl::StatusCode::kFailedPrecondition);
  // An on-link route needs no gateway, and a metric makes a second route.
  EXPECT_TRUE(net_.ReplaceRoute(a, {"10.9.0.0/24", "", "eth1", 0}).ok());
  EXPECT_TRUE(net_.ReplaceRoute(a, {"10.9.0.0/24", "", "eth1", 50}).ok());
  EXPECT_THAT(RunIn(a, {"ip", "route", "show", "10.9.0.0/24"}).stdout_data,
              HasSubstr("metric 50"));

  // Deleting one end removes the pair; deleting again is fine.
  ASSERT_TRUE(net_.DeleteInterface(a, "eth1").ok());
  ASSERT_TRUE(net_.DeleteInterface(a, "eth1").ok());
  for (const auto& i : Ifs(b)) EXPECT_NE(i.name, "eth1");
}

TEST_F(HostNetworkTest, TbfIsIdempotentAndShapesTcpGoodput) {
  const std::string a = Ns("a"), b = Ns("b");
  Pair(a, b);
  if (HasFailure()) return;
  const std::vector<uint64_t> rates = {10'000'000, 100'000'000};
  for (uint64_t rate_bps : rates) {
    emu::v1::LinkParams p;
    p.set_rate_bps(rate_bps);
    auto plan = linkemu::PlanForLinkParams(p);
    ASSERT_TRUE(plan.ok());
    ASSERT_TRUE(net_.ApplyQdiscs(a, "eth1", *plan).ok());
    ASSERT_TRUE(net_.ApplyQdiscs(a, "eth1", *plan).ok());  // idempotent
    auto q = net_.ListQdiscs(a, "eth1");
    ASSERT_TRUE(q.ok()) << q.status();
    std::vector<linkemu::QdiscInfo> want = {
        {"tbf", linkemu::kRootHandle, linkemu::kRootParent}};
    EXPECT_EQ(*q, want);

    // A run that reports nothing received (seen once in CI, cause unknown:
    // iperf3 exited 0 at once) is repeated, with a fresh server.
    double got = 0;
    for (int run = 0; run < 3 && got <= 0; ++run) got = Goodput(a, b, 3);
    double expected = static_cast<double>(rate_bps) * 1448.0 / 1514.0;
    std::cout << absl::StrFormat(
        "TBF %s (burst %ub limit %ub): TCP goodput %.3f Mbit/s, expected "
        "%.3f Mbit/s (%+.2f%%)\n",
        plan->DebugString(), plan->tbf->burst_bytes, plan->tbf->limit_bytes,
        got / 1e6, expected / 1e6, (got / expected - 1) * 100);
    EXPECT_NEAR(got, expected, expected * 0.05) << plan->DebugString();
  }
  // Empty plan: ours is gone, the kernel default is back.
  ASSERT_TRUE(net_.ApplyQdiscs(a, "eth1", linkemu::QdiscPlan()).ok());
  auto q = net_.ListQdiscs(a, "eth1");
  ASSERT_TRUE(q.ok());
  for (const auto& qi : *q) EXPECT_EQ(qi.handle, 0u) << qi.kind;
}

TEST_F(HostNetworkTest, NetemAppliesOrFailsClearly) {
  auto features = net_.ProbeKernel();
  ASSERT_TRUE(features.ok()) << features.status();
  std::cout << "ProbeKernel: qdiscs [";
  for (const std::string& k : features->qdiscs) std::cout << " " << k;
  std::cout << " ] veth " << features->veth << " bridge " << features->bridge
            << " vxlan " << features->vxlan << "\n";
  EXPECT_TRUE(features->veth);
  EXPECT_THAT(features->qdiscs, Contains("tbf"));
  // The probe's scratch namespace is gone.
  EXPECT_THAT(*net_.ListNamespaces(absl::StrCat("emu-probe-", getpid(), "-")),
              IsEmpty());

  const std::string a = Ns("a"), b = Ns("b");
  Pair(a, b);
  if (HasFailure()) return;
  emu::v1::LinkParams p;
  p.set_delay_us(20'000);
  p.set_rate_bps(10'000'000);
  auto plan = linkemu::PlanForLinkParams(p);
  ASSERT_TRUE(plan.ok());
  absl::Status s = net_.ApplyQdiscs(a, "eth1", *plan);
  const bool has_netem =
      std::find(features->qdiscs.begin(), features->qdiscs.end(), "netem") !=
      features->qdiscs.end();
  if (has_netem) {
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(*net_.ListQdiscs(a, "eth1"), linkemu::LayoutFor(*plan));
    ProcessResult r = RunIn(a, {"/bin/busybox", "ping", "-c", "3", "10.1.0.2"});
    EXPECT_EQ(r.exit_code, 0);
    std::cout << r.stdout_data;
  } else {
    std::cout << "netem: " << s << "\n";
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(absl::StrCat("set netem on ", a,
                                       ":eth1: this kernel has no sch_netem")));
  }
}

TEST_F(HostNetworkTest, DeleteNamespaceLeavesNothing) {
  const std::string a = Ns("a"), b = Ns("b");
  Pair(a, b);
  if (HasFailure()) return;
  ASSERT_TRUE(net_.ApplyQdiscs(a, "eth1", *linkemu::PlanForLinkParams([] {
                                 emu::v1::LinkParams p;
                                 p.set_rate_bps(10'000'000);
                                 return p;
                               }()))
                  .ok());
  ASSERT_TRUE(net_.DeleteNamespace(a).ok());
  EXPECT_THAT(*net_.ListNamespaces(prefix_), ElementsAre(b));
  // The kernel frees the namespace asynchronously; its veth's peer goes
  // with it.
  bool peer_gone = false;
  for (int i = 0; i < 100 && !peer_gone; ++i) {
    peer_gone = true;
    for (const auto& iface : Ifs(b)) {
      if (iface.name == "eth1") peer_gone = false;
    }
    if (!peer_gone) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(peer_gone);
  ASSERT_TRUE(net_.DeleteNamespace(b).ok());
  EXPECT_THAT(*net_.ListNamespaces(prefix_), IsEmpty());
}

// Threads working on different namespaces at once: every sysctl lands in
// its own namespace, none in the host's.
TEST_F(HostNetworkTest, ConcurrentCallsStayInTheirNamespace) {
  constexpr int kThreads = 8;
  const std::string host_ttl = ReadFile("/proc/sys/net/ipv4/ip_default_ttl");
  std::vector<std::string> ns;
  for (int i = 0; i < kThreads; ++i) {
    ns.push_back(Ns(absl::StrCat("t", i)));
    ASSERT_TRUE(net_.CreateNamespace(ns.back()).ok());
  }
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 20 && results[i].ok(); ++round) {
        results[i] = net_.SetSysctl(ns[i], "net.ipv4.ip_default_ttl",
                                    absl::StrCat(30 + i));
        if (results[i].ok()) {
          results[i] = net_.CreateVeth(
              {ns[i], absl::StrCat("x", round), "", 0},
              {ns[(i + 1) % kThreads], absl::StrCat("y", i, "-", round), "", 0},
              "conc");
        }
        if (results[i].ok()) results[i] = net_.ListInterfaces(ns[i]).status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    EXPECT_EQ(
        RunIn(ns[i], {"cat", "/proc/sys/net/ipv4/ip_default_ttl"}).stdout_data,
        absl::StrCat(30 + i, "\n"));
    EXPECT_EQ(Ifs(ns[i]).size(), 1u + 20 + 20) << ns[i];  // lo, x*, y*
  }
  EXPECT_EQ(ReadFile("/proc/sys/net/ipv4/ip_default_ttl"), host_ttl);
}

// Host `host` (1 or 2) of the v-th /30 in 10.100.0.0/16, as a CIDR.
std::string Subnet30(int v, int host) {
  const int base = v * 4 + host;
  return absl::StrCat("10.100.", base / 256, ".", base % 256, "/30");
}

// 100 namespaces, 150 veths, addresses, routes and TBF, the way a lab
// deploy would issue them; prints the time taken (not asserted).
TEST_F(HostNetworkTest, ScaleHundredNamespaces) {
  constexpr int kNamespaces = 100;
  constexpr int kVeths = 150;
  std::vector<std::string> ns;
  for (int i = 0; i < kNamespaces; ++i) {
    ns.push_back(Ns(absl::StrFormat("s%03d", i)));
  }
  emu::v1::LinkParams p;
  p.set_rate_bps(100'000'000);
  const linkemu::QdiscPlan tbf = *linkemu::PlanForLinkParams(p);

  const absl::Time start = absl::Now();
  for (const std::string& n : ns) ASSERT_TRUE(net_.CreateNamespace(n).ok());
  const absl::Time namespaces_done = absl::Now();
  for (int v = 0; v < kVeths; ++v) {
    // A ring, then chords: every namespace gets at least one veth.
    const std::string& x = ns[v % kNamespaces];
    const std::string& y =
        ns[(v < kNamespaces ? v + 1 : v * 7 + 3) % kNamespaces];
    const std::string xi = absl::StrCat("v", v, "a");
    const std::string yi = absl::StrCat("v", v, "b");
    absl::Status created =
        net_.CreateVeth({x, xi, "", 0}, {y, yi, "", 0}, "scale");
    ASSERT_TRUE(created.ok()) << created;
    // Veth v gets 10.100.0.0/30 + 4v: .1 on x's end, .2 on y's.
    absl::Status s = net_.SetAddresses(x, xi, {Subnet30(v, 1)});
    if (s.ok()) s = net_.SetAddresses(y, yi, {Subnet30(v, 2)});
    if (s.ok()) s = net_.ApplyQdiscs(x, xi, tbf);
    ASSERT_TRUE(s.ok()) << s;
  }
  for (int i = 0; i < kNamespaces; ++i) {
    // A route through the namespace's first veth.
    std::string gw = Subnet30(i, 2);
    gw.resize(gw.find('/'));
    absl::Status s = net_.ReplaceRoute(ns[i], {"default", gw, "", 0});
    if (s.ok()) s = net_.SetSysctl(ns[i], "net.ipv4.ip_forward", "1");
    ASSERT_TRUE(s.ok()) << s;
  }
  const absl::Time configured = absl::Now();
  for (const std::string& n : ns) ASSERT_TRUE(net_.DeleteNamespace(n).ok());
  const absl::Time deleted = absl::Now();
  std::cout << absl::StrFormat(
      "scale: %d namespaces in %s; + %d veths with addresses and TBF, %d "
      "routes and sysctls in %s; total %s; deleting all took %s\n",
      kNamespaces, absl::FormatDuration(namespaces_done - start), kVeths,
      kNamespaces, absl::FormatDuration(configured - namespaces_done),
      absl::FormatDuration(configured - start),
      absl::FormatDuration(deleted - configured));
  EXPECT_THAT(*net_.ListNamespaces(prefix_), IsEmpty());
}

}  // namespace
}  // namespace emu::agent
