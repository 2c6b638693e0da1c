#!/usr/bin/env bash
# Builds emu's default QEMU guest image from Debian packages alone:
#   <out>/vmlinuz      Debian's cloud kernel (linux-image-*-cloud-amd64)
#   <out>/initrd.gz    busybox initramfs: the kernel modules a guest needs
#                      (virtio_net, sch_netem, sch_tbf, bridge, tun + their
#                      dependencies, loaded in modules.dep order), iproute2
#                      (ip, tc with netem), ping, iperf3 with their libraries
#   <out>/image.conf   what the agent needs to know (kernel command line)
#
#   deploy/images/build_default.sh [OUT_DIR]   # default /var/lib/emu/images/default
#
# Idempotent: when OUT_DIR holds a complete image built by this same script
# version, it does nothing (prints "up to date"). EMU_IMAGE_REBUILD=1 forces.
# Needs root (apt-get download into a cache), apt access to Debian's archive,
# and the host packages busybox-static, iproute2, iputils-ping, iperf3, kmod,
# cpio (deploy/setup.sh installs them). The dynamic binaries are copied from
# those installed Debian packages with the libraries ldd names.
set -euo pipefail

SCRIPT_VERSION=5
OUT=${1:-/var/lib/emu/images/default}
log() { printf 'images: %s\n' "$*" >&2; }

if [[ -z ${EMU_IMAGE_REBUILD:-} && -f $OUT/image.conf ]] &&
  grep -qx "script_version=$SCRIPT_VERSION" "$OUT/image.conf" &&
  [[ -s $OUT/vmlinuz && -s $OUT/initrd.gz ]]; then
  log "$OUT up to date"
  exit 0
fi

for t in dash busybox ip tc ping iperf3 depmod modprobe cpio gzip; do
  command -v "$t" >/dev/null || { log "missing host tool $t (run deploy/setup.sh)"; exit 1; }
done
BUSYBOX=$(command -v busybox)
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  log "$BUSYBOX is dynamic; install busybox-static"; exit 1
fi

WORK=$(mktemp -d /tmp/emu-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
CACHE=${EMU_IMAGE_CACHE:-/var/cache/emu/debs}
mkdir -p "$CACHE"

# The cloud kernel: the meta package names the current versioned package.
resolve_kernel() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}'
}
KPKG=$(resolve_kernel)
if [[ -z $KPKG ]]; then
  log "package lists do not know linux-image-cloud-amd64: apt-get update"
  apt-get update -qq
  KPKG=$(resolve_kernel)
fi
[[ -n $KPKG ]] || { log "cannot resolve linux-image-cloud-amd64"; exit 1; }
if ! ls "$CACHE/${KPKG}_"*.deb >/dev/null 2>&1; then
  log "downloading $KPKG"
  (cd "$CACHE" && apt-get download -q "$KPKG" >/dev/null) || {
    # Stale lists name a version the archive no longer has.
    apt-get update -qq
    KPKG=$(resolve_kernel)
    (cd "$CACHE" && apt-get download -q "$KPKG" >/dev/null)
  }
fi
DEB=$(ls "$CACHE/${KPKG}_"*.deb | head -1)
dpkg-deb -x "$DEB" "$WORK/k"
KVER=$(ls "$WORK/k/lib/modules" | head -1)
log "kernel $KVER"

R=$WORK/root
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,lib/modules/$KVER,usr/bin,usr/sbin,lib64,var/run}
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [[ -e $R/bin/$a ]] || ln -s busybox "$R/bin/$a"
done

# Modules: copy what the wanted ones need, in modules.dep order.
WANT=(virtio_pci virtio_net virtio_blk sch_netem sch_tbf bridge tun)
depmod -b "$WORK/k" "$KVER"
ORDER=()
for m in "${WANT[@]}"; do
  while read -r verb path _; do
    [[ $verb == insmod ]] || continue
    rel=${path#"$WORK/k"}
    if [[ ! " ${ORDER[*]-} " =~ " $rel " ]]; then ORDER+=("$rel"); fi
  done < <(modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m" 2>/dev/null || true)
done
: >"$R/etc/modules.order"
for rel in "${ORDER[@]}"; do
  mkdir -p "$R$(dirname "$rel")"
  case $rel in
    *.ko.xz) xz -dc "$WORK/k$rel" >"$R${rel%.xz}"; rel=${rel%.xz} ;;
    *.ko.zst) zstd -qdc "$WORK/k$rel" >"$R${rel%.zst}"; rel=${rel%.zst} ;;
    *) cp "$WORK/k$rel" "$R$rel" ;;
  esac
  echo "$rel" >>"$R/etc/modules.order"
done
log "modules: $(wc -l <"$R/etc/modules.order") ($(xargs -n1 basename <"$R/etc/modules.order" | tr '\n' ' '))"

# Dynamic tools with their libraries, replacing busybox's applets of the
# same name (busybox tc has no netem).
copy_bin() {
  local src=$1 dst=$2
  rm -f "$R$dst"; mkdir -p "$(dirname "$R$dst")"; cp -L "$src" "$R$dst"
  ldd "$src" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$R$(dirname "$lib")"; [[ -e $R$lib ]] || cp -L "$lib" "$R$lib"
  done
}
# The shell is Debian's dash: busybox's ash runs its own applets before
# $PATH (so "tc" would be busybox's tc, which has no netem).
copy_bin /bin/dash /bin/sh
copy_bin "$(command -v ip)" /bin/ip
copy_bin "$(command -v tc)" /bin/tc
copy_bin "$(command -v ping)" /bin/ping
copy_bin "$(command -v iperf3)" /bin/iperf3
# tc finds netem's delay distributions here (only needed for "distribution").
[[ -d /usr/lib/x86_64-linux-gnu/tc ]] && mkdir -p "$R/usr/lib/x86_64-linux-gnu" &&
  cp -r /usr/lib/x86_64-linux-gnu/tc "$R/usr/lib/x86_64-linux-gnu/"

cat >"$R/init" <<'INIT'
#!/bin/sh
# emu default guest: modules, then busybox init gives a shell on ttyS0.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
while read -r m; do insmod "$m" 2>/dev/null; done </etc/modules.order
dmesg -n 1
ip link set lo up
exec /bin/init
INIT
chmod +x "$R/init"
cat >"$R/etc/inittab" <<'TAB'
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/bin/poweroff -f
::shutdown:/bin/sync
TAB
cat >"$R/etc/profile" <<'PROF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='# '
PROF
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
echo guest >"$R/etc/hostname"

mkdir -p "$OUT"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -6) >"$OUT/initrd.gz.new"
cp "$WORK/k/boot/vmlinuz-$KVER" "$OUT/vmlinuz.new"
mv "$OUT/initrd.gz.new" "$OUT/initrd.gz"
mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"
cat >"$OUT/image.conf.new" <<CONF
script_version=$SCRIPT_VERSION
kernel=vmlinuz
initrd=initrd.gz
kernel_release=$KVER
append=console=ttyS0 quiet panic=-1 rdinit=/init
CONF
mv "$OUT/image.conf.new" "$OUT/image.conf"
log "built $OUT ($(du -sh "$OUT" | cut -f1))"
