#!/bin/sh
# Measures the release binary against the loopback simulators and checks the budgets
# (wall time, Modbus and HTTP requests, bytes, peak RSS, binary size). Exits non-zero when a
# budget is broken. Usage: scripts/bench.sh [--runs N]
# The armv7 size is included when scripts/check-armv7.sh has built the binary
# (or ZCELL_ARMV7_BIN names one).
set -eu
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet --bin zcell-scheduler --example bench
ARMV7=${ZCELL_ARMV7_BIN:-/tmp/zcell-armv7/target/armv7-unknown-linux-gnueabihf/release/zcell-scheduler}
set -- target/release/zcell-scheduler "$@"
[ -f "$ARMV7" ] && set -- "$@" --armv7 "$ARMV7"
exec target/release/examples/bench "$@"
