"""The lake's daily batch as an Apache Airflow 3 DAG.

For each logical date D (a day), the pipeline waits for D's files in $LAKE_LANDING/D/
(product_catalog.json, inventory_updates.csv, orders_stream.jsonl), ingests them in the order
the lake needs (catalog -> inventory -> orders), runs the quality gate (`lake quality check`),
compacts the partitions the day's orders touched, exports the day's reports as JSON files, checks
that the reports exist within the SLA of the files' arrival, and vacuums once a week.

Every step is a `lake` command. The lake's exactly-once ledger makes every task idempotent: a
cleared task, a rerun of the date or a backfill adds no data snapshot for files already ingested.

Configuration: an Airflow Variable of the name, else the environment variable, else the default.
  LAKE_DIR          lake root (default ./lake)
  LAKE_LANDING      folder of YYYY-MM-DD/ subfolders with the day's source files (required)
  LAKE_BIN          the lake binary (default: `lake` on the PATH)
  LAKE_CATALOG      the lake's catalog: a PostgreSQL URL or libpq keyword string, passed to every
                    `lake` command (default: <LAKE_DIR>/manifest.sqlite); the password from
                    PGPASSWORD or ~/.pgpass, never from here
  LAKE_PRODUCTS     product catalog file to ingest instead of the day's product_catalog.json
                    (for a catalog delivered once, not daily); default: the day's file
  LAKE_REPORTS      where the JSON reports go, one folder per date (default <LAKE_DIR>-reports)
  LAKE_CONFIG       alert thresholds for `lake quality check` (--config; default: lake's own lookup)
  LAKE_SCHEMAS      extra schema registry directory (passed through to lake as it is)
  LAKE_WEBHOOK_URL  alert webhook: `lake quality check --webhook` and every task failure
  LAKE_SLA_MINUTES  reports due this many minutes after the files arrived (default 15)
  LAKE_VACUUM_WEEKDAY  ISO weekday (1 = Monday .. 7 = Sunday) of the weekly vacuum (default 7)
  LAKE_VACUUM_RETAIN   vacuum retention (default 7d)
  LAKE_TEXTFILE_DIR    node_exporter textfile directory: lake.prom (`lake metrics`) and
                       lake_pipeline.prom (the DAG's last success/failure times); unset: not written
Read when the DAG file is parsed (environment only, no Variables): LAKE_RETRIES (3),
LAKE_RETRY_DELAY_SECONDS (60), LAKE_TASK_TIMEOUT_MINUTES (60), LAKE_SENSOR_TIMEOUT_MINUTES (360),
LAKE_SENSOR_POKE_SECONDS (60), LAKE_SETTLE_SECONDS (30: a file is complete when unchanged this long).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from airflow.sdk import PokeReturnValue, Variable, dag, get_current_context, task

try:  # Airflow 3.1+: the task SDK's exceptions
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
except ImportError:  # pragma: no cover - older Airflow 3.0
    from airflow.exceptions import AirflowFailException, AirflowSkipException

log = logging.getLogger(__name__)

SOURCE_FILES = ("product_catalog.json", "inventory_updates.csv", "orders_stream.jsonl")
REPORTS = ("daily-revenue", "top-products", "inventory", "customers", "operations")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


RETRIES = int(_env_number("LAKE_RETRIES", 3))
RETRY_DELAY = timedelta(seconds=_env_number("LAKE_RETRY_DELAY_SECONDS", 60))
TASK_TIMEOUT = timedelta(minutes=_env_number("LAKE_TASK_TIMEOUT_MINUTES", 60))
SENSOR_TIMEOUT = timedelta(minutes=_env_number("LAKE_SENSOR_TIMEOUT_MINUTES", 360))
SENSOR_POKE = _env_number("LAKE_SENSOR_POKE_SECONDS", 60)


def setting(name: str, default: str | None = None) -> str | None:
    """An Airflow Variable of this name, else the environment variable, else the default."""
    try:
        value = Variable.get(name, default=None)
    except Exception:  # no metadata DB / API at hand: the environment decides
        value = None
    if value in (None, ""):
        value = os.environ.get(name)
    return value if value not in (None, "") else default


def lake_dir() -> str:
    return os.path.abspath(setting("LAKE_DIR", "lake"))


def landing_dir(ds: str) -> str:
    landing = setting("LAKE_LANDING")
    if not landing:
        raise AirflowFailException("LAKE_LANDING is not set (an Airflow Variable or environment variable)")
    return os.path.join(landing, ds)


def source_paths(ds: str) -> dict[str, str]:
    day = landing_dir(ds)
    paths = {name: os.path.join(day, name) for name in SOURCE_FILES}
    catalog = setting("LAKE_PRODUCTS")
    if catalog:
        paths["product_catalog.json"] = catalog
    return paths


def reports_dir(ds: str) -> str:
    base = setting("LAKE_REPORTS") or lake_dir().rstrip("/") + "-reports"
    return os.path.join(base, ds)


# --- running lake -------------------------------------------------------------------------

# Failures a rerun can fix: the catalog's write lock, a writer conflict, a file not readable yet,
# resources. Anything matching PERMANENT fails at once; anything else is retried (with backoff).
TRANSIENT = re.compile(
    r"stayed locked|database is locked|busy|conflict on|retry when|cannot open|read failed|"
    r"No such file|Resource temporarily unavailable|Too many open files|No space left|"
    r"Interrupted system call|timed out",
    re.IGNORECASE,
)
PERMANENT = re.compile(
    r"registry edited|schema|header is|expected the columns|must be a JSON array|must be an object|"
    r"quoted field is never closed|empty file|larger than|is a directory|not a DuckLake catalog|"
    r"DuckLake .* catalog|upgrade|corrupt|Error: Unknown option|Usage:|invalid|no lake at|no product catalog in the lake|"
    r"\.(json|jsonl|csv):\d+(:\d+)?: ",
    re.IGNORECASE,
)
USAGE_EXIT = 64  # ArgumentParser's exit status for a command line it refuses


class LakeCommandError(Exception):
    """A transient failure of a lake command: Airflow retries the task."""


def classify(returncode: int, output: str) -> str:
    """'transient' or 'permanent' for a failed lake command, from its exit status and message."""
    if returncode == USAGE_EXIT:
        return "permanent"
    if returncode < 0:  # killed by a signal (OOM killer, timeout): try again
        return "transient"
    if TRANSIENT.search(output):
        return "transient"
    if PERMANENT.search(output):
        return "permanent"
    return "transient"


def lake_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LAKE_DIR"] = lake_dir()
    for name in ("LAKE_SCHEMAS", "LAKE_CATALOG"):
        value = setting(name)
        if value:
            env[name] = value
    return env


def run_lake(*args: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run `lake ARGS` with the lake root from LAKE_DIR; log its output; raise on failure.

    A permanent failure raises AirflowFailException (no retry) with the command's message; a
    transient one raises LakeCommandError, which Airflow retries with exponential backoff.
    """
    binary = setting("LAKE_BIN") or shutil.which("lake") or "lake"
    cmd = [binary, *args]
    log.info("$ %s", " ".join(cmd))
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=lake_env(), capture_output=True, text=True, errors="replace")
    except FileNotFoundError as e:
        raise AirflowFailException(f"lake binary not found: {binary} ({e}); set LAKE_BIN") from e
    for line in proc.stdout.splitlines():
        log.info("%s", line)
    for line in proc.stderr.splitlines():
        log.warning("%s", line)
    log.info("exit status %d after %.1f s", proc.returncode, time.monotonic() - started)
    if proc.returncode in ok_codes:
        return proc
    message = (proc.stderr.strip() or proc.stdout.strip() or "(no output)").splitlines()
    message = " | ".join(message[-5:])
    kind = classify(proc.returncode, proc.stderr + "\n" + proc.stdout)
    text = f"`{' '.join(args[:2])}` failed ({kind}, exit {proc.returncode}): {message}"
    if kind == "permanent":
        raise AirflowFailException(text)
    raise LakeCommandError(text)


