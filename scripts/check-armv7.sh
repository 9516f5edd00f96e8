#!/usr/bin/env bash
# Cross-builds the binary for ARMv7 hard-float (the Cerbo GX's CPU) without Docker, with
# Debian's packaged Rust 1.85 (the crate's rust-version), runs it under qemu-arm-static against
# the x86 simulators on loopback, and checks the result is a static ARM executable.
# Two builds: armv7-unknown-linux-gnueabihf +crt-static with Debian's prebuilt armhf std, and
# the kind that ships, armv7-unknown-linux-musleabihf, with std built from Debian's own source
# of the same version; the musl binary is held to the 2.5 MiB budget, the glibc one (which
# carries static glibc) is reported. If the toolchain cannot be installed (no package
# registry), it says SKIP and exits 0; a build or run failure, or the musl binary over budget,
# exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=armv7-unknown-linux-gnueabihf
BUDGET_BYTES=$((5 * 1024 * 1024 / 2))
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
if [ "${APT_UPDATE:-0}" = 1 ] || ! apt-cache policy libstd-rust-web-dev:armhf 2>/dev/null | grep Candidate >/dev/null; then
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
say "static ARM EABI5 hard-float executable, $SIZE bytes ($(awk "BEGIN {printf \"%.2f\", $SIZE/1048576}") MiB; budget 2.50 MiB for musl)"
# The shipped binary is musl; this glibc-static build carries glibc's static runtime too
# (about half a megabyte), so its size is reported but does not fail the check.
OVER=no
if [ "$SIZE" -gt "$BUDGET_BYTES" ]; then
    OVER=yes
    say "glibc-static build over 2.5 MiB ($SIZE bytes): reported only, the budget applies to musl"
fi

# --- the shipped kind: musl, static --------------------------------------------------------
MUSL_TARGET=armv7-unknown-linux-musleabihf
MUSL_WORK="$WORK/musl"
MUSL_LIB="$MUSL_WORK/sysroot/usr/lib/arm-linux-musleabihf"
MUSL_BIN="$WORK/target-musl/$MUSL_TARGET/release/zcell-scheduler"
musl_toolchain() {
    # Debian ships no prebuilt std for the musl target: std is built from rust-web-src (the
    # same version as the compiler) with -Z build-std, and linked against musl's armhf libc
    # unpacked from its .deb.
    if [ "$(dpkg-query -W -f='${Version}' rust-web-src 2>/dev/null || true)" != "$VERSION" ]; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "rust-web-src=$VERSION" \
            >>"$WORK/apt-install.log" 2>&1 || return 1
    fi
    [ -d /usr/lib/rustlib/src/rust/library ] || return 1
    if [ ! -f "$MUSL_LIB/libc.a" ]; then
        rm -rf "$MUSL_WORK" && mkdir -p "$MUSL_WORK/deb"
        (cd "$MUSL_WORK/deb" && apt-get download musl-dev:armhf musl:armhf) \
            >>"$WORK/apt-download.log" 2>&1 || return 1
        for deb in "$MUSL_WORK"/deb/*.deb; do dpkg -x "$deb" "$MUSL_WORK/sysroot" || return 1; done
    fi
    sed "s#/usr/lib/arm-linux-musleabihf#$MUSL_LIB#g; s#/usr/include/arm-linux-musleabihf#$MUSL_WORK/sysroot/usr/include/arm-linux-musleabihf#g" \
        "$MUSL_LIB/musl-gcc.specs" >"$MUSL_WORK/musl.specs" || return 1
    printf '#!/bin/sh\nexec arm-linux-gnueabihf-gcc -specs=%s "$@"\n' "$MUSL_WORK/musl.specs" >"$MUSL_WORK/cc"
    chmod +x "$MUSL_WORK/cc"
    # std's unwind crate links -lunwind statically on musl; gcc's libgcc_eh has those symbols.
    mkdir -p "$MUSL_WORK/lib"
    cp "$(arm-linux-gnueabihf-gcc -print-file-name=libgcc_eh.a)" "$MUSL_WORK/lib/libunwind.a" || return 1
}
MUSL_SIZE=""
if musl_toolchain; then
    START=$(date +%s)
    CARGO_TARGET_DIR="$WORK/target-musl" RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER="$MUSL_WORK/cc" \
    CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C target-feature=+crt-static -C link-self-contained=no -L $MUSL_WORK/lib -L $MUSL_LIB" \
        /usr/bin/cargo build -Z build-std=std,panic_abort --locked --release --target "$MUSL_TARGET" \
        --bin zcell-scheduler 2>"$WORK/build-musl.log" || {
        tail -40 "$WORK/build-musl.log" >&2
        echo "FAIL: armv7 musl build failed (full log: $WORK/build-musl.log)" >&2
        exit 1
    }
    readelf -h "$MUSL_BIN" | grep -q 'Machine:.*ARM' || fail "$MUSL_BIN is not an ARM ELF"
    if readelf -l "$MUSL_BIN" | grep -q 'INTERP'; then fail "$MUSL_BIN is dynamically linked"; fi
    MUSL_SIZE=$(stat -c %s "$MUSL_BIN")
    say "built $MUSL_BIN in $(( $(date +%s) - START )) s: $MUSL_SIZE bytes ($(awk "BEGIN {printf \"%.2f\", $MUSL_SIZE/1048576}") MiB; budget 2.50 MiB)"
    [ "$MUSL_SIZE" -le "$BUDGET_BYTES" ] ||
        fail "BUDGET EXCEEDED: the musl binary is $MUSL_SIZE bytes, over 2.5 MiB"
else
    say "SKIP musl build: rust-web-src or musl-dev:armhf could not be installed (see $WORK/apt-install.log)"
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
plan_under_qemu() {
    START_NS=$(date +%s%N)
    qemu-arm-static "$1" --config "$RUN/config.toml" plan --json --at 2026-11-24T07:00:00+11:00 >"$RUN/plan-$2.json" 2>"$RUN/plan-$2.err" ||
        fail "$2 plan --json under qemu exited $?: $(cat "$RUN/plan-$2.err")"
    ELAPSED_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))
    python3 - "$RUN/plan-$2.json" <<'PY' || fail "$2 plan --json output is not what the x86 build gives"
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
    say "$2: plan --json under qemu-arm-static against the simulators: ok in ${ELAPSED_MS} ms"
}
plan_under_qemu "$BIN" glibc
if [ -n "$MUSL_SIZE" ]; then
    qemu-arm-static "$MUSL_BIN" --version | grep -q '^zcell-scheduler ' || fail "musl --version"
    plan_under_qemu "$MUSL_BIN" musl
fi
say "PASS: builds and runs; glibc-static $SIZE bytes (over 2.5 MiB: $OVER), musl ${MUSL_SIZE:-not built} bytes (budget 2.5 MiB), $RUSTC_VERSION"
