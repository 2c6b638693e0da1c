// GuestManager: runs the QEMU guests (node kind qemu) of this agent's labs.
//
// A guest node keeps its node namespace as its "patch panel": the link
// fabric (veth ends, tunnel TAP ends) arrives there under the topology's
// interface names exactly as for a netns node, and qdiscs on those ends
// shape the guest's traffic the same way. Inside that namespace, per guest
// NIC, a TAP "gt<i>" is joined to the link end by two tc mirred redirects
// (link end ingress -> TAP egress, TAP ingress -> link end egress): a wire,
// with no MAC learning or bridge-local addresses in the way. QEMU runs in
// the namespace, one process per guest (-accel kvm only when KVM is really
// usable, else tcg), with QMP and the first serial console on unix sockets.
//
// Everything of one guest lives in <run_dir>/<16 hex digits>/ (short, for
// unix socket paths): `owner` ("<host> <lab> <node>"), qemu.pid, qmp.sock,
// console.sock, console.log, qemu.log. The manager finds its guests by
// these directories, also after an agent restart (QEMU keeps running; the
// console is reconnected), so DestroyLab and ListResources see exactly what
// exists.
//
// Thread-safe. Borrowed pointers must outlive the manager.
#ifndef EMU_AGENT_GUEST_GUEST_MANAGER_H_
#define EMU_AGENT_GUEST_GUEST_MANAGER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/guest/console_session.h"
#include "agent/guest/socket_console.h"
#include "common/process_launcher.h"
#include "linkemu/qdisc_plan.h"
#include "agent/guest/guest_snapshot.h"
#include "agent/guest/qemu_argv.h"
#include "linkemu/impair/base_latency.h"
#include "proto/agent.pb.h"

namespace emu::agent::guest {

class GuestManager {
 public:
  struct Options {
    std::string run_dir = "/run/emu/guests";
    std::string image_root = "/var/lib/emu/images";  // <root>/<image>/
    std::string qemu_binary = "qemu-system-x86_64";
    std::string qemu_img_binary = "qemu-img";  // makes per-guest overlays
    bool kvm = false;  // Capabilities.kvm
    absl::Duration boot_timeout = absl::Seconds(90);
    uint32_t default_cpus = 1;
    uint64_t default_memory_mib = 256;
    // Guest snapshots (agent/guest/guest_snapshot.h): the first guest of an
    // image and shape makes one under snapshot_dir (a template booted once,
    // saved), every guest of that shape is restored from it; a restore that
    // fails within restore_timeout falls back to a cold boot.
    bool snapshots = true;
    std::string snapshot_dir = "/var/lib/emu/snapshots";
    absl::Duration restore_timeout = absl::Seconds(20);
  };
  using ProgressFn =
      std::function<void(const std::string& object, const std::string& detail)>;

  GuestManager(std::string host, ProcessLauncher* launcher, Options options);
  ~GuestManager();

  static bool IsGuest(const emu::v1::Node& node) {
    return node.kind() == emu::v1::NODE_KIND_QEMU;
  }

  // For every qemu node of `desired` (its namespace and link ends must
  // exist): joins TAPs to the link ends, starts QEMU when it is not running
  // (all guests boot in parallel), waits until each console answers, then
  // configures the guest (NIC names by MAC, hostname, sysctls, addresses,
  // routes). A guest that was running is reconfigured (idempotent).
  // DEADLINE_EXCEEDED naming the node and the last console lines when a
  // guest does not boot in time.
  absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                      const ProgressFn& progress);

  // True when (lab, node) has a guest directory on this host.
  bool Has(const std::string& lab, const std::string& node);

