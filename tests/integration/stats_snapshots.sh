#!/bin/bash
# Live snapshots (stats_interval): while a process lives, its statistics file
# is rewritten at that interval with end_reason "snapshot", also while the
# program is idle; one file per process, replaced atomically, never a file
# the process did not write; the final file replaces the last snapshot; a
# fork child starts its own; no signal is ever delivered for it; off by
# default (no thread); bad values and a removed directory give one line; a
# program whose main thread ends by pthread_exit ends when its last thread
# does (the snapshot thread does not keep it alive).
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_snapshots
mh_need_cmd strace

MH_LIB=$MH_LIB T=$MH_TMP PROGS=$MMHINT_BUILD_DIR/tests/programs "$MH_PYTHON" - <<'PY'
import glob, json, os, subprocess, sys, time

LIB, T, PROGS = os.environ["MH_LIB"], os.environ["T"], os.environ["PROGS"]
PY3 = sys.executable
failures = 0

def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)

def env(sd, interval="1", extra=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}
    e.update(LD_PRELOAD=LIB, MMHINT_STATS=sd + "/%e.%p.json", MMHINT_CONFIG="")
    if interval is not None:
        e["MMHINT_STATS_INTERVAL"] = interval
    e.update(extra or {})
    return e

def load(path):
    with open(path) as f:
        return json.load(f)

def has_file(d, name):
    return any(any(p.endswith("/" + name) for p in f.get("paths", [])) for f in d.get("files", []))

for n in ("a", "b"):
    with open(os.path.join(T, n), "wb") as f:
        f.write(os.urandom(65536))

# 1. An idle process: a snapshot appears while it sleeps, whole at every read; the final file replaces it.
sd = os.path.join(T, "s1"); os.mkdir(sd)
prog = "import time\nopen(%r,'rb').read()\ntime.sleep(3)\nopen(%r,'rb').read()\ntime.sleep(1.5)\n" % (
    os.path.join(T, "a"), os.path.join(T, "b"))
p = subprocess.Popen([PY3, "-c", prog], env=env(sd), stderr=subprocess.PIPE)
seen, t_end = [], time.time() + 2.6
while time.time() < t_end:
    for f in glob.glob(sd + "/*"):
        if ".tmp." in f:
            continue
        try:
            d = load(f)
        except (OSError, ValueError) as e:
            if not isinstance(e, FileNotFoundError):
                fail("a reader saw a partial snapshot: %s" % e)
            continue
        seen.append((d["process"]["end_reason"], has_file(d, "a"), has_file(d, "b"), d["process"]["end_ns"]))
    time.sleep(0.05)
err = p.communicate()[1].decode()
if not seen or any(s[0] != "snapshot" or not s[1] or s[2] for s in seen):
    fail("snapshots while idle: %r" % sorted(set(s[:3] for s in seen)))
if len(set(s[3] for s in seen)) < 2:
    fail("the snapshot was not rewritten: %d distinct end_ns in 2.6 s" % len(set(s[3] for s in seen)))
files = [f for f in os.listdir(sd)]
if len(files) != 1:
    fail("one file per process: %r" % files)
else:
    d = load(os.path.join(sd, files[0]))
    if d["process"]["end_reason"] != "exit" or not has_file(d, "b"):
        fail("final file: end_reason %r, b counted %r" % (d["process"]["end_reason"], has_file(d, "b")))
if "mmhint:" in err:
    fail("mmhint: lines: %r" % err)
print("ok: %d reads of a live snapshot, %d rewrites, whole each time; the final file replaced it" %
      (len(seen), len(set(s[3] for s in seen))))

# 2. No signal is delivered for snapshots (so none of the program's calls sees EINTR).
sd = os.path.join(T, "s2"); os.mkdir(sd)
tr = os.path.join(T, "trace")
subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "-o", tr, "sleep", "2.5"], env=env(sd), check=False)
with open(tr) as f:
    sigs = [l for l in f if "--- SIG" in l]
if sigs or not glob.glob(sd + "/*.json"):
    fail("signals seen by a sleeping program: %r; files %r" % (sigs, os.listdir(sd)))
print("ok: no signal delivered to a process that sleeps through two snapshots")

# 3. A file at the name that the process did not write is never replaced.
sd = os.path.join(T, "s3"); os.mkdir(sd)
p = subprocess.Popen([PY3, "-c", "import time; time.sleep(3.6)"], env=env(sd))
time.sleep(1.5)
own = glob.glob(sd + "/*.json")
if len(own) == 1:
    os.unlink(own[0])
    with open(own[0], "w") as f:
        f.write("someone else's\n")
