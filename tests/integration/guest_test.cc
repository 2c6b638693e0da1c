// QEMU guests end to end against the real kernel and real QEMU (TCG on
// machines without usable KVM): the agent's Reconciler with LibnlHostNetwork
// and GuestManager boots two guests of the default image
// (deploy/images/build_default.sh, built once under /var/lib/emu/images),
// links them to each other and to a netns node (one link shaped with TBF on
// the host, one with NetEm inside the sending guest: an agent without the
// userspace engine), pings across, runs commands through the console,
// survives an "agent restart" (a fresh GuestManager), and leaves nothing
// behind after Destroy. A second case gives the agent the userspace engine:
// a guest's link is then two engine TAPs in both directions.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/guest/guest_manager.h"
#include "agent/guest/qemu_driver.h"
#include "agent/guest/socket_console.h"
#include "agent/impair/engine_links.h"
#include "agent/tunnel/tunnel_manager.h"
#include "linkemu/impair/link_engine.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/net/libnl_host_network.h"
#include "agent/net/namespace_processes.h"
#include "agent/reconcile/reconciler.h"
#include "common/process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace emu::agent {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kImage[] = "/var/lib/emu/images/default";

double AvgRttMs(const std::string& ping_output) {
  // busybox and iputils: "min/avg/max... = 20.1/20.5/21.0"
  // RE2, as for all command output in the project (linear, no recursion).
  std::string avg;
  if (!RE2::PartialMatch(ping_output, R"(= [0-9.]+/([0-9.]+)/)", &avg)) {
    return -1;
  }
  return std::stod(avg);
}

class GuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (stat(absl::StrCat(kImage, "/image.conf").c_str(), &st) != 0) {
      // Builds from Debian packages once (about 20 s), as setup.sh does.
      ASSERT_EQ(std::system("deploy/images/build_default.sh"), 0)
          << "could not build the default guest image";
    }
    base_ = absl::StrCat("/tmp/emu-guest-test-", getpid());
    mkdir(base_.c_str(), 0700);
    auto store = reconcile::LabSpecStore::Open(base_ + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::make_unique<reconcile::LabSpecStore>(*std::move(store));
    auto features = net_.ProbeKernel();
    ASSERT_TRUE(features.ok()) << features.status();
    features_ = *features;
    mkdir((base_ + "/img-none").c_str(), 0700);
    std::ofstream conf(base_ + "/img-none/image.conf");
    conf << "kernel=" << kImage << "/vmlinuz\ninitrd=" << kImage
         << "/initrd.gz\nappend=console=ttyS0 quiet panic=-1 rdinit=/init\n"
            "console=none\nready_text=#\n";
    conf.close();
    NewAgent();
  }

  void TearDown() override {
    if (rec_ != nullptr) rec_->Destroy(lab_).IgnoreError();
    std::system(absl::StrCat("rm -rf ", base_).c_str());
  }

  // A fresh GuestManager + Reconciler: what a restarted agent has;
  // `with_engine`: an agent running the userspace engine (emu-agent's
  // default), else one with --engine_threads=0.
  void NewAgent(bool with_engine = false) {
    guest::GuestManager::Options o;
    // Parents missing, as /run/emu on a fresh host: the manager makes them.
    o.run_dir = base_ + "/run/emu/guests";
    o.image_root = "/var/lib/emu/images";
    o.boot_timeout = absl::Seconds(90);
    // The cases above test cold boots; the snapshot cases turn them on,
    // with snapshots of their own under base_.
    o.snapshots = snapshots_;
    o.snapshot_dir = snapshot_dir_.empty() ? base_ + "/lib/emu/snap" : snapshot_dir_;
    rec_.reset();
    engine_links_.reset();
    engine_.reset();
    if (with_engine) {
      auto engine = linkemu::LinkEngine::Create({});
      ASSERT_TRUE(engine.ok()) << engine.status();
      engine_ = *std::move(engine);
      engine_links_ =
          std::make_unique<impair::EngineLinks>(engine_.get(), &taps_);
    }
    guests_ = std::make_unique<guest::GuestManager>(host_, &launcher_, o);
    rec_ = std::make_unique<reconcile::Reconciler>(
        host_, &net_, &launcher_, &procs_, store_.get(), features_, nullptr,
        engine_links_.get());
    qemu_ = std::make_unique<emu::agent::guest::QemuDriver>(host_, guests_.get(),
                                                        &net_);
    rec_->AddDriver(qemu_.get());
  }

  emu::v1::ApplyLabRequest Spec() {
    emu::v1::ApplyLabRequest req;
    req.set_lab(lab_);
    auto node = [&](const std::string& name, bool guest) {
      auto* n = req.add_nodes();
      n->set_name(name);
      n->set_kind(guest ? emu::v1::NODE_KIND_QEMU : emu::v1::NODE_KIND_NETNS);
      return n;
    };
    auto iface = [](emu::v1::Node* n, const std::string& name,
                    const std::string& addr) {
      auto* i = n->add_interfaces();
      i->set_name(name);
      i->add_addresses(addr);
    };
    auto* vm1 = node("vm1", true);
    iface(vm1, "eth1", "10.77.1.1/24");
    iface(vm1, "lan0", "10.77.2.2/24");
    auto* vm2 = node("vm2", true);
    iface(vm2, "eth1", "10.77.1.2/24");
    vm2->mutable_resources()->set_memory_mib(192);
    vm2->add_cpu_set(sysconf(_SC_NPROCESSORS_ONLN) - 1);  // pinned vCPU
    // An image emu cannot script (console=none): running, not configured.
    auto* vm3 = node("vm3", true);
    vm3->set_image(base_ + "/img-none");
    vm3->mutable_resources()->set_memory_mib(128);
    auto* ns1 = node("ns1", false);
    iface(ns1, "eth1", "10.77.2.1/24");
    auto* r = ns1->add_routes();
    r->set_destination("10.77.1.0/24");
    r->set_via("10.77.2.2");
    (*vm1->mutable_sysctls())["net.ipv4.ip_forward"] = "1";
    auto* r2 = vm2->add_routes();
    r2->set_destination("10.77.2.0/24");
    r2->set_via("10.77.1.1");
    // vm1 -> vm2: 20 ms NetEm, programmed inside vm1 (the host has none),
    // with a normal-distributed 0.5 ms jitter: the distribution reaches
    // the guest's tc line (its table from the image; tc fails without).
    auto* l1 = req.add_links();
    l1->mutable_a()->set_node("vm1");
    l1->mutable_a()->set_interface("eth1");
    l1->mutable_b()->set_node("vm2");
    l1->mutable_b()->set_interface("eth1");
    l1->mutable_a_to_b()->set_delay_us(20000);
    l1->mutable_a_to_b()->set_jitter_us(500);
    l1->mutable_a_to_b()->set_delay_distribution(
        emu::v1::DELAY_DISTRIBUTION_NORMAL);
    // ns1 <-> vm1: 10 Mbit/s TBF on both ends' host side.
    auto* l2 = req.add_links();
    l2->mutable_a()->set_node("ns1");
    l2->mutable_a()->set_interface("eth1");
    l2->mutable_b()->set_node("vm1");
    l2->mutable_b()->set_interface("lan0");
    l2->mutable_a_to_b()->set_rate_bps(10000000);
    l2->mutable_b_to_a()->set_rate_bps(10000000);
    return req;
  }

  emu::v1::ExecResponse Exec(const std::string& node,
                             std::vector<std::string> argv,
                             int timeout_ms = 30000) {
    emu::v1::ExecRequest req;
    req.set_lab(lab_);
    req.set_node(node);
    for (auto& a : argv) req.add_argv(a);
    req.set_timeout_ms(timeout_ms);
    auto r = rec_->Exec(req);
    EXPECT_TRUE(r.ok()) << node << ": " << r.status();
    return r.ok() ? *r : emu::v1::ExecResponse();
  }

  bool snapshots_ = false;
  std::string snapshot_dir_;
  const std::string host_ = absl::StrCat("gt", getpid());
  const std::string lab_ = absl::StrCat("guests", getpid());
  std::string base_;
  net::LibnlHostNetwork net_;
  PosixProcessLauncher launcher_;
  net::ProcNamespaceProcesses procs_;
  std::unique_ptr<reconcile::LabSpecStore> store_;
  net::HostNetwork::KernelFeatures features_;
  tunnel::LinuxTapOpener taps_;
  std::unique_ptr<linkemu::LinkEngine> engine_;
  std::unique_ptr<impair::EngineLinks> engine_links_;
  std::unique_ptr<guest::GuestManager> guests_;
  std::unique_ptr<emu::agent::guest::QemuDriver> qemu_;
  std::unique_ptr<reconcile::Reconciler> rec_;
};

