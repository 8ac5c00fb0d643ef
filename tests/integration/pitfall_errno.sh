#!/usr/bin/env bash
# PITFALLS 12 (errno, EINTR, cancellation): errno after successful open,
# read, pread, lseek, mmap, close, malloc, fopen, fread, fgets, fclose ... is
# the sentinel set before; EBADF, EFAULT, ENOENT, EINVAL, ENOMEM are exact;
# a blocking pipe read interrupted by SIGALRM (no SA_RESTART) returns
# -1/EINTR; pthread_cancel of a thread blocked in read() cancels it.  The
# output must be the expected one, and identical with and without the shim
# (with statistics on, and with MMHINT_DISABLE=1).
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_errno
DATA=$T/data.txt
seq 1 20000 > "$DATA"

cat > "$T/expected" <<'X'
open                     ok=1 errno=SENTINEL
read                     ok=1 errno=SENTINEL
pread                    ok=1 errno=SENTINEL
lseek                    ok=1 errno=SENTINEL
read_to_eof              ok=1 errno=SENTINEL
mmap                     ok=1 errno=SENTINEL
munmap                   ok=1 errno=SENTINEL
dup2                     ok=1 errno=SENTINEL
close_dup                ok=1 errno=SENTINEL
close                    ok=1 errno=SENTINEL
malloc                   ok=1 errno=SENTINEL
realloc                  ok=1 errno=SENTINEL
free                     ok=1 errno=SENTINEL
calloc                   ok=1 errno=SENTINEL
fopen                    ok=1 errno=SENTINEL
fread                    ok=1 errno=SENTINEL
fgets                    ok=1 errno=SENTINEL
fseek                    ok=1 errno=SENTINEL
fclose                   ok=1 errno=SENTINEL
read_closed_fd           r=-1 errno=EBADF
pread_closed_fd          r=-1 errno=EBADF
lseek_closed_fd          r=-1 errno=EBADF
close_closed_fd          r=-1 errno=EBADF
read_bad_pointer         r=-1 errno=EFAULT
pread_bad_pointer        r=-1 errno=EFAULT
lseek_bad_whence         r=-1 errno=EINVAL
open_missing             r=-1 errno=ENOENT
fopen_missing            r=0 errno=ENOENT
openat_missing           r=-1 errno=ENOENT
mmap_bad_fd              r=1 errno=EBADF
malloc_huge              r=0 errno=ENOMEM
calloc_overflow          r=0 errno=ENOMEM
read_interrupted         r=-1 errno=EINTR
cancel_blocked_read      join=0 canceled=1 cleanup=1
X

timeout 30 "$PROGS/pit_errno" "$DATA" > "$T/plain" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "plain run exited $rc"
cmp -s "$T/expected" "$T/plain" || { fail "the plain run does not print what this test expects (libc changed?):"; diff "$T/expected" "$T/plain"; }

for setup in "stats" "disabled"; do
  if [ $setup = stats ]; then extra=(MMHINT_STATS="$T/s.json"); else extra=(MMHINT_DISABLE=1); fi
  timeout 30 env LD_PRELOAD="$LIB" "${extra[@]}" "$PROGS/pit_errno" "$DATA" > "$T/$setup" 2>&1
  rc=$?
  [ $rc -eq 124 ] && { fail "$setup: hung (a cancellation or EINTR that did not arrive?)"; continue; }
  [ $rc -eq 0 ] || fail "$setup: exited $rc under the shim"
  if cmp -s "$T/plain" "$T/$setup"; then ok "$setup: output identical to the plain run ($(wc -l < "$T/plain") checks)"; else
    fail "$setup: output differs from the plain run:"; diff "$T/plain" "$T/$setup"
  fi
done
if valid_stats "$T/s.json"; then
  got=$(stats_q "$T/s.json" "(c('$DATA','opens'), c('$DATA','stdio_opens'), c('$DATA','read_errors') >= 2)")
  [ "$got" = "(3, 1, True)" ] && ok "stats: 3 opens, 1 stdio open, failed reads counted as read_errors" ||
    fail "stats: (opens, stdio_opens, read_errors >= 2) of the data file = $got, want (3, 1, True)"
else
  fail "stats file missing or invalid"
fi
finish
