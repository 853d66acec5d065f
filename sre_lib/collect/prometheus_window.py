"""Window planning for range queries: the evaluation points of [start, end] cut into requests (chunks).

Prometheus refuses more than 11,000 points per series in one request. A range result includes both of its
ends, so chunks are [s0, s0 + (n-1)·step], [s0 + n·step, ...]: no point is fetched twice and none is skipped.
Times are whole milliseconds since the epoch, sent as the exact decimal seconds the API takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Chunk:
    """One request: a query over evaluation points [start_ms, end_ms] (both included) every step_ms."""

    index: int
    metric: str
    query: str
    start_ms: int
    end_ms: int
    step_ms: int

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S}..{self.end:%Y-%m-%d %H:%M:%S} UTC"


def split_window(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> list[tuple[int, int]]:
    """Chunks [first, last] of the evaluation points start, start + step, ... <= end, each <= max_points."""
    if step_ms <= 0 or max_points <= 0 or end_ms < start_ms:
        raise ValueError("need step > 0, max_points > 0 and end >= start")
    points = (end_ms - start_ms) // step_ms + 1
    return [
        (start_ms + first * step_ms, start_ms + (min(first + max_points, points) - 1) * step_ms)
        for first in range(0, points, max_points)
    ]


def to_ms(moment: datetime) -> int:
    """A moment as whole milliseconds since the epoch; a naive one is UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def seconds_text(ms: int) -> str:
    """Milliseconds as the exact decimal seconds the API takes (Prometheus and VictoriaMetrics alike)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}"
