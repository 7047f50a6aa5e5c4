"""Where `lake serve` exists: a real Prometheus on loopback scrapes its /metrics, loads the lake's
rules, and a lake metric reads back through Prometheus's HTTP API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import REPO, lake, lake_bin


def has_serve() -> bool:
    proc = subprocess.run([lake_bin(), "serve", "--help"], capture_output=True, text=True)
    return proc.returncode == 0 and "USAGE: lake serve" in proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Bounds a loaded machine cannot reach; each wait ends as soon as its answer comes.
HTTP_TIMEOUT = 60
SCRAPE_DEADLINE = 300


def query(base: str, promql: str) -> list:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary (apt package prometheus)")
def test_prometheus_scrapes_lake_serve(tmp_path):
    if not has_serve():
        pytest.skip("this lake build has no `lake serve` (the live scrape needs its /metrics)")
    src, lake_dir = tmp_path / "src", tmp_path / "lake"
    subprocess.run([lake_bin(), "generate", "--out", str(src), "--orders", "60", "--clean"], check=True, capture_output=True)
    lake("ingest", "catalog", str(src / "product_catalog.json"), lake_dir=lake_dir)
    lake("ingest", "orders", str(src / "orders_stream.jsonl"), lake_dir=lake_dir)

    serve = subprocess.Popen([lake_bin(), "serve", "--lake", str(lake_dir), "--host", "127.0.0.1", "--port", "0",
                              "--open-monitoring"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    prom = None
    try:
        line = serve.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        config = tmp_path / "prometheus.yml"
        shutil.copy(REPO / "monitoring" / "lake-rules.yml", tmp_path / "lake-rules.yml")
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [lake-rules.yml]\n"
            "scrape_configs:\n"
            f"  - job_name: lake-serve\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        def start_prometheus() -> tuple[subprocess.Popen, str]:
            web = free_port()
            proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                     f"--web.listen-address=127.0.0.1:{web}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return proc, f"http://127.0.0.1:{web}"

        prom, base = start_prometheus()
        starts = 1
        deadline, result = time.monotonic() + SCRAPE_DEADLINE, []
        while time.monotonic() < deadline:
            # The free port was released before Prometheus bound it: another process may have
            # taken it meanwhile, and Prometheus exits. A new port, at most twice more.
            if prom.poll() is not None and starts < 3:
                prom, base = start_prometheus()
                starts += 1
            try:
                result = query(base, 'lake_ingest_records_total{kind="orders",job="lake-serve"}')
                if result:
                    break
            except (OSError, ValueError):  # not up yet (refused, reset), or another program answered on the port
                pass
            time.sleep(0.5)
        assert result, "Prometheus never scraped lake_ingest_records_total from lake serve"
        assert float(result[0]["value"][1]) == 60
        assert query(base, 'up{job="lake-serve"}')[0]["value"][1] == "1"
        with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=HTTP_TIMEOUT) as r:
            names = {rule["name"] for g in json.load(r)["data"]["groups"] for rule in g["rules"]}
        assert {"LakeIngestStale", "LakeQualityScoreLow", "LakeQuarantineRateJump", "LakeTooManySmallFiles", "LakePipelineRunFailed"} <= names
    finally:
        for p in (prom, serve):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
