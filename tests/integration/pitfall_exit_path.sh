#!/usr/bin/env bash
# PITFALLS 14 (exit path): atexit handlers, destructors and pthread key
# destructors that allocate and read; close_range(3, ~0U, 0) then more I/O;
# _exit from a thread; exit while threads are busy; abort(); SIGKILL.  The
# program behaves as without the shim (output, exit status); the stats file
# is complete JSON or absent, never half-written, and no temporary file is
# left; where a file is written, it counts the reads that came before it.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_exitpath
DATA=$T/data.txt
seq 1 20000 > "$DATA"

# mode  expected-stats: "-" absent-or-valid, else "end_reason reads opens"
while read -r mode want; do
  timeout 30 "$PROGS/pit_exitpath" $mode "$DATA" > "$T/$mode.plain" 2>/dev/null
  rc0=$?
  mkdir "$T/$mode"
  timeout 30 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/$mode/" "$PROGS/pit_exitpath" $mode "$DATA" > "$T/$mode.shim" 2> "$T/$mode.err"
  rc1=$?
  [ $rc1 -eq 124 ] && { fail "$mode: hung"; continue; }
  [ $rc1 -eq $rc0 ] || fail "$mode: exit status $rc1 under the shim, $rc0 without"
  cmp -s "$T/$mode.plain" "$T/$mode.shim" || fail "$mode: output differs: $(echo $(cat "$T/$mode.shim")) vs $(echo $(cat "$T/$mode.plain"))"
  tmp=$(ls -A "$T/$mode" | grep -F .tmp)
  [ -z "$tmp" ] || fail "$mode: temporary files left behind: $tmp"
  files=("$T/$mode"/*.json*)
  [ -e "${files[0]}" ] || files=()
  for f in "${files[@]}"; do valid_stats "$f" || fail "$mode: $(basename "$f") is not complete JSON (half-written?)"; done
  if [ "$want" = "-" ]; then
    ok "$mode (exit $rc1): ${#files[@]} stats file(s), all complete, no temporary file"
    continue
  fi
  [ ${#files[@]} -eq 1 ] || { fail "$mode: ${#files[@]} stats files, want 1"; continue; }
  got=$(stats_q "${files[0]}" "s['process']['end_reason'], c('$DATA','reads'), c('$DATA','opens')" | tr -d "(),'")
  [ "$got" = "$want" ] && ok "$mode: end_reason, reads, opens = $got" ||
    fail "$mode: (end_reason reads opens) = ($got), want ($want)"
done <<'M'
atexit exit 3 3
keydtor exit 2 2
close_range exit 2 2
thread_exit _exit 2 2
busy_exit -
abort -
sigkill -
M
finish
