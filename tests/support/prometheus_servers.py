"""Prometheus, VictoriaMetrics and exporters for integration tests and benchmarks, on free loopback ports.

History is made here as data (``History``: series of (timestamp, value) samples) and loaded two ways: as
OpenMetrics text into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` for Prometheus, and as
Prometheus text exposition (millisecond timestamps) through ``/api/v1/import/prometheus`` for VictoriaMetrics.
Every server is stopped and its directory removed when its context exits. A missing binary skips (CI: fails).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from support.servers import _stop, free_port, require, wait_for_port

BLOCK_DURATION = "744h"  # a month; promtool rounds it down to 486 h (its default is 2 h blocks)
READY_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class HistorySeries:
    """One series of loaded history: a metric name, its labels and its samples (seconds, value)."""

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[float, float]]

    def selector(self) -> str:
        inner = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"


@dataclass
class History:
    series: list[HistorySeries] = field(default_factory=list)

    def add(self, name: str, labels: Mapping[str, str], samples: Iterable[tuple[float, float]]) -> None:
        self.series.append(HistorySeries(name, dict(labels), list(samples)))

    def openmetrics(self) -> Iterator[str]:
        """OpenMetrics text for promtool, in chunks (seconds timestamps, each family contiguous)."""
        for name in dict.fromkeys(s.name for s in self.series):
            yield f"# TYPE {name} gauge\n"
            for series in (s for s in self.series if s.name == name):
                prefix = series.selector()
                yield "".join(f"{prefix} {_number(v)} {_seconds(t)}\n" for t, v in series.samples)
        yield "# EOF\n"

    def exposition(self) -> Iterator[str]:
        """Prometheus text exposition with millisecond timestamps, for VictoriaMetrics' import API."""
        for series in self.series:
            prefix = series.selector()
            yield "".join(f"{prefix} {_number(v)} {round(t * 1000)}\n" for t, v in series.samples)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _seconds(ts: float) -> str:
    return str(int(ts)) if float(ts).is_integer() else f"{ts:.3f}"


def build_blocks(history: History, data_dir: Path, max_block_duration: str = BLOCK_DURATION) -> None:
    """Write the history into TSDB blocks under ``data_dir`` with promtool.

    promtool rounds the block length down to a Prometheus compaction range (2 h x 3^n): 744 h gives 486 h
    blocks; 1458 h holds 30 days in one block when the history starts on a multiple of 1458 h.
    """
    promtool = require("promtool")
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / (data_dir.name + ".om")
    with open(source, "w", encoding="utf-8") as handle:
        for part in history.openmetrics():
            handle.write(part)
    try:
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={max_block_duration}",
             "--quiet", str(source), str(data_dir)],
            check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        source.unlink(missing_ok=True)


@dataclass
class PrometheusServer:
    port: int
    data_dir: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop(self.process)

    def targets_up(self) -> dict[str, int]:
        """Scrape jobs and how many of their targets are up now."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": "up"}, timeout=5)
        response.raise_for_status()
        return {r["metric"]["job"]: int(float(r["value"][1])) for r in response.json()["data"]["result"]}


@contextlib.contextmanager
def prometheus_server(
    data_dir: Path | None = None,
    scrape_jobs: Mapping[str, str] | None = None,
    scrape_interval: str = "1s",
    extra_args: Sequence[str] = (),
    port: int | None = None,
    rule_files: Sequence[Path] = (),
) -> Iterator[PrometheusServer]:
    """A Prometheus over ``data_dir`` (e.g. built by build_blocks), scraping ``{job: host:port}`` if given,
    evaluating ``rule_files`` if given."""
    binary = require("prometheus")
    base = Path(tempfile.mkdtemp(prefix="sre-prom-"))
    storage = data_dir or base / "data"
    storage.mkdir(parents=True, exist_ok=True)
    config = base / "prometheus.yml"
    lines = [f"global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\n"]
    if rule_files:
        lines.append("rule_files:\n" + "".join(f"  - '{path}'\n" for path in rule_files))
    if scrape_jobs:
        lines.append("scrape_configs:\n")
        for job, address in scrape_jobs.items():
            lines.append(f"  - job_name: {job}\n    static_configs:\n      - targets: ['{address}']\n")
    config.write_text("".join(lines), encoding="utf-8")
    port = port or free_port()
    log = open(base / "prometheus.log", "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={storage}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y",
         *extra_args],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = PrometheusServer(port=port, data_dir=storage, process=process)
    try:
        with _log_on_failure(base / "prometheus.log"):
            wait_for_port(port, process, what="prometheus")
            _wait_ready(f"{server.url}/-/ready", process, "prometheus")
        yield server
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class VictoriaMetricsServer:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def load(self, history: History) -> None:
        """Import the history through /api/v1/import/prometheus and flush it so queries see it."""
        body = "".join(history.exposition()).encode()
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data=body, timeout=120)
        response.raise_for_status()
        requests.get(f"{self.url}/internal/force_flush", timeout=30).raise_for_status()


@contextlib.contextmanager
def victoria_metrics_server(extra_args: Sequence[str] = ()) -> Iterator[VictoriaMetricsServer]:
    binary = require("victoria-metrics")
    base = Path(tempfile.mkdtemp(prefix="sre-vm-"))
    port = free_port()
    log = open(base / "victoria-metrics.log", "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [binary, f"-storageDataPath={base / 'data'}", f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
         *extra_args],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with _log_on_failure(base / "victoria-metrics.log"):
            wait_for_port(port, process, what="victoria-metrics")
            _wait_ready(f"http://127.0.0.1:{port}/health", process, "victoria-metrics")
        yield VictoriaMetricsServer(port=port, process=process)
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Exporter:
    name: str
    port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.contextmanager
def exporter(
    binary_name: str, args: Sequence[str] = (), env: Mapping[str, str] | None = None, listen_flag: str = ""
) -> Iterator[Exporter]:
    """An exporter listening on a free loopback port (its /metrics answered before this yields)."""
    binary = require(binary_name)
    port = free_port()
    flag = listen_flag or "--web.listen-address"
    process = subprocess.Popen(
        [binary, f"{flag}=127.0.0.1:{port}", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, what=binary_name)
        _wait_ready(f"http://127.0.0.1:{port}/metrics", process, binary_name)
        yield Exporter(name=binary_name, port=port, process=process)
    finally:
        _stop(process)


def node_exporter() -> contextlib.AbstractContextManager[Exporter]:
    return exporter("prometheus-node-exporter")


def postgres_exporter(dsn: str) -> contextlib.AbstractContextManager[Exporter]:
    """postgres_exporter reading the server at ``dsn`` (a postgresql:// URL) from DATA_SOURCE_NAME."""
    return exporter("prometheus-postgres-exporter", env={"DATA_SOURCE_NAME": dsn})


def redis_exporter(address: str, password: str) -> contextlib.AbstractContextManager[Exporter]:
    """redis_exporter for ``address`` (host:port); the password goes through REDIS_PASSWORD, not argv."""
    return exporter(
        "prometheus-redis-exporter", args=[f"--redis.addr=redis://{address}"], env={"REDIS_PASSWORD": password}
    )


@contextlib.contextmanager
def _log_on_failure(log: Path) -> Iterator[None]:
    """Re-raise a start-up failure with the last lines of the server's log, which say why."""
    try:
        yield
    except RuntimeError as exc:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        raise RuntimeError(f"{exc}; log:\n" + "\n".join(tail)) from None


def _wait_ready(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it was ready")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.status_code
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready at {url} within {READY_TIMEOUT_SECONDS} s ({last})")