TEST_F(GuestTest, TwoGuestsAndANamespaceEndToEnd) {
  absl::Time t0 = absl::Now();
  absl::Status s = rec_->Apply(Spec(), [](const emu::v1::ApplyLabEvent& e) {
    std::cout << "event " << e.object() << ": " << e.detail() << "\n";
  });
  ASSERT_TRUE(s.ok()) << s;
  std::cout << "lab with 2 guests ready in " << absl::Now() - t0 << "\n";

  // console=none: exec is refused with the reason.
  {
    emu::v1::ExecRequest req;
    req.set_lab(lab_);
    req.set_node("vm3");
    req.add_argv("true");
    auto none = rec_->Exec(req);
    EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(none.status().message(), HasSubstr("console=none"));
  }

  // Names by MAC, hostname, addresses, routes, sysctls came from the
  // topology through the console.
  auto r = Exec("vm1", {"sh", "-c",
                        "hostname; cat /proc/sys/net/ipv4/ip_forward; "
                        "ip -br addr show lan0"});
  EXPECT_EQ(r.exit_code(), 0) << r.stderr();
  EXPECT_THAT(r.stdout(), HasSubstr("vm1\n1\n"));
  EXPECT_THAT(r.stdout(), HasSubstr("10.77.2.2/24"));

  // Exit statuses, stdout/stderr, and output that looks like a prompt or a
  // marker.
  r = Exec("vm2", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_EQ(r.stdout(), "out\n");
  EXPECT_EQ(r.stderr(), "err\n");
  r = Exec("vm2", {"printf", "(none):/# \\n# \\n__EMU_0123456789abcdef_0__\\n"});
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.stdout(), "(none):/# \n# \n__EMU_0123456789abcdef_0__\n");
  r = Exec("vm2", {"sleep", "10"}, 1000);
  EXPECT_TRUE(r.timed_out());
  r = Exec("vm2", {"echo", "after timeout"});
  EXPECT_EQ(r.stdout(), "after timeout\n");

  // Traffic: netns -> guest (TBF link), netns -> routed through vm1 -> vm2.
  r = Exec("ns1", {"ping", "-c", "3", "-i", "0.2", "-W", "5", "10.77.2.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  r = Exec("ns1", {"ping", "-c", "3", "-i", "0.2", "-W", "5", "10.77.1.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();

  // NetEm inside vm1: vm2's pings to vm1 come back 20 ms late.
  r = Exec("vm1", {"tc", "qdisc", "show", "dev", "eth1"});
  EXPECT_THAT(r.stdout(), HasSubstr("netem"));
  EXPECT_THAT(r.stdout(), HasSubstr("delay 20ms"));
  EXPECT_THAT(r.stdout(), ContainsRegex("delay 20ms +(499|500)us"));
  r = Exec("vm2", {"ping", "-c", "5", "-i", "0.2", "10.77.1.1"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  double with_delay = AvgRttMs(r.stdout());
  std::cout << "vm2 -> vm1 RTT with 20 ms netem on vm1: " << with_delay
            << " ms\n";
  EXPECT_GE(with_delay, 18.0);  // 20 ms, jitter 0.5 ms: 4 sigma below
  EXPECT_LT(with_delay, 200.0);
  // Changing the link in place (SetLinkParams) re-programs the guest's
  // qdisc: no delay any more.
  emu::v1::SetLinkParamsRequest change;
  change.set_lab(lab_);
  change.mutable_a()->set_node("vm1");
  change.mutable_a()->set_interface("eth1");
  change.mutable_b()->set_node("vm2");
  change.mutable_b()->set_interface("eth1");
  absl::Status cs = rec_->SetLinkParams(change);
  ASSERT_TRUE(cs.ok()) << cs;
  r = Exec("vm1", {"tc", "qdisc", "show", "dev", "eth1"});
  EXPECT_THAT(r.stdout(), Not(HasSubstr("netem"))) << r.stdout();
  auto spec = Spec();
  spec.mutable_links(0)->mutable_a_to_b()->Clear();  // as `change` did
  r = Exec("vm2", {"ping", "-c", "5", "-i", "0.2", "10.77.1.1"});
  double without = AvgRttMs(r.stdout());
  std::cout << "vm2 -> vm1 RTT without netem: " << without << " ms\n";
  EXPECT_LT(without, with_delay - 15.0);

  // A restarted agent finds the running guests: no reboot, exec works.
  auto before = guests_->List(lab_);
  NewAgent();
  absl::Time t1 = absl::Now();
  ASSERT_TRUE(rec_->Apply(spec, [](const emu::v1::ApplyLabEvent&) {}).ok());
  std::cout << "re-apply after agent restart: " << absl::Now() - t1 << "\n";
  auto after = guests_->List(lab_);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].name(), after[i].name());  // same QEMU pids
  }
  r = Exec("vm1", {"hostname"});
  EXPECT_EQ(r.stdout(), "vm1\n");

  // vm2's vCPU thread is pinned to the last host CPU.
  {
    std::string last = absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN) - 1);
    auto res = guests_->List(lab_);
    std::string vm2_pid;
    for (const auto& x : res) {
      if (x.node() == "vm2" && x.kind() == emu::v1::OwnedResource::PROCESS) {
        vm2_pid = x.name().substr(5);
      }
    }
    ASSERT_FALSE(vm2_pid.empty());
    // QEMU's threads: exactly the vCPU thread (named "CPU 0/TCG" or
    // "CPU 0/KVM" with debug-threads=on) is limited to `last`.
    int pinned = 0;
    DIR* d = opendir(absl::StrCat("/proc/", vm2_pid, "/task").c_str());
    ASSERT_NE(d, nullptr);
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream st(absl::StrCat("/proc/", vm2_pid, "/task/", e->d_name,
                                    "/status"));
      std::string line, name, allowed;
      while (std::getline(st, line)) {
        if (line.rfind("Name:", 0) == 0) name = line;
        if (line.rfind("Cpus_allowed_list:", 0) == 0) allowed = line;
      }
      bool only_last = absl::EndsWith(allowed, "\t" + last);
      if (name.find("CPU 0/") != std::string::npos) {
        EXPECT_TRUE(only_last) << name << " " << allowed;
      }
      if (only_last && sysconf(_SC_NPROCESSORS_ONLN) > 1) ++pinned;
    }
    closedir(d);
    EXPECT_EQ(pinned, 1);
  }

  // ListResources reports QEMU; Destroy removes everything.
  auto res = rec_->ListResources(lab_);
  ASSERT_TRUE(res.ok());
  int qemus = 0;
  std::vector<int> pids;
  for (const auto& x : res->resources()) {
    if (x.kind() == emu::v1::OwnedResource::PROCESS &&
        x.name().rfind("qemu ", 0) == 0) {
      ++qemus;
      pids.push_back(std::stoi(x.name().substr(5)));
    }
  }
  EXPECT_EQ(qemus, 3);
  ASSERT_TRUE(rec_->Destroy(lab_).ok());
  res = rec_->ListResources(lab_);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->resources_size(), 0);
  for (int pid : pids) {
    // IsRunning reaps our own exited children (a zombie answers kill 0). A
    // killed QEMU may take a moment to finish exiting: wait, bounded.
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (launcher_.IsRunning(pid) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_FALSE(launcher_.IsRunning(pid)) << "QEMU " << pid << " still there";
  }
  EXPECT_TRUE(guests_->List("").empty());
}

