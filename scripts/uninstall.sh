#!/bin/sh
# Removes zcell-scheduler from a Victron GX: its cron block, its /data/rc.local hook (and the
# file, if installing created it) and /data/zcell-scheduler, leaving the rest as it was.
# Your config.toml is kept (as /data/zcell-scheduler/config.toml, alone in that folder) unless
# you pass --purge. Usage: sh uninstall.sh [--purge]
# ZCELL_ROOT (tests only) stands in for /.
set -eu
PURGE=no
case "${1:-}" in
    --purge) PURGE=yes ;;
    "") ;;
    *) echo "uninstall.sh: unknown argument $1; usage: sh uninstall.sh [--purge]" >&2; exit 2 ;;
esac

ROOT=${ZCELL_ROOT:-}
DIR=$ROOT/data/zcell-scheduler
RC=$ROOT/data/rc.local
CRONTAB=$ROOT/etc/crontab

if [ -f "$CRONTAB" ] && grep -q '^# BEGIN zcell-scheduler' "$CRONTAB"; then
    REMOUNTED=no
    if [ -z "$ROOT" ] && mount | grep -q ' on / .*[(,]ro[,)]'; then
        mount -o remount,rw /
        REMOUNTED=yes
    fi
    awk '
        index($0, "# BEGIN zcell-scheduler") == 1 { skip = 1; next }
        skip && $0 == "# END zcell-scheduler" { skip = 0; next }
        !skip { print }' "$CRONTAB" >"$CRONTAB.zcell-new"
    mv "$CRONTAB.zcell-new" "$CRONTAB"
    chmod 644 "$CRONTAB"
    [ "$REMOUNTED" = yes ] && { mount -o remount,ro / || true; }
fi

if [ -f "$RC" ]; then
    grep -vF '# zcell-scheduler hook' "$RC" >"$RC.zcell-new" || true
    if [ -f "$DIR/.added-newline" ]; then
        # Take back the newline install added before its hook line.
        SIZE=$(wc -c <"$RC.zcell-new")
        head -c $((SIZE - 1)) "$RC.zcell-new" >"$RC.zcell-trim" && mv "$RC.zcell-trim" "$RC.zcell-new"
    fi
    if [ -f "$DIR/.created-rc-local" ] && [ "$(cat "$RC.zcell-new")" = '#!/bin/sh' ]; then
        rm -f "$RC" "$RC.zcell-new"
    else
        cat "$RC.zcell-new" >"$RC"
        rm -f "$RC.zcell-new"
    fi
fi

if [ "$PURGE" = no ] && [ -f "$DIR/config.toml" ]; then
    KEEP=$(mktemp "${TMPDIR:-/tmp}/zcell-config.XXXXXX")
    cp "$DIR/config.toml" "$KEEP"
    rm -rf "$DIR"
    mkdir -p "$DIR"
    mv "$KEEP" "$DIR/config.toml"
    echo "uninstall.sh: zcell-scheduler removed; your config is kept in /data/zcell-scheduler/config.toml (sh uninstall.sh --purge removes it too)"
else
    rm -rf "$DIR"
    echo "uninstall.sh: zcell-scheduler removed, config included"
fi
