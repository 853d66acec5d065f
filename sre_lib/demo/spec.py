"""What the demo platform looks like: its time span, seed and the shape of every synthetic signal.

The generators read these numbers, and the tests measure the generated data against them, so a claim
such as "the app tier grows 35 % over 90 days" is checked, not just stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SignalShape:
    """A metric's deterministic shape: level x growth x daily cycle x weekly cycle, plus noise.

    daily_swing: peak-to-trough of the daily cycle as a fraction of the level (0.5: peak 1.25x, trough 0.75x).
    weekend_factor: weekend level relative to weekdays (local time).
    growth: total relative growth of the level over the whole span (0.35: ends 35 % above its start).
    noise: standard deviation of multiplicative noise.
    """

    base: float
    daily_swing: float = 0.0
    weekend_factor: float = 1.0
    growth: float = 0.0
    noise: float = 0.02
    peak_hour: float = 20.0  # local hour of the daily peak
    floor: float = 0.0
    ceiling: float = 100.0


@dataclass(frozen=True)
class DemoSpec:
    """The span, resolution and seed of a demo build. Same spec, same data."""

    end: datetime = DEFAULT_DEMO_END
    days: int = 90
    step: timedelta = timedelta(minutes=1)
    seed: int = 20261101
    timezone: str = "Australia/Sydney"
    pg_snapshot_every: timedelta = timedelta(minutes=15)
    table_snapshot_every: timedelta = timedelta(hours=1)
    redis_snapshot_every: timedelta = timedelta(minutes=15)
    pg_server: str = "postgresql"
    redis_server: str = "redis"

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def at_day(self, day: float) -> datetime:
        """The instant ``day`` days after the start (fractional days allowed)."""
        return self.start + timedelta(days=day)
