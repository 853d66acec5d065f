"""WAL in the demo: segment names, the segment being written, and pg_archiver with its scripted failure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_counters import last_event
from sre_lib.demo.postgres_scenario import (
    ARCHIVE_FAILURE_DAY,
    ARCHIVE_FAILURE_DURATION,
    WAL_INTERVAL,
    WAL_SEGMENT_AT_START,
)
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import (
    SECONDS_PER_DAY,
    at_seconds,
    seconds_since_start,
)

_HEX = np.array(list("0123456789ABCDEF"))


def wal_names(segments: np.ndarray, timeline: int = 1) -> np.ndarray:
    """WAL file names (16 MB segments), e.g. 00000001000003A2000000C0, vectorised."""
    seg = np.asarray(segments, dtype=np.int64)
    words = np.stack([np.full_like(seg, timeline), seg >> 8, seg & 0xFF], axis=1)
    digits = (words[:, :, None] >> np.arange(28, -1, -4)) & 0xF
    return np.ascontiguousarray(_HEX[digits]).reshape(len(seg), 24).view("<U24").ravel()


def wal_segment_at(spec: DemoSpec, times: pd.DatetimeIndex) -> np.ndarray:
    """The WAL segment being written at each instant (one switch per archive_timeout)."""
    return WAL_SEGMENT_AT_START + np.floor(seconds_since_start(spec, times) / WAL_INTERVAL.total_seconds())


def archiver_frame(spec: DemoSpec, times: pd.DatetimeIndex) -> pd.DataFrame:
    """One WAL segment every 5 minutes; during the failure every attempt fails until the backlog clears."""
    secs = seconds_since_start(spec, times)
    interval = WAL_INTERVAL.total_seconds()
    f0 = ARCHIVE_FAILURE_DAY * SECONDS_PER_DAY
    f1 = f0 + ARCHIVE_FAILURE_DURATION.total_seconds()
    # Segment WAL_SEGMENT_AT_START + k - 1 fills up at k * 5 min and is archived 2 s later.
    k = np.arange(-1, int(secs[-1] // interval) + 2)
    nominal = k * interval + 2.0
    stuck = (nominal >= f0) & (nominal < f1 + 10)
    archived_at = np.where(stuck, f1 + 10 + np.cumsum(stuck) * 1.0, nominal)  # backlog flushed on recovery
    order = np.argsort(archived_at, kind="stable")
    archived_at, segment = archived_at[order], (WAL_SEGMENT_AT_START + k - 1)[order]
    attempts = np.arange(f0 + 30, f1, 60.0)  # the archiver retries each minute

    done = np.searchsorted(archived_at, secs, side="right")
    last_fail, failures = last_event(attempts, secs)
    failed_wal = WAL_SEGMENT_AT_START + k[np.argmax(stuck)] - 1 if stuck.any() else WAL_SEGMENT_AT_START
    last_ok = np.where(done > 0, archived_at[np.maximum(done - 1, 0)], np.nan)
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times,
            "archive_mode": "on",
            "archived_count": (11_520 + done).astype(np.int64),
            "last_archived_wal": wal_names(segment[np.maximum(done - 1, 0)]),
            "last_archived_time": at_seconds(spec, last_ok),
            "failed_count": failures.astype(np.int64),
            "last_failed_wal": pd.array(
                np.where(failures > 0, wal_names(np.array([failed_wal]))[0], None), dtype="str"
            ),
            "last_failed_time": at_seconds(spec, last_fail),
            "stats_reset": at_seconds(spec, np.full(len(secs), -40 * SECONDS_PER_DAY)),
        }
    )
