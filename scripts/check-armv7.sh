#!/usr/bin/env bash
# Cross-builds the binary for ARMv7 hard-float (the Cerbo GX's CPU) without Docker, with
# Debian's packaged Rust 1.85 (the crate's rust-version), runs it under qemu-arm-static against
# the x86 simulators on loopback, and checks the result is a static ARM executable within the
# size budget. If the toolchain cannot be installed (no package registry), it says SKIP and
# exits 0; a build or run failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=armv7-unknown-linux-gnueabihf
BUDGET_BYTES=$((2 * 1024 * 1024))
WORK=${ZCELL_ARMV7_WORK:-/tmp/zcell-armv7}
export CARGO_TARGET_DIR="$WORK/target"
mkdir -p "$WORK"

skip() { echo "SKIP: armv7 check: $*" >&2; echo "SKIP: armv7 check: $*"; exit 0; }
say() { echo "check-armv7: $*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && SUDO="sudo" || skip "needs root (or sudo) to install Debian packages"
fi

# --- toolchain -----------------------------------------------------------------------------
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
    $SUDO dpkg --add-architecture armhf
    APT_UPDATE=1
fi
if [ "${APT_UPDATE:-0}" = 1 ] || ! apt-cache policy libstd-rust-web-dev:armhf 2>/dev/null | grep -q Candidate; then
    # A partly failed update (one mirror index out of step) still leaves usable lists.
    $SUDO apt-get update -q >"$WORK/apt-update.log" 2>&1 ||
        say "apt-get update reported errors (see $WORK/apt-update.log); using the lists it has"
fi
VERSION=$(apt-cache policy libstd-rust-web-dev:armhf | awk '/Candidate:/ {print $2}')
[ -n "$VERSION" ] && [ "$VERSION" != "(none)" ] || skip "no libstd-rust-web-dev:armhf candidate in the package lists"
say "Debian Rust for armhf: $VERSION"

if [ "$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)" != "$VERSION" ] ||
   [ "$(dpkg-query -W -f='${Version}' cargo-web 2>/dev/null || true)" != "$VERSION" ] ||
   ! command -v arm-linux-gnueabihf-gcc >/dev/null || ! command -v qemu-arm-static >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --allow-downgrades \
        "rustc-web=$VERSION" "cargo-web=$VERSION" "libstd-rust-web-dev=$VERSION" \
        gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static binutils \
        >"$WORK/apt-install.log" 2>&1 || skip "could not install the toolchain (see $WORK/apt-install.log)"
fi

SYSROOT="$WORK/sysroot-$VERSION"
if [ ! -d "$SYSROOT/usr/lib/rustlib/$TARGET/lib" ]; then
    rm -rf "$SYSROOT" "$WORK/deb"
    mkdir -p "$WORK/deb"
    (cd "$WORK/deb" && apt-get download "libstd-rust-web-dev:armhf=$VERSION" >"$WORK/apt-download.log" 2>&1) ||
        skip "could not download libstd-rust-web-dev:armhf (see $WORK/apt-download.log)"
    dpkg -x "$WORK"/deb/libstd-rust-web-dev_*_armhf.deb "$SYSROOT"
fi
# rustc wants the host's own libraries beside the target's in one sysroot.
if [ ! -e "$SYSROOT/usr/lib/rustlib/x86_64-unknown-linux-gnu" ]; then
    ln -s /usr/lib/rustlib/x86_64-unknown-linux-gnu "$SYSROOT/usr/lib/rustlib/x86_64-unknown-linux-gnu"
fi

RUSTC_VERSION=$(/usr/bin/rustc --version)
say "compiler: $RUSTC_VERSION"

# --- build ---------------------------------------------------------------------------------
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUSTFLAGS="-C target-feature=+crt-static --sysroot=$SYSROOT/usr"
START=$(date +%s)
/usr/bin/cargo build --locked --release --target "$TARGET" --bin zcell-scheduler 2>"$WORK/build.log" || {
    tail -40 "$WORK/build.log" >&2
    echo "FAIL: armv7 build failed (full log: $WORK/build.log)" >&2
    exit 1
}
BIN="$CARGO_TARGET_DIR/$TARGET/release/zcell-scheduler"
say "built $BIN in $(( $(date +%s) - START )) s"

# --- what was built ------------------------------------------------------------------------
fail() { echo "FAIL: armv7 check: $*" >&2; exit 1; }
readelf -h "$BIN" | grep -q 'Machine:.*ARM' || fail "$BIN is not an ARM ELF"
readelf -h "$BIN" | grep -q 'Class:.*ELF32' || fail "$BIN is not 32-bit"
readelf -A "$BIN" | grep -q 'Tag_ABI_VFP_args: VFP registers' || fail "$BIN is not hard-float"
if readelf -l "$BIN" | grep -q 'INTERP'; then fail "$BIN is dynamically linked"; fi
if readelf -d "$BIN" 2>/dev/null | grep -q 'NEEDED'; then fail "$BIN needs shared libraries"; fi
SIZE=$(stat -c %s "$BIN")
say "static ARM EABI5 hard-float executable, $SIZE bytes ($(awk "BEGIN {printf \"%.2f\", $SIZE/1048576}") MiB; budget 2.00 MiB)"
# The shipped binary is musl (cross); this glibc-static build carries glibc's static runtime
# too, so its size is reported against the budget but does not fail the check.
OVER=no
if [ "$SIZE" -gt "$BUDGET_BYTES" ]; then
    OVER=yes
    say "BUDGET EXCEEDED: $SIZE bytes > 2.0 MiB for the glibc-static build (see README, Install)"
