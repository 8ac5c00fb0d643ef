"""Whether the process behind a stats file is still running.

With stats_interval the library rewrites a process's statistics file while
the process lives, with process.end_reason "snapshot" and process.end_ns the
time of the snapshot (docs/STATS.md); the final file replaces the last
snapshot.  A snapshot is therefore one of:

- "live": the process is on this host (process.host is this machine's name)
  and /proc/PID is a running process that started no later than the shim in
  it did (so the pid has not been reused by a newer process);
- "gone": on this host, but no such process runs: it ended without writing
  its final file (SIGKILL, the OOM killer, a crash of the machine);
- "other_host": written on another machine, which this command cannot ask.

Every other end_reason is "ended".  The age of a snapshot is now - end_ns.
"""

import os
import socket
import time

# How much later than the shim's start_ns /proc may put the process's start
# and still be the same process.  /proc counts in clock ticks (10 ms) since
# boot and the wall clock may have been stepped since; a pid reused by a
# newer process started after the old one ended, which for a snapshot is
# after its end_ns, normally long after its start.
START_SLACK_NS = 2 * 10 ** 9

STATES = ("live", "gone", "other_host", "ended")


def boot_time_ns():
    """The wall-clock time of the boot, in ns: now minus CLOCK_BOOTTIME,
    which is what /proc's start times count from."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def proc_start_ns(pid, boot_ns=None):
    """The wall-clock start time in ns of the running process PID, from
    field 22 of /proc/PID/stat, or None when there is no such process or it
    is a zombie (it has ended; only its exit status is left)."""
    try:
        with open("/proc/%d/stat" % int(pid), "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except (OSError, ValueError, TypeError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces and
    # parentheses itself: the fields after it start after the last ')'.
    fields = raw[raw.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    try:
        ticks = int(fields[19])
    except ValueError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (boot_time_ns() if boot_ns is None else boot_ns) + ticks * 10 ** 9 // hz


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def process_state(proc, now_ns=None, host=None, boot_ns=None):
    """The state of the process PROC (a stats file's "process" object) as
    {"state": one of STATES, "snapshot_age_ns": now - end_ns for a snapshot,
    else None}.  NOW_NS and HOST default to the clock and this machine's
    name (socket.gethostname())."""
    if proc.get("end_reason") != "snapshot":
        return {"state": "ended", "snapshot_age_ns": None}
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ns = _int(proc.get("end_ns"))
    age = max(0, now_ns - end_ns) if end_ns is not None else None
    host = socket.gethostname() if host is None else host
    if proc.get("host") != host:
        return {"state": "other_host", "snapshot_age_ns": age}
    started = proc_start_ns(proc.get("pid"), boot_ns) if _int(proc.get("pid")) else None
    shim_start = _int(proc.get("start_ns"))
    running = started is not None and (shim_start is None or started <= shim_start + START_SLACK_NS)
    return {"state": "live" if running else "gone", "snapshot_age_ns": age}


def annotate(processes, now_ns=None, host=None):
    """Adds "state" and "snapshot_age_ns" to every entry of PROCESSES (the
    "processes" of stats.merge(), or any dicts carrying the process object's
    pid, host, start_ns, end_ns and end_reason)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    host = socket.gethostname() if host is None else host
    boot_ns = boot_time_ns()
    for p in processes:
        p.update(process_state(p, now_ns, host, boot_ns))
    return processes


def age_text(ns):
    """A snapshot's age as '3s', '4m10s', '2h05m', '3d'."""
    s = int(ns // 10 ** 9)
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, s // 60 % 60)
    return "%dd" % (s // 86400)


def state_text(p):
    """The state of the process entry P (annotated) in a few words:
    the end reason of an ended process, 'live, snapshot 3s old', ..."""
    state = p.get("state")
    if state in (None, "ended"):
        return p.get("end_reason") or "-"
    age = p.get("snapshot_age_ns")
    old = ("snapshot %s old" % age_text(age)) if age is not None else "snapshot"
    if state == "live":
        return "live, " + old
    if state == "gone":
        return "gone without a final file, " + old
    return "%s, on host %s" % (old, p.get("host") or "?")
