"""End to end on the live hub: start it, put load on it, collect with `sre` as a user would, render the three
reports; then inject faults and find each in the next collection and report; then mend archiving.

One hub for the module, in phases that build on each other (each test is one phase, in file order):
healthy -> faults -> mended. Renders of a phase run while the next phase's load accumulates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.polling import eventually
from support.servers import PG_BIN, require

from sre_lib.config import load_config
from sre_lib.hub.hub_platform import Hub

TOOLS = (
    "nginx", "pgbackrest", "redis-server", "openssl", "prometheus", "prometheus-node-exporter",
    "prometheus-postgres-exporter", "prometheus-redis-exporter", "prometheus-nginx-exporter",
    "prometheus-blackbox-exporter",
)  # fmt: skip
REPORTS = {"capacity": "capacity", "slow-queries": "slow_queries", "dr": "dr_readiness"}


class _Text(HTMLParser):
    """The visible text of a report: what a reader sees, without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html: Path) -> str:
    parser = _Text()
    parser.feed(html.read_text(encoding="utf-8"))
    return "\n".join(parser.parts)


@dataclass
class Live:
    """The hub with its load running, and the `sre` calls a user would make against it."""

    hub: Hub
    out: Path

    def sre(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "sre_lib.app.cli", *args], env=self.hub.env, capture_output=True, text=True,
            timeout=timeout, cwd=self.out,
        )  # fmt: skip
        assert result.returncode == 0, f"sre {' '.join(args)} exit {result.returncode}: {result.stderr[-3000:]}"
        return result

    def start_reports(
        self, phase: str, which: tuple[str, ...] = tuple(REPORTS), extra: list[str] = (), slow_window: str = "2m"
    ) -> Callable[[], dict[str, str]]:
        """Start the reports rendering (in the background); the returned call waits and gives each one's text."""
        running = {}
        windows = {"capacity": ["-p", "window=30m"], "slow-queries": ["-p", f"window={slow_window}", "-p",
                                                                      "baseline=20m"]}  # fmt: skip
        for report in which:
            command = [sys.executable, "-m", "sre_lib.app.cli", "report", report, "--out", str(self.out / phase),
                       *windows.get(report, []), *extra]  # fmt: skip
            running[report] = subprocess.Popen(
                command, env=self.hub.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.out
            )

        def finish() -> dict[str, str]:
            texts = {}
            for report, process in running.items():
                _stdout, stderr = process.communicate(timeout=300)
                assert process.returncode == 0, f"{phase}: sre report {report} exit {process.returncode}: {stderr}"
                html = self.out / phase / report / "latest" / f"{REPORTS[report]}.html"
                texts[report] = visible_text(html)
            return texts

        return finish

    def snapshots(self, count: int, every: float) -> None:
        """pg_stat_statements history for deltas: `count` postgres snapshots `every` seconds apart."""
        for i in range(count):
            started = time.monotonic()
            self.sre("collect", "postgres")
            if i < count - 1:
                time.sleep(max(0.0, every - (time.monotonic() - started)))


