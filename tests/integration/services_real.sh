#!/bin/bash
# Real services from Debian's packages under the shim with live snapshots
# (stats_interval=1s) and an aggressive policy (read_mmap=auto for files of
# any size, advice=auto, drop_behind, huge pages): PostgreSQL (initdb, pg_ctl
# start on a unix socket in a temp dir, pgbench -i -s 5, pgbench -T 10 -S,
# pgbench -T 5 read-write, pg_ctl stop -m fast) and nginx (a temp config
# serving a directory on 127.0.0.1, fetched with urllib, nginx -s quit).
# Checks: the same results and data (pgbench totals, amcheck; nginx bytes),
# one final statistics file per server process, plausible read bytes for the
# data files (against /proc/PID/io of a live backend and the bytes served),
# no mmhint: line.  Bounded (< 2 min); exit 77 when a package is missing.
set -u
. "$(dirname "$0")/lib.sh"
mh_init services_real
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "${pgbin:-/nonexistent}/postgres" ] && [ -x "$pgbin/pgbench" ] ||
  mh_skip "PostgreSQL is not installed (Debian packages postgresql and postgresql-contrib)"
id postgres >/dev/null 2>&1 || mh_skip "no postgres user (Debian package postgresql creates it)"
mh_need_cmd nginx runuser
[ "$(id -u)" = 0 ] || mh_skip "needs root (runs PostgreSQL as postgres and nginx's workers as nobody)"
chmod 755 "$MH_TMP"
# The servers run as postgres and nobody, who may not reach the build tree (a
# clone under a 0700 directory, as mktemp -d makes): ld.so would then skip the
# preload with a warning and nothing would be observed.  They get a copy.
cp "$MH_LIB" "$MH_TMP/libmmhint.so" && chmod 644 "$MH_TMP/libmmhint.so"
MH_LIB=$MH_TMP/libmmhint.so

MH_LIB=$MH_LIB T=$MH_TMP PGBIN=$pgbin timeout 170 "$MH_PYTHON" - <<'PY'
import glob, hashlib, json, os, socket, subprocess, sys, time, urllib.request

LIB, T, PGBIN = os.environ["MH_LIB"], os.environ["T"], os.environ["PGBIN"]
AGGR = dict(MMHINT_READ_MMAP="auto", MMHINT_READ_MMAP_MIN_FILE="0", MMHINT_ADVICE="auto", MMHINT_DROP_BEHIND="1",
            MMHINT_HUGEPAGES="thp", MMHINT_HUGEPAGE_MIN="64K", MMHINT_STATS_INTERVAL="1s")
failures = 0
t_start = time.monotonic()

def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg, flush=True)

def note(msg):
    print("  " + msg, flush=True)

def base_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}

def shim_env(stats):
    e = base_env()
    e.update(AGGR, LD_PRELOAD=LIB, MMHINT_CONFIG="", MMHINT_STATS=stats + "/")
    return e

def load_dir(d):
    docs = []
    for p in sorted(glob.glob(d + "/*.json") + glob.glob(d + "/*.json.[0-9]*")):
        with open(p) as f:
            docs.append((p, json.load(f)))
    return docs

def mmhint_lines(text):
    return [l for l in text.splitlines() if l.startswith("mmhint:")]

def io_counters(pid):
    with open("/proc/%d/io" % pid) as f:
        return {k: int(v) for k, v in (l.split(": ") for l in f.read().splitlines())}

# ---- PostgreSQL -----------------------------------------------------------------------------------------
pg = os.path.join(T, "pg")
data, sock, pgst, log = pg + "/data", pg + "/sock", pg + "/st", pg + "/server.log"
os.makedirs(sock)
os.makedirs(pgst)
subprocess.run(["chown", "-R", "postgres:postgres", pg], check=True)

def as_pg(args, env=None, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", "env"] + ["%s=%s" % kv for kv in (env or {}).items()]
                          + args, capture_output=True, text=True, cwd=pg, **kw)

