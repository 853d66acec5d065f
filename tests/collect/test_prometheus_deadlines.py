"""Time limits and lock scope of the collectors: a server that never finishes answering, an interrupted run.

* A peer of the tests' own (no Prometheus can be made to do it) answers the instant ``count()`` probes at once and
  dribbles the range queries a byte every 0.2 s, for ever: in the body, or in the headers. The per-request
  deadline (``timeout_seconds``, in all, not per read) and the run's (``run_timeout_seconds``) must end the
  collection with one clear line, and the warehouse must stay free for other writers all the while.
* SIGTERM and SIGINT in the middle of such a request end ``sre collect`` within seconds, the warehouse unchanged
  and the run logged as failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tomli_w

from sre_lib.collect.prometheus import collect_prometheus, most_attempts, retry_delay
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, config_to_toml, load_config, parse_config
from sre_lib.errors import CollectionError
from sre_lib.warehouse.store import Warehouse

START = datetime(2025, 12, 7, tzinfo=UTC)
END = START + timedelta(hours=1)
BASE = load_config(DEFAULT_CONFIG_PATH)
DRIBBLE_SECONDS = 0.2  # between two bytes of a never-ending answer
PROBE_ANSWER = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[0,"1"]}]}}'


def prometheus_config(**settings: Any) -> PlatformConfig:
    """The default config, one catalogue query and these [sources.prometheus] settings."""
    raw = tomllib.loads(config_to_toml(BASE))
    raw["catalogue"] = {"cpu": {"query": "sre_test_cpu", "component": "app"}}
    raw["sources"]["prometheus"].update(settings)
    return parse_config(tomli_w.dumps(raw), source="test")


@dataclass
class Dribbler:
    url: str
    range_queries: threading.Event = field(default_factory=threading.Event)  # set once a range query arrived


@contextlib.contextmanager
def dribbler(part: str) -> Iterator[Dribbler]:
    """A peer that answers probes at once and dribbles every range query's ``part`` ("body" or "headers")."""
    stop = threading.Event()
    peer = Dribbler(url="")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:  # one connection may carry several requests (keep-alive)
                request_line = self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b""):
                    pass
                if not request_line:
                    return
                if b"/api/v1/query_range" not in request_line:
                    self.wfile.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(PROBE_ANSWER)}\r\n\r\n".encode()
                        + PROBE_ANSWER
                    )
                    continue
                peer.range_queries.set()
                if part == "body":
                    self.wfile.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                    )
                else:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Never-Ends: ")
                with contextlib.suppress(OSError):  # the client hung up: what it should do
                    while not stop.wait(DRIBBLE_SECONDS):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield peer
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def seeded_warehouse(path: Path) -> Warehouse:
    """A warehouse with one series and one sample in it: what must still be there, unchanged, after a failure."""
    warehouse = Warehouse(path)
    series = {"series_id": 1, "source": "test", "metric": "cpu", "component": "app", "instance": "a", "labels": "{}"}
    with warehouse.write_run("seed") as run:
        run.upsert_series(pd.DataFrame([series]))
        samples = pd.DataFrame({"series_id": [1], "ts": [START], "value": [42.0]})
        run.replace_samples(samples, START, START)
    return warehouse


def contents(warehouse: Warehouse) -> list[tuple]:
    with warehouse.read_latest() as con:
        return con.execute(
            "SELECT (SELECT list((series_id, labels) ORDER BY series_id) FROM metric_series), "
            "(SELECT list((series_id, ts, value) ORDER BY ts) FROM metric_samples)"
        ).fetchall()


