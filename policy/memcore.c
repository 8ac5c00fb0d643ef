/*
 * policy/memcore.c: the router's configuration, decision, shared state,
 * fallbacks and NUMA call; see memcore.h.
 */
#include "policy/memcore.h"

#include <errno.h>
#include <sys/mman.h>

#include "policy/count.h"
#include "policy/os/os.h"

/* ---- The decision (mmhint_memroute_decide is inline in the header) -------------- */

uint64_t mmhint_memroute_threshold(const mmhint_memroute_cfg_t *cfg) {
  uint64_t t = UINT64_MAX;
  if (cfg->hugepages != MMHINT_HP_OFF && cfg->hp_min <= cfg->hp_max) t = cfg->hp_min;
  if (cfg->numa_wanted && cfg->numa_min <= cfg->numa_max && cfg->numa_min < t) t = cfg->numa_min;
  return t == 0 ? 1 : t;
}

uintptr_t mmhint_memroute_trim(uintptr_t raw, size_t raw_len, size_t len, size_t align, size_t *head, size_t *tail) {
  uintptr_t start = (raw + align - 1) & ~(uintptr_t)(align - 1);
  if (start < raw || start - raw > raw_len || raw_len - (start - raw) < len) return 0;
  *head = start - raw;
  *tail = raw_len - *head - len;
  return start;
}

/* ---- Shared state ---------------------------------------------------------------- */

_Alignas(64) mmhint_memroute_cfg_t mmhint_memroute_cfg; /* one line for decide() */
mmhint_memroute_setup_t mmhint_memroute_setup = {
    .thp_mode = "unknown",
    .nodes_online = "0",
    .mems_allowed = "0",
};
mmhint_registry_t mmhint_memroute_regions;
mmhint_memroute_stats_t mmhint_memroute_stats;

/* ---- Fallbacks ------------------------------------------------------------------- */

static uint32_t warned; /* one bit per fallback reason */

static const char *const fallback_docs[] = {
#define MMHINT_X_DOC(name, doc) doc,
    MMHINT_ROUTE_FALLBACKS(MMHINT_X_DOC)
#undef MMHINT_X_DOC
};

void mmhint_memroute_fallback(int reason, const char *detail) {
  mmhint_count(&mmhint_memroute_stats.fallbacks[reason], 1);
  uint32_t bit = 1u << reason;
  if (__atomic_fetch_or(&warned, bit, __ATOMIC_RELAXED) & bit) return;
  int has = detail && *detail;
  mmhint_os_warn(fallback_docs[reason], has ? " (" : "", has ? detail : "", has ? ")" : "");
}

const char *mmhint_memroute_errno_name(long e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EIO: return "EIO";
    default: return "error";
  }
}

/* ---- NUMA ------------------------------------------------------------------------- */

long mmhint_memroute_apply_numa(void *addr, size_t len, const mmhint_numa_policy_t *p) {
  int mode = mmhint_numa_kernel_mode(p->mode);
  if (mode < 0) return 0;
  const unsigned long *mask = NULL;
  unsigned long maxnode = 0;
  if (p->mode != MMHINT_NUMA_LOCAL) {
    mask = (const unsigned long *)p->nodes.bits;
    maxnode = MMHINT_NUMA_MAX_NODES + 1;
  }
  if (!addr) return mmhint_os_set_mempolicy(mode, mask, maxnode);
  return mmhint_os_mbind(addr, len, mode, mask, maxnode, 0);
}

/* ---- Treating a fresh mapping ------------------------------------------------------ */

uint32_t mmhint_memroute_advise_thp(void *p, size_t len) {
  int never = mmhint_memroute_setup.thp_never;
  long r = never ? -EINVAL : mmhint_os_madvise(p, len, MADV_HUGEPAGE);
  if (r == 0) return MMHINT_RG_THP;
  mmhint_memroute_fallback(MMHINT_RF_thp_unavailable,
                           never ? "the system's THP mode is never" : mmhint_memroute_errno_name(-r));
  return 0;
}

uint32_t mmhint_memroute_place(void *p, size_t len) {
  if (mmhint_memroute_cfg.numa.mode == MMHINT_NUMA_OFF) {
    mmhint_memroute_fallback(MMHINT_RF_numa_nodes, "");
    return 0;
  }
  long r = mmhint_memroute_apply_numa(p, len, &mmhint_memroute_cfg.numa);
  if (r == 0) return MMHINT_RG_NUMA;
  mmhint_memroute_fallback(MMHINT_RF_mbind_failed, mmhint_memroute_errno_name(-r));
  return 0;
}
