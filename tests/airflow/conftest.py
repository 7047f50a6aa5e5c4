"""Fixtures for the Airflow DAG tests.

Every `airflow dags test` run gets its own AIRFLOW_HOME whose SQLite metadata database is a copy of
one migrated once per session, its own lake and landing folder. The independent scenarios (happy
path, transient failure, quality failure) start together and run concurrently; each test waits for
its own. The lake binary is $LAKE_BIN (scripts/test-airflow.sh passes .build/debug/lake).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")
# Only a hung run meets it: a run returns when it is done. Three DAG runs share the machine
# with the reference `lake run`; under load (stress-ng on both cores plus the Swift suite) the
# whole session took 457 s, too close to the 600 s this was.
RUN_TIMEOUT = 1800

HAPPY_DATE = "2024-03-10"      # a Sunday: the weekly vacuum runs
TRANSIENT_DATE = "2024-03-11"
QUALITY_DATE = "2024-03-12"


def lake_bin() -> str:
    path = os.environ.get("LAKE_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.exit(f"LAKE_BIN must name the lake binary (got {path!r}); run `swift build` first", returncode=2)
    return os.path.abspath(path)


def lake(*args: str, lake_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, LAKE_DIR=str(lake_dir))
    proc = subprocess.run([lake_bin(), *args], env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"lake {' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
    return proc


def data_snapshots(lake_dir: Path) -> list[dict]:
    """Snapshots that changed data (inserts or deletes), not schema-only or maintenance ones."""
    snaps = json.loads(lake("snapshots", "--format", "json", lake_dir=lake_dir).stdout)
    return [s for s in snaps if any(c.startswith(("inserted_into_table", "deleted_from_table")) for c in s["changes"])]


def airflow_env(home: Path, **lake_env: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LAKE_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        LAKE_BIN=lake_bin(),
        LAKE_SETTLE_SECONDS="0",
        LAKE_SENSOR_POKE_SECONDS="1",
        LAKE_SENSOR_TIMEOUT_MINUTES="2",
        LAKE_RETRY_DELAY_SECONDS="1",
        LAKE_TASK_TIMEOUT_MINUTES="5",
        # Above RUN_TIMEOUT: the happy run's check_reports_sla passes on the reports existing, never
        # on how fast a loaded machine made them (the failing SLA case has no reports at all).
        LAKE_SLA_MINUTES="60",
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    )
    env.update(lake_env)
    return env


class DagRun:
    """One `airflow dags test lake_pipeline DATE` in its own AIRFLOW_HOME."""

    def __init__(self, template_db: Path, home: Path, date: str, **lake_env: str):
        self.home, self.date = home, date
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "airflow.db").exists():
            shutil.copy(template_db, home / "airflow.db")
        self.env = airflow_env(home, **lake_env)
        self.proc: subprocess.Popen | None = None
        self.log_path = home / f"dags-test-{date}-{time.time_ns()}.log"
        self.seconds = 0.0

    def start(self) -> "DagRun":
        self._log = open(self.log_path, "w")
        self._started = time.monotonic()
        self.proc = subprocess.Popen(
            [AIRFLOW, "dags", "test", "lake_pipeline", self.date],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.home,
        )
        return self

    def wait(self) -> "DagRun":
        assert self.proc is not None
        try:
            self.proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        if not self.seconds:
            self.seconds = time.monotonic() - self._started
        self._log.close()
        return self

    @property
    def returncode(self) -> int:
        return self.proc.returncode

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def states(self) -> dict[str, tuple[str, int]]:
        """task_id -> (state, try_number) of this date's latest dag run, from the metadata DB."""
        db = sqlite3.connect(self.home / "airflow.db")
        try:
            run_id = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = 'lake_pipeline' ORDER BY id DESC LIMIT 1"
            ).fetchone()[0]
            rows = db.execute(
                "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = 'lake_pipeline' AND run_id = ?",
                (run_id,),
            ).fetchall()
        finally:
            db.close()
        return {t: (s, n) for t, s, n in rows}

    def run_state(self) -> str:
        db = sqlite3.connect(self.home / "airflow.db")
        try:
            return db.execute("SELECT state FROM dag_run WHERE dag_id = 'lake_pipeline' ORDER BY id DESC LIMIT 1").fetchone()[0]
        finally:
            db.close()


