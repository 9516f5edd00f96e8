#!/bin/sh
# Installs zcell-scheduler on a Victron GX (run it on the GX, as root):
#   sh install.sh [path/to/zcell-scheduler]
# Puts the binary, an example config (only if none exists), the boot helper, the cron
# wrapper and uninstall.sh under /data/zcell-scheduler/ (/data survives firmware updates), hooks the helper
# into /data/rc.local once, and runs the helper so the cron block is written now.
#
# It touches only its own lines: /data/rc.local keeps its mode and every line it had (the hook
# goes in before the first top-level `exit`, or at the end), and /etc/crontab loses nothing
# outside one complete `# BEGIN zcell-scheduler` ... `# END zcell-scheduler` block. Everything
# is checked before anything changes: that the binary runs here, that the scripts are all
# there, that /data/rc.local's structure can be followed and that /etc/crontab has no broken
# block. POSIX sh: Venus OS has no bash.
# ZCELL_ROOT (tests only) stands in for /.
set -eu

ROOT=${ZCELL_ROOT:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:-$HERE/zcell-scheduler}
DIR=$ROOT/data/zcell-scheduler
RC=$ROOT/data/rc.local
CRONTAB=$ROOT/etc/crontab
HOOK='[ -x /data/zcell-scheduler/rc.local ] && /data/zcell-scheduler/rc.local # zcell-scheduler hook'

say() { echo "install.sh: $*"; }
fail() { echo "install.sh: $*; nothing was changed" >&2; exit 2; }

[ -f "$SRC" ] || { echo "install.sh: no binary at $SRC; pass its path as the first argument" >&2; exit 2; }
for f in gx/rc.local gx/cron-run.sh config.example.toml uninstall.sh; do
    [ -f "$HERE/$f" ] || { echo "install.sh: $HERE/$f is missing; run install.sh from the unpacked scripts/ folder" >&2; exit 2; }
done

# Scratch space beside the install (/tmp may be mounted noexec; /data runs the binary anyway).
SCRATCH=$ROOT/data
[ -d "$SCRATCH" ] || SCRATCH=${TMPDIR:-/tmp}
TMP=$(mktemp -d "$SCRATCH/.zcell-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# 1. The binary runs here. A build for another processor fails as "not found" or "Exec format
# error" (or a shell tries it as a script), so the answer must be its own version line.
cp "$SRC" "$TMP/zcell-scheduler" && chmod 755 "$TMP/zcell-scheduler"
CODE=0
VERSION=$("$TMP/zcell-scheduler" --version 2>&1) || CODE=$?
case "$CODE:$VERSION" in
    0:zcell-scheduler\ *) ;;
    *)
        fail "$SRC does not run on this machine ($(uname -m)): \`--version\` gave exit $CODE and \"$(printf '%s' "$VERSION" | head -n 1 | cut -c 1-120)\"; the GX needs the armv7 build (README, \"Install on a Cerbo GX\", step 1), copied whole"
        ;;
esac