def _archiver(hub: Hub) -> dict[str, Any]:
    with psycopg.connect(hub.superuser_conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT archived_count, failed_count, last_failed_wal, last_archived_time, last_failed_time"
            " FROM pg_stat_archiver"
        ).fetchone()
    assert row is not None
    keys = ("archived", "failed", "last_failed_wal", "last_archived_time", "last_failed_time")
    return dict(zip(keys, row, strict=True))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    for tool in (*TOOLS, PG_BIN / "postgres"):
        require(tool)
    folder = Path(f"/tmp/sre-hub-e2e-{os.getpid()}")  # under /tmp: the postgres account must reach it
    out = tmp_path_factory.mktemp("live")
    with Hub.start(folder, base_port=0, cert_days=90) as hub:
        # the load generator as a user runs it: a ramp through nginx, bounded in time and requests
        load = subprocess.Popen(
            [sys.executable, "-m", "sre_lib.hub.load", hub.https_url, "--seconds", "900", "--rps", "10:40",
             "--max-requests", "40000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield Live(hub, out)
        finally:
            load.terminate()
            load.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)


PENDING: dict[str, Callable[[], dict[str, str]]] = {}  # renders of a phase, finished by the next test


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _hit_ratio(hub: Hub) -> float:
    """Redis's hit ratio now, by the catalogue's own PromQL, from the hub's Prometheus."""
    query = load_config(hub.config_path).catalogue["redis_hit_ratio"].query
    url = f"{hub.prometheus_url}/api/v1/query?query={urllib.parse.quote(query)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.loads(response.read())["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_a_healthy_live_platform_is_collected_and_rendered(live: Live) -> None:
    live.snapshots(count=6, every=4)
    # a healthy cache-aside app has a warm cache: the load warms it within a minute (see README)
    eventually(lambda: _hit_ratio(live.hub) > 82, "a warm Redis cache (hit ratio above 82 %)", timeout=150)
    live.sre("collect", "all", "--since", "10m", "--step", "5s")
    as_of = ["-p", f"as_of={_now_iso()}"]  # the renders run on while the next phase writes newer data
    PENDING["healthy"] = live.start_reports("healthy", extra=as_of)


def test_faults_are_injected_and_the_platform_is_collected_again(live: Live) -> None:
    hub = live.hub
    for fault in ("break-archiving", "drop-index", "redis-pressure", "stop-app", "stop-replica", "short-cert"):
        hub.fault(fault)
    eventually(lambda: _archiver(hub)["last_failed_wal"], "a failed WAL archive attempt", timeout=60)
    time.sleep(3)  # the hot statement runs without its index for a while before the first snapshot
    first = time.monotonic()
    live.snapshots(count=8, every=4)
    live.sre("collect", "all", "--since", "10m", "--step", "5s")
    window = f"{time.monotonic() - first + 2:.0f}s"
    PENDING["faults"] = live.start_reports("faults", slow_window=window)


SERVERS = ("nginx-1", "app-1", "app-2", "pg-1", "pg-2", "redis-1", "media-1")
DR_CHECKS = (
    "WAL archiving", "Last archived WAL vs RPO", "pgbackrest check", "Daily full backup", "Weekly off-site copy",
    "Monthly tested restore", "Retention coverage", "Replica and lag",
)  # fmt: skip
RESULTS = "pass|warn|fail|not configured|healthy|warning|critical|not monitored|no data"


def row(text: str, *cells: str) -> list[str]:
    """The cells after a table row's leading ``cells`` and its result: [result, detail, ...] (one cell per line)."""
    lines = text.splitlines()
    for i in range(len(lines) - len(cells)):
        if tuple(lines[i : i + len(cells)]) == cells and re.fullmatch(RESULTS, lines[i + len(cells)]):
            return lines[i + len(cells) : i + len(cells) + 4]
    raise AssertionError(f"no row {cells} with a result in the report")


def verdict(text: str) -> str:
    return next(line for line in text.splitlines() if line in ("GREEN", "AMBER", "RED"))


def test_the_healthy_reports_name_the_live_servers_and_are_green_where_healthy(live: Live) -> None:
    texts = PENDING.pop("healthy")()
    _keep("healthy", texts)
    capacity, slow, dr = texts["capacity"], texts["slow-queries"], texts["dr"]
    mounted = live.hub.media_mount is not None  # a loop mount needs root (and a loop device); else not monitored
    for server in SERVERS if mounted else SERVERS[:-1]:
        assert server in capacity, f"capacity report does not name {server}"
    # Elasticsearch and the CDN have no server on the hub: grey, listed, never colouring the verdict
    assert row(capacity, "elasticsearch")[0] == "not monitored" and row(capacity, "cdn")[0] == "not monitored"
    assert (
        "Not monitored at all: cdn, elasticsearch." if mounted else "Not monitored at all: cdn, elasticsearch, media."
    ) in capacity
    assert row(capacity, "media")[0] == ("healthy" if mounted else "not monitored")
    assert "down:" not in capacity
    healthy = {"nginx": ("tls_cert_days", "nginx_upstream_errors"), "app": ("error_rate", "latency_p95", "up"),
               "redis": ("redis_memory", "redis_hit_ratio"), "postgresql": ("db_connections", "up")}  # fmt: skip
    for component, metrics in healthy.items():
        for metric in metrics:  # error rates read 0 while no request failed, never "no data"
            found = row(capacity, component, metric)
            assert found[0] == "healthy", (component, metric, found)
    assert verdict(slow) == "GREEN", slow[:2000]
    assert "Regressions need a baseline" in slow  # minutes old: says what it has and what it needs
    for check in DR_CHECKS:
        assert row(dr, check)[0] == "pass", (check, row(dr, check))
    assert "pgbackrest repo2" in row(dr, "Weekly off-site copy")[1]
    assert "every backup since is kept" in row(dr, "Retention coverage")[1]
    assert verdict(dr) == "GREEN"
    assert row(capacity, "redis", "redis_evictions")[0] == "healthy"
    assert "needs 6 h of samples" in capacity and "points a day" not in capacity  # no date from seconds of data


def test_each_fault_shows_in_the_next_reports(live: Live) -> None:
    texts = PENDING.pop("faults")()
    _keep("faults", texts)
    capacity, slow, dr = texts["capacity"], texts["slow-queries"], texts["dr"]
    failed_wal = _archiver(live.hub)["last_failed_wal"]
    # archiving broken: DR archiving fails naming the WAL
    archiving = row(dr, "WAL archiving")
    assert archiving[0] == "fail" and failed_wal in archiving[1]
    # the replica stopped: the DR replica check fails
    replica = row(dr, "Replica and lag")
    assert replica[0] == "fail" and "walreceiver (127.0.0.1/32), last seen at" in replica[1]
    assert row(dr, "pgbackrest check")[0] == "fail"
    # an index dropped under the hot statement: it is named as regressed
    regressed = slow.split("Regressed statements", 2)[-1].split("New slow statements")[0]
    assert "FROM comments WHERE post_id" in regressed and "slower" in slow
    # one app server stopped: its target down, the component critical, the tier judged on the other server
    assert row(capacity, "app")[0] == "critical"
    up = row(capacity, "app", "up")
    assert up[0] == "critical" and up[2] == "down: a scrape target of app-2 does not answer"
    assert "bring app-2 back" in capacity and "down: a scrape target of app-2 does not answer" in capacity
    assert row(capacity, "app", "memory")[1] == "app-1"
    # a certificate expiring in 10 days: a dated action
    assert re.search(r"renew the certificate of nginx-1 before \d{4}-\d{2}-\d{2}", capacity)
    assert row(capacity, "nginx", "tls_cert_days")[0] == "critical"
    # Redis under memory pressure: evictions rising, and the capacity action for it
    evictions = row(capacity, "redis", "redis_evictions")
    assert evictions[0] in ("warning", "critical") and "evictions rising" in evictions[1]
    assert "add Redis capacity on redis/redis-1: evictions are rising" in capacity


def test_mended_archiving_passes_in_the_next_dr_report(live: Live) -> None:
    hub = live.hub
    hub.fault("mend-archiving")
    eventually(
        lambda: (a := _archiver(hub))["last_archived_time"] > a["last_failed_time"],
        "a WAL archived after the mend",
        timeout=60,
    )
    live.sre("collect", "postgres")
    live.sre("collect", "backups")  # a new live `pgbackrest check`
    dr = live.start_reports("mended", which=("dr",))()["dr"]
    _keep("mended", {"dr": dr})
    archiving = row(dr, "WAL archiving")
    failed_wal = _archiver(hub)["last_failed_wal"]
    assert archiving[0] == "pass" and f"archiving recovered: WAL {failed_wal}" in archiving[1]
    assert row(dr, "pgbackrest check")[0] == "pass"


def _keep(phase: str, texts: dict[str, str]) -> None:
    """The visible texts, for a reader of a failure: $SRE_E2E_TEXTS/e2e-<phase>-<report>.txt when set."""
    folder = os.environ.get("SRE_E2E_TEXTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for report, text in texts.items():
            short = {"slow-queries": "slow"}.get(report, report)
            (Path(folder) / f"e2e-{phase}-{short}.txt").write_text(text)
