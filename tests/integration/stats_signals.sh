#!/bin/bash
# Statistics survive the ways services end: a process that the default
# action of SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2 or SIGALRM ends writes
# its statistics first (end_reason "signal", end_signal N), then dies by that
# same signal with the same wait status (and core dump) as without the shim.
# The program sees nothing of it: sigaction and signal() report SIG_DFL, its
# own handlers, SIG_IGN and signalfd behave as without the shim.  A signal
# that arrives while threads are inside the shim (holding its locks) must
# still end the process, with a whole statistics file.
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_signals
PROG=$MMHINT_BUILD_DIR/tests/programs/sig_end
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build first)"; exit 1; }
head -c 1048576 /dev/urandom > "$MH_TMP/data"

MH_LIB=$MH_LIB PROG=$PROG T=$MH_TMP "$MH_PYTHON" - <<'PY'
import glob, json, os, random, resource, signal, subprocess, sys, time

LIB, PROG, T = os.environ["MH_LIB"], os.environ["PROG"], os.environ["T"]
DATA = os.path.join(T, "data")
failures = 0

def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)

def run(args, shim, sig=None, env_extra=None, wait_ready=True, delay=0.0, core=0):
    """Runs PROG args; sends sig after its 'ready' line.  Returns (raw wait status, stdout, stderr, stats dir)."""
    sd = os.path.join(T, "s%d" % random.randrange(1 << 30))
    os.mkdir(sd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}
    if shim:
        env.update(LD_PRELOAD=LIB, MMHINT_STATS=sd + "/%e.%p.json", MMHINT_CONFIG="")
    env.update(env_extra or {})
    p = subprocess.Popen([PROG] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=T,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (core, core)))
    out = b""
    if sig is not None:
        if wait_ready:
            while True:
                line = p.stdout.readline()
                out += line
                if not line or line == b"ready\n":
                    break
            if not out.endswith(b"ready\n"):
                fail("%s: no ready line (%r)" % (args, out))
        time.sleep(delay)
        p.send_signal(sig)
    deadline = time.time() + 20
    while True:
        pid, status = os.waitpid(p.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            p.kill()
            pid, status = os.waitpid(p.pid, 0)
            fail("%s: did not end within 20 s after signal %s (killed)" % (args, sig))
            break
        time.sleep(0.01)
    p.returncode = 0  # reaped here; keep Popen from waiting again
    out += p.stdout.read()
    err = p.stderr.read()
    return status, out.decode(), err.decode(), sd

def stats(sd):
    files = glob.glob(sd + "/*.json*")
    if len(files) != 1:
        return None, "%d statistics files" % len(files)
    try:
        return json.load(open(files[0])), None
    except ValueError as e:
        return None, "not JSON: %s" % e

def data_reads(d):
    for f in d.get("files", []):
        if any(p.endswith("/data") for p in f.get("paths", [])):
            return f.get("bytes_read", 0)
    return None

# 1. Each end signal, at its default action: the same wait status, statistics first.
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
            signal.SIGALRM):
    plain = run(["idle", DATA], False, sig)
    shim = run(["idle", DATA], True, sig)
    if plain[0] != shim[0]:
        fail("%s: wait status %#x with the shim, %#x without" % (sig.name, shim[0], plain[0]))
    if not os.WIFSIGNALED(shim[0]) or os.WTERMSIG(shim[0]) != sig:
        fail("%s: the process did not die by it (status %#x)" % (sig.name, shim[0]))
    if [l for l in shim[2].splitlines() if l.startswith("mmhint:")]:
        fail("%s: mmhint: lines on stderr: %r" % (sig.name, shim[2]))
    d, why = stats(shim[3])
    if d is None:
        fail("%s: %s" % (sig.name, why))
        continue
    pr = d["process"]
    if pr.get("end_reason") != "signal" or pr.get("end_signal") != int(sig):
        fail("%s: end_reason %r end_signal %r" % (sig.name, pr.get("end_reason"), pr.get("end_signal")))
    if data_reads(d) != 1048576:
        fail("%s: bytes_read of the data file %r, want 1048576" % (sig.name, data_reads(d)))
print("ok: seven end signals: same wait status, statistics written first")

# 1b. SIGQUIT where core dumps are allowed: the same wait status, core bit included.
lim = resource.getrlimit(resource.RLIMIT_CORE)[1]
if lim != 0:
    c = lim if lim != resource.RLIM_INFINITY else resource.RLIM_INFINITY
    plain = run(["idle", DATA], False, signal.SIGQUIT, core=c)
    shim = run(["idle", DATA], True, signal.SIGQUIT, core=c)
    if plain[0] != shim[0]:
        fail("SIGQUIT with core dumps: wait status %#x with the shim, %#x without" % (shim[0], plain[0]))
    for f in glob.glob(os.path.join(T, "core*")):
        os.unlink(f)
    print("ok: SIGQUIT with core dumps allowed: status %#x (core bit %d) with and without" %
          (shim[0], os.WCOREDUMP(shim[0])))

# 2. The program sees SIG_DFL; its own handler, SIG_IGN, SIG_DFL set back and signalfd work as without the shim.
for args, sig, want in ((["query"], None, "exit"), (["own", DATA], None, "_exit"), (["ignore", DATA], None, "exit"),
                        (["resetdefault", DATA], signal.SIGTERM, "signal"), (["signalfd"], None, "exit")):
    plain = run(args, False, sig)
    shim = run(args, True, sig)
    if plain[:2] != shim[:2]:
        fail("%s: status/output differ: plain %#x %r, shim %#x %r" % (args[0], plain[0], plain[1], shim[0], shim[1]))
    d, why = stats(shim[3])
    if d is None:
        fail("%s: %s" % (args[0], why))
        continue
    if d["process"].get("end_reason") != want:
        fail("%s: end_reason %r, want %r" % (args[0], d["process"].get("end_reason"), want))
print("ok: the program's view (query, own handler, SIG_IGN, SIG_DFL again, signalfd) is unchanged")

# 3. stats_on_signal=0: the signal is left alone, nothing is written.
st, _, _, sd = run(["idle", DATA], True, signal.SIGTERM, {"MMHINT_STATS_ON_SIGNAL": "0"})
if not os.WIFSIGNALED(st) or os.WTERMSIG(st) != signal.SIGTERM or glob.glob(sd + "/*.json*"):
    fail("stats_on_signal=0: status %#x, files %r" % (st, glob.glob(sd + "/*")))
print("ok: stats_on_signal=0 leaves the signals alone")

# 4. Threads inside the shim (opens, reads, closes: its locks) when SIGTERM arrives, at random moments.
random.seed(7)
for i in range(25):
    st, _, err, sd = run(["churn", DATA], True, signal.SIGTERM, delay=random.random() * 0.05)
    if not os.WIFSIGNALED(st) or os.WTERMSIG(st) != signal.SIGTERM:
        fail("churn run %d: status %#x" % (i, st))
    d, why = stats(sd)
    if d is None or d["process"].get("end_reason") != "signal":
        fail("churn run %d: %s" % (i, why or d["process"].get("end_reason")))
print("ok: 25 runs killed while four threads churn through the shim: each died by SIGTERM with whole statistics")
sys.exit(1 if failures else 0)
PY
rc=$?
[ $rc -eq 0 ] && echo "stats_signals: all passed" || echo "stats_signals: FAILED"
exit $rc
