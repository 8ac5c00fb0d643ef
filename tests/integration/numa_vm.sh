#!/bin/bash
# NUMA on a real two-node topology: boots a small QEMU VM (software emulation)
# and checks that pages land on the nodes asked for, without and with the
# shim.  All the work is in scripts/numa-vm-test (see docs/NUMA.md); this
# wrapper only hands it the build directory and passes its exit status
# through, so 77 (cannot run here: no qemu, no kernel package) is a skip.
set -u
source_dir=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build_dir=${MMHINT_BUILD_DIR:-$source_dir/build}
exec "$source_dir/scripts/numa-vm-test" --build-dir "$build_dir" "$@"