def psql(sql):
    r = as_pg([PGBIN + "/../bin/psql" if os.path.exists(PGBIN + "/psql") else "psql", "-h", sock, "-U",
               "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, "postgres"], timeout=60)
    if r.returncode != 0:
        fail("psql %r: %s" % (sql, r.stderr.strip()))
    return r.stdout.strip()

def pgbench(*args):
    r = as_pg([PGBIN + "/pgbench", "-h", sock, "-U", "postgres"] + list(args) + ["postgres"], timeout=90)
    if r.returncode != 0:
        fail("pgbench %s: status %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()[-500:]))
    if mmhint_lines(r.stderr):
        fail("pgbench printed mmhint: lines: %r" % mmhint_lines(r.stderr))
    return r.stdout

r = as_pg([PGBIN + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], timeout=120)
if r.returncode != 0:
    print("FAIL: initdb: %s" % r.stderr)
    sys.exit(1)
env = shim_env(pgst)
opts = "-k %s -c listen_addresses='' -c shared_buffers=16MB -c fsync=off -c max_connections=20" % sock
r = as_pg([PGBIN + "/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", opts, "start"], env=env, timeout=90)
if r.returncode != 0:
    print("FAIL: pg_ctl start: %s %s" % (r.stderr, open(log).read()[-2000:] if os.path.exists(log) else ""))
    sys.exit(1)
with open(data + "/postmaster.pid") as f:
    postmaster = int(f.readline())
note("postgres %d started under the shim (%.1fs)" % (postmaster, time.monotonic() - t_start))
pgbench("-i", "-s", "5", "-q")
note("pgbench -i -s 5 done (%.1fs)" % (time.monotonic() - t_start))
children = [int(p) for p in subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                                           text=True).stdout.split()]

# A read-only run; meanwhile, a backend's live snapshot against its /proc/PID/io.
bench = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBIN + "/pgbench", "-h", sock, "-U", "postgres",
                          "-T", "10", "-S", "-c", "1", "postgres"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=pg)
time.sleep(4)
backends = [int(p) for p in psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'").split()]
if len(backends) != 1:
    fail("pgbench's backend: %r" % backends)
else:
    b = backends[0]
    snap = glob.glob(pgst + "/*.%d.json" % b)
    try:
        with open(snap[0]) as f:
            s1 = json.load(f)["process"]["end_ns"]
        io1 = io_counters(b)
        while True:
            with open(snap[0]) as f:
                doc = json.load(f)
            if doc["process"]["end_ns"] != s1:
                break
            time.sleep(0.05)
        io2 = io_counters(b)
        # The kernel's rchar counts what read-family calls returned, sockets included (not recv);
        # reads served from a mapping never reach it.
        kernel = sum((f.get("bytes_read") or 0) - (f.get("converted_bytes") or 0) for f in doc["files"])
        datafiles = sum(f.get("bytes_read") or 0 for f in doc["files"]
                        if any(p.startswith(data + "/base/") for p in f["paths"]))
        note("backend %d: snapshot %s read bytes (%s from data files), /proc rchar %d..%d, read_bytes %d"
             % (b, kernel, datafiles, io1["rchar"], io2["rchar"], io2["read_bytes"]))
        if doc["process"]["end_reason"] != "snapshot":
            fail("the live backend's file is not a snapshot: %r" % doc["process"]["end_reason"])
        if not datafiles:
            fail("the backend read nothing from the data files under base/ (shared_buffers 16MB, 75MB of data)")
        if not (0.5 * io1["rchar"] <= kernel <= 1.1 * io2["rchar"] + 65536):
            fail("backend %d: statistics %d read bytes, /proc/PID/io rchar %d..%d" % (b, kernel, io1["rchar"],
                                                                                  io2["rchar"]))
    except (IndexError, OSError, ValueError) as e:
        fail("backend %d: no live snapshot to compare: %s" % (b, e))
out, err = bench.communicate(timeout=60)
if bench.returncode != 0 or mmhint_lines(err):
    fail("pgbench -S: status %d: %s" % (bench.returncode, err[-500:]))
note("pgbench -T 10 -S: %s" % " ".join(l for l in out.splitlines() if l.startswith("tps")))
out = pgbench("-T", "5", "-c", "2")
note("pgbench -T 5: %s" % " ".join(l for l in out.splitlines() if l.startswith("tps")))

# The data: every account, and balances that add up to the history's deltas; indexes amcheck accepts.
got = psql("SELECT count(*), sum(abalance) FROM pgbench_accounts")
want = psql("SELECT 500000, coalesce(sum(delta), 0) FROM pgbench_history")
if got != want or not got:
    fail("pgbench_accounts count and sum %r, expected %r" % (got, want))
branches = psql("SELECT sum(bbalance) FROM pgbench_branches") + "|" + psql("SELECT sum(tbalance) FROM pgbench_tellers")
if branches != "%s|%s" % (want.split("|")[1], want.split("|")[1]):
    fail("branch and teller totals %r, expected %r twice" % (branches, want.split("|")[1]))
psql("CREATE EXTENSION IF NOT EXISTS amcheck")
chk = psql("SELECT count(bt_index_check(c.oid, true)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
           "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relname LIKE 'pgbench%'")
note("accounts: %s (count|sum); amcheck checked %s pgbench indexes" % (got, chk))

r = as_pg([PGBIN + "/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop"], timeout=90)
if r.returncode != 0:
    fail("pg_ctl stop -m fast: %s" % r.stderr)
with open(log) as f:
    lines = mmhint_lines(f.read())
if lines:
    fail("the server log has mmhint: lines: %r" % lines[:5])

docs = load_dir(pgst)
by_pid = {}
for path, d in docs:
    by_pid.setdefault(d["process"]["pid"], []).append((path, d))
for pid in [postmaster] + children:
    if pid not in by_pid:
        fail("server process %d has no statistics file" % pid)
for pid, ds in by_pid.items():
    ds.sort(key=lambda x: x[1]["process"].get("start_ns") or 0)
    reasons = [d["process"]["end_reason"] for _, d in ds]
    # One file per process; an exec keeps the pid and writes .json.1 (pg_ctl's child execs sh, which execs postgres).
    if any(r == "snapshot" for r in reasons) or len(ds) > 1 and reasons[:-1] != ["exec"] * (len(ds) - 1):
        fail("pid %d: files %r with end reasons %r" % (pid, [os.path.basename(p) for p, _ in ds], reasons))
pm = [d for _, d in by_pid.get(postmaster, []) if d["process"]["end_reason"] != "exec"]
total_read = sum(f.get("bytes_read") or 0 for _, d in docs for f in d["files"]
                 if any(p.startswith(data + "/base/") for p in f["paths"]))
note("%d statistics files of %d processes; postmaster ended by %r; %d bytes read from base/ in all"
     % (len(docs), len(by_pid), pm[0]["process"]["end_reason"] if pm else None, total_read))
written = [f.get("bytes_written") for _, d in docs for f in d["files"] if any("/pg_wal/" in p for p in f["paths"])]
note("WAL files: %s" % ("%d bytes written" % sum(written) if any(w is not None for w in written)
                        else "no write counters in these statistics (the library does not count writes yet)"))
if total_read < 8 << 20:
    fail("only %d bytes read from the data files by all server processes" % total_read)

# ---- nginx ----------------------------------------------------------------------------------------------
ng = os.path.join(T, "ng")
www, ngst = ng + "/www", ng + "/st"
os.makedirs(www)
os.makedirs(ngst)
os.chmod(ngst, 0o1777)        # the workers write their statistics as nobody
sizes = [100, 4096, 65536, 65537, 300000, 1 << 20, 2 << 20 | 17, 5000, 123457, 999]
want = {}
for i, n in enumerate(sizes):
    body = os.urandom(n)
    with open("%s/f%d.bin" % (www, i), "wb") as f:
        f.write(body)
    want["f%d.bin" % i] = hashlib.sha256(body).hexdigest()
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
conf = ng + "/nginx.conf"
with open(conf, "w") as f:
    f.write("""daemon off; worker_processes 2; pid %(d)s/nginx.pid; error_log %(d)s/error.log;
events { worker_connections 64; }
http { access_log off; client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
       uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
       server { listen 127.0.0.1:%(port)d; root %(www)s; } }
""" % {"d": ng, "port": port, "www": www})
nginx = subprocess.Popen(["nginx", "-c", conf, "-p", ng], env=shim_env(ngst), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
ok = False
deadline = time.monotonic() + 20
while time.monotonic() < deadline and nginx.poll() is None:
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/f0.bin" % port, timeout=5).read()
        ok = True
        break
    except OSError:
        time.sleep(0.1)
if not ok:
    fail("nginx did not answer: %s" % (nginx.communicate(timeout=10)[1] if nginx.poll() is not None else "timeout"))
else:
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(nginx.pid)], capture_output=True,
                                              text=True).stdout.split()]
    N = 8
    bad = 0
    for _ in range(N):
        for name, h in want.items():
            with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (port, name), timeout=10) as r:
                if hashlib.sha256(r.read()).hexdigest() != h:
                    bad += 1
    if bad:
        fail("nginx served %d of %d responses with other bytes than the files'" % (bad, N * len(want)))
    time.sleep(1.5)            # a snapshot of the workers with the requests in it
    live = [d for _, d in load_dir(ngst) if d["process"]["end_reason"] == "snapshot"]
    if len(live) != 1 + len(workers):
        fail("live snapshots of nginx: %d, processes %d" % (len(live), 1 + len(workers)))
    subprocess.run(["nginx", "-c", conf, "-p", ng, "-s", "quit"], env=base_env(), check=False, timeout=30)
    out, err = nginx.communicate(timeout=30)
    if nginx.returncode != 0 or mmhint_lines(err):
        fail("nginx: status %r, stderr %r" % (nginx.returncode, err[-500:]))
    docs = load_dir(ngst)
    pids = sorted(d["process"]["pid"] for _, d in docs)
    if pids != sorted([nginx.pid] + workers):
        fail("nginx statistics files of pids %r, processes %r" % (pids, sorted([nginx.pid] + workers)))
    if any(d["process"]["end_reason"] == "snapshot" for _, d in docs):
        fail("a final file is missing: %r" % [(d["process"]["pid"], d["process"]["end_reason"]) for _, d in docs])
    served = sum((f.get("bytes_read") or 0) + (f.get("sendfile_bytes") or 0) for _, d in docs for f in d["files"]
                 if any(p.startswith(www + "/") for p in f["paths"]))
    expected = N * sum(sizes) + sizes[0]
    note("nginx: %d workers, %d responses identical; %d bytes of the files read or sent by the shim's count, "
         "%d served" % (len(workers), N * len(want), served, expected))
    if served != expected:
        fail("nginx read or sent %d bytes of the served files, %d were served" % (served, expected))
    with open(ng + "/error.log") as f:
        lines = mmhint_lines(f.read())
    if lines:
        fail("nginx's error log has mmhint: lines: %r" % lines[:5])

note("%.1fs in all" % (time.monotonic() - t_start))
sys.exit(1 if failures else 0)
PY
rc=$?
[ "$rc" -eq 0 ] || mh_fail "see above (status $rc)"
mh_done
