/*
 * policy/fork.h: the fork protocol shared by every policy module with a lock.
 */
#ifndef MMHINT_POLICY_FORK_H
#define MMHINT_POLICY_FORK_H

/*
 * The fork protocol of every module with a lock: MMHINT_FORK_PREPARE takes
 * the lock before fork() (so no other thread holds it half-way through an
 * update when the address space is copied), MMHINT_FORK_PARENT releases it
 * in the parent, MMHINT_FORK_CHILD resets it in the child, where the threads
 * that could have held per-object locks do not exist.  The shim calls the
 * modules in one fixed order (shim/process.c) that matches the order their
 * locks nest in: descriptor table, read->mmap, residency pool, statistics.
 */
enum { MMHINT_FORK_PREPARE, MMHINT_FORK_PARENT, MMHINT_FORK_CHILD };

#endif