class WebhookListener:
    """An HTTP server on 127.0.0.1 that records every POSTed JSON body."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    received.append((self.path, json.loads(body)))
                except ValueError:
                    received.append((self.path, body.decode(errors="replace")))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def generate(out: Path, orders: int) -> None:
    subprocess.run([lake_bin(), "generate", "--out", str(out), "--orders", str(orders)], check=True, capture_output=True)


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture(scope="session")
def template_db(work) -> Path:
    """A migrated, empty metadata DB to copy. $AIRFLOW_TEMPLATE_DB_DIR (set by
    scripts/test-airflow.sh to a folder keyed by the pinned requirements) keeps it between
    sessions: `airflow db migrate` takes about 15 s."""
    cache = os.environ.get("AIRFLOW_TEMPLATE_DB_DIR")
    home = Path(cache) if cache else work / "template"
    if (home / "airflow.db").exists() and (home / "migrated").exists():
        return home / "airflow.db"
    home.mkdir(parents=True, exist_ok=True)
    (home / "airflow.db").unlink(missing_ok=True)
    proc = subprocess.run([AIRFLOW, "db", "migrate"], env=airflow_env(home), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (home / "migrated").touch()
    return home / "airflow.db"


@pytest.fixture(scope="session")
def webhook():
    listener = WebhookListener()
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def scenarios(work, template_db, webhook):
    """Start the independent DAG runs (and the reference `lake run`) concurrently."""
    runs = {}
    # Happy path: 2000 generated orders; a reference lake from `lake run` on the same files.
    landing = work / "happy" / "landing"
    generate(landing / HAPPY_DATE, 2000)
    runs["happy"] = DagRun(
        template_db, work / "happy" / "home", HAPPY_DATE,
        LAKE_DIR=str(work / "happy" / "lake"), LAKE_LANDING=str(landing),
        LAKE_REPORTS=str(work / "happy" / "reports"), LAKE_TEXTFILE_DIR=str(work / "happy" / "textfile"),
        LAKE_WEBHOOK_URL=webhook.url + "/happy",
    ).start()
    reference = work / "happy" / "reference-lake"
    runs["reference"] = subprocess.Popen(
        [lake_bin(), "run", "--input", str(landing / HAPPY_DATE), "--lake", str(reference)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )

    # Transient failure: the first `lake ingest orders` reports a busy catalog, then works.
    # 200 orders spread over weeks make days of 5 lines whose one reject is a "jump": those
    # anomaly alerts are not what this run tests, so its thresholds ignore reject-rate jumps.
    landing = work / "transient" / "landing"
    generate(landing / TRANSIENT_DATE, 200)
    lenient = work / "transient" / "alerts.json"
    lenient.write_text(json.dumps({"reject_rate_min_jump": 1.0}))
    flaky = work / "transient" / "flaky-lake"
    flaky.write_text(
        "#!/bin/sh\n"
        f'marker="{work}/transient/failed-once"\n'
        'if [ "$1 $2" = "ingest orders" ] && [ ! -e "$marker" ]; then\n'
        '  touch "$marker"\n'
        '  echo "Error: the catalog stayed locked by another writer through 5 attempts; retry when the other write finishes" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{lake_bin()}" "$@"\n'
    )
    flaky.chmod(0o755)
    runs["transient"] = DagRun(
        template_db, work / "transient" / "home", TRANSIENT_DATE,
        LAKE_DIR=str(work / "transient" / "lake"), LAKE_LANDING=str(landing), LAKE_BIN=str(flaky), LAKE_CONFIG=str(lenient),
        LAKE_REPORTS=str(work / "transient" / "reports"), LAKE_WEBHOOK_URL=webhook.url + "/transient",
    ).start()

    # Quality failure: thresholds no batch meets (a validity threshold of 0.1 %).
    landing = work / "quality" / "landing"
    generate(landing / QUALITY_DATE, 200)
    strict = work / "quality" / "strict-alerts.json"
    strict.write_text(json.dumps({"validity_max_invalid_rate": 0.001}))
    runs["quality"] = DagRun(
        template_db, work / "quality" / "home", QUALITY_DATE,
        LAKE_DIR=str(work / "quality" / "lake"), LAKE_LANDING=str(landing), LAKE_CONFIG=str(strict),
        LAKE_REPORTS=str(work / "quality" / "reports"), LAKE_WEBHOOK_URL=webhook.url + "/quality",
    ).start()
    yield runs
    for r in runs.values():
        proc = r if isinstance(r, subprocess.Popen) else r.proc
        if proc and proc.poll() is None:
            proc.kill()
