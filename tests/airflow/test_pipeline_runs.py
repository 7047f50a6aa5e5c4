"""`airflow dags test lake_pipeline DATE` end to end on generated landing folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import HAPPY_DATE, QUALITY_DATE, RUN_TIMEOUT, DagRun, data_snapshots, lake

REPORTS = ("daily-revenue", "top-products", "inventory", "customers")  # operations: timings differ


def finished(run: DagRun) -> DagRun:
    run.wait()
    print(f"\n{run.date}: airflow dags test took {run.seconds:.1f} s (log {run.log_path})")
    return run


def env_path(run: DagRun, name: str) -> Path:
    return Path(run.env[name])


def test_happy_path_equals_lake_run(scenarios):
    run = finished(scenarios["happy"])
    assert run.returncode == 0, run.output[-3000:]
    assert run.run_state() == "success"
    states = run.states()
    for task in ("wait_for_files", "ingest_catalog", "ingest_inventory", "ingest_orders", "quality_gate",
                 "compact", "export_reports", "check_reports_sla", "weekly_vacuum", "publish_metrics"):
        assert states[task][0] == "success", (task, states)

    ref = scenarios["reference"]
    _, err = ref.communicate(timeout=RUN_TIMEOUT)
    assert ref.returncode == 0, err
    dag_lake, ref_lake = env_path(run, "LAKE_DIR"), Path(ref.args[-1])

    exported = env_path(run, "LAKE_REPORTS") / HAPPY_DATE
    assert json.loads((exported / "manifest.json").read_text())["logical_date"] == HAPPY_DATE
    for name in REPORTS:
        reference = json.loads(lake("report", name, "--format", "json", lake_dir=ref_lake).stdout)
        assert reference, name
        assert json.loads(lake("report", name, "--format", "json", lake_dir=dag_lake).stdout) == reference, name
        assert json.loads((exported / f"{name}.json").read_text()) == reference, name
    count = ["query", "orders", "--agg", "count(*)", "--format", "json"]
    assert lake(*count, lake_dir=dag_lake).stdout == lake(*count, lake_dir=ref_lake).stdout
    # The same three ingests committed data in both lakes.
    assert len(data_snapshots(dag_lake)) == len(data_snapshots(ref_lake)) == 3
    # The textfile for node_exporter: the lake's metrics and the pipeline's last success.
    textfile = env_path(run, "LAKE_TEXTFILE_DIR")
    assert 'lake_ingest_records_total{kind="orders"} 2000' in (textfile / "lake.prom").read_text()
    status = (textfile / "lake_pipeline.prom").read_text()
    assert "lake_pipeline_last_success_timestamp_seconds 0.000" not in status
    assert "lake_pipeline_last_failure_timestamp_seconds 0.000" in status


def test_rerun_of_the_same_date_adds_nothing(scenarios, template_db):
    first = finished(scenarios["happy"])
    assert first.returncode == 0, first.output[-3000:]
    lake_dir = env_path(first, "LAKE_DIR")
    before = lake("snapshots", "--format", "json", lake_dir=lake_dir).stdout
    report_before = lake("report", "daily-revenue", "--format", "json", lake_dir=lake_dir).stdout
    # The same date again, in the same Airflow metadata DB (a rerun / backfill of the date).
    env = {k: first.env[k] for k in first.env if k.startswith("LAKE_") and k not in ("LAKE_BIN",)}
    again = DagRun(template_db, first.home, first.date, **env).start()
    finished(again)
    assert again.returncode == 0, again.output[-3000:]
    assert again.states()["ingest_orders"][0] == "success"
    assert "already_ingested_at" in again.output
    after = json.loads(lake("snapshots", "--format", "json", lake_dir=lake_dir).stdout)
    assert len(data_snapshots(lake_dir)) == 3
    assert [s["snapshot_id"] for s in after] == [s["snapshot_id"] for s in json.loads(before)], "a rerun committed a snapshot"
    assert lake("report", "daily-revenue", "--format", "json", lake_dir=lake_dir).stdout == report_before


def test_transient_failure_is_retried_and_the_run_succeeds(scenarios):
    run = finished(scenarios["transient"])
    assert run.returncode == 0, run.output[-3000:]
    assert run.run_state() == "success"
    states = run.states()
    assert states["ingest_orders"] == ("success", 2), states  # failed once, succeeded on the retry
    assert states["ingest_catalog"] == ("success", 1), states
    skipped = {"weekly_vacuum", "publish_metrics"}  # 2024-03-11 is a Monday; no LAKE_TEXTFILE_DIR
    assert all(state == "success" for task, (state, _) in states.items() if task not in skipped), states
    assert {t: states[t][0] for t in skipped} == {t: "skipped" for t in skipped}
    assert "stayed locked by another writer" in run.output
    lake_dir = env_path(run, "LAKE_DIR")
    rows = json.loads(lake("query", "orders", "--agg", "count(*)", "--format", "json", lake_dir=lake_dir).stdout)
    assert list(rows[0].values())[0] > 0
    assert len(data_snapshots(lake_dir)) == 3
    assert (env_path(run, "LAKE_REPORTS") / run.date / "daily-revenue.json").exists()


def test_quality_failure_stops_compaction_and_export_and_alerts(scenarios, webhook):
    run = finished(scenarios["quality"])
    assert run.run_state() == "failed"
    states = run.states()
    assert states["quality_gate"] == ("failed", 1), states  # no retry: a quality alert is permanent
    assert states["ingest_orders"][0] == "success"
    for task in ("compact", "export_reports", "weekly_vacuum"):
        assert states[task][0] in ("upstream_failed", "skipped"), (task, states)
    assert states["check_reports_sla"][0] == "failed", states  # the reports never came
    assert not (env_path(run, "LAKE_REPORTS") / QUALITY_DATE).exists()
    assert "ALERT error quality.validity" in run.output

    posts = [body for path, body in webhook.received if path.endswith("/quality")]
    # lake quality check --webhook posts the alert batch; the failure callback posts the task.
    callbacks = [b for b in posts if isinstance(b, dict) and b.get("source") == "airflow"]
    assert any(b["task_id"] == "quality_gate" and "quality gate failed" in (b["error"] or "") for b in callbacks), posts
    assert all(b["logical_date"] == QUALITY_DATE for b in callbacks)
    lake_alerts = [b for b in posts if not (isinstance(b, dict) and b.get("source") == "airflow")]
    assert lake_alerts and "validity" in json.dumps(lake_alerts), posts
