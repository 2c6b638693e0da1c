#include "agent/guest/qemu_argv.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::guest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

GuestSpec Base() {
  GuestSpec s;
  s.name = "emu.lab1.vm1";
  s.image.kernel = "/img/vmlinuz";
  s.image.initrd = "/img/initrd.gz";
  s.image.append = "console=ttyS0";
  s.qmp_socket = "/run/q.sock";
  s.console_socket = "/run/c.sock";
  s.pid_file = "/run/q.pid";
  return s;
}

// The value following `flag` (first occurrence), or "" when absent.
std::string After(const std::vector<std::string>& argv,
                  const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  if (it == argv.end() || it + 1 == argv.end()) return "";
  return *(it + 1);
}

std::vector<std::string> AllAfter(const std::vector<std::string>& argv,
                                  const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  }
  return out;
}

TEST(BuildQemuArgv, Table) {
  struct Case {
    const char* what;
    bool kvm;
    uint32_t cpus;
    uint64_t mem;
    std::string accel, cpu, smp, m;
  };
  for (const Case& c : std::vector<Case>{
           {"tcg default", false, 1, 256, "tcg", "max", "1", "256"},
           {"kvm 4 cpus", true, 4, 1024, "kvm", "host", "4", "1024"},
           {"tcg 2 cpus", false, 2, 64, "tcg", "max", "2", "64"},
       }) {
    GuestSpec s = Base();
    s.kvm = c.kvm;
    s.cpus = c.cpus;
    s.memory_mib = c.mem;
    auto argv = BuildQemuArgv(s);
    ASSERT_TRUE(argv.ok()) << c.what << ": " << argv.status();
    EXPECT_EQ(After(*argv, "-accel"), c.accel) << c.what;
    EXPECT_EQ(After(*argv, "-cpu"), c.cpu) << c.what;
    EXPECT_EQ(After(*argv, "-smp"), c.smp) << c.what;
    EXPECT_EQ(After(*argv, "-m"), c.m) << c.what;
    EXPECT_EQ((*argv)[0], "qemu-system-x86_64");
    EXPECT_EQ(After(*argv, "-kernel"), "/img/vmlinuz");
    EXPECT_EQ(After(*argv, "-initrd"), "/img/initrd.gz");
    EXPECT_EQ(After(*argv, "-append"), "console=ttyS0");
    EXPECT_EQ(After(*argv, "-pidfile"), "/run/q.pid");
    EXPECT_EQ(After(*argv, "-qmp"), "unix:/run/q.sock,server=on,wait=off");
    EXPECT_EQ(After(*argv, "-chardev"),
              "socket,id=con0,path=/run/c.sock,server=on,wait=off");
    EXPECT_EQ(After(*argv, "-serial"), "chardev:con0");
  }
}

TEST(BuildQemuArgv, NicsInOrder) {
  GuestSpec s = Base();
  s.nics = {{"gt0", "02:00:00:00:00:01"}, {"gt1", "02:00:00:00:00:02"}};
  auto argv = BuildQemuArgv(s);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_THAT(AllAfter(*argv, "-netdev"),
              ElementsAre("tap,id=n0,ifname=gt0,script=no,downscript=no",
                          "tap,id=n1,ifname=gt1,script=no,downscript=no"));
  EXPECT_THAT(AllAfter(*argv, "-device"),
              ElementsAre("virtio-net-pci,netdev=n0,mac=02:00:00:00:00:01",
                          "virtio-net-pci,netdev=n1,mac=02:00:00:00:00:02"));
}

TEST(BuildQemuArgv, DiskAndOverlay) {
  GuestSpec s = Base();
  s.image.disk = "/img/root.raw";
  auto argv = BuildQemuArgv(s);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-drive"),
            "file=/img/root.raw,if=virtio,format=raw,snapshot=on");
  s.overlay = "/run/vm1.qcow2";
  argv = BuildQemuArgv(s);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-drive"),
            "file=/run/vm1.qcow2,if=virtio,format=qcow2");
  // A qcow2 base without an overlay keeps its format.
  s.overlay.clear();
  s.image.disk = "/img/root.qcow2";
  s.image.disk_format = "qcow2";
  argv = BuildQemuArgv(s);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-drive"),
            "file=/img/root.qcow2,if=virtio,format=qcow2,snapshot=on");
  s.image.disk.clear();
  argv = BuildQemuArgv(s);
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(After(*argv, "-drive"), "");
}

