// QEMU command lines for emu guests: a pure function from a guest's spec to
// the argv of qemu-system-x86_64, plus the guest image's description
// (<image dir>/image.conf, written by deploy/images/build_default.sh) and
// the deterministic MAC addresses guests get when the topology gives none.
//
// Stateless; thread-safe.
#ifndef EMU_AGENT_GUEST_QEMU_ARGV_H_
#define EMU_AGENT_GUEST_QEMU_ARGV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::agent::guest {

// A guest image: kernel + initramfs (+ optional disk), from image.conf.
struct GuestImage {
  std::string dir;     // the image's directory
  std::string kernel;  // absolute path
  std::string initrd;  // absolute path; empty = none
  std::string disk;    // absolute path of a base disk; empty = none
  // The base disk's format ("raw" or "qcow2"): what an overlay's backing
  // file is, or the drive's format when a guest runs without an overlay.
  std::string disk_format = "raw";
  std::string append;  // kernel command line
  // How emu drives the guest after boot: "shell" (a POSIX shell on ttyS0:
  // readiness probe, configuration, exec, NetEm inside) or "none" (an OS
  // emu cannot script, e.g. a router firmware: ready once `ready_text`
  // appears on the console, or once QEMU runs when that is empty; no
  // configuration, no exec).
  std::string console = "shell";
  std::string ready_text;
  // Informative (written by the recipes): the kernel's release and the
  // packages a recipe installed.
  std::string kernel_release;
  std::string packages;
};

// Parses image.conf ("key=value" lines: kernel, initrd, disk, disk_format,
// append;
// relative paths are relative to `dir`). INVALID_ARGUMENT names the line.
absl::StatusOr<GuestImage> ParseImageConf(const std::string& dir,
                                          absl::string_view text);

struct GuestNic {
  // TAP device in the node's namespace; empty = a NIC with no backend (a
  // snapshot template's: its device state is what a restored guest gets).
  std::string tap;
  std::string mac;  // "02:..."
};

struct GuestSpec {
  std::string name;  // QEMU -name (for ps), "emu.<lab>.<node>"
  std::string qemu_binary = "qemu-system-x86_64";
  bool kvm = false;   // -accel kvm (only when KVM is really usable)
  uint32_t cpus = 1;  // >= 1
  uint64_t memory_mib = 256;
  GuestImage image;
  // qcow2 overlay over image.disk that the guest writes to (kept for the
  // node's life); empty = the base disk with snapshot=on (writes discarded).
  std::string overlay;
  std::vector<GuestNic> nics;
  std::string qmp_socket;      // unix socket path, QEMU listens
  std::string console_socket;  // unix socket path of ttyS0, QEMU listens
  std::string pid_file;
  // Guest RAM in this file (a snapshot's, agent/guest/guest_snapshot.h)
  // instead of anonymous memory: `memory_shared` maps it shared (the
  // template whose RAM becomes the file), else private (copy on write: a
  // restored guest reads the template's pages from the page cache, shared
  // with every other guest restored from it, and copies only what it
  // writes). Empty = anonymous memory.
  std::string memory_file;
  bool memory_shared = false;
  // -incoming defer: QEMU waits for QMP migrate-incoming (a restore).
  bool incoming = false;
};

// INVALID_ARGUMENT when a required field is missing (kernel, sockets,
// pid file, cpus 0, memory < 64 MiB, NIC without MAC).
absl::StatusOr<std::vector<std::string>> BuildQemuArgv(const GuestSpec& spec);

// A locally administered unicast MAC derived from (lab, node, interface):
// stable across agent restarts and hosts, "02:xx:xx:xx:xx:xx".
std::string GuestMac(absl::string_view lab, absl::string_view node,
                     absl::string_view interface);

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_QEMU_ARGV_H_
