#!/usr/bin/env bash
# Catalog benchmark (issue 18): commits per second and p95 commit latency with 1, 2 and 4
# concurrent writers, each committing batches of 1,000 orders (one snapshot per batch), on the
# SQLite catalog and on a PostgreSQL catalog; in the same run, DuckDB 1.5.5 with DuckLake inserts
# the same batches (read_json of the same files, one INSERT = one snapshot per batch) from the
# same number of writers into a DuckLake catalog on the same PostgreSQL server: the peer. A
# throwaway PostgreSQL cluster is started in a temporary directory and stopped at the end.
#
# Two like-for-like shapes, each side doing the same thing:
#   process    one OS process per batch. lake: `lake ingest orders BATCH` (start, read the
#              catalog, parse, validate, write Parquet, commit). DuckDB: `python` that imports
#              duckdb, loads ducklake + postgres, ATTACHes and runs one INSERT … read_json(BATCH).
#              Latency = the process's wall clock.
#   long-lived one process per writer for all its batches. lake: `lake ingest orders --follow
#              --commit-every 1000` on a file holding the writer's batches (a commit per 1,000
#              lines, as they are read). DuckDB: one connection running one INSERT per batch.
#              Latency = time between a writer's consecutive commits (lake; the first from the
#              process start, so its startup counts) or the INSERT's wall clock (DuckDB).
# commits/s = committed batches / wall clock of the whole run (all writers, from their start).
# "failed" counts batches that did not commit (a writer's error), never retried by the harness.
# Usage: bench/catalog.sh [BATCHES_PER_WRITER]      (default 5; not a test: it prints figures)
#        SHAPES="long-lived" bench/catalog.sh 10    one shape only
#        LAKE_BIN=.build/debug/lake bench/catalog.sh  to skip the release build (debug: slower)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python >/dev/null
per_writer="${1:-5}"
shapes="${SHAPES:-process long-lived}"
if [ -z "${LAKE_BIN:-}" ]; then
  swift build -c release --static-swift-stdlib --product lake >/dev/null
  LAKE_BIN=$PWD/.build/release/lake
