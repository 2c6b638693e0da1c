// QEMU guests on two emulated hosts (namespaces on a bridge of the test's
// own, a real emu-agent in each): vm1 on host 0 and vm2 on host 1, joined
// by a cross-host link (TCP tunnel, TBF on host 1's end), and a netns node
// on host 0 linked to vm1. RemoteLinkEnd entries are built by hand, as the
// controller's placement sends them. Checks ping across the tunnel between
// the guests, routed netns -> vm1 -> vm2, exec statuses through the agents'
// RPC, `kill -9` of host 1's agent (its guest keeps running and is found
// again), and that DestroyLab leaves no QEMU and no guest directory.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/topology_names.h"
#include "tests/integration/emulated_hosts.h"

namespace emu {
namespace {

using emu::testing::EmulatedHosts;
using ::testing::HasSubstr;

class GuestCrossHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access("/var/lib/emu/images/default/image.conf", R_OK), 0)
        << "build the default guest image first: "
           "deploy/images/build_default.sh (guest_test does it too)";
    hosts_ = std::make_unique<EmulatedHosts>("gx", 2, "198.18.251");
    absl::Status s = hosts_->Create();
    ASSERT_TRUE(s.ok()) << s;
    for (int i = 0; i < 2; ++i) {
      s = hosts_->StartAgent(i);
      ASSERT_TRUE(s.ok()) << s;
    }
  }
  void TearDown() override {
    for (int i = 0; i < 2; ++i) Destroy(i).IgnoreError();
    hosts_.reset();
  }

  absl::Status Destroy(int host) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, hosts_->token());
    emu::v1::DestroyLabRequest req;
    req.set_lab(lab_);
    emu::v1::DestroyLabResponse resp;
    grpc::Status st = hosts_->Agent(host)->DestroyLab(&ctx, req, &resp);
    if (!st.ok()) return absl::InternalError(st.error_message());
    return absl::OkStatus();
  }

  emu::v1::Link CrossLink() {
    emu::v1::Link link;
    link.mutable_a()->set_node("vm1");
    link.mutable_a()->set_interface("eth1");
    link.mutable_b()->set_node("vm2");
    link.mutable_b()->set_interface("eth1");
    link.mutable_b_to_a()->set_rate_bps(20000000);  // TBF on host 1's TAP
    return link;
  }

  emu::v1::ApplyLabRequest Spec(int host) {
    emu::v1::ApplyLabRequest req;
    req.set_lab(lab_);
    auto* vm = req.add_nodes();
    vm->set_kind(emu::v1::NODE_KIND_QEMU);
    vm->set_name(host == 0 ? "vm1" : "vm2");
    auto* i = vm->add_interfaces();
    i->set_name("eth1");
    i->add_addresses(host == 0 ? "10.98.1.1/24" : "10.98.1.2/24");
    if (host == 0) {
      auto* lan = vm->add_interfaces();
      lan->set_name("lan0");
      lan->add_addresses("10.98.2.2/24");
      (*vm->mutable_sysctls())["net.ipv4.ip_forward"] = "1";
      auto* ns = req.add_nodes();
      ns->set_name("ns1");
      auto* e = ns->add_interfaces();
      e->set_name("eth1");
      e->add_addresses("10.98.2.1/24");
      auto* r = ns->add_routes();
      r->set_destination("10.98.1.0/24");
      r->set_via("10.98.2.2");
      auto* l = req.add_links();
      l->mutable_a()->set_node("ns1");
      l->mutable_a()->set_interface("eth1");
      l->mutable_b()->set_node("vm1");
      l->mutable_b()->set_interface("lan0");
    } else {
      auto* r = vm->add_routes();
      r->set_destination("10.98.2.0/24");
      r->set_via("10.98.1.1");
    }
    auto* rl = req.add_remote_links();
    *rl->mutable_link() = CrossLink();
    rl->set_local_is_a(host == 0);
    rl->set_peer_host(hosts_->HostName(1 - host));
    rl->set_peer_address(hosts_->TunnelAddress(1 - host));
    rl->set_listen(host == 0);
    rl->set_link_id(LinkName(rl->link()));
    return req;
  }

  absl::Status Apply(int host) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, hosts_->token());
    auto stub = hosts_->Agent(host);
    auto reader = stub->ApplyLab(&ctx, Spec(host));
    emu::v1::ApplyLabEvent e;
    while (reader->Read(&e)) {
      std::cout << "host " << host << ": " << e.object() << " " << e.detail()
                << "\n";
    }
    grpc::Status st = reader->Finish();
    if (!st.ok()) {
      return absl::InternalError(absl::StrCat("apply on host ", host, ": ",
                                              st.error_message()));
    }
    return absl::OkStatus();
  }

  emu::v1::ExecResponse Exec(int host, const std::string& node,
                             std::vector<std::string> argv,
                             grpc::Status* st = nullptr) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, hosts_->token());
    emu::v1::ExecRequest req;
    req.set_lab(lab_);
    req.set_node(node);
    for (auto& a : argv) req.add_argv(a);
    req.set_timeout_ms(30000);
    emu::v1::ExecResponse resp;
    grpc::Status s = hosts_->Agent(host)->Exec(&ctx, req, &resp);
    if (st != nullptr) *st = s;
    EXPECT_TRUE(s.ok() || st != nullptr) << node << ": " << s.error_message();
    return resp;
  }

  std::vector<std::string> QemuPids(int host) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, hosts_->token());
    emu::v1::ListResourcesRequest req;
    req.set_lab(lab_);
    emu::v1::ListResourcesResponse resp;
    grpc::Status s = hosts_->Agent(host)->ListResources(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> pids;
    for (const auto& r : resp.resources()) {
      if (r.kind() == emu::v1::OwnedResource::PROCESS &&
          r.name().rfind("qemu ", 0) == 0) {
        pids.push_back(r.name().substr(5));
      }
    }
    return pids;
  }

  std::unique_ptr<EmulatedHosts> hosts_;
  const std::string lab_ = absl::StrCat("gx", getpid());
};