fi

# --- run it under qemu ---------------------------------------------------------------------
qemu-arm-static "$BIN" --version | grep -q '^zcell-scheduler ' || fail "--version"
qemu-arm-static "$BIN" --help | grep -q 'apply' || fail "--help"
say "--version: $(qemu-arm-static "$BIN" --version)"

cargo build --locked -q --examples
HOST_TARGET=${CARGO_HOST_TARGET_DIR:-target}
unset CARGO_TARGET_DIR
EXAMPLES="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/examples"
[ -x "$EXAMPLES/gx_sim" ] || EXAMPLES="$HOST_TARGET/debug/examples"
RUN="$WORK/run"
rm -rf "$RUN" && mkdir -p "$RUN"
"$EXAMPLES/gx_sim" --seconds 120 >"$RUN/gx.out" 2>&1 &
GX_PID=$!
"$EXAMPLES/bms_sim" --seconds 120 >"$RUN/bms.out" 2>&1 &
BMS_PID=$!
trap 'kill $GX_PID $BMS_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q listening "$RUN/gx.out" 2>/dev/null && grep -q listening "$RUN/bms.out" 2>/dev/null && break
    sleep 0.1
done
GX_ADDR=$(awk '/listening/ {print $2; exit}' "$RUN/gx.out")
BMS_ADDR=$(awk '/listening/ {print $2; exit}' "$RUN/bms.out")
[ -n "$GX_ADDR" ] && [ -n "$BMS_ADDR" ] || fail "simulators did not start"
cat >"$RUN/config.toml" <<TOML
timezone = "Australia/Hobart"
[bms]
url = "http://$BMS_ADDR"
timeout_s = 5
[gx]
host = "${GX_ADDR%:*}"
port = ${GX_ADDR##*:}
timeout_s = 5
[schedule]
reserve_soc = 30
TOML
START_NS=$(date +%s%N)
qemu-arm-static "$BIN" --config "$RUN/config.toml" plan --json --at 2026-11-24T07:00:00+11:00 >"$RUN/plan.json" 2>"$RUN/plan.err" ||
    fail "plan --json under qemu exited $?: $(cat "$RUN/plan.err")"
ELAPSED_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))
python3 - "$RUN/plan.json" <<'PY' || fail "plan --json output is not what the x86 build gives"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["command"] == "plan", doc["command"]
assert doc["stage"] == "approaching", doc["stage"]
assert doc["slot"]["start_local"] == "2026-11-24T13:00:00+11:00", doc["slot"]
assert doc["slot"]["duration_s"] == 10800, doc["slot"]
assert doc["min_soc"] == 0, doc["min_soc"]
assert doc["gx"]["ok"] and doc["bms"]["ok"], (doc["gx"], doc["bms"])
assert any(w["address"] == 5424 and len(w["values"]) == 7 for w in doc["writes"]), doc["writes"]
PY
say "plan --json under qemu-arm-static against the simulators: ok in ${ELAPSED_MS} ms"
say "PASS: builds and runs; $SIZE bytes (over budget: $OVER), $RUSTC_VERSION"
