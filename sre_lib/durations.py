"""Durations and instants as users type them (``90s``, ``15m``, ``6h``, ``30d``, ``2w``; ISO 8601 times), and
durations as reports print them (``2 h 05 min``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

import pandas as pd

from sre_lib.errors import DataError, SreError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


MAX_DURATION = timedelta(days=36_525)  # a century: beyond it a window would leave the calendar


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``15m`` -> 15 minutes. Raises SreError naming ``what`` and the accepted forms."""
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not 0 < seconds <= MAX_DURATION.total_seconds():
        raise SreError(
            f"{what}: expected a positive duration of at most 100 years, such as 90s, 15m, 6h, 30d or 2w, got {text!r}"
        )
    return timedelta(seconds=seconds)


def parse_instant(text: str, what: str = "time", tz: tzinfo = UTC) -> datetime:
    """An ISO 8601 date or time, or ``now``. One without an offset is in ``tz`` (UTC unless given: reports
    pass the platform's time zone, in which they show every time)."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SreError(
            f"{what}: expected an ISO time such as 2026-11-01 or 2026-11-01T03:00+11:00, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


#: Collection windows start no earlier than this and end at most ``MAX_WINDOW_LEAD`` after now: a window in 1900
#: or 2030 is a typo, and a collector would query it and store whatever the server made of it.
EARLIEST_WINDOW_START = datetime(2000, 1, 1, tzinfo=UTC)
MAX_WINDOW_LEAD = timedelta(days=1)  # room for clock skew and an end written in a time zone east of UTC


def parse_window(
    since: str | None, start: str | None, end: str | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The [start, end] window of a collection from ``--since`` (ending ``--end`` or now) or ``--start/--end``.

    SreError naming the option when the window is empty or reaches outside 2000-01-01 .. a day after now."""
    now = now or datetime.now(UTC)
    latest = now + MAX_WINDOW_LEAD
    expected = f"a time from {EARLIEST_WINDOW_START:%Y-%m-%d} to a day ahead of now ({latest:%Y-%m-%d %H:%M} UTC)"
    for option, text in (("--start", start), ("--end", end)):
        if text is not None and not EARLIEST_WINDOW_START <= parse_instant(text, option) <= latest:
            raise SreError(f"{option}: expected {expected}, got {text!r}")
    end_at = parse_instant(end, "--end") if end else now
    if start is not None:
        start_at = parse_instant(start, "--start")
    else:
        start_at = end_at - parse_duration(since or "1d", "--since")
        if start_at < EARLIEST_WINDOW_START:
            raise SreError(
                f"--since: expected a window starting on or after {EARLIEST_WINDOW_START:%Y-%m-%d}, "
                f"got {since!r} (from {start_at:%Y-%m-%d})"
            )
    if start_at >= end_at:
        raise SreError(f"--start ({start_at:%Y-%m-%d %H:%M}) must be before --end ({end_at:%Y-%m-%d %H:%M})")
    return start_at, end_at


Instant = datetime | pd.Timestamp | str


def to_utc(instant: Instant | None, name: str = "time") -> datetime | None:
    """A tz-aware UTC datetime (naive input is taken as UTC); None stays None."""
    if instant is None:
        return None
    try:
        stamp = pd.Timestamp(instant)
    except (TypeError, ValueError):
        raise DataError(f"{name}: expected a date-time, got {instant!r}") from None
    if pd.isna(stamp):
        raise DataError(f"{name}: expected a date-time, got {instant!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def human_duration(delta: timedelta | float) -> str:
    """``2 h 05 min``, ``4 min 58 s``, ``26 h``, ``32 d 20 h``: hours up to 3 days, days beyond."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    if whole >= 3 * 86_400:
        days, hours = divmod(round(whole / 3600), 24)
        text = f"{days} d {hours} h" if hours else f"{days} d"
    elif whole >= 3600:
        hours, minutes = divmod(round(whole / 60), 60)
        text = f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    elif whole >= 60:
        minutes, secs = divmod(whole, 60)
        text = f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    else:
        text = f"{whole} s"
    return sign + text


def rough_duration(days: float) -> str:
    """A long span as people plan with it: ``about 17 years``, ``about 5 months``, else ``human_duration``."""
    if days >= 2 * 365.25:
        return f"about {days / 365.25:.0f} years"
    if days >= 60:
        return f"about {days / 30.44:.0f} months"
    return human_duration(days * 86_400)