p.wait()
if len(own) != 1 or open(own[0]).read() != "someone else's\n" or not glob.glob(sd + "/*.json.1"):
    fail("a foreign file at the name: %r, files %r" % (own, os.listdir(sd)))
print("ok: a file someone else put at the name was kept; the process wrote .1")

# 4. A fork child starts its own snapshots.
sd = os.path.join(T, "s4"); os.mkdir(sd)
prog = ("import os, time\npid = os.fork()\nif pid == 0:\n    time.sleep(2.5)\n    os._exit(0)\n"
        "time.sleep(1.8)\nprint(pid, flush=True)\nos.waitpid(pid, 0)\n")
p = subprocess.Popen([PY3, "-c", prog], env=env(sd), stdout=subprocess.PIPE)
child = int(p.stdout.readline())
snap = [f for f in glob.glob(sd + "/*.%d.json" % child)]
ok = len(snap) == 1 and load(snap[0])["process"]["end_reason"] == "snapshot"
p.wait()
if not ok:
    fail("fork child %d: no live snapshot at 1.8 s: %r" % (child, os.listdir(sd)))
print("ok: a fork child wrote its own snapshot while it lived")

# 5. Off by default: no thread.  Bad values: one line, off, the program runs.
for interval, lines in ((None, 0), ("abc", 1), ("-5", 1)):
    sd = os.path.join(T, "s5%s" % (interval or "off")); os.mkdir(sd)
    r = subprocess.run([PY3, "-c", "import os; print(len(os.listdir('/proc/self/task')))"], env=env(sd, interval),
                       capture_output=True, text=True)
    n = [l for l in r.stderr.splitlines() if l.startswith("mmhint:")]
    if r.returncode != 0 or r.stdout.strip() != "1" or len(n) != lines or (lines and "stats_interval" not in n[0].lower()):
        fail("stats_interval=%r: rc %d, threads %r, lines %r" % (interval, r.returncode, r.stdout.strip(), n))
print("ok: no thread when off; 'abc' and '-5' give one line and no thread")

# 6. The directory removed while the process runs: one line, once; the program unharmed.
sd = os.path.join(T, "s6"); os.mkdir(sd)
p = subprocess.Popen([PY3, "-c", "import time; time.sleep(4.5); print('done')"], env=env(sd),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(1.5)
for f in os.listdir(sd):
    os.unlink(os.path.join(sd, f))
os.rmdir(sd)
out, err = p.communicate()
n = [l for l in err.decode().splitlines() if l.startswith("mmhint:")]
if p.returncode != 0 or out != b"done\n" or len(n) != 1:
    fail("directory removed: rc %d, out %r, lines %r" % (p.returncode, out, n))
print("ok: a removed directory gives one line in all and the program runs on")

# 7. main ends by pthread_exit while a worker runs on for 2.5 s (snapshots meanwhile): the process ends
#    when the worker does, status 0, its final file end_reason "exit".  Before, the snapshot thread kept
#    it alive forever (and, blocking every signal, left SIGTERM pending): the timeout's SIGKILL ended it.
sd = os.path.join(T, "s7"); os.mkdir(sd)
data = os.path.join(T, "s7data")
with open(data, "wb") as f:
    f.write(b"x" * 10000)
t0 = time.monotonic()
r = subprocess.run(["timeout", "-s", "KILL", "60", os.path.join(PROGS, "main_exit"), "2500", data], env=env(sd),
                   capture_output=True, text=True)
took = time.monotonic() - t0
files = glob.glob(os.path.join(sd, "main_exit.*.json"))  # timeout(1) runs under the library too
ends = [load(f)["process"].get("end_reason") for f in files]
n = [l for l in r.stderr.splitlines() if l.startswith("mmhint:")]
if r.returncode != 0 or r.stdout != "main exits\nworker done 10000\n" or ends != ["exit"] or n:
    fail("main's pthread_exit: rc %d after %.1f s, out %r, end_reasons %r, lines %r" % (r.returncode, took, r.stdout, ends, n))
else:
    print("ok: a main thread's pthread_exit: the process ended with its worker after %.1f s (worker 2.5 s)" % took)
sys.exit(1 if failures else 0)
PY
rc=$?
[ $rc -eq 0 ] && echo "stats_snapshots: all passed" || echo "stats_snapshots: FAILED"
exit $rc
