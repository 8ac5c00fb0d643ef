#!/usr/bin/env bash
# PITFALLS 9 and 10 (spawn variants, exec inheritance).  Under the shim:
# execl, execlp, execle, execv, execvp, execvpe, fexecve, execve,
# posix_spawn, system and popen each start a child that runs as without the
# shim and writes its own stats file (the exec'd-away image writes one with
# end_reason "exec"); a child started through `env -i` runs without the shim;
# LD_PRELOAD="libjemalloc.so.2 libmmhint.so" keeps both libraries loaded in
# a grandchild; a failed exec followed by exit leaves exactly one stats file
# for that process, with end_reason "exit".
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_exec
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
DATA=$T/data.txt
seq 1 20000 > "$DATA"
SIZE=$(stat -c %s "$DATA")
export PATH="$PROGS:$PATH" # for execlp, execvp, execvpe

# check_stats DIR MODE: the stats files in DIR agree with what MODE did.
check_stats() {
  python3 - "$1" "$2" "$DATA" "$SIZE" <<'PY'
import json, os, sys
d, mode, data, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
errs, docs = [], []
for n in sorted(os.listdir(d)):
    if ".tmp" in n: errs.append(f"temporary file left: {n}"); continue
    try: docs.append(json.load(open(os.path.join(d, n))))
    except Exception as e: errs.append(f"{n}: invalid JSON ({e})")
def read_of(s):
    return sum(f["bytes_read"] for f in s["files"] if data in f["paths"])
argv = lambda s: s["process"]["argv"]
launch = [s for s in docs if argv(s)[1:2] == [mode]]
child = [s for s in docs if argv(s)[1:] == ["child", data, "T" + mode]]
exec_modes = {"execl", "execlp", "execle", "execv", "execvp", "execvpe", "fexecve", "execve"}
if len(launch) != 1: errs.append(f"{len(launch)} stats files for the launching image, want 1")
else:
    L = launch[0]
    want = "exec" if mode in exec_modes | {"envi"} else "exit"
    if L["process"]["end_reason"] != want: errs.append(f"launcher end_reason {L['process']['end_reason']!r}, want {want!r}")
    if read_of(L) != size: errs.append(f"launcher: bytes_read of the data file {read_of(L)}, want {size}")
if mode == "envi":
    if child: errs.append("the env -i child (no LD_PRELOAD) wrote a stats file")
    envs = [s for s in docs if os.path.basename(s["process"]["exe"]) == "env"]
    if len(envs) != 1 or envs[0]["process"]["end_reason"] != "exec": errs.append(f"env's own stats: {[s['process']['end_reason'] for s in envs]}, want ['exec']")
elif mode == "failexec":
    if len(docs) != 1: errs.append(f"{len(docs)} stats files, want exactly 1 for a process whose exec failed")
    if launch and launch[0]["process"]["end_reason"] != "exit": pass  # reported above
else:
    if len(child) != 1: errs.append(f"{len(child)} stats files for the child, want 1 (files: {[argv(s) for s in docs]})")
    else:
        C = child[0]
        if C["process"]["end_reason"] != "exit": errs.append(f"child end_reason {C['process']['end_reason']!r}")
        if read_of(C) != size: errs.append(f"child: bytes_read of the data file {read_of(C)}, want {size}")
        same_pid = launch and C["process"]["pid"] == launch[0]["process"]["pid"]
        if mode in exec_modes and not same_pid: errs.append("exec'd child has another pid than its launcher")
        if mode not in exec_modes and same_pid: errs.append("spawned child has the launcher's pid")
for e in errs: print(f"FAIL: {mode}: {e}")
if not errs: print(f"ok: {mode}: {len(docs)} stats file(s), launcher and child each counted their own reads")
sys.exit(1 if errs else 0)
PY
}

for mode in execl execlp execle execv execvp execvpe fexecve execve posix_spawn system popen envi failexec; do
  timeout 30 "$PROGS/pit_exec" $mode "$DATA" T$mode > "$T/$mode.plain" 2>&1
  rc0=$?
  mkdir "$T/$mode"
  timeout 30 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/$mode/" "$PROGS/pit_exec" $mode "$DATA" T$mode > "$T/$mode.shim" 2>&1
  rc1=$?
  [ $rc1 -eq 124 ] && { fail "$mode: hung"; continue; }
  [ $rc0 -eq 0 ] || fail "$mode: plain run exited $rc0: $(cat "$T/$mode.plain")"
  [ $rc1 -eq $rc0 ] || fail "$mode: exit $rc1 under the shim, $rc0 without: $(cat "$T/$mode.shim")"
  case $mode in
    envi) want="child Tenvi read=$SIZE mmhint=no jemalloc=no" ;;
    failexec) want="failexec read=$SIZE errno=ENOENT" ;;
    *) want="child T$mode read=$SIZE mmhint=yes jemalloc=no" ;;
  esac
  # The plain run has no shim mapped: compare the shim run against the expected line.
  sed 's/mmhint=yes/mmhint=no/' "$T/$mode.shim" | cmp -s "$T/$mode.plain" - ||
    fail "$mode: output under the shim differs (beyond mmhint=yes): $(cat "$T/$mode.shim") vs $(cat "$T/$mode.plain")"
  grep -qxF "$want" "$T/$mode.shim" || fail "$mode: expected the line '$want', got: $(cat "$T/$mode.shim")"
  check_stats "$T/$mode" $mode || FAILS=$((FAILS + 1))
done

# Another library already in LD_PRELOAD stays, with the shim, in a grandchild
# (pit_exec -> sh -> pit_exec child), in both orders.
if [ -f "$JEMALLOC" ]; then
  mkdir "$T/jem"
  for pre in "$JEMALLOC $LIB" "$LIB $JEMALLOC"; do
    out=$(timeout 30 env LD_PRELOAD="$pre" MMHINT_STATS="$T/jem/" "$PROGS/pit_exec" system "$DATA" Tjem 2>&1)
    [ "$out" = "child Tjem read=$SIZE mmhint=yes jemalloc=yes" ] && ok "grandchild under LD_PRELOAD=\"$pre\": both loaded" ||
      fail "grandchild under LD_PRELOAD=\"$pre\": $out"
  done
else
  fail "$JEMALLOC is not installed"
fi
finish