# --- alerts -------------------------------------------------------------------------------


def post_webhook(payload: dict) -> None:
    url = setting("LAKE_WEBHOOK_URL")
    if not url:
        log.warning("no LAKE_WEBHOOK_URL: alert not sent: %s", payload)
        return
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            log.info("alert posted to webhook: HTTP %s", resp.status)
    except Exception as e:  # an alert must never hide the failure it reports
        log.error("alert webhook failed: %s", e)


def alert_on_failure(context) -> None:
    """on_failure_callback: post the failed task, date and error to LAKE_WEBHOOK_URL."""
    try:
        write_pipeline_status(ok=False)
    except Exception as e:
        log.error("could not write the pipeline status: %s", e)
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    post_webhook(
        {
            "source": "airflow",
            "dag_id": getattr(ti, "dag_id", None),
            "task_id": getattr(ti, "task_id", None),
            "run_id": context.get("run_id") or getattr(ti, "run_id", None),
            "logical_date": context.get("ds"),
            "try_number": getattr(ti, "try_number", None),
            "error": str(exc) if exc is not None else None,
        }
    )


# --- the DAG ------------------------------------------------------------------------------

default_args = {
    "owner": "lake",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": TASK_TIMEOUT,
    "on_failure_callback": alert_on_failure,
}


