// Guest snapshots: boot an image once per host and shape, save the running
// guest (QEMU migration to a file, RAM in a file of its own), and start
// further guests of that shape by restoring it (docs/guests.md,
// "Snapshots"). This file holds the pure part: what a snapshot depends on,
// where it lives, whether a guest is restored, made a snapshot for, or cold
// booted, and the script that gives a restored guest its own identity. The
// file system is behind SnapshotFs so the decision is unit tested.
//
// A snapshot is a directory <root>/<key>/ holding `ram` (the template's
// guest RAM, never modified once saved: restored guests map it private,
// copy on write), `state` (the device state, `migrate exec:cat > state`
// with x-ignore-shared, so without the RAM) and `meta` (the identity it was
// made for; written last, so a snapshot without meta is incomplete).
//
// Stateless; thread-safe.
#ifndef EMU_AGENT_GUEST_GUEST_SNAPSHOT_H_
#define EMU_AGENT_GUEST_GUEST_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/guest/qemu_argv.h"

namespace emu::agent::guest {

// What makes a saved guest restorable into a new QEMU: the same machine
// (memory, vCPUs, NIC count and model, accelerator, QEMU binary) booted
// from the same kernel, initramfs and command line.
struct SnapshotShape {
  std::string image_dir;
  uint32_t cpus = 1;
  uint64_t memory_mib = 256;
  size_t nics = 0;
  bool kvm = false;
  std::string qemu_binary = "qemu-system-x86_64";
};

// The snapshot's directory name: 16 hex digits of the shape.
std::string SnapshotKey(const SnapshotShape& shape);

// The OS side of the decision.
class SnapshotFs {
 public:
  virtual ~SnapshotFs() = default;
  // The file's contents; NOT_FOUND when it does not exist.
  virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // "<inode> <size> <mtime>" of a file (a program name without '/' is
  // looked up on PATH), "" when missing: an image rebuild or a QEMU
  // upgrade changes it.
  virtual std::string FileIdentity(const std::string& path) = 0;
};

class PosixSnapshotFs : public SnapshotFs {
 public:
  absl::StatusOr<std::string> Read(const std::string& path) override;
  bool Exists(const std::string& path) override;
  std::string FileIdentity(const std::string& path) override;
};

enum class BootMode {
  kRestore,       // a valid snapshot exists: restore it
  kMakeSnapshot,  // none (or a stale one): make it, then restore
  kColdBoot,      // a restore cannot serve: boot the kernel
};

struct BootDecision {
  BootMode mode = BootMode::kColdBoot;
  std::string reason;    // why (for kColdBoot / kMakeSnapshot)
  std::string dir;       // <root>/<key>
  std::string identity;  // what `meta` must hold for a restore
};

// `enabled`: the agent's --guest_snapshots. `root`: where snapshots live.
BootDecision DecideBoot(bool enabled, const std::string& root,
                        const GuestImage& image, const SnapshotShape& shape,
                        SnapshotFs& fs);

// The MAC of NIC `index` in a template (what a restored guest's NIC has
// until the identity script sets its own).
std::string TemplateMac(size_t index);

// Run in a restored guest before its configuration (GuestConfigScript):
// sets the wall clock to `now` (the guest's stopped at the save), mixes
// `seed` (random bytes, hex) into its entropy pool (every restored guest
// starts from the same pool), and gives NIC i the MAC macs[i] (it has
// TemplateMac(i); all are found first, then set, so a wanted MAC equal to
// another NIC's template MAC cannot confuse the lookup). QEMU's side of
// the MAC follows: virtio-net's control queue (VIRTIO_NET_CTRL_MAC_ADDR_SET)
// updates the device's MAC and its receive filter.
std::string RestoreIdentityScript(const std::vector<std::string>& macs,
                                  absl::Time now, const std::string& seed);

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_GUEST_SNAPSHOT_H_
