/* Preprocessed into the linker version script: export the wrappers and the public API, nothing else. */
#include "shim/symbols.def"
#define S(name) name;
{
  global:
    mmhint_version; mmhint_option_get; mmhint_stats_flush; mmhint_numa_supported;
    MMHINT_SYMBOLS(S)
  local: *;
};
