#!/usr/bin/env bash
# The fast path's own system calls (shim/shim.h, MMHINT_FAST and
# mmhint__raw_io): in a process of one thread, an untimed read, pread, write
# or pwrite on a tracked description is made by the shim with the syscall
# instruction, as glibc's function itself does then.  Checked here:
#  - results, errno (left alone on success; EFAULT, EINVAL, EBADF exact), the
#    bytes read and written and the offsets are those of the plain run, with
#    and without a second thread, and the statistics count every call;
#  - a library that interposes read/write after this one (LD_PRELOAD order)
#    still sees every call: the shim makes its own system calls only when the
#    next definition is glibc's, and never with direct_syscalls=0.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_rawio
DATA=$T/data.txt
seq 1 5000 > "$DATA"

for mode in one threads; do
  arg=(); [ $mode = threads ] && arg=(threads)
  timeout 30 "$PROGS/pit_rawio" "$DATA" "${arg[@]}" > "$T/plain.$mode" 2>&1 || fail "$mode: plain run failed"
  bad=$(grep -E '^[a-z_ ]+ [0-9]+/64$' "$T/plain.$mode" | grep -vc ' 64/64$')
  [ "$bad" = 0 ] || { fail "$mode: the plain run itself misses checks (libc changed?)"; cat "$T/plain.$mode"; }
  rm -rf "$T/s.$mode"; mkdir "$T/s.$mode"
  timeout 30 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/s.$mode/" "$PROGS/pit_rawio" "$DATA" "${arg[@]}" > "$T/shim.$mode" 2>&1 ||
    fail "$mode: run under the shim failed"
  if cmp -s "$T/plain.$mode" "$T/shim.$mode"; then ok "$mode: output identical to the plain run ($(wc -l < "$T/plain.$mode") lines)"; else
    fail "$mode: output differs from the plain run:"; diff "$T/plain.$mode" "$T/shim.$mode"
  fi
  s=$(ls "$T/s.$mode"/pit_rawio.*.json 2>/dev/null | head -1)
  if [ -n "$s" ] && valid_stats "$s"; then
    # 64 reads of 7 bytes, 64 EFAULT, 64 preads of 5, 64 EINVAL, 128 _chk reads of 3 on the data file; 64 EBADF writes on it.
    got=$(stats_q "$s" "(c('$DATA','reads'), c('$DATA','read_errors'), c('$DATA','write_errors'), c('$DATA','bytes_read'))")
    [ "$got" = "(256, 128, 64, 1152)" ] && ok "$mode: the data file's reads, errors and bytes all counted" ||
      fail "$mode: (reads, read_errors, write_errors, bytes_read) of the data file = $got, want (256, 128, 64, 1152)"
    got=$(stats_q "$s" "(c('$DATA.out','writes'), c('$DATA.out','bytes_written'), c('$DATA.out','write_errors'), c('$DATA.out','eof_reads'))")
    [ "$got" = "(128, 640, 64, 64)" ] && ok "$mode: the written file's writes, bytes, errors and reads at the end counted" ||
      fail "$mode: (writes, bytes_written, write_errors, eof_reads) of the written file = $got, want (128, 640, 64, 64)"
  else
    fail "$mode: no valid statistics file"
  fi
done

# The shim says which way the fast path goes (MMHINT_VERBOSE): here, system calls of its own.
env LD_PRELOAD="$LIB" MMHINT_VERBOSE=1 "$PROGS/pit_rawio" "$DATA" 2>&1 >/dev/null | grep -q 'fast path of read.*: system calls made here' &&
  ok "alone, the shim makes the fast path's system calls itself" || fail "alone, the shim does not say it makes the fast path's system calls"

env LD_PRELOAD="$LIB" MMHINT_VERBOSE=1 MMHINT_DIRECT_SYSCALLS=0 "$PROGS/pit_rawio" "$DATA" 2>&1 >/dev/null |
  grep -q 'fast path of read.*: through the next definitions (direct_syscalls=0)' &&
  ok "direct_syscalls=0 sends the fast path through glibc's functions" || fail "direct_syscalls=0 is not said to take effect"

# A second interposer after the shim: it must see every call.
cat > "$T/count.c" <<'X'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static long n_read, n_pread, n_write, n_pwrite;
ssize_t read(int fd, void *b, size_t n) { n_read++; return ((ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read"))(fd, b, n); }
ssize_t pread(int fd, void *b, size_t n, off_t o) { n_pread++; return ((ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread"))(fd, b, n, o); }
ssize_t write(int fd, const void *b, size_t n) { n_write++; return ((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(fd, b, n); }
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { n_pwrite++; return ((ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite"))(fd, b, n, o); }
__attribute__((destructor)) static void done(void) {
  char line[160];
  int len = snprintf(line, sizeof line, "counted read=%ld pread=%ld write=%ld pwrite=%ld\n", n_read, n_pread, n_write, n_pwrite);
  syscall(SYS_write, 2, line, (size_t)len);
}
X
cc -shared -fPIC -O1 -o "$T/libcount.so" "$T/count.c" -ldl || { echo "FAIL: cannot build the counting library"; exit 1; }
timeout 30 env LD_PRELOAD="$T/libcount.so" "$PROGS/pit_rawio" "$DATA" > /dev/null 2> "$T/count.plain" || fail "counting library alone: run failed"
timeout 30 env LD_PRELOAD="$LIB:$T/libcount.so" MMHINT_STATS="$T/s.one/again.json" "$PROGS/pit_rawio" "$DATA" > "$T/count.out" 2> "$T/count.shim" ||
  fail "shim then counting library: run failed"
want=$(grep '^counted' "$T/count.plain"); got=$(grep '^counted' "$T/count.shim")
case "$want" in *"read=0 "*|"") fail "the counting library saw no reads on its own: $want" ;; esac
[ -n "$got" ] && [ "$got" = "$want" ] && ok "a library after the shim sees every call ($got)" ||
  fail "a library after the shim: $got, alone: $want"
cmp -s "$T/plain.one" "$T/count.out" && ok "and the output is the plain run's" || fail "output with both libraries differs from the plain run"
env LD_PRELOAD="$LIB:$T/libcount.so" MMHINT_VERBOSE=1 "$PROGS/pit_rawio" "$DATA" 2>&1 >/dev/null | grep -q 'fast path of read.*: through the next definitions' &&
  ok "and the shim says its fast path goes through the next library" || fail "with a library after it, the shim does not say its fast path goes through it"
finish
