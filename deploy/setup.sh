#!/usr/bin/env bash
# Installs everything emu needs on Debian 12 and builds it. Idempotent: a
# second run installs nothing and rebuilds only what changed.
#
#   deploy/setup.sh            # packages + build + install binaries
#   EMU_SKIP_INSTALL=1 ...     # build only (packages already there)
#   EMU_SKIP_IMAGES=1 ...      # do not build the default guest image
#   EMU_TEST_PACKAGES=1 ...    # also what only the tests need (chromium)
#
# Binaries are copied to ${EMU_BIN_DIR:-/usr/local/bin}: emuctl,
# emu-controller, emu-agent.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN_DIR=${EMU_BIN_DIR:-/usr/local/bin}

# Build tools, the libraries emu links against, and what experiments use.
PACKAGES=(
  bazel-bootstrap bazel-rules-java g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libnl-3-dev libnl-route-3-dev libyaml-cpp-dev libyaml-dev libmetis-dev libsqlite3-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libre2-dev liburing-dev
  libasan8 libtsan2 clang libclang-rt-14-dev
  libpcap-dev tshark
  iproute2 iputils-ping iperf3 busybox-static kmod procps bc
  qemu-system-x86 qemu-utils cpio socat openssh-client openssh-server graphviz gnuplot-nox
  debootstrap e2fsprogs
  python3-grpcio python3-grpc-tools libcivetweb-dev
)
# Only the tests need these: chromium (about 350 MB installed) loads the web
# view in //tests/integration:web_test, curl scrapes /metrics in metrics_test.
# deploy/test.sh asks for them (EMU_TEST_PACKAGES=1).
TEST_PACKAGES=(chromium curl)
if [[ -n ${EMU_TEST_PACKAGES:-} ]]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
fi

log() { printf 'setup: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (installs packages; emu creates namespaces)"
  exit 1
fi

if [[ -z ${EMU_SKIP_INSTALL:-} ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "Debian packages present"
  fi
fi

# Debian's static archives linked in (--define=emu_static_libs=1): a short
# emuctl call spent most of its CPU loading ~75 shared libraries
# (docs/building.md, "Start-up cost"). Not -c opt: the test suite's
# fastbuild objects are reused, so setup only relinks;
# EMU_BUILD_CONFIG=release builds optimised (a full second compile).
BUILD_FLAGS=(--define=emu_static_libs=1)
[[ ${EMU_BUILD_CONFIG:-} == release ]] && BUILD_FLAGS=(--config=release)
log "building (bazel, offline, ${BUILD_FLAGS[*]})"
if ! bazel build --noshow_progress "${BUILD_FLAGS[@]}" //agent:emu-agent \
  //controller:emu-controller //cli:emuctl //bench:all >/tmp/emu-setup-build.log 2>&1; then
  grep -E "ERROR|error:" /tmp/emu-setup-build.log | head -20 >&2
  log "build failed; full output in /tmp/emu-setup-build.log"
  exit 1
fi
rm -f /tmp/emu-setup-build.log  # kept only when the build failed

mkdir -p "$BIN_DIR"
built=$(bazel info "${BUILD_FLAGS[@]}" bazel-bin 2>/dev/null)
for b in agent/emu-agent controller/emu-controller cli/emuctl; do
  install -m 0755 "$built/$b" "$BIN_DIR/$(basename "$b")"
done
log "installed emuctl, emu-controller, emu-agent in $BIN_DIR"

# The default QEMU guest image (docs/guests.md); "up to date" when built.
if [[ -z ${EMU_SKIP_IMAGES:-} ]]; then
  "$ROOT/deploy/images/build_default.sh" ||
    log "guest image not built (qemu nodes need it; see docs/guests.md)"
fi
