#!/bin/sh
# Runs one zcell-scheduler command from cron and keeps its output in a size-capped log
# (Venus OS has no cron mail). Usage: cron-run.sh [--failures-only] COMMAND [ARGS...]
#                                 or: cron-run.sh --follow-config
# --failures-only: log a run only when it fails (for hourly checks, so the log does not fill
# with good news). A failure also goes to syslog with logger.
# Before the command, the cron block follows the config: when config.toml is not the one the
# block in /etc/crontab was written from, the boot helper (rc.local) writes it again, and the
# log says so. --follow-config does only that.
# ZCELL_ROOT (tests only) stands in for /.
DIR=${ZCELL_ROOT:-}/data/zcell-scheduler
MAIN_LOG=$DIR/zcell-scheduler.log
MAX_BYTES=${ZCELL_LOG_MAX_BYTES:-262144}

# What config.toml holds, in short (the same function as in rc.local).
fingerprint() { cksum <"$1" 2>/dev/null || md5sum <"$1" 2>/dev/null || wc -c <"$1"; }

# Keeps the newest half of a log that outgrew its cap.
cap() {
    if [ -f "$1" ] && [ "$(wc -c <"$1")" -gt "$MAX_BYTES" ]; then
        tail -c $((MAX_BYTES / 2)) "$1" >"$1.tmp" && mv "$1.tmp" "$1"
    fi
}

# Runs the helper when config.toml's fingerprint is not the one noted in .cron-block-config (by the
# helper when it wrote or checked the block, or here when it was last tried for this config, so
# a helper that fails is tried once per config change, not every run). One run at a time: a
# run that finds another one at it leaves it to that one.
follow_config() {
    STAMP=$DIR/.cron-block-config
    [ -f "$DIR/config.toml" ] && [ -f "$DIR/rc.local" ] || return 0
    NOW=$(fingerprint "$DIR/config.toml")
    [ "$NOW" != "$(cat "$STAMP" 2>/dev/null)" ] || return 0
    LOCK=$DIR/.cron-block.lock
    if ! mkdir "$LOCK" 2>/dev/null; then
        # Left by a run that was killed? Then take it over, once.
        HOLDER=$(cat "$LOCK/pid" 2>/dev/null)
        if [ -n "$HOLDER" ] && kill -0 "$HOLDER" 2>/dev/null; then
            return 0
        fi
        rm -rf "$LOCK"
        mkdir "$LOCK" 2>/dev/null || return 0
    fi
    echo $$ >"$LOCK/pid"
    printf '%s\n' "$NOW" >"$STAMP.new" && mv "$STAMP.new" "$STAMP"
    HELPER_OUT=$(sh "$DIR/rc.local" 2>&1)
    HELPER_CODE=$?
    rm -rf "$LOCK"
    {
        echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') config.toml changed since the cron block was written: ran rc.local (exit $HELPER_CODE)"
        [ -n "$HELPER_OUT" ] && echo "$HELPER_OUT"
    } >>"$MAIN_LOG"
    if [ "$HELPER_CODE" != 0 ] && command -v logger >/dev/null 2>&1; then
        logger -t zcell-scheduler "cron block not rewritten after a config change (exit $HELPER_CODE): $(echo "$HELPER_OUT" | tail -n 1)"
    fi
    cap "$MAIN_LOG"
}

if [ "${1:-}" = --follow-config ]; then
    follow_config
    exit 0
fi
FAILURES_ONLY=no
if [ "${1:-}" = --failures-only ]; then
    FAILURES_ONLY=yes
    shift
fi
follow_config
# ev-kick runs every 5 minutes: its own log, so it never pushes apply's history out.
case "${1:-}" in
    ev-kick) LOG=$DIR/ev-kick.log ;;
    *) LOG=$MAIN_LOG ;;
esac

OUT=$("$DIR/zcell-scheduler" --config "$DIR/config.toml" "$@" 2>&1)
CODE=$?
if [ "$CODE" != 0 ] || { [ -n "$OUT" ] && [ "$FAILURES_ONLY" = no ]; }; then
    {
        echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') $* (exit $CODE)"
        [ -n "$OUT" ] && echo "$OUT"
    } >>"$LOG"
fi
if [ "$CODE" != 0 ] && command -v logger >/dev/null 2>&1; then
    logger -t zcell-scheduler "$* exited $CODE: $(echo "$OUT" | tail -n 1)"
fi
cap "$LOG"
exit "$CODE"
