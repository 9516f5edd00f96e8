#!/usr/bin/env bash
# Builds the release binary for the Cerbo GX (ARMv7 hard-float, static musl) with `cross`
# (needs Docker or Podman), then prints its path and size.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=armv7-unknown-linux-musleabihf
cross build --locked --release --target "$TARGET" --bin zcell-scheduler
BIN="target/$TARGET/release/zcell-scheduler"
SIZE=$(stat -c %s "$BIN")
echo "$BIN"
echo "size: $SIZE bytes ($(awk "BEGIN {printf \"%.2f\", $SIZE/1048576}") MiB; budget 2.00 MiB)"
[ "$SIZE" -le $((2 * 1024 * 1024)) ] || { echo "over the 2.0 MiB budget" >&2; exit 1; }
