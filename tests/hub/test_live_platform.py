"""End to end on the live hub: start it, put load on it, collect with `sre` as a user would, render the three
reports; then inject faults and find each in the next collection and report; then mend archiving.

One hub for the module, in phases that build on each other (each test is one phase, in file order):
healthy -> faults -> mended. Renders of a phase run while the next phase's load accumulates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.servers import PG_BIN, require

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


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s (last: {value!r})")
        time.sleep(0.5)


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


def test_a_healthy_live_platform_is_collected_and_rendered(live: Live) -> None:
    live.snapshots(count=6, every=4)
    live.sre("collect", "all", "--since", "10m", "--step", "5s")
    as_of = ["-p", f"as_of={_now_iso()}"]  # the renders run on while the next phase writes newer data
    PENDING["healthy"] = live.start_reports("healthy", extra=as_of)


def test_faults_are_injected_and_the_platform_is_collected_again(live: Live) -> None:
    hub = live.hub
    for fault in ("break-archiving", "drop-index", "redis-pressure", "stop-app", "stop-replica", "short-cert"):
        hub.fault(fault)
    _eventually(lambda: _archiver(hub)["last_failed_wal"], "a failed WAL archive attempt")
    time.sleep(3)  # the hot statement runs without its index for a while before the first snapshot
    first = time.monotonic()
    live.snapshots(count=8, every=4)
    live.sre("collect", "all", "--since", "10m", "--step", "5s")
    window = f"{time.monotonic() - first + 2:.0f}s"
    PENDING["faults"] = live.start_reports("faults", slow_window=window)


def test_the_healthy_reports_name_the_live_servers_and_are_green_where_healthy(live: Live) -> None:
    texts = PENDING.pop("healthy")()
    capacity, slow, dr = texts["capacity"], texts["slow-queries"], texts["dr"]
    for server in ("app-1", "app-2", "pg-1", "redis-1", "nginx-1"):
        assert server in capacity, f"capacity report does not name {server}"
    assert "postgresql" in slow and "postgresql" in dr
    Path("/tmp/e2e-healthy-capacity.txt").write_text(capacity)
    Path("/tmp/e2e-healthy-slow.txt").write_text(slow)
    Path("/tmp/e2e-healthy-dr.txt").write_text(dr)


def test_each_fault_shows_in_the_next_reports(live: Live) -> None:
    texts = PENDING.pop("faults")()
    capacity, slow, dr = texts["capacity"], texts["slow-queries"], texts["dr"]
    Path("/tmp/e2e-faults-capacity.txt").write_text(capacity)
    Path("/tmp/e2e-faults-slow.txt").write_text(slow)
    Path("/tmp/e2e-faults-dr.txt").write_text(dr)
    failed_wal = _archiver(live.hub)["last_failed_wal"]
    assert failed_wal in dr
    assert "comments WHERE post_id" in slow


def test_mended_archiving_passes_in_the_next_dr_report(live: Live) -> None:
    hub = live.hub
    hub.fault("mend-archiving")
    _eventually(
        lambda: (a := _archiver(hub))["last_archived_time"] > a["last_failed_time"], "a WAL archived after the mend"
    )
    live.sre("collect", "postgres")
    dr = live.start_reports("mended", which=("dr",))()["dr"]
    Path("/tmp/e2e-mended-dr.txt").write_text(dr)
