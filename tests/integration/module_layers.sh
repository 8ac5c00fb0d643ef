#!/bin/sh
# The objects of shim/ and policy/ use each other without a cycle, and no
# policy object uses the shim (docs/ARCHITECTURE.md, "Layers").
set -eu
src=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MMHINT_BUILD_DIR:-$src/build}
command -v nm >/dev/null || { echo "skip: nm (binutils) is not installed"; exit 77; }
exec python3 "$src/scripts/module-graph" "$build"