def sre_collect(config: PlatformConfig, warehouse: Path, url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    """``sre collect prometheus`` in a process of its own, SIGINT as a terminal would deliver it."""
    config_file = tmp_path / "platform.toml"
    config_file.write_text(config_to_toml(config))
    sre = str(Path(sys.executable).with_name("sre"))
    argv = [sre, "collect", "prometheus", "--config", str(config_file), "--warehouse", str(warehouse),
            "--start", START.isoformat(), "--end", END.isoformat(), "--step", "1m"]  # fmt: skip
    return subprocess.Popen(
        argv, env={**os.environ, "SRE_PROMETHEUS_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a test runner may have it ignored
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- retries


def test_retries_back_off_over_retry_seconds_and_no_longer() -> None:
    delays, waited = [], 0.0
    while (delay := retry_delay(len(delays) + 1, waited, 60.0)) is not None:
        delays.append(delay)
        waited += delay
    assert delays[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]  # backing off, never more than 8 s apart
    assert waited == pytest.approx(60.0)  # the last wait is cut to end as the minute does: a restart fits
    assert retry_delay(3, 60.0, 60.0) is None and retry_delay(1, 0.0, 0.0) is None  # retry_seconds = 0: none
    assert most_attempts(60.0, None) == len(delays) + 1 == 12
    assert most_attempts(60.0, 3) == 4 and most_attempts(3.5, None) == 4  # the old 3.5 s, by either setting


# ---------------------------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize("part", ["body", "headers"])
def test_a_response_that_never_ends_times_out_at_timeout_seconds(part: str, tmp_path: Path) -> None:
    """timeout_seconds bounds the request in all: each byte arrives well within it, the answer never does."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    config = prometheus_config(timeout_seconds=1.5, retries=0)
    with ThreadPoolExecutor(1) as pool, dribbler(part) as peer:  # the peer stops first: a hung run ends then
        started = time.monotonic()
        future = pool.submit(
            collect_prometheus, warehouse, config, START, END, 60, env={"SRE_PROMETHEUS_URL": peer.url}
        )
        with pytest.raises(CollectionError) as raised:
            future.result(timeout=30)  # without a deadline the request would go on for ever
        elapsed = time.monotonic() - started
    assert str(raised.value) == (
        f"Prometheus {peer.url}: query 'cpu' chunk 2025-12-07 00:00:00..2025-12-07 01:00:00 UTC failed: "
        "timed out after 1.5 s (timeout_seconds)"
    )
    assert elapsed < 15
    runs = warehouse.runs()
    assert runs.status.tolist() == ["failed"] and runs.error[0] == str(raised.value)


def test_sre_collect_against_a_never_ending_response_stops_at_the_run_deadline_with_the_lock_free(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.duckdb"
    before = contents(seeded_warehouse(path))
    config = prometheus_config(timeout_seconds=2, run_timeout_seconds=6)  # default retries: a minute of them
    with dribbler("body") as peer:
        started = time.monotonic()
        process = sre_collect(config, path, peer.url, tmp_path)
        try:
            assert peer.range_queries.wait(30)
            # while the collector waits on the server, another writer gets the warehouse at once
            with Warehouse(path, lock_timeout=1.0).write_run("other-writer"):
                pass
            _out, err = process.communicate(timeout=60)
        finally:
            process.kill()
        elapsed = time.monotonic() - started
    stderr = err.decode()
    assert process.returncode == 1 and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"sre: error: Prometheus {peer.url}: query 'cpu' chunk 2025-12-07 00:00:00..2025-12-07 ")
    assert "the run's deadline passed: run_timeout_seconds = 6" in last, stderr
    assert elapsed < 30  # 6 s of deadline, the process's start and end, and a loaded machine
    warehouse = Warehouse(path, lock_timeout=0)
    runs = warehouse.runs()
    assert runs.source.tolist() == ["other-writer", "prometheus", "seed"]  # by start: the collection began first
    assert runs.status.tolist() == ["ok", "failed", "ok"] and runs.error[1] == last.removeprefix("sre: error: ")
    assert contents(warehouse) == before
    with warehouse.write_run("after"):  # the lock is free: lock_timeout=0 would fail at once otherwise
        pass


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_request_ends_sre_collect_within_seconds_and_writes_nothing(
    signum: signal.Signals, tmp_path: Path
) -> None:
    path = tmp_path / "w.duckdb"
    before = contents(seeded_warehouse(path))
    config = prometheus_config(timeout_seconds=120, run_timeout_seconds=600)  # neither ends it: the signal must
    with dribbler("body") as peer:
        process = sre_collect(config, path, peer.url, tmp_path)
        try:
            assert peer.range_queries.wait(30)
            time.sleep(0.5)  # well inside the request
            process.send_signal(signum)
            signalled = time.monotonic()
            _out, err = process.communicate(timeout=60)
            elapsed = time.monotonic() - signalled
        finally:
            process.kill()
    assert process.returncode == 130, err.decode()
    assert err.decode().strip().splitlines()[-1] == "sre: interrupted"
    assert elapsed < 10
    warehouse = Warehouse(path)
    assert contents(warehouse) == before
    runs = warehouse.runs()
    assert runs.source.tolist() == ["prometheus", "seed"]
    assert runs.status.tolist() == ["failed", "ok"] and runs.error[0] == "KeyboardInterrupt"
