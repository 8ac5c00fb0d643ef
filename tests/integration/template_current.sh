#!/bin/sh
# shim/TEMPLATE.c, the example the next wrapper is copied from, compiles
# against the shim's headers and shows pread() exactly as shim/read.c has it.
set -eu
src=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cc=${CC:-cc}
command -v "$cc" >/dev/null || { echo "skip: no C compiler ($cc)"; exit 77; }
"$cc" -fsyntax-only -Wall -Werror -U_FORTIFY_SOURCE -fno-builtin -D_GNU_SOURCE \
  -I"$src" -I"$src/include" "$src/shim/TEMPLATE.c"
# The text between the markers, and the same function in shim/read.c.
want=$(sed -n '/^\/\* template: pread \*\/$/,/^\/\* end template \*\/$/p' "$src/shim/TEMPLATE.c" | sed '1d;$d')
have=$(awk '/^MMHINT_EXPORT ssize_t pread\(/{on=1} on{print} on&&/^}/{exit}' "$src/shim/read.c")
if [ -z "$want" ] || [ "$want" != "$have" ]; then
  echo "FAIL: shim/TEMPLATE.c's pread differs from shim/read.c's:"
  echo "--- TEMPLATE.c"; echo "$want"; echo "--- read.c"; echo "$have"
  exit 1
fi
echo "ok: TEMPLATE.c compiles and its pread is shim/read.c's"
