#!/bin/bash
# The README's option list is generated from the option table; fail when it is stale.
exec python3 "$MMHINT_SOURCE_DIR/scripts/gen-options-doc" --check "$MMHINT_SOURCE_DIR/README.md"