  // Runs argv (shell-quoted and joined) in the guest through its console.
  // FAILED_PRECONDITION when QEMU is not running.
  // `cancelled` (may be null): polled while the command runs; once true the
  // command is interrupted through the console (ShellSession::Run) and the
  // response has exit status 130.
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req,
      std::function<bool()> cancelled = nullptr);

  // The console of a running guest, for an interactive attach (the same
  // connection Exec uses). FAILED_PRECONDITION when QEMU is not running.
  absl::StatusOr<std::shared_ptr<SocketConsole>> ConsoleOf(
      const std::string& lab, const std::string& node);

  // Ends the guest's QEMU (QMP quit, then SIGKILL) and removes its
  // directory but for its disk overlay (what the guest wrote survives a
  // restart, as a disk survives a reboot), so that the next Ensure starts it
  // afresh. Returns the exit
  // reason QEMU logged ("" when none). NOT_FOUND when there is no such
  // guest.
  absl::StatusOr<std::string> Kill(const std::string& lab,
                                   const std::string& node);

  // Programs `plan` on `dev`'s egress inside the guest (needs its tc).
  absl::Status ApplyQdiscs(const std::string& lab, const std::string& node,
                           const std::string& dev,
                           const linkemu::QdiscPlan& plan);

  // The part of a link direction's path the guest `node` adds at its NIC
  // `interface` (NodeDriver::PathPart): half the minimum of ARP round trips
  // from the NIC's host-side TAP through QEMU and virtio to the guest's
  // kernel and back (linkemu/impair/arp_path_probe.h), for the
  // interface's IPv4 address (ArpProbeAddress). Measured the first time it
  // is asked for once the guest is ready, then kept for the guest's life
  // (a restarted guest is measured anew), also when it could not be
  // measured (the part then says why: no IPv4 address, no reply).
  linkemu::BasePart NicPathPart(const emu::v1::ApplyLabRequest& desired,
                                const emu::v1::Node& node,
                                const std::string& interface);

  // Ends the lab's QEMU processes (QMP quit, then SIGKILL) and removes their
  // directories; returns how many guests were removed. Idempotent.
  absl::StatusOr<int> DestroyLab(const std::string& lab);

  // Guests as observed: one PROCESS resource ("qemu <pid>") per running
  // QEMU and one STATE_FILE per guest directory. Empty lab = all. The
  // STATE_FILE carries the guest's state: "booting" (QEMU runs, its shell
  // has not answered yet, also after an agent restart until probed),
  // "ready", or "exited" with the exit reason in detail ("killed by signal
  // 9 (Killed)", "exited with status 1: ...").
  std::vector<emu::v1::OwnedResource> List(const std::string& lab);

  // Removes guests of labs not in `known_labs` (after a crash).
  int CollectGarbage(const std::vector<std::string>& known_labs);

  // Removes every snapshot (and unfinished one) under `snapshot_dir`;
  // returns how many. Guests restored from them keep running (their RAM
  // file is unlinked, not changed).
  static int RemoveSnapshots(const std::string& snapshot_dir);

  // The directory of (lab, node).
  std::string DirFor(const std::string& lab, const std::string& node) const;

 private:
  struct Guest;
  struct Found {
    std::string dir, lab, node;
  };
  std::vector<Found> Scan();
  absl::StatusOr<std::shared_ptr<Guest>> Attach(const std::string& lab,
                                                const std::string& node);
  absl::Status Wire(const std::string& lab, const std::string& node,
                    const std::vector<std::string>& nics);
  // The guest's own qcow2 overlay over its image's disk, made once and kept
  // for the node's life (a restarted guest finds its writes); made anew when
  // the base disk changed (the image was rebuilt) since it was made.
  absl::Status EnsureOverlay(const GuestImage& image,
                             const std::string& overlay);
  // The node's image (FAILED_PRECONDITION naming host and path when
  // missing).
  absl::StatusOr<GuestImage> ImageFor(const emu::v1::Node& node);
  SnapshotShape ShapeFor(const emu::v1::Node& node, const GuestImage& image,
                         size_t nics) const;
  // `snapshot`: restore from this snapshot directory (QEMU waits with
  // -incoming defer; Restore() feeds it), "" = cold boot.
  absl::Status Start(const std::string& lab, const emu::v1::Node& node,
                     const std::vector<std::string>& nics,
                     const std::string& snapshot = "");
  // Boots a template of `shape` and saves it into decision.dir (under
  // snapshot_mu_; a snapshot another thread made meanwhile is kept).
  absl::Status MakeSnapshot(const BootDecision& decision,
                            const GuestImage& image, const SnapshotShape& shape);
  // Feeds a guest started with `snapshot` its saved state and waits until
  // QEMU runs it.
  absl::Status Restore(const std::string& dir, const std::string& snapshot);
  // Ends QEMU and removes the guest's directory (keep_disk: all but its
  // overlay and owner; see Kill).
  absl::Status Stop(const Found& g, bool keep_disk = false);
  pid_t RunningPid(const std::string& dir);
  // Pins the vCPU threads (QMP query-cpus-fast) to node.cpu_set().
  absl::Status Pin(const std::string& dir, const emu::v1::Node& node);

  const std::string host_;
  ProcessLauncher* const launcher_;
  const Options options_;
  UnixQmpClient qmp_;
  PosixSnapshotFs snapshot_fs_;
  absl::Mutex snapshot_mu_;  // serialises making snapshots
  absl::Mutex attach_mu_;  // serialises connecting consoles
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Guest>> guests_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_GUEST_MANAGER_H_