fi
work="$PWD/bench-out/catalog"
rm -rf "$work"; mkdir -p "$work"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pgdir=$(mktemp -d /tmp/lake-bench-pg-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$pgdir"; runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$pgbin/initdb" -D "$pgdir/data" -U lake -A trust --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$pgdir -c max_connections=100" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null; rm -rf "$pgdir"' EXIT

"$LAKE_BIN" generate --out "$work/src" --orders $((4 * per_writer * 1000)) --days 30 >/dev/null
.venv/bin/python - "$LAKE_BIN" "$work" "$port" "$pgbin" "$per_writer" "$shapes" <<'PY'
import glob, importlib, json, os, signal, subprocess, sys, time
from multiprocessing import Pool
lake, work, port, pgbin, per_writer, shapes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6].split()
lines = open(f"{work}/src/orders_stream.jsonl", "rb").readlines()
os.makedirs(f"{work}/batches", exist_ok=True)
batches = []
for k in range(len(lines) // 1000):
    path = f"{work}/batches/b{k:04d}.jsonl"
    with open(path, "wb") as f:
        f.writelines(lines[k * 1000:(k + 1) * 1000])
    batches.append(path)
catalog_file = f"{work}/src/product_catalog.json"

def createdb(name):
    subprocess.run([f"{pgbin}/createdb", "-h", "127.0.0.1", "-p", port, "-U", "lake", name], check=True)
    return f"postgresql://lake@127.0.0.1:{port}/{name}"

def lake_writer(args):
    root, catalog, files = args
    out = []
    for f in files:
        cmd = [lake, "ingest", "orders", f, "--quiet", "--lake", root] + (["--catalog", catalog] if catalog else [])
        s = time.perf_counter()
        ok = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode == 0
        out.append((time.perf_counter() - s, ok))
    return out

def lake_follower(args):
    # One long-lived follower over a file holding this writer's batches back to back; it commits
    # every 1,000 lines. Stopped (SIGINT) once its last line is committed.
    root, catalog, files = args
    live = f"{root}-{os.getpid()}-{time.time_ns()}.jsonl"
    total = 0
    with open(live, "wb") as out:
        for f in files:
            data = open(f, "rb").read()
            total += data.count(b"\n")
            out.write(data)
    cmd = [lake, "ingest", "orders", "--follow", "--commit-every", "1000", "--commit-interval", "3600", live,
           "--lake", root] + (["--catalog", catalog] if catalog else [])
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, last, committed = [], start, 0
    for line in p.stdout:
        if not line.startswith("snapshot "):
            continue
        now = time.perf_counter()
        out.append((now - last, True))
        last = now
        committed = int(line.split("lines ..")[1].split()[0])
        if committed >= total:
            break
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    out += [(0, False)] * (len(files) - len(out))
    return out

def duck_process_writer(args):
    # One python process per batch, as a cron'd DuckDB job would run: import, load the
    # extensions, attach, insert, exit.
    dbname, data, files = args
    out = []
    for f in files:
        s = time.perf_counter()
        ok = subprocess.run([sys.executable, "-c", DUCK_ONE, dbname, port, data, f],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode == 0
        out.append((time.perf_counter() - s, ok))
    return out

# A DuckDB connection with the ducklake and postgres extensions loaded from the venv (no
# network); the same text defines duck() here and in each one-batch process.
DUCK_CONNECT = """
import glob, importlib, os, sys
import duckdb
def duck():
    def ext(name, package):
        base = os.path.dirname(importlib.import_module("duckdb_extension_" + package).__file__)
        return glob.glob(os.path.join(base, "extensions", "v" + duckdb.__version__, name + ".duckdb_extension"))[0]
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{ext('ducklake', 'ducklake')}'")
    con.execute(f"LOAD '{ext('postgres_scanner', 'postgres_scanner')}'")
    return con
"""
exec(DUCK_CONNECT)

DUCK_ONE = DUCK_CONNECT + """
dbname, port, data, f = sys.argv[1:5]
con = duck()
con.execute(f"ATTACH 'ducklake:postgres:dbname={dbname} host=127.0.0.1 port={port} user=lake' AS l (DATA_PATH '{data}/')")
con.execute(f"INSERT INTO l.orders BY NAME SELECT * FROM read_json('{f}', format='newline_delimited', ignore_errors=true)")
"""

def duck_writer(args):
    dbname, data, files = args
    con = duck()
    con.execute(f"ATTACH 'ducklake:postgres:dbname={dbname} host=127.0.0.1 port={port} user=lake' AS l (DATA_PATH '{data}/')")
    out = []
    for f in files:
        s = time.perf_counter()
        try:
            con.execute(f"INSERT INTO l.orders BY NAME SELECT * FROM read_json('{f}', format='newline_delimited', ignore_errors=true)")
            ok = True
        except Exception as e:
            ok = False
        out.append((time.perf_counter() - s, ok))
    return out

def run(shape, kind, writers):
    files = batches[:writers * per_writer]
    shares = [files[i::writers] for i in range(writers)]
    tag = f"{shape}-{kind}-{writers}"
    if kind == "duckdb":
        name = tag.replace("-", "_")
        createdb(name)
        data = f"{work}/{tag}-data"
        os.makedirs(data, exist_ok=True)
        con = duck()
        con.execute(f"ATTACH 'ducklake:postgres:dbname={name} host=127.0.0.1 port={port} user=lake' AS l (DATA_PATH '{data}/')")
        # The table has every column any batch has (the generator's drifted lines add some), and
        # each INSERT matches columns BY NAME: read_json orders columns by first appearance,
        # which differs from batch to batch.
        con.execute(f"CREATE TABLE l.orders AS SELECT * FROM read_json('{work}/batches/*.jsonl', format='newline_delimited', ignore_errors=true, union_by_name=true) LIMIT 0")
        con.close()
        jobs = [(name, data, s) for s in shares]
        fn = duck_writer if shape == "long-lived" else duck_process_writer
    else:
        root = f"{work}/{tag}"
        catalog = createdb(tag.replace("-", "_")) if kind == "postgres" else None
        base = [lake, "--lake", root] + (["--catalog", catalog] if catalog else [])
        subprocess.run([lake, "ingest", "catalog", catalog_file, "--quiet", "--lake", root] + (["--catalog", catalog] if catalog else []),
                       check=True, stdout=subprocess.DEVNULL)
        jobs = [(root, catalog, s) for s in shares]
        fn = lake_follower if shape == "long-lived" else lake_writer
    s = time.perf_counter()
    with Pool(writers) as p:
        results = [r for rs in p.map(fn, jobs) for r in rs]
    wall = time.perf_counter() - s
    lat = sorted(t for t, ok in results if ok)
    failed = sum(1 for _, ok in results if not ok)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
    return len(lat) / wall, p95, failed, len(results)

print(f"{'shape':<11} {'catalog':<22} {'writers':>7} {'commits':>7} {'commits/s':>9} {'p95 s':>7} {'failed':>6}")
for shape in shapes:
    for writers in (1, 2, 4):
        for kind, label in (("sqlite", "lake / SQLite"), ("postgres", "lake / PostgreSQL"), ("duckdb", "DuckDB+DuckLake / PG")):
            rate, p95, failed, n = run(shape, kind, writers)
            print(f"{shape:<11} {label:<22} {writers:>7} {n:>7} {rate:>9.2f} {p95:>7.3f} {failed:>6}", flush=True)
PY