@dag(
    dag_id="lake_pipeline",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # one writer pipeline at a time; the lake serialises commits anyway
    default_args=default_args,
    tags=["lake"],
    doc_md=__doc__,
)
def lake_pipeline():
    @task.sensor(
        task_id="wait_for_files",
        poke_interval=SENSOR_POKE,
        timeout=SENSOR_TIMEOUT.total_seconds(),
        mode="poke",
        execution_timeout=SENSOR_TIMEOUT + timedelta(minutes=5),
    )
    def wait_for_files() -> PokeReturnValue:
        """Done when the day's three files exist and none changed for LAKE_SETTLE_SECONDS."""
        ds = get_current_context()["ds"]
        settle = _env_number("LAKE_SETTLE_SECONDS", 30)
        paths = source_paths(ds)
        now = time.time()
        missing, settling, arrived = [], [], 0.0
        for name, path in paths.items():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                missing.append(path)
                continue
            if now - st.st_mtime < settle:
                settling.append(path)
            arrived = max(arrived, st.st_mtime)
        if missing or settling:
            log.info("waiting: missing %s; still being written %s", missing, settling)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value={"arrived": arrived, "paths": paths})

    @task
    def ingest_catalog(files: dict) -> None:
        run_lake("ingest", "catalog", "--quiet", "--format", "json", files["paths"]["product_catalog.json"])

    @task
    def ingest_inventory(files: dict) -> None:
        run_lake("ingest", "inventory", "--quiet", "--format", "json", files["paths"]["inventory_updates.csv"])

    @task
    def ingest_orders(files: dict) -> int:
        """Ingest the orders; returns the snapshot they committed (0 when the ledger had them)."""
        proc = run_lake("ingest", "orders", "--quiet", "--format", "json", files["paths"]["orders_stream.jsonl"])
        summary = json.loads(proc.stdout)
        if "already_ingested_at" in summary or not summary.get("snapshot_id"):
            return 0
        return int(summary["snapshot_id"])

    @task
    def quality_gate() -> None:
        """`lake quality check`: an alert fails this task (no retry), skips what follows, and
        the lake posts its alerts to the webhook (the failure callback posts too)."""
        args = ["quality", "check"]
        config = setting("LAKE_CONFIG")
        if config:
            args += ["--config", config]
        url = setting("LAKE_WEBHOOK_URL")
        if url:
            args += ["--webhook", url]
        binary = setting("LAKE_BIN") or shutil.which("lake") or "lake"
        log.info("$ %s %s", binary, " ".join(args))
        proc = subprocess.run([binary, *args], env=lake_env(), capture_output=True, text=True, errors="replace")
        for line in (proc.stdout + proc.stderr).splitlines():
            log.info("%s", line)
        if proc.returncode == 1 and "alert" in (proc.stdout + proc.stderr).lower():
            raise AirflowFailException("quality gate failed: " + " | ".join(proc.stdout.strip().splitlines()[-10:]))
        if proc.returncode != 0:
            kind = classify(proc.returncode, proc.stderr + proc.stdout)
            text = f"`quality check` failed ({kind}, exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
            if kind == "permanent":
                raise AirflowFailException(text)
            raise LakeCommandError(text)

    @task
    def compact(snapshot: int) -> list[str]:
        """Merge the small files of the partitions the day's orders wrote: every event date of
        that snapshot where a partitioned table now holds 2+ files (one lake snapshot per date)."""
        if not snapshot:
            log.info("the day's orders were ingested before: nothing new to compact")
            return []
        dates = dates_to_compact(int(snapshot))
        log.info("partitions to compact: %s", dates or "none")
        for d in dates:
            run_lake("compact", "--partition", f"date={d}", "--min-files", "2")
        return dates

    @task
    def export_reports() -> str:
        """Each report as JSON into <LAKE_REPORTS>/<ds>/, written atomically (temp file + rename)."""
        ds = get_current_context()["ds"]
        out = reports_dir(ds)
        os.makedirs(out, exist_ok=True)
        snapshot = latest_snapshot()
        for name in REPORTS:
            proc = run_lake("report", name, "--as-of", str(snapshot), "--format", "json")
            json.loads(proc.stdout)  # a report that is not JSON fails here, not in a consumer
            tmp = os.path.join(out, f".{name}.json.tmp")
            with open(tmp, "w") as f:
                f.write(proc.stdout)
            os.replace(tmp, os.path.join(out, f"{name}.json"))
        meta = {"logical_date": ds, "snapshot": snapshot, "exported_at": time.time(), "reports": list(REPORTS)}
        tmp = os.path.join(out, ".manifest.json.tmp")
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, os.path.join(out, "manifest.json"))
        return out

    @task(trigger_rule="all_done")
    def check_reports_sla(files: dict | None) -> None:
        """SLA-style check: every report of the day exists within LAKE_SLA_MINUTES of the files'
        arrival (the newest source file's mtime). Runs even when upstream failed, so a missed SLA
        alerts (failure callback) whatever the cause."""
        if not files:
            raise AirflowSkipException("the day's files never arrived; the sensor has alerted")
        context = get_current_context()
        ds = context["ds"]
        sla = timedelta(minutes=_env_number("LAKE_SLA_MINUTES", 15)).total_seconds()
        out = reports_dir(ds)
        missing = [n for n in REPORTS if not os.path.exists(os.path.join(out, f"{n}.json"))]
        if missing:
            raise AirflowFailException(f"SLA missed: reports {missing} of {ds} do not exist in {out}")
        written = max(os.stat(os.path.join(out, f"{n}.json")).st_mtime for n in REPORTS)
        # The clock starts when the files arrived, or when this run started if that was later
        # (a backfill or a rerun of an old date is not late for files delivered days ago).
        started = context["dag_run"].start_date if context.get("dag_run") is not None else None
        clock = max(files["arrived"], started.timestamp() if started else 0.0)
        late = written - clock
        log.info("reports of %s ready %.0f s after the files arrived or the run started (SLA %.0f s)", ds, late, sla)
        if late > sla:
            raise AirflowFailException(f"SLA missed: reports of {ds} ready {late:.0f} s after the files arrived (SLA {sla:.0f} s)")
        write_pipeline_status(ok=True)

    @task
    def weekly_vacuum() -> None:
        """`lake vacuum` on LAKE_VACUUM_WEEKDAY only; skipped on other days."""
        logical = get_current_context()["logical_date"]
        weekday = int(setting("LAKE_VACUUM_WEEKDAY", "7"))
        if logical.isoweekday() != weekday:
            raise AirflowSkipException(f"vacuum runs on ISO weekday {weekday}; {logical.date()} is {logical.isoweekday()}")
        run_lake("vacuum", "--retain", setting("LAKE_VACUUM_RETAIN", "7d"))

    @task(trigger_rule="all_done")
    def publish_metrics() -> None:
        """`lake metrics` into $LAKE_TEXTFILE_DIR/lake.prom for node_exporter's textfile collector."""
        directory = setting("LAKE_TEXTFILE_DIR")
        if not directory:
            raise AirflowSkipException("LAKE_TEXTFILE_DIR is not set")
        args = ["metrics"]
        config = setting("LAKE_CONFIG")
        if config:
            args += ["--config", config]
        proc = run_lake(*args)
        write_atomically(os.path.join(directory, "lake.prom"), proc.stdout)

    files = wait_for_files()
    catalog = ingest_catalog(files)
    inventory = ingest_inventory(files)
    orders = ingest_orders(files)
    gate = quality_gate()
    compacted = compact(orders)
    exported = export_reports()
    sla = check_reports_sla(files)
    vacuum = weekly_vacuum()
    metrics = publish_metrics()

    catalog >> inventory >> orders
    orders >> gate >> compacted >> exported >> vacuum
    exported >> [sla, metrics]
    # Leaves: sla, vacuum, metrics. A failure upstream leaves sla failed or vacuum upstream_failed,
    # so the run fails even though the all_done tasks run (a lone all_done leaf would hide it).


