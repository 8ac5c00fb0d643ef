/*
 * policy/nodes.h: NUMA policy strings (the `numa` and `numa_process` option
 * values) and node lists, parsed, checked against the machine and formatted
 * back to text.
 *
 * Pure logic: no libnuma, no system calls, no allocation.  The facts about the
 * machine (which nodes exist, which ones this process may use) are passed in
 * by the caller as a mmhint_numa_topology_t, so unit tests can describe a
 * 4-node machine on a 1-node host.  Messages go into caller-provided buffers
 * and are built without the stdio formatter, so these functions are safe to
 * call from inside the shim's wrappers.
 *
 * Grammar of a policy string (the same words numactl uses):
 *
 *   off | local | bind:NODES | interleave:NODES | preferred:NODE
 *
 *   NODES := all | [!]LIST        LIST := ITEM[,ITEM]...      ITEM := N | N-M
 *
 * `all` means every node the process may use; `!LIST` means every node the
 * process may use except those listed.  Both are therefore kept symbolic by
 * mmhint_numa_parse and only turned into concrete nodes by
 * mmhint_numa_resolve, which knows the machine.
 */
#ifndef MMHINT_POLICY_NODES_H
#define MMHINT_POLICY_NODES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Node masks ---------------------------------------------------------- */

#define MMHINT_NUMA_MAX_NODES 1024                            /* same limit as the kernel's default MAX_NUMNODES range */
#define MMHINT_NODEMASK_WORDS (MMHINT_NUMA_MAX_NODES / 64)   /* 16 words of 64 bits */

/* Bit n of word n/64 is set when node n is in the set. */
typedef struct {
  uint64_t bits[MMHINT_NODEMASK_WORDS];
} mmhint_nodemask_t;

/* Empties `m`. */
static inline void mmhint_nodemask_clear(mmhint_nodemask_t *m) {
  for (int i = 0; i < MMHINT_NODEMASK_WORDS; i++) m->bits[i] = 0;
}

/* Adds node `n` (0 <= n < MMHINT_NUMA_MAX_NODES; others are ignored). */
static inline void mmhint_nodemask_set(mmhint_nodemask_t *m, int n) {
  if (n >= 0 && n < MMHINT_NUMA_MAX_NODES) m->bits[n / 64] |= (uint64_t)1 << (n % 64);
}

/* Returns 1 when node `n` is in `m`, 0 otherwise (also for out-of-range n). */
static inline int mmhint_nodemask_test(const mmhint_nodemask_t *m, int n) {
  return n >= 0 && n < MMHINT_NUMA_MAX_NODES && ((m->bits[n / 64] >> (n % 64)) & 1);
}

/* Returns the number of nodes in `m`. */
int mmhint_nodemask_count(const mmhint_nodemask_t *m);

/* Returns the lowest node in `m`, or -1 when `m` is empty. */
int mmhint_nodemask_first(const mmhint_nodemask_t *m);

/* Returns the highest node in `m`, or -1 when `m` is empty. */
int mmhint_nodemask_last(const mmhint_nodemask_t *m);

/*
 * Parses a node list LIST ("0", "0-3,6", "1,3") of `len` bytes (need not be
 * NUL-terminated) into `out`.  Accepts neither `all` nor `!` (those need the
 * machine; see mmhint_numa_parse).  A trailing newline is accepted so that
 * sysfs files ("0-1\n") and /proc/self/status's Mems_allowed_list can be
 * passed as read.  Returns 0, or -1 with a one-line reason in `err` (size
 * `errlen`, may be 0) and `out` empty.
 */
int mmhint_nodelist_parse(const char *text, size_t len, mmhint_nodemask_t *out, char *err, size_t errlen);

/*
 * Formats `m` as the shortest LIST ("0-3,6"); an empty set is "" .  Always
 * NUL-terminates when `len` > 0.  Returns the length the full text needs
 * (excluding the NUL), like snprintf, so a result >= `len` means truncation.
 */
size_t mmhint_nodelist_format(const mmhint_nodemask_t *m, char *buf, size_t len);

/* ---- Policies ------------------------------------------------------------ */

typedef enum {
  MMHINT_NUMA_OFF = 0,     /* leave placement alone: the shim makes no NUMA call */
  MMHINT_NUMA_LOCAL,       /* allocate on the node of the CPU that touches first (MPOL_LOCAL) */
  MMHINT_NUMA_BIND,        /* only on the given nodes (MPOL_BIND) */
  MMHINT_NUMA_INTERLEAVE,  /* round-robin pages over the given nodes (MPOL_INTERLEAVE) */
  MMHINT_NUMA_PREFERRED,   /* on the given single node while it has memory (MPOL_PREFERRED) */
} mmhint_numa_mode_t;

