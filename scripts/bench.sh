#!/bin/sh
# Measures the release binary against the loopback simulators and checks the budgets
# (wall time, Modbus and HTTP requests, bytes, peak RSS, binary size). Exits non-zero when a
# budget is broken. Usage: scripts/bench.sh [--runs N]
# The armv7 sizes are included when they exist: the musl build (held to the 2.5 MiB budget) from
# scripts/build-armv7.sh (cross) or else from scripts/check-armv7.sh, and the glibc-static
# build of scripts/check-armv7.sh (reported only).
set -eu
cd "$(dirname "$0")/.."
# Two builds: the measured binary alone, so the simulators' server features (dev-dependencies)
# never reach it, then the bench with the simulators.
cargo build --release --locked --quiet --bin zcell-scheduler
cargo build --release --locked --quiet --example bench
WORK=${ZCELL_ARMV7_WORK:-/tmp/zcell-armv7}
MUSL=target/armv7-unknown-linux-musleabihf/release/zcell-scheduler
[ -f "$MUSL" ] || MUSL=$WORK/target-musl/armv7-unknown-linux-musleabihf/release/zcell-scheduler
GLIBC=$WORK/target/armv7-unknown-linux-gnueabihf/release/zcell-scheduler
set -- target/release/zcell-scheduler "$@"
if [ -f "$MUSL" ]; then set -- "$@" --armv7 "$MUSL"; fi
if [ -f "$GLIBC" ]; then set -- "$@" --armv7-glibc "$GLIBC"; fi
exec target/release/examples/bench "$@"
