#!/bin/sh
# Installs zcell-scheduler on a Victron GX (run it on the GX, as root):
#   sh install.sh [path/to/zcell-scheduler]
# Puts the binary, an example config (only if none exists), the boot helper, the cron
# wrapper and uninstall.sh under /data/zcell-scheduler/ (/data survives firmware updates), hooks the helper
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
for f in gx/rc.local gx/cron-run.sh config.example.toml uninstall.sh; do
    [ -f "$HERE/$f" ] || { echo "install.sh: $HERE/$f is missing; run install.sh from the unpacked scripts/ folder" >&2; exit 2; }
done

mkdir -p "$DIR"
cp "$SRC" "$DIR/zcell-scheduler.new" && chmod 755 "$DIR/zcell-scheduler.new" && mv "$DIR/zcell-scheduler.new" "$DIR/zcell-scheduler"
cp "$HERE/gx/rc.local" "$DIR/rc.local" && chmod 755 "$DIR/rc.local"
cp "$HERE/gx/cron-run.sh" "$DIR/cron-run.sh" && chmod 755 "$DIR/cron-run.sh"
cp "$HERE/config.example.toml" "$DIR/config.example.toml"
cp "$HERE/uninstall.sh" "$DIR/uninstall.sh"
if [ ! -f "$DIR/config.toml" ]; then
    cp "$HERE/config.example.toml" "$DIR/config.toml"
    echo "install.sh: wrote /data/zcell-scheduler/config.toml from the example"
fi

if [ ! -f "$RC" ]; then
    printf '#!/bin/sh\n' >"$RC"
    chmod 755 "$RC"
    : >"$DIR/.created-rc-local"
fi
if ! grep -qF '# zcell-scheduler hook' "$RC"; then
    if grep -qE '^exit([[:space:];]|$)' "$RC"; then
        # A top-level `exit` (often `exit 0` at the end) would stop rc.local before a hook
        # appended after it: put the hook just before the first one.
        awk -v hook="$HOOK" '!done && /^exit([[:space:];]|$)/ { print hook; done = 1 } { print }' \
            "$RC" >"$RC.zcell-new" && cat "$RC.zcell-new" >"$RC" && rm -f "$RC.zcell-new"
    else
        # Keep a last line without a newline intact.
        [ -n "$(tail -c 1 "$RC")" ] && printf '\n' >>"$RC" && : >"$DIR/.added-newline"
        echo "$HOOK" >>"$RC"
    fi
fi
chmod 755 "$RC"

ZCELL_ROOT="$ROOT" sh "$DIR/rc.local"
echo "install.sh: installed in /data/zcell-scheduler."
if "$DIR/zcell-scheduler" --config "$DIR/config.toml" cron-block >/dev/null 2>&1; then
    echo "install.sh: the config is valid; check what the next run will do with:"
else
    echo "install.sh: next, edit /data/zcell-scheduler/config.toml: set timezone, bms.url and gx.host"
    echo "  (\"127.0.0.1\" on the GX itself); until then cron runs log what to set and touch no device."
    echo "  Enable the GX's Modbus TCP server (Settings → Integrations), then check with:"
fi
echo "  /data/zcell-scheduler/zcell-scheduler --config /data/zcell-scheduler/config.toml plan"
echo "  and run sh /data/zcell-scheduler/rc.local after editing [ev] or the time zone."