/* How the node list of a parsed policy is to be read against the machine. */
typedef enum {
  MMHINT_NODES_LISTED = 0, /* exactly the nodes in `nodes` */
  MMHINT_NODES_ALL,        /* every allowed node (`all`); `nodes` is empty */
  MMHINT_NODES_ALL_BUT,    /* every allowed node except those in `nodes` (`!LIST`) */
} mmhint_nodes_kind_t;

typedef struct {
  mmhint_numa_mode_t mode;
  mmhint_nodes_kind_t kind;  /* always MMHINT_NODES_LISTED after mmhint_numa_resolve */
  mmhint_nodemask_t nodes;   /* empty for OFF and LOCAL */
} mmhint_numa_policy_t;

/*
 * Parses a policy string (see the grammar above; the empty string means off)
 * into `out`.  Checks syntax and node-number bounds only; whether the nodes
 * exist is mmhint_numa_resolve's job.  `preferred` takes exactly one node.
 * Returns 0, or -1 with a one-line reason that quotes the input and names the
 * accepted forms in `err` (size `errlen`), and `out` set to off.
 */
int mmhint_numa_parse(const char *text, mmhint_numa_policy_t *out, char *err, size_t errlen);

/*
 * Formats `p` back to policy text: "off", "local", "bind:0-1",
 * "interleave:all", "bind:!0", "preferred:1".  mmhint_numa_parse of the result
 * gives `p` back.  NUL-terminates when `len` > 0; returns the length the full
 * text needs (excluding the NUL).
 */
size_t mmhint_numa_format(const mmhint_numa_policy_t *p, char *buf, size_t len);

/*
 * Returns the kernel's MPOL_* mode for `mode` (as in <linux/mempolicy.h>, to
 * pass to mbind/set_mempolicy), or -1 for MMHINT_NUMA_OFF, which means the
 * caller makes no call at all.
 */
int mmhint_numa_kernel_mode(mmhint_numa_mode_t mode);

/* ---- The machine --------------------------------------------------------- */

/*
 * What the caller knows about the machine.  `present`: the nodes that exist
 * (with memory or not), as /sys/devices/system/node/online, or libnuma's
 * numa_nodes_ptr / 0..numa_max_node() give.  `allowed`: the nodes this
 * process may allocate on (its cpuset), as numa_get_mems_allowed() or
 * Mems_allowed_list in /proc/self/status give; a subset of `present`.
 */
typedef struct {
  mmhint_nodemask_t present;
  mmhint_nodemask_t allowed;
} mmhint_numa_topology_t;

/*
 * Describes a machine whose nodes 0..n-1 all exist and are allowed (n >= 1;
 * values outside 1..MMHINT_NUMA_MAX_NODES are clamped into that range).
 */
void mmhint_numa_topology_simple(mmhint_numa_topology_t *topo, int n);

/* Result of mmhint_numa_resolve. */
typedef enum {
  MMHINT_NUMA_RESOLVED_OK = 0,   /* every requested node is usable; `out` is the request */
  MMHINT_NUMA_RESOLVED_PARTIAL,  /* some requested nodes are not usable; `out` keeps the usable ones */
  MMHINT_NUMA_RESOLVED_NONE,     /* no requested node is usable; `out` is off */
} mmhint_numa_resolve_t;

/*
 * Turns the parsed policy `in` into concrete nodes on machine `topo`: `all`
 * becomes the allowed nodes, `!LIST` the allowed nodes minus LIST, and every
 * listed node is checked.  Nodes that do not exist, or exist but are outside
 * the process's allowed set, are dropped and named in `err` (size `errlen`),
 * together with the nodes the machine does have, e.g. "node 3 does not exist;
 * this machine has nodes 0".  The result kind is always
 * MMHINT_NODES_LISTED.  OFF and LOCAL resolve to themselves.
 *
 * The caller decides how to degrade: with PARTIAL it may use `out` (the
 * usable subset) or fall back to off; with NONE `out` is off.  On OK, `err`
 * is set to "".  `in` and `out` may be the same object.
 */
mmhint_numa_resolve_t mmhint_numa_resolve(const mmhint_numa_policy_t *in, const mmhint_numa_topology_t *topo,
                                          mmhint_numa_policy_t *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
