#!/bin/sh
# Removes zcell-scheduler from a Victron GX: its cron block, its /data/rc.local hook (and the
# file, if installing created it) and /data/zcell-scheduler, leaving the rest as it was.
# Your config.toml is kept (as /data/zcell-scheduler/config.toml, alone in that folder) unless
# you pass --purge. Usage: sh uninstall.sh [--purge]
#
# It deletes only its own lines: in /etc/crontab the lines of complete `# BEGIN zcell-scheduler`
# ... `# END zcell-scheduler` blocks, in /data/rc.local the hook line install.sh wrote (the
# file keeps its mode). A BEGIN line without its END line is reported, and nothing changes.
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
END="# END zcell-scheduler"
HOOK='[ -x /data/zcell-scheduler/rc.local ] && /data/zcell-scheduler/rc.local # zcell-scheduler hook'

# Checked before anything changes: every BEGIN line has its END line.
if [ -f "$CRONTAB" ]; then
    BROKEN=$(awk -v begin="# BEGIN zcell-scheduler" -v end="$END" '
        index($0, begin) == 1 {
            if (open) { print "line " open " opens a zcell-scheduler block that line " NR " opens again before its \"" end "\" line"; bad = 1; exit }
            open = NR; next
        }
        open && $0 == end { open = 0 }
        END { if (!bad && open) print "line " open " opens a zcell-scheduler block with no \"" end "\" line after it" }' "$CRONTAB")
    if [ -n "$BROKEN" ]; then
        echo "uninstall.sh: /etc/crontab: $BROKEN; nothing was changed. Put the \"$END\" line back after the block's lines (or delete the block's lines yourself), then run uninstall.sh again" >&2
        exit 1
    fi
fi

if [ -f "$CRONTAB" ] && grep -q '^# BEGIN zcell-scheduler' "$CRONTAB"; then
    REMOUNTED=no
    if [ -z "$ROOT" ] && mount | grep -q ' on / .*[(,]ro[,)]'; then
        mount -o remount,rw /
        REMOUNTED=yes
    fi
    awk -v begin="# BEGIN zcell-scheduler" -v end="$END" '
        index($0, begin) == 1 { skip = 1; next }
        skip && $0 == end { skip = 0; next }
        !skip { print }' "$CRONTAB" >"$CRONTAB.zcell-new.$$"
    chmod 644 "$CRONTAB.zcell-new.$$"
    mv "$CRONTAB.zcell-new.$$" "$CRONTAB"
    [ "$REMOUNTED" = yes ] && { mount -o remount,ro / || true; }
fi

if [ -f "$RC" ] && grep -qxF "$HOOK" "$RC"; then
    NEW=$(mktemp "${TMPDIR:-/tmp}/zcell-rc.XXXXXX")
    cp "$RC" "$NEW"
    LAST=$(awk 'END { print NR }' "$RC")
    HOOK_WAS_LAST=no
    # Each hook line out, every other byte kept.
    for n in $(grep -nxF "$HOOK" "$RC" | cut -d : -f 1 | sort -rn); do
        [ "$n" -lt "$LAST" ] || HOOK_WAS_LAST=yes
        { head -n $((n - 1)) "$NEW"; tail -n +$((n + 1)) "$NEW"; } >"$NEW.line" && mv "$NEW.line" "$NEW"
    done
    if [ -f "$DIR/.added-newline" ] && [ "$HOOK_WAS_LAST" = yes ] && [ -s "$NEW" ] && [ -z "$(tail -c 1 "$NEW")" ]; then
        # Take back the newline install added before its hook line.
        SIZE=$(wc -c <"$NEW")
        head -c $((SIZE - 1)) "$NEW" >"$NEW.trim" && mv "$NEW.trim" "$NEW"
    fi
    if [ -f "$DIR/.created-rc-local" ] && [ "$(cat "$NEW")" = '#!/bin/sh' ]; then
        rm -f "$RC"
    else
        # Written in place (cat >), so the file keeps its mode and owner.
        cat "$NEW" >"$RC"
    fi
    rm -f "$NEW"
fi
if [ -f "$RC" ] && grep -qF '/data/zcell-scheduler/rc.local' "$RC"; then
    echo "uninstall.sh: note: /data/rc.local still has a line naming /data/zcell-scheduler/rc.local that is not the hook install.sh wrote; it is left for you to remove (it does nothing once the helper is gone)"
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
