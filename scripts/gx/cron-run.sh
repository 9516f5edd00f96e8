#!/bin/sh
# Runs one zcell-scheduler command from cron and keeps its output in a size-capped log
# (Venus OS has no cron mail). Usage: cron-run.sh [--failures-only] COMMAND [ARGS...]
# --failures-only: log a run only when it fails (for hourly checks, so the log does not fill
# with good news). A failure also goes to syslog with logger.
# ZCELL_ROOT (tests only) stands in for /.
DIR=${ZCELL_ROOT:-}/data/zcell-scheduler
FAILURES_ONLY=no
if [ "${1:-}" = --failures-only ]; then
    FAILURES_ONLY=yes
    shift
fi
# ev-kick runs every 5 minutes: its own log, so it never pushes apply's history out.
case "$1" in
    ev-kick) LOG=$DIR/ev-kick.log ;;
    *) LOG=$DIR/zcell-scheduler.log ;;
esac
MAX_BYTES=${ZCELL_LOG_MAX_BYTES:-262144}

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
# Keep the newest half when the log outgrows its cap.
if [ -f "$LOG" ] && [ "$(wc -c <"$LOG")" -gt "$MAX_BYTES" ]; then
    tail -c $((MAX_BYTES / 2)) "$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
fi
exit "$CODE"
