#!/usr/bin/env bash
# Builds a guest image with a full Debian 12 userland (debootstrap, packages
# from Debian's archive only), for guests that need what the busybox
# initramfs of the default image cannot give: apt-installed daemons,
# systemd units, a writable root file system.
#   <out>/disk.raw     ext4 root file system (the base every guest of this
#                      image shares read-only; each guest writes to its own
#                      qcow2 overlay, see docs/guests.md)
#   <out>/vmlinuz      the image's own Debian cloud kernel
#   <out>/initrd.img   its initramfs (initramfs-tools: virtio, ext4)
#   <out>/image.conf   what the agent needs to know
#
#   deploy/images/build_debian.sh [OUT_DIR]   # default /var/lib/emu/images/debian
#
# Environment:
#   EMU_IMAGE_PACKAGES  extra packages, comma separated (e.g. "frr,tcpdump")
#   EMU_IMAGE_MIRROR    Debian mirror (default: the host's first deb.debian.org
#                       or apt source; http://deb.debian.org/debian otherwise)
#   EMU_IMAGE_SIZE_MIB  disk size (default: the file system's use + 512 MiB)
#   EMU_IMAGE_REBUILD=1 rebuild even when OUT_DIR is up to date
#
# Idempotent: an OUT_DIR holding a complete image of this script version and
# the same package list is left alone ("up to date"). The image is written
# beside the old one and moved into place only when complete, so a failed
# build leaves the previous image (or nothing) and no temporary files.
# Needs root, debootstrap and e2fsprogs (deploy/setup.sh installs them); no
# loop devices or mounts (mkfs.ext4 -d fills the file system from a folder).
set -euo pipefail

SCRIPT_VERSION=2
OUT=${1:-/var/lib/emu/images/debian}
SUITE=bookworm
# What every emu guest needs: an init, the tools the agent drives through
# the console (ip, tc with netem, ping, sysctl via procps), iperf3 for
# experiments, and the kernel with an initramfs that mounts /dev/vda.
BASE_PACKAGES=systemd-sysv,udev,kmod,iproute2,iputils-ping,iperf3,procps,linux-image-cloud-amd64,initramfs-tools
PACKAGES=$BASE_PACKAGES${EMU_IMAGE_PACKAGES:+,$EMU_IMAGE_PACKAGES}
log() { printf 'images: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "must run as root (debootstrap)"; exit 1; }
for t in debootstrap mkfs.ext4 chroot; do
  command -v "$t" >/dev/null || { log "missing host tool $t (run deploy/setup.sh)"; exit 1; }
done
if [[ -z ${EMU_IMAGE_REBUILD:-} && -f $OUT/image.conf ]] &&
  grep -qx "script_version=$SCRIPT_VERSION" "$OUT/image.conf" &&
  grep -qx "packages=$PACKAGES" "$OUT/image.conf" &&
  [[ -s $OUT/disk.raw && -s $OUT/vmlinuz && -s $OUT/initrd.img ]]; then
  log "$OUT up to date"
  exit 0
fi

mirror() {
  if [[ -n ${EMU_IMAGE_MIRROR:-} ]]; then echo "$EMU_IMAGE_MIRROR"; return; fi
  local uri
  uri=$(grep -hoE '^URIs: *[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    head -1 | awk '{print $2}')
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list 2>/dev/null)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)

mkdir -p "$(dirname "$OUT")"
STAGE=$(mktemp -d "$(dirname "$OUT")/.emu-image-debian.XXXXXX")
chmod 0755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
CACHE=${EMU_IMAGE_CACHE:-/var/cache/emu/debootstrap}
mkdir -p "$CACHE"

log "debootstrap $SUITE from $MIRROR (packages: $PACKAGES)"
if ! debootstrap --variant=minbase --cache-dir="$CACHE" --include="$PACKAGES" \
  "$SUITE" "$R" "$MIRROR" >"$STAGE/debootstrap.log" 2>&1; then
  tail -20 "$STAGE/debootstrap.log" >&2
  log "debootstrap failed (log above)"
  exit 1
fi

# The console: root's shell on ttyS0 without a login, which is how the agent
# drives every guest (docs/guests.md, "console=shell").
mkdir -p "$R/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$R/etc/systemd/system/serial-getty@ttyS0.service.d/emu-autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I vt220
UNIT
# root's shell is Debian's dash, as in the default image: an interactive
# bash announces every background job ("[1] 329", "[1]+ Done"), and the
# agent runs each command as one, so those lines would land in its output.
# A plain prompt, no pager, no colour codes in what the agent reads.
sed -i 's|^root:\([^:]*:[^:]*:[^:]*:[^:]*:[^:]*\):.*$|root:\1:/bin/sh|' "$R/etc/passwd"
grep -q '^root:.*:/bin/sh$' "$R/etc/passwd" || { log "cannot set root's shell"; exit 1; }
cat >"$R/root/.profile" <<'PROF'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PS1='# ' PAGER=cat SYSTEMD_PAGER= TERM=dumb
PROF
rm -f "$R/root/.bashrc"
# Boot fast under TCG: nothing waits for a network the agent configures
# later; no timers that wake a quiet guest.
for unit in systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer fstrim.timer systemd-timesyncd.service; do
  ln -sf /dev/null "$R/etc/systemd/system/$unit"
done
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$R/etc/fstab"
echo guest >"$R/etc/hostname"
printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
: >"$R/etc/machine-id"  # a fresh id per boot of each overlay
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/cache/debconf/*-old

KVER=$(ls "$R/lib/modules" | head -1)
[[ -s $R/boot/vmlinuz-$KVER && -s $R/boot/initrd.img-$KVER ]] ||
  { log "the image has no kernel or initramfs for $KVER"; exit 1; }
cp "$R/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
cp "$R/boot/initrd.img-$KVER" "$STAGE/initrd.img"

USED=$(du -sm "$R" | cut -f1)
SIZE=${EMU_IMAGE_SIZE_MIB:-$((USED + 512))}
log "file system: $USED MiB used, disk $SIZE MiB"
mkfs.ext4 -q -F -L emuroot -d "$R" "$STAGE/disk.raw" "${SIZE}M"
rm -rf "$R"

cat >"$STAGE/image.conf" <<CONF
script_version=$SCRIPT_VERSION
packages=$PACKAGES
kernel=vmlinuz
initrd=initrd.img
disk=disk.raw
disk_format=raw
kernel_release=$KVER
append=root=/dev/vda rw console=ttyS0 quiet panic=-1
CONF
rm -f "$STAGE/debootstrap.log"
rmdir "$STAGE/root" 2>/dev/null || true
# Into place: the old image (if any) goes only once the new one is complete.
if [[ -d $OUT ]]; then
  mv "$OUT" "$STAGE.old"
  mv "$STAGE" "$OUT"
  rm -rf "$STAGE.old"
else
  mv "$STAGE" "$OUT"
fi
trap - EXIT
log "built $OUT ($(du -sh "$OUT" | cut -f1), kernel $KVER)"