TEST_F(GuestCrossHostTest, GuestsOnTwoHostsThroughTheTunnel) {
  absl::Time t0 = absl::Now();
  // Both hosts at once: each boots its guest while the tunnel connects.
  absl::Status s1;
  std::thread other([&] { s1 = Apply(1); });
  absl::Status s0 = Apply(0);
  other.join();
  ASSERT_TRUE(s0.ok()) << s0;
  ASSERT_TRUE(s1.ok()) << s1;
  std::cout << "two hosts, two guests ready in " << absl::Now() - t0 << "\n";

  auto r = Exec(0, "vm1", {"ping", "-c", "3", "-i", "0.3", "-W", "5",
                           "10.98.1.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  r = Exec(0, "ns1", {"ping", "-c", "3", "-i", "0.3", "-W", "5", "10.98.1.2"});
  EXPECT_EQ(r.exit_code(), 0) << r.stdout() << r.stderr();
  r = Exec(1, "vm2", {"sh", "-c", "hostname; echo oops >&2; exit 7"});
  EXPECT_EQ(r.exit_code(), 7);
  EXPECT_EQ(r.stdout(), "vm2\n");
  EXPECT_EQ(r.stderr(), "oops\n");
  r = Exec(1, "vm2", {"printf", "%s\\n", "# __EMU_ffffffffffffffff_0__"});
  EXPECT_EQ(r.stdout(), "# __EMU_ffffffffffffffff_0__\n");

  // kill -9 host 1's agent: its guest keeps running; the restarted agent
  // re-applies the saved spec, finds the same QEMU and its console again.
  auto before = QemuPids(1);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_TRUE(hosts_->KillAgent(1, SIGKILL).ok());
  ASSERT_TRUE(hosts_->StartAgent(1).ok());
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  grpc::Status st;
  do {
    r = Exec(1, "vm2", {"hostname"}, &st);
    if (st.ok() && r.exit_code() == 0) break;
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < deadline);
  EXPECT_EQ(r.stdout(), "vm2\n") << st.error_message();
  EXPECT_EQ(QemuPids(1), before);
  deadline = absl::Now() + absl::Seconds(30);
  do {
    r = Exec(0, "vm1", {"ping", "-c", "1", "-W", "2", "10.98.1.2"});
  } while (r.exit_code() != 0 && absl::Now() < deadline);
  EXPECT_EQ(r.exit_code(), 0) << "no ping across after the agent restart";

  std::vector<std::string> pids = QemuPids(0);
  for (const auto& p : QemuPids(1)) pids.push_back(p);
  ASSERT_EQ(pids.size(), 2u);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Destroy(i).ok());
  absl::SleepFor(absl::Milliseconds(200));
  for (const auto& p : pids) {
    // Gone, or a zombie waiting for its parent: host 1's QEMU outlived the
    // agent that started it, so it belongs to whoever reaps orphans here.
    std::ifstream stat(absl::StrCat("/proc/", p, "/stat"));
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');
    bool running = paren != std::string::npos && paren + 2 < line.size() &&
                   line[paren + 2] != 'Z';
    EXPECT_FALSE(running) << "QEMU " << p << " left after DestroyLab: "
                          << line;
  }
  EXPECT_TRUE(QemuPids(0).empty());
  EXPECT_TRUE(QemuPids(1).empty());
}

}  // namespace
}  // namespace emu