# 2. /etc/crontab: every `# BEGIN zcell-scheduler` line has its `# END zcell-scheduler`.
# (Same check as the boot helper's: a broken block is reported, never guessed at.)
if [ -f "$CRONTAB" ]; then
    BROKEN=$(awk -v begin="# BEGIN zcell-scheduler" -v end="# END zcell-scheduler" '
        index($0, begin) == 1 {
            if (open) { print "line " open " opens a zcell-scheduler block that line " NR " opens again before its \"" end "\" line"; bad = 1; exit }
            open = NR; next
        }
        open && $0 == end { open = 0 }
        END { if (!bad && open) print "line " open " opens a zcell-scheduler block with no \"" end "\" line after it" }' "$CRONTAB")
    [ -z "$BROKEN" ] ||
        fail "/etc/crontab: $BROKEN. Put the \"# END zcell-scheduler\" line back after the block's lines (or delete the block), then run install.sh again"
fi

# 3. /data/rc.local: where the hook goes. Before the first line that runs `exit` at the top
# level (not one inside an if, case, loop, function, { } or ( ) block, a here-document or a
# string), or at the end. A structure this cannot follow is reported, not guessed at.
# Prints the line number to put the hook before, 0 for the end, or "?" and why.
hook_place() {
    awk '
    function fail(why) { if (!failed) print "? " why; failed = 1; exit }
    function push(k) { stack[++depth] = k }
    function pop(k, want) {
        if (depth < 1 || index(want, " " stack[depth] " ") == 0)
            fail("its line " NR " closes a block with \"" k "\" that was not opened")
        depth--
    }
    # One word of a command line; only a word in command position can be a keyword or `exit`.
    function word(w) {
        if (w == "") return
        if (nocmd) {
            # The words after `for NAME` and `case WORD` are not commands, up to `do` or `in`.
            if (w == "do") { nocmd = 0; cmd = 1 }
            else if (w == "in" && stack[depth] == "case") { nocmd = 0; cmd = 0 }
            return
        }
        if (!cmd) return
        cmd = 0
        if (w == "if") { push("if"); cmd = 1 }
        else if (w == "case") { push("case"); nocmd = 1 }
        else if (w == "while" || w == "until") { push("loop"); cmd = 1 }
        else if (w == "for") { push("loop"); nocmd = 1 }
        else if (w == "{") { push("{"); cmd = 1 }
        else if (w == "fi") pop(w, " if ")
        else if (w == "esac") pop(w, " case ")
        else if (w == "done") pop(w, " loop ")
        else if (w == "}") pop(w, " { ")
        else if (w == "then" || w == "else" || w == "elif" || w == "do" || w == "!") cmd = 1
        else if (w ~ /^[A-Za-z_][A-Za-z0-9_]*=/) cmd = 1
        else if (w == "exit") has_exit = 1
    }
    {
        if (here != "") {
            line = $0
            if (heretab[hereat]) sub(/^\t+/, "", line)
            if (line == heredoc[hereat] && ++hereat > herecount) { here = ""; herecount = 0 }
            next
        }
        # A line that goes on from the one before belongs to the command that line began.
        if (!cont) { start = NR; starts_top = (depth == 0 && !sq && !dq) }
        if (!sq && !dq && !escaped) cmd = 1
        has_exit = 0; cont = 0; escaped = 0; op = ""; w = ""
        n = length($0)
        for (i = 1; i <= n; i++) {
            c = substr($0, i, 1)
            if (sq) { if (c == "\047") sq = 0; continue }
            if (dq) { if (c == "\\") i++; else if (c == "\"") dq = 0; continue }
            if (c == "\\") { if (i == n) escaped = 1; i++; w = w "\\"; op = ""; continue }
            if (c == "\047") { sq = 1; w = w "\047"; op = ""; continue }
            if (c == "\"") { dq = 1; w = w "\""; op = ""; continue }
            if (c == "#" && w == "") break
            if (c == " " || c == "\t") { word(w); w = ""; continue }
            if (c == "<" && substr($0, i + 1, 1) == "<") {
                # A here-document: its lines, up to the delimiter, are not commands.
                word(w); w = ""; op = ""; i += 2
                tab = 0
                if (substr($0, i, 1) == "-") { tab = 1; i++ }
                while (substr($0, i, 1) == " " || substr($0, i, 1) == "\t") i++
                d = ""
                while (i <= n && substr($0, i, 1) !~ /[ \t;&|<>()]/) { d = d substr($0, i, 1); i++ }
                gsub(/["\047\\]/, "", d)
                if (d == "") fail("its line " NR " has a here-document without a delimiter")
                heredoc[++herecount] = d; heretab[herecount] = tab
                i--
                continue
            }
            if (c == "(" && substr($0, i + 1, 1) == ")") {
                # NAME(): a function definition; its body is the block that follows.
                word(w); w = ""; op = ""; i++; cmd = 1; continue
            }
            if (c == "(") {
                op = ""
                # $( or $((: the commands inside are words of their own.
                if (w ~ /\$$/) { word(w); w = ""; push("$("); cmd = 1; continue }
                word(w); w = ""
                if (cmd) push("(")
                cmd = 1; continue
            }
            if (c == ")") {
                word(w); w = ""; op = ""
                if (depth > 0 && stack[depth] == "case") { cmd = 1; continue }
                pop(")", " ( $( "); cmd = 1; continue
            }
            if (c == ";" || c == "&" || c == "|") {
                word(w); w = ""; cmd = 1; nocmd = 0
                op = (op == c) ? c c : c
                continue
            }
            if (c == "<" || c == ">") { word(w); w = ""; op = ""; continue }
            w = w c; op = ""
        }
        if (!sq && !dq && !escaped) { word(w); nocmd = 0 }
        # A line ending in && || or | (or a backslash, or inside a string) goes on.
        cont = (escaped || sq || dq || op == "&&" || op == "||" || op == "|")
        if (herecount > 0 && here == "") { here = "yes"; hereat = 1 }
        if (has_exit) command_exits = 1
        if (!cont) { if (starts_top && command_exits && !found) found = start; command_exits = 0 }
    }
    END {
        if (failed) exit
        if (sq || dq) { print "? a quoted string in it is never closed"; exit }
        if (here != "") { print "? its here-document ending at \"" heredoc[hereat] "\" is never closed"; exit }
        if (depth > 0) { print "? a block in it opened with \"" stack[depth] "\" is never closed"; exit }
        if (cont) { print "? its last line goes on to a line that is not there"; exit }
        print found + 0
    }' "$1"
}

# Removes the lines that are exactly the hook from $1 into $2, keeping every other byte.
strip_hook() {
    cp "$1" "$2"
    for n in $(grep -nxF "$HOOK" "$1" | cut -d : -f 1 | sort -rn); do
        { head -n $((n - 1)) "$2"; tail -n +$((n + 1)) "$2"; } >"$2.line" && mv "$2.line" "$2"
    done
}

# The new /data/rc.local in $TMP/rc.local, when it needs one: the owner's lines with the hook
# where it belongs (moved there if an older install put it elsewhere).
RC_CHANGE=no
ADDED_NEWLINE=no
if [ -f "$RC" ]; then
    strip_hook "$RC" "$TMP/rc.bare"
    if grep -qF '/data/zcell-scheduler/rc.local' "$TMP/rc.bare"; then
        say "note: /data/rc.local already runs /data/zcell-scheduler/rc.local on a line of its own; no hook line added"
    else
        PLACE=$(hook_place "$TMP/rc.bare")
        case "$PLACE" in
            \?*)
                fail "cannot tell where /data/rc.local's top level ends (${PLACE#\? }). Add this line to it yourself, before any top-level exit, then run install.sh again:
  $HOOK"
                ;;
        esac
        if [ "$PLACE" = 0 ]; then
            cp "$TMP/rc.bare" "$TMP/rc.local"
            # Keep a last line without a newline intact.
            if [ -s "$TMP/rc.local" ] && [ -n "$(tail -c 1 "$TMP/rc.local")" ]; then
                printf '\n' >>"$TMP/rc.local"
                ADDED_NEWLINE=yes
            fi
            printf '%s\n' "$HOOK" >>"$TMP/rc.local"
            WHERE="at its end"
        else
            {
                head -n $((PLACE - 1)) "$TMP/rc.bare"
                printf '%s\n' "$HOOK"
                tail -n +"$PLACE" "$TMP/rc.bare"
            } >"$TMP/rc.local"
            WHERE="before the top-level exit on its line $PLACE"
        fi
        cmp -s "$TMP/rc.local" "$RC" || RC_CHANGE=yes
    fi
fi

# Everything checked: install.
mkdir -p "$DIR"
mv "$TMP/zcell-scheduler" "$DIR/zcell-scheduler.new" && mv "$DIR/zcell-scheduler.new" "$DIR/zcell-scheduler"
cp "$HERE/gx/rc.local" "$DIR/rc.local" && chmod 755 "$DIR/rc.local"
cp "$HERE/gx/cron-run.sh" "$DIR/cron-run.sh" && chmod 755 "$DIR/cron-run.sh"
cp "$HERE/config.example.toml" "$DIR/config.example.toml"
cp "$HERE/uninstall.sh" "$DIR/uninstall.sh"
if [ ! -f "$DIR/config.toml" ]; then
    cp "$HERE/config.example.toml" "$DIR/config.toml"
    say "wrote /data/zcell-scheduler/config.toml from the example"
fi

if [ ! -f "$RC" ]; then
    printf '#!/bin/sh\n%s\n' "$HOOK" >"$RC"
    chmod 755 "$RC"
    : >"$DIR/.created-rc-local"
    say "created /data/rc.local with the hook line"
elif [ "$RC_CHANGE" = yes ]; then
    # Written in place (cat >), so the file keeps its mode and owner.
    cat "$TMP/rc.local" >"$RC"
    [ "$ADDED_NEWLINE" = no ] || : >"$DIR/.added-newline"
    say "put the hook line in /data/rc.local $WHERE"
fi
if [ ! -x "$RC" ]; then
    say "note: /data/rc.local is not executable ($(ls -ld "$RC" | cut -c 1-10)), so Venus OS does not run it at boot"
    echo "  and after a firmware update the cron block comes back only when you run"
    echo "  sh /data/zcell-scheduler/rc.local yourself. install.sh leaves its mode as you set it; to let it"
    echo "  run at boot: chmod 755 /data/rc.local (it runs every line in it, yours too)."
fi

ZCELL_ROOT="$ROOT" sh "$DIR/rc.local"
say "installed in /data/zcell-scheduler."
if "$DIR/zcell-scheduler" --config "$DIR/config.toml" cron-block >/dev/null 2>&1; then
    say "the config is valid; check what the next run will do with:"
else
    say "next, edit /data/zcell-scheduler/config.toml: set timezone, bms.url and gx.host"
    echo "  (\"127.0.0.1\" on the GX itself); until then cron runs log what to set and touch no device."
    echo "  Enable the GX's Modbus TCP server (Settings → Integrations), then check with:"
fi
echo "  /data/zcell-scheduler/zcell-scheduler --config /data/zcell-scheduler/config.toml plan"
echo "  The cron block follows config.toml by itself: the first cron run after an edit rewrites it"
echo "  (and logs that in /data/zcell-scheduler/zcell-scheduler.log); to rewrite it at once:"
echo "  sh /data/zcell-scheduler/rc.local"
