"""The DAG file imports, forms the pipeline's order without cycles, and every task retries with
backoff within a timeout; the failure classifier and the alert callback behave."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from datetime import timedelta

import pytest

from conftest import DAGS, REPO, WebhookListener, lake_bin

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
    from airflow.models import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags.get("lake_pipeline")


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("lake_pipeline_module", DAGS / "lake_pipeline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_imports_without_errors(dagbag, dag):
    assert dagbag.import_errors == {}
    assert dag is not None


def test_tasks_and_order(dag):
    ids = {t.task_id for t in dag.tasks}
    assert ids == {
        "wait_for_files", "ingest_catalog", "ingest_inventory", "ingest_orders", "quality_gate",
        "compact", "export_reports", "check_reports_sla", "weekly_vacuum", "publish_metrics",
    }
    chain = ["wait_for_files", "ingest_catalog", "ingest_inventory", "ingest_orders", "quality_gate", "compact", "export_reports"]
    for a, b in zip(chain, chain[1:]):
        assert a in dag.get_task(b).get_direct_relative_ids(upstream=True), f"{a} must run before {b}"
    assert "export_reports" in dag.get_task("check_reports_sla").upstream_task_ids
    assert dag.get_task("check_reports_sla").trigger_rule == "all_done"
    # No all_done task is the only leaf (it would turn a failed run into a success).
    leaves = {t.task_id for t in dag.tasks if not t.downstream_task_ids}
    assert any(dag.get_task(t).trigger_rule == "all_success" for t in leaves), leaves


def test_no_cycles(dag):
    # A topological sort of the whole DAG (Kahn): every task is reached, so there is no cycle.
    indegree = {t.task_id: len(t.upstream_task_ids) for t in dag.tasks}
    ready = [t for t, n in indegree.items() if n == 0]
    seen = []
    while ready:
        tid = ready.pop()
        seen.append(tid)
        for d in dag.get_task(tid).downstream_task_ids:
            indegree[d] -= 1
            if indegree[d] == 0:
                ready.append(d)
    assert sorted(seen) == sorted(indegree), "cycle among " + str(set(indegree) - set(seen))
    assert seen[0] == "wait_for_files"


def test_every_task_retries_with_backoff_and_timeout(dag):
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.retry_exponential_backoff, t.task_id
        assert isinstance(t.execution_timeout, timedelta) and t.execution_timeout > timedelta(0), t.task_id
        assert t.on_failure_callback, t.task_id
    sensor = dag.get_task("wait_for_files")
    assert sensor.timeout > 0 and sensor.timeout <= sensor.execution_timeout.total_seconds()


def test_permanent_failure_fails_at_once_with_the_message(module, tmp_path, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    bad = tmp_path / "inventory_updates.csv"
    bad.write_text('{"not": "a csv"}\n')
    monkeypatch.setenv("LAKE_BIN", lake_bin())
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))
    # A path with no lake, then a lake without the product catalog inventory references: both
    # are set-up errors a retry cannot fix.
    for expected, then in (("no lake at", ("init",)),
                           ("no product catalog in the lake", ("ingest", "catalog", str(REPO / "Evaluation-Files" / "product_catalog.json")))):
        with pytest.raises(AirflowFailException) as e:
            module.run_lake("ingest", "inventory", str(bad))
        assert "permanent" in str(e.value) and expected in str(e.value), str(e.value)
        module.run_lake(*then)
    with pytest.raises(AirflowFailException) as e:
        module.run_lake("ingest", "inventory", str(bad))
    assert "permanent" in str(e.value) and "header is" in str(e.value) and "expected the columns" in str(e.value)


def test_lake_catalog_reaches_every_lake_command(module, tmp_path, monkeypatch):
    # The catalog setting is passed through to lake, which reads LAKE_CATALOG as --catalog: a
    # catalog that cannot be reached fails the command, naming it, where a SQLite lake would work.
    monkeypatch.setenv("LAKE_BIN", lake_bin())
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKE_CATALOG", "postgresql://lake@127.0.0.1:1/lake")
    assert module.lake_env()["LAKE_CATALOG"] == "postgresql://lake@127.0.0.1:1/lake"
    with pytest.raises(Exception) as e:
        module.run_lake("init")
    assert "127.0.0.1" in str(e.value)
    monkeypatch.delenv("LAKE_CATALOG")
    assert "LAKE_CATALOG" not in module.lake_env()
    module.run_lake("init")
    assert (tmp_path / "lake" / "manifest.sqlite").exists()


def test_transient_failure_is_retried(module, tmp_path, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    fake = tmp_path / "busy-lake"
    fake.write_text("#!/bin/sh\necho 'Error: the catalog stayed locked by another writer through 5 attempts; retry when the other write finishes' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LAKE_BIN", str(fake))
    with pytest.raises(module.LakeCommandError) as e:
        module.run_lake("ingest", "orders", "x.jsonl")
    assert not isinstance(e.value, AirflowFailException)
    assert "stayed locked" in str(e.value)
    assert module.classify(64, "Error: Unknown option '--bogus'") == "permanent"
    assert module.classify(-9, "") == "transient"
    assert module.classify(1, "orders_stream.jsonl: cannot open (No such file or directory)") == "transient"


def test_failure_callback_posts_to_the_webhook(module, monkeypatch, tmp_path):
    listener = WebhookListener()
    try:
        monkeypatch.setenv("LAKE_WEBHOOK_URL", listener.url)
        monkeypatch.setenv("LAKE_TEXTFILE_DIR", str(tmp_path))

        class TI:
            dag_id, task_id, run_id, try_number = "lake_pipeline", "ingest_orders", "r1", 4

        module.alert_on_failure({"task_instance": TI(), "ds": "2024-03-10", "exception": RuntimeError("boom")})
        assert len(listener.received) == 1
        path, body = listener.received[0]
        assert body["task_id"] == "ingest_orders" and body["error"] == "boom" and body["logical_date"] == "2024-03-10"
        status = (tmp_path / "lake_pipeline.prom").read_text()
        assert "lake_pipeline_last_failure_timestamp_seconds" in status
        assert "lake_pipeline_last_success_timestamp_seconds 0.000" in status
    finally:
        listener.close()


def test_promtool_rules():
    for args in (["check", "rules", "lake-rules.yml"], ["test", "rules", "lake-rules.test.yml"], ["check", "config", "prometheus.yml"]):
        proc = subprocess.run(["promtool", *args], cwd=REPO / "monitoring", capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "SUCCESS" in proc.stdout + proc.stderr


def test_promtool_catches_a_broken_expectation(tmp_path):
    # The rule tests can fail: a copy expecting LakeQualityScoreLow at a quiet time must fail.
    src = (REPO / "monitoring" / "lake-rules.test.yml").read_text()
    broken = src.replace("      - eval_time: 2m\n        alertname: LakeQualityScoreLow\n        exp_alerts: []",
                         "      - eval_time: 2m\n        alertname: LakeQualityScoreLow\n        exp_alerts:\n          - exp_labels: {severity: page, batch: all, job: lake}")
    assert broken != src
    (tmp_path / "lake-rules.yml").write_text((REPO / "monitoring" / "lake-rules.yml").read_text())
    (tmp_path / "t.yml").write_text(broken)
    proc = subprocess.run(["promtool", "test", "rules", "t.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0


def test_compact_merges_only_the_days_crowded_partitions(dag, tmp_path, monkeypatch):
    """The compact task's own code: dates the day's snapshot wrote where a partition has 2+ files."""
    from conftest import lake

    monkeypatch.setenv("LAKE_BIN", lake_bin())
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))
    lake_dir = tmp_path / "lake"
    snaps = []
    for seed, start in ((1, "2024-03-10"), (2, "2024-03-11")):
        src = tmp_path / f"src{seed}"
        subprocess.run([lake_bin(), "generate", "--out", str(src), "--orders", "60", "--days", "2",
                        "--start", start, "--seed", str(seed), "--clean"], check=True, capture_output=True)
        if seed == 1:
            lake("ingest", "catalog", str(src / "product_catalog.json"), lake_dir=lake_dir)
        out = lake("ingest", "orders", "--quiet", "--format", "json", str(src / "orders_stream.jsonl"), lake_dir=lake_dir)
        snaps.append(__import__("json").loads(out.stdout)["snapshot_id"])

    def files_per_partition():
        import json
        counts = {}
        for f in json.loads(lake("files", "curated.orders", "--format", "json", lake_dir=lake_dir).stdout):
            key = (f["partition"]["event_date"], f["partition"]["channel"])
            counts[key] = counts.get(key, 0) + 1
        return counts

    before = files_per_partition()
    assert any(n >= 2 for (d, _), n in before.items() if d == "2024-03-11"), before
    compact = dag.get_task("compact").python_callable
    assert compact(0) == []  # a rerun's ingest committed nothing: nothing to compact
    assert compact(snaps[1]) == ["2024-03-11"]
    after = files_per_partition()
    assert all(n == 1 for (d, _), n in after.items() if d == "2024-03-11"), after
    assert {k: n for k, n in after.items() if k[0] != "2024-03-11"} == {k: n for k, n in before.items() if k[0] != "2024-03-11"}