// A snapshot template: RAM in a shared file, a NIC with no backend; a
// restored guest: the same file mapped private, waiting for its state.
TEST(BuildQemuArgv, SnapshotTemplateAndRestore) {
  GuestSpec t = Base();
  t.memory_mib = 192;
  t.memory_file = "/var/lib/emu/snapshots/k/ram";
  t.memory_shared = true;
  t.nics = {{"", "02:e0:00:00:00:01"}};
  auto a = BuildQemuArgv(t);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(After(*a, "-object"),
            "memory-backend-file,id=ram0,size=192M,mem-path=/var/lib/emu/"
            "snapshots/k/ram,share=on");
  EXPECT_EQ(After(*a, "-machine"), "memory-backend=ram0");
  EXPECT_THAT(AllAfter(*a, "-device"),
              ElementsAre("virtio-net-pci,mac=02:e0:00:00:00:01"));
  EXPECT_TRUE(AllAfter(*a, "-netdev").empty());
  EXPECT_EQ(After(*a, "-incoming"), "");

  GuestSpec r = t;
  r.memory_shared = false;
  r.incoming = true;
  r.nics = {{"gt0", "02:e0:00:00:00:01"}};
  a = BuildQemuArgv(r);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(After(*a, "-object"), HasSubstr(",share=off"));
  EXPECT_EQ(After(*a, "-incoming"), "defer");
  EXPECT_THAT(AllAfter(*a, "-netdev"),
              ElementsAre("tap,id=n0,ifname=gt0,script=no,downscript=no"));

  GuestSpec plain = Base();
  a = BuildQemuArgv(plain);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(After(*a, "-object"), "");
  EXPECT_EQ(After(*a, "-incoming"), "");
}

TEST(BuildQemuArgv, Rejects) {
  struct Case {
    const char* what;
    void (*mutate)(GuestSpec&);
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"no kernel", [](GuestSpec& s) { s.image.kernel.clear(); },
            "no kernel"},
           {"no qmp", [](GuestSpec& s) { s.qmp_socket.clear(); }, "QMP"},
           {"no console", [](GuestSpec& s) { s.console_socket.clear(); },
            "console"},
           {"no pid file", [](GuestSpec& s) { s.pid_file.clear(); },
            "pid file"},
           {"0 cpus", [](GuestSpec& s) { s.cpus = 0; }, "cpus"},
           {"tiny memory", [](GuestSpec& s) { s.memory_mib = 16; }, "memory"},
           {"nic without mac",
            [](GuestSpec& s) {
              s.nics = {{"gt0", ""}};
            },
            "NIC 0"},
       }) {
    GuestSpec s = Base();
    c.mutate(s);
    auto argv = BuildQemuArgv(s);
    ASSERT_FALSE(argv.ok()) << c.what;
    EXPECT_EQ(argv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(argv.status().message(), HasSubstr(c.message)) << c.what;
    EXPECT_THAT(argv.status().message(), HasSubstr("emu.lab1.vm1")) << c.what;
  }
}

TEST(ParseImageConf, RelativeAndAbsolutePaths) {
  auto image = ParseImageConf("/var/lib/emu/images/default",
                              "script_version=4\nkernel=vmlinuz\n"
                              "initrd=/abs/initrd.gz\n# comment\n"
                              "append=console=ttyS0 quiet\n");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->kernel, "/var/lib/emu/images/default/vmlinuz");
  EXPECT_EQ(image->initrd, "/abs/initrd.gz");
  EXPECT_EQ(image->append, "console=ttyS0 quiet");
  EXPECT_EQ(image->disk, "");
}

TEST(ParseImageConf, ConsoleModes) {
  auto shell = ParseImageConf("/d", "kernel=k\n");
  ASSERT_TRUE(shell.ok());
  EXPECT_EQ(shell->console, "shell");
  auto none =
      ParseImageConf("/d", "kernel=k\nconsole=none\nready_text=login: \n");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->console, "none");
  EXPECT_EQ(none->ready_text, "login:");  // stripped like every line
  auto bad = ParseImageConf("/d", "kernel=k\nconsole=serial\n");
  EXPECT_THAT(bad.status().message(), HasSubstr("/d/image.conf:2"));
}

TEST(ParseImageConf, DiskFormat) {
  auto raw = ParseImageConf("/d", "kernel=k\ndisk=disk.raw\n");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->disk, "/d/disk.raw");
  EXPECT_EQ(raw->disk_format, "raw");
  auto qcow = ParseImageConf("/d", "kernel=k\ndisk=b.qcow2\ndisk_format=qcow2\n");
  ASSERT_TRUE(qcow.ok());
  EXPECT_EQ(qcow->disk_format, "qcow2");
  auto bad = ParseImageConf("/d", "kernel=k\ndisk=x\ndisk_format=vmdk\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("/d/image.conf:3"));
  EXPECT_THAT(bad.status().message(), HasSubstr("vmdk"));
}

TEST(ParseImageConf, Errors) {
  auto no_kernel = ParseImageConf("/d", "initrd=x\n");
  EXPECT_EQ(no_kernel.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_line = ParseImageConf("/d", "kernel=k\njunk\n");
  EXPECT_THAT(bad_line.status().message(), HasSubstr("/d/image.conf:2"));
}

TEST(GuestMac, StableLocalUnicastAndDistinct) {
  std::string a = GuestMac("lab", "vm1", "eth1");
  EXPECT_EQ(a, GuestMac("lab", "vm1", "eth1"));
  EXPECT_EQ(a.size(), 17u);
  EXPECT_EQ(a.substr(0, 3), "02:");
  EXPECT_NE(a, GuestMac("lab", "vm1", "eth2"));
  EXPECT_NE(a, GuestMac("lab", "vm2", "eth1"));
  EXPECT_NE(GuestMac("la", "bvm1", "eth1"), GuestMac("lab", "vm1", "eth1"));
}

}  // namespace
}  // namespace emu::agent::guest