// A guest's link served by the userspace engine in both directions (this
// host has no sch_netem): ns1 -> vm1 10 ms, vm1 -> ns1 30 ms. The guest's
// end is an engine TAP in its namespace joined to its NIC as a veth would
// be; ping's RTT carries both delays, and nothing is programmed inside the
// guest.
TEST_F(GuestTest, AGuestLinkIsShapedByTheEngineBothWays) {
  NewAgent(/*with_engine=*/true);
  emu::v1::ApplyLabRequest req;
  req.set_lab(lab_);
  auto* vm1 = req.add_nodes();
  vm1->set_name("vm1");
  vm1->set_kind(emu::v1::NODE_KIND_QEMU);
  vm1->mutable_resources()->set_memory_mib(128);
  auto* i = vm1->add_interfaces();
  i->set_name("eth1");
  i->add_addresses("10.77.3.2/24");
  auto* ns1 = req.add_nodes();
  ns1->set_name("ns1");
  ns1->set_kind(emu::v1::NODE_KIND_NETNS);
  i = ns1->add_interfaces();
  i->set_name("eth1");
  i->add_addresses("10.77.3.1/24");
  auto* l = req.add_links();
  l->mutable_a()->set_node("ns1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("vm1");
  l->mutable_b()->set_interface("eth1");
  l->mutable_a_to_b()->set_delay_us(10'000);
  l->mutable_b_to_a()->set_delay_us(30'000);  // what the guest sends
  // auto picks the engine on a host without sch_netem (these); elsewhere
  // ask for it.
  if (std::find(features_.qdiscs.begin(), features_.qdiscs.end(), "netem") !=
      features_.qdiscs.end()) {
    req.set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  }
  bool by_engine = false;
  absl::Status s = rec_->Apply(req, [&](const emu::v1::ApplyLabEvent& e) {
    std::cout << "event " << e.object() << ": " << e.detail() << "\n";
    by_engine = by_engine || e.detail().find("userspace engine") !=
                                 std::string::npos;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(by_engine);
  auto r = Exec("vm1", {"tc", "qdisc", "show", "dev", "eth1"});
  EXPECT_THAT(r.stdout(), Not(HasSubstr("netem"))) << r.stdout();
  // The first reply may wait for ARP both ways: 6 probes, the mean of all.
  r = Exec("ns1", {"ping", "-c", "6", "-i", "0.2", "-W", "5", "10.77.3.2"});
  ASSERT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  const double rtt = AvgRttMs(r.stdout());
  std::cout << "ns1 -> vm1 RTT through the engine (10 + 30 ms): " << rtt
            << " ms\n";
  EXPECT_GE(rtt, 40.0);   // both directions delayed: one alone gives 10 or 30
  EXPECT_LT(rtt, 300.0);  // a TCG guest on a busy host, not a lost link
  ASSERT_TRUE(rec_->Destroy(lab_).ok());
  auto res = rec_->ListResources(lab_);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->resources_size(), 0);
}

}  // namespace
}  // namespace emu::agent

namespace emu::agent {
namespace {

// Two guests of one shape linked to each other: the snapshot is made once
// (a template boot), both are restored from it, and each has its own
// hostname, MACs (in the guest and in QEMU's device) and addresses, and
// reaches the other over their link.
emu::v1::ApplyLabRequest PairSpec(const std::string& lab) {
  emu::v1::ApplyLabRequest req;
  req.set_lab(lab);
  for (int k = 1; k <= 2; ++k) {
    auto* n = req.add_nodes();
    n->set_name(absl::StrCat("vm", k));
    n->set_kind(emu::v1::NODE_KIND_QEMU);
    n->mutable_resources()->set_memory_mib(128);
    auto* i = n->add_interfaces();
    i->set_name("eth1");
    i->add_addresses(absl::StrCat("198.18.150.", k, "/24"));
    if (k == 2) i->set_mac("02:aa:00:00:15:02");  // the topology's own
  }
  auto* l = req.add_links();
  l->mutable_a()->set_node("vm1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("vm2");
  l->mutable_b()->set_interface("eth1");
  return req;
}

std::string BootDetail(guest::GuestManager& guests, const std::string& lab,
                       const std::string& node) {
  for (const auto& r : guests.List(lab)) {
    if (r.node() == node && r.kind() == emu::v1::OwnedResource::STATE_FILE) {
      return r.detail();
    }
  }
  return "(no guest)";
}

TEST_F(GuestTest, RestoredGuestsGetTheirOwnIdentity) {
  snapshots_ = true;
  NewAgent();
  absl::Time t0 = absl::Now();
  absl::Status s = rec_->Apply(PairSpec(lab_), [](const emu::v1::ApplyLabEvent& e) {
    std::cout << "event " << e.object() << ": " << e.detail() << "\n";
  });
  ASSERT_TRUE(s.ok()) << s;
  std::cout << "2 guests (snapshot made, then restored) in " << absl::Now() - t0
            << "\n";
  // One snapshot for the shape, complete.
  int snapshots = 0;
  std::string snap;
  if (DIR* d = opendir((base_ + "/lib/emu/snap").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ++snapshots;
      snap = absl::StrCat(base_, "/lib/emu/snap/", e->d_name);
    }
    closedir(d);
  }
  ASSERT_EQ(snapshots, 1);
  struct stat st;
  for (const char* f : {"/ram", "/state", "/meta"}) {
    EXPECT_EQ(stat((snap + f).c_str(), &st), 0) << snap << f;
  }
  const std::string want_mac[3] = {"", guest::GuestMac(lab_, "vm1", "eth1"),
                                   "02:aa:00:00:15:02"};
  guest::UnixQmpClient qmp;
  for (int k = 1; k <= 2; ++k) {
    const std::string node = absl::StrCat("vm", k);
    EXPECT_THAT(BootDetail(*guests_, lab_, node), HasSubstr("restored"))
        << node;
    auto r = Exec(node, {"sh", "-c",
                         "hostname; cat /sys/class/net/eth1/address; "
                         "ip -4 -br addr show eth1"});
    EXPECT_EQ(r.exit_code(), 0) << r.stderr();
    EXPECT_THAT(r.stdout(), HasSubstr(absl::StrCat(node, "\n", want_mac[k],
                                                   "\n")));
    EXPECT_THAT(r.stdout(), HasSubstr(absl::StrCat("198.18.150.", k, "/24")));
    // QEMU's device took the MAC over (its receive filter matches).
    auto filter = qmp.Execute(guests_->DirFor(lab_, node) + "/qmp.sock",
                              "query-rx-filter", absl::Seconds(5));
    ASSERT_TRUE(filter.ok()) << filter.status();
    EXPECT_THAT(*filter, HasSubstr(absl::StrCat("\"main-mac\": \"",
                                                want_mac[k], "\"")));
    // The clock was set at the restore, not left at the save.
    r = Exec(node, {"date", "+%s"});
    ASSERT_FALSE(r.stdout().empty());
    EXPECT_NEAR(std::stol(r.stdout()), absl::ToUnixSeconds(absl::Now()), 30);
  }
  auto r = Exec("vm1", {"ping", "-c", "3", "-i", "0.2", "-W", "5",
                        "198.18.150.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  r = Exec("vm2", {"ping", "-c", "3", "-i", "0.2", "-W", "5",
                   "198.18.150.1"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();

  // A restart restores again (the snapshot exists now) and reconfigures.
  auto killed = guests_->Kill(lab_, "vm2");
  ASSERT_TRUE(killed.ok()) << killed.status();
  s = rec_->Apply(PairSpec(lab_), [](const emu::v1::ApplyLabEvent& e) {
    std::cout << "event " << e.object() << ": " << e.detail() << "\n";
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(BootDetail(*guests_, lab_, "vm2"), HasSubstr("restored"));
  EXPECT_THAT(BootDetail(*guests_, lab_, "vm2"), Not(HasSubstr("made")));
  r = Exec("vm1", {"ping", "-c", "2", "-i", "0.2", "-W", "5", "198.18.150.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();

  ASSERT_TRUE(rec_->Destroy(lab_).ok());
  EXPECT_TRUE(guests_->List("").empty());
  // The snapshot outlives the lab (a cache of the machine) until cleanup.
  EXPECT_EQ(stat((snap + "/meta").c_str(), &st), 0);
  EXPECT_EQ(guest::GuestManager::RemoveSnapshots(base_ + "/lib/emu/snap"), 1);
  EXPECT_NE(stat((base_ + "/lib/emu/snap").c_str(), &st), 0);
}

// No snapshot can be made (its directory cannot be created): the guests
// boot cold, work, and say why in their status detail.
TEST_F(GuestTest, ColdBootWhenNoSnapshotCanServe) {
  snapshots_ = true;
  snapshot_dir_ = base_ + "/not-a-dir/snap";
  std::ofstream(base_ + "/not-a-dir") << "a file\n";
  NewAgent();
  absl::Status s = rec_->Apply(PairSpec(lab_), [](const emu::v1::ApplyLabEvent& e) {
    std::cout << "event " << e.object() << ": " << e.detail() << "\n";
  });
  ASSERT_TRUE(s.ok()) << s;
  for (int k = 1; k <= 2; ++k) {
    const std::string node = absl::StrCat("vm", k);
    std::string detail = BootDetail(*guests_, lab_, node);
    EXPECT_THAT(detail, HasSubstr("cold boot")) << node;
    EXPECT_THAT(detail, HasSubstr("making a snapshot failed")) << node;
    auto r = Exec(node, {"hostname"});
    EXPECT_EQ(r.stdout(), node + "\n");
  }
  auto r = Exec("vm1", {"ping", "-c", "2", "-i", "0.2", "-W", "5",
                        "198.18.150.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  ASSERT_TRUE(rec_->Destroy(lab_).ok());
  EXPECT_TRUE(guests_->List("").empty());
}

}  // namespace
}  // namespace emu::agent
