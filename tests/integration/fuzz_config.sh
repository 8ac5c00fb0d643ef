#!/bin/bash
# Fuzzes the config parser and the glob matcher (tests/fuzz/config_fuzz.c)
# with libFuzzer under ASan and UBSan for a fixed time, starting from the seed
# corpus in tests/fuzz/corpus/config.  Fails on any crash, sanitizer report,
# leak or hang; exits 77 (skipped) when the fuzzer toolchain is missing
# (Debian: clang and libclang-rt-14-dev).
#
# MMHINT_FUZZ_SECONDS overrides the run time (default 30).
set -u

src=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
seconds=${MMHINT_FUZZ_SECONDS:-30}

cc=""
for c in clang clang-14 clang-15 clang-16; do
  if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done
if [ -z "$cc" ]; then
  echo "SKIP: clang not found; install clang and libclang-rt-14-dev for the fuzzer" >&2
  exit 77
fi

work=$(mktemp -d /tmp/mmhint-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Probe the fuzzer runtime with a trivial target first, so a missing runtime
# is a skip and not a failure.
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
  >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"; then
  echo "SKIP: $cc cannot build with -fsanitize=fuzzer (install libclang-rt-14-dev):" >&2
  cat "$work/probe.log" >&2
  exit 77
fi

if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
  -I"$src" -I"$src/include" \
  "$src/tests/fuzz/config_fuzz.c" "$src/policy/options.c" "$src/policy/rules.c" "$src/policy/config.c" \
  "$src/policy/os/os.c" -o "$work/config_fuzz"; then
  echo "FAIL: the fuzz target does not compile" >&2
  exit 1
fi

mkdir -p "$work/corpus" "$work/artifacts"
cp "$src"/tests/fuzz/corpus/config/* "$work/corpus/"

# -timeout: one input taking over 10 s is a hang (the glob matcher must stay
# polynomial); -rss_limit_mb bounds memory; -max_len allows long-line inputs.
"$work/config_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" >"$work/fuzz.log" 2>&1
status=$?
tail -n 20 "$work/fuzz.log"
if [ $status -ne 0 ] || ls "$work/artifacts"/* >/dev/null 2>&1; then
  echo "FAIL: the fuzzer found a problem (status $status); the input that caused it:" >&2
  for f in "$work/artifacts"/*; do
    [ -f "$f" ] || continue
    echo "--- $f (base64)" >&2
    base64 "$f" >&2
  done
  exit 1
fi
echo "PASS: fuzzed for ${seconds}s without a finding"
exit 0
