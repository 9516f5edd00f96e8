#!/bin/sh
# Installs zcell-scheduler on a Victron GX (run it on the GX, as root):
#   sh install.sh [path/to/zcell-scheduler]
# Puts the binary, an example config (only if none exists), the boot helper and the cron
# wrapper under /data/zcell-scheduler/ (/data survives firmware updates), hooks the helper
# into /data/rc.local once, and runs the helper so the cron block is written now.
# ZCELL_ROOT (tests only) stands in for /.
set -eu

ROOT=${ZCELL_ROOT:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:-$HERE/zcell-scheduler}
DIR=$ROOT/data/zcell-scheduler
RC=$ROOT/data/rc.local
HOOK='[ -x /data/zcell-scheduler/rc.local ] && /data/zcell-scheduler/rc.local # zcell-scheduler hook'

[ -f "$SRC" ] || { echo "install.sh: no binary at $SRC; pass its path as the first argument" >&2; exit 2; }
for f in gx/rc.local gx/cron-run.sh config.example.toml; do
    [ -f "$HERE/$f" ] || { echo "install.sh: $HERE/$f is missing; run install.sh from the unpacked scripts/ folder" >&2; exit 2; }
done

mkdir -p "$DIR"
cp "$SRC" "$DIR/zcell-scheduler.new" && chmod 755 "$DIR/zcell-scheduler.new" && mv "$DIR/zcell-scheduler.new" "$DIR/zcell-scheduler"
cp "$HERE/gx/rc.local" "$DIR/rc.local" && chmod 755 "$DIR/rc.local"
cp "$HERE/gx/cron-run.sh" "$DIR/cron-run.sh" && chmod 755 "$DIR/cron-run.sh"
cp "$HERE/config.example.toml" "$DIR/config.example.toml"
if [ ! -f "$DIR/config.toml" ]; then
    cp "$HERE/config.example.toml" "$DIR/config.toml"
    echo "install.sh: wrote $DIR/config.toml from the example: edit timezone, bms.url and gx.host"
fi

if [ ! -f "$RC" ]; then
    printf '#!/bin/sh\n' >"$RC"
    chmod 755 "$RC"
    : >"$DIR/.created-rc-local"
fi
if ! grep -qF '# zcell-scheduler hook' "$RC"; then
    # Keep a last line without a newline intact.
    [ -n "$(tail -c 1 "$RC")" ] && printf '\n' >>"$RC" && : >"$DIR/.added-newline"
    echo "$HOOK" >>"$RC"
fi
chmod 755 "$RC"

ZCELL_ROOT="$ROOT" sh "$DIR/rc.local"
echo "install.sh: installed in /data/zcell-scheduler; check with: /data/zcell-scheduler/zcell-scheduler --config /data/zcell-scheduler/config.toml plan"
