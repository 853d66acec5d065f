"""A writer killed with SIGKILL at any moment of a run leaves a warehouse that opens, holds exactly what the last
finished run left, and takes the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sre_lib.warehouse.store import Warehouse

#: A writer that replaces one series' samples in many pieces, reports each step on stdout, and sleeps between
#: them, so the kill can land before, inside and after the transaction's commit.
WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    import numpy as np, pandas as pd
    from sre_lib.warehouse.store import Warehouse

    path, offset = sys.argv[1], float(sys.argv[2])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(minutes=20 * 1440)
    with Warehouse(path).write_run("crash", window_start=start, window_end=end) as run:
        print("begun", flush=True)
        for piece in range(20):
            ts = pd.date_range(start + timedelta(days=piece), periods=1440, freq="1min")
            frame = pd.DataFrame({"series_id": 7, "ts": ts, "value": np.full(1440, offset)})
            run.replace_samples(frame, ts[0].to_pydatetime(), ts[-1].to_pydatetime())
            print(f"piece {piece}", flush=True)
            time.sleep(0.02)
        print("committing", flush=True)
    print("committed", flush=True)
    """
)


def _write(path: Path, offset: float, kill_after: str | None) -> bool:
    """Run the writer; kill it with SIGKILL as soon as it prints ``kill_after``. True if it finished."""
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(offset)], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if kill_after and line.strip() == kill_after:
                os.kill(process.pid, signal.SIGKILL)
                break
        process.wait(timeout=120)
    return process.returncode == 0


def _values(path: Path) -> tuple[int, set[float]]:
    con = Warehouse(path).open_read_only()
    try:
        rows = con.execute("SELECT value FROM metric_samples WHERE series_id = 7").fetchall()
    finally:
        con.close()
    return len(rows), {row[0] for row in rows}


@pytest.mark.parametrize("moment", ["begun", "piece 11", "committing"])
def test_a_writer_killed_mid_run_leaves_the_last_finished_run(tmp_path: Path, moment: str) -> None:
    path = tmp_path / "w.duckdb"
    assert _write(path, 1.0, kill_after=None)
    assert _values(path) == (20 * 1440, {1.0})
    assert not _write(path, 2.0, kill_after=moment)
    # all or nothing: a kill racing the commit may land on either side of it, never between
    whole = [(20 * 1440, {1.0}), (20 * 1440, {2.0})] if moment == "committing" else [(20 * 1440, {1.0})]
    assert _values(path) in whole, f"killed after {moment!r}: a partial run became visible"
    # the lock died with the process: the next run neither waits nor fails
    began = time.monotonic()
    assert _write(path, 3.0, kill_after=None)
    assert time.monotonic() - began < 60
    assert _values(path) == (20 * 1440, {3.0})
    runs = Warehouse(path).runs()
    assert set(runs.status) == {"ok"} and len(runs) in (2, 3)  # a killed run logs nothing unless it committed