def latest_snapshot() -> int:
    proc = run_lake("snapshots", "--format", "json")
    rows = json.loads(proc.stdout)
    return max(int(r.get("snapshot_id", r.get("id", 0))) for r in rows)


PARTITIONED_TABLES = ("raw.orders", "curated.orders", "curated.order_items")


def dates_to_compact(snapshot: int) -> list[str]:
    """Event dates the snapshot wrote to where some partition now has 2+ live files."""
    written, files_per_partition = set(), {}
    for table in PARTITIONED_TABLES:
        proc = run_lake("files", table, "--format", "json")
        for f in json.loads(proc.stdout):
            part = f.get("partition") or {}
            date = part.get("event_date")
            if date is None:
                continue
            key = (table, date, part.get("channel"))
            files_per_partition[key] = files_per_partition.get(key, 0) + 1
            if f.get("begin_snapshot") == snapshot:
                written.add(date)
    crowded = {date for (_, date, _), n in files_per_partition.items() if n >= 2}
    return sorted(written & crowded)


def write_atomically(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_pipeline_status(ok: bool) -> None:
    """lake_pipeline_last_{success,failure}_timestamp_seconds in $LAKE_TEXTFILE_DIR/lake_pipeline.prom
    (the LakePipelineRunFailed alert compares them)."""
    directory = setting("LAKE_TEXTFILE_DIR")
    if not directory:
        return
    path = os.path.join(directory, "lake_pipeline.prom")
    values = {"success": 0.0, "failure": 0.0}
    try:
        for line in open(path):
            m = re.match(r"lake_pipeline_last_(success|failure)_timestamp_seconds (\S+)", line)
            if m:
                values[m.group(1)] = float(m.group(2))
    except (OSError, ValueError):
        pass
    values["success" if ok else "failure"] = time.time()
    text = ""
    for kind in ("success", "failure"):
        name = f"lake_pipeline_last_{kind}_timestamp_seconds"
        text += f"# HELP {name} Unix time of the DAG lake_pipeline's last {kind}.\n# TYPE {name} gauge\n{name} {values[kind]:.3f}\n"
    write_atomically(path, text)


lake_pipeline()
