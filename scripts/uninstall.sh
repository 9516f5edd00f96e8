#!/bin/sh
# Removes zcell-scheduler from a Victron GX: its cron block, then hands the GX back
# (`zcell-scheduler release`: slot 0 cleared, the minimum SoC, battery capacity and Dynamic ESS
# mode it changed put back, a kick of ev-kick's stopped), then its /data/rc.local hook (and the
# file, if installing created it) and /data/zcell-scheduler, leaving the rest as it was.
# Your config.toml is kept (as /data/zcell-scheduler/config.toml, alone in that folder) unless
# you pass --purge. A hand-back that fails while the tool has something to give back stops
# the uninstall (only the cron block is gone), unless --force.
# Usage: sh uninstall.sh [--purge] [--force]
#
# It deletes only its own lines: in /etc/crontab the lines of complete `# BEGIN zcell-scheduler`
# ... `# END zcell-scheduler` blocks, in /data/rc.local the hook line install.sh wrote (the
# file keeps its mode). A BEGIN line without its END line is reported, and nothing changes.
# ZCELL_ROOT (tests only) stands in for /.
set -eu
PURGE=no
FORCE=no
for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=yes ;;
        --force) FORCE=yes ;;
        *) echo "uninstall.sh: unknown argument $arg; usage: sh uninstall.sh [--purge] [--force]" >&2; exit 2 ;;
    esac
done

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

# The cron block is gone, so no run writes the GX again: hand it back. Without a hand-back
# record or a kick's state file the tool has nothing of its own on the GX.
if [ -x "$DIR/zcell-scheduler" ] && [ -f "$DIR/config.toml" ]; then
    if ! "$DIR/zcell-scheduler" --config "$DIR/config.toml" release; then
        if [ -f "$DIR/handback.json" ] || [ -f "$DIR/ev-kick.json" ]; then
            if [ "$FORCE" = yes ]; then
                echo "uninstall.sh: the GX could not be handed back (above); removing the tool anyway (--force): what it changed stays on the GX" >&2
            else
                echo "uninstall.sh: the GX could not be handed back (above); only the cron block was removed. Fix what the error says and run uninstall.sh again, or run uninstall.sh --force to remove the tool and leave the GX as it is" >&2
                exit 1
            fi
        else
            echo "uninstall.sh: note: release did not finish, but this tool has recorded no change on the GX to give back"
        fi
    fi
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
