"""The capacity review's notes in words: the judged period, missing samples, and series it could not forecast.

A hole of up to ``BRIDGED_SAMPLES`` samples in a row is bridged (the value carried forward); a longer one is a gap
in the analyses (unknown, never zero load) and a note in the report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from sre_lib.analysis import forecast
from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration

if TYPE_CHECKING:
    from sre_lib.reviews.capacity.review_model import CapacityReview

# Holes of up to this many samples in a row are bridged (the value carried forward); a longer one is a gap in
# the analyses (unknown, never zero load) and a note in the report.
BRIDGED_SAMPLES = 5
DATA_NOTES_SHOWN = 8  # coverage notes a report lists before it counts the rest


def coverage_lines(
    spans: pd.DataFrame, gaps: pd.DataFrame, config: PlatformConfig, data_start: datetime | None
) -> list[str]:
    """The lines of ``CapacityReview.data_notes``, every one; series with the same holes share a line."""
    if spans.empty:
        return []
    tz = config.tz
    begin = pd.Timestamp(data_start) if data_start is not None else spans["first_ts"].min()
    end = spans["last_ts"].max()

    def at(stamp: pd.Timestamp) -> str:
        return f"{stamp.tz_convert(tz):%Y-%m-%d %H:%M}"

    def stretch(hole: Any) -> str:
        local = hole.first_missing.tz_convert(tz)
        return f"{human_duration(hole.step * hole.missing)} without samples on {local:%Y-%m-%d} from {local:%H:%M}"

    found: dict[tuple[str, str, str], list[str]] = {}
    for row in spans.itertuples():
        bridged = (row.step if pd.notna(row.step) else pd.Timedelta(0)) * BRIDGED_SAMPLES
        holes = gaps[gaps["series_id"] == row.series_id] if not gaps.empty else gaps
        parts = []
        if row.first_ts - begin > bridged:
            parts.append(f"samples begin {at(row.first_ts)}, after the others'")
        if len(holes) == 1:
            parts.append(stretch(next(holes.itertuples())))
        elif len(holes) > 1:
            total = human_duration((holes["step"] * holes["missing"]).sum())
            longest = holes.loc[(holes["step"] * holes["missing"]).idxmax()]
            parts.append(f"{len(holes)} stretches without samples, {total} in all, the longest {stretch(longest)}")
        if end - row.last_ts > bridged:
            parts.append(f"no samples after {at(row.last_ts)}")
        if parts:
            found.setdefault("; ".join(parts), {}).setdefault(f"{row.component}/{row.instance}", []).append(row.metric)
    lines = []
    for text, servers in found.items():  # a collector down for everyone: one line, not one per server
        if len(servers) == 1:
            ((server, metrics),) = servers.items()
            lines.append(f"{server} {', '.join(metrics)}: {text}")
        else:
            named = ", ".join(list(servers)[:3]) + (", ..." if len(servers) > 3 else "")
            count = sum(len(metrics) for metrics in servers.values())
            lines.append(f"{count} series of {len(servers)} servers ({named}): {text}")
    return lines


def period_text(review: CapacityReview) -> str:
    """The judged window and the forecast horizon in words, in the platform's time zone."""
    tz = review.config.tz
    span = review.as_of - review.window_start
    days = round(span.total_seconds() / 86_400)
    length = f"{days} days" if span >= timedelta(days=2) else human_duration(span)  # a 6 h window is not "0 days"
    held = ""
    if review.data_start is not None and review.data_start - review.window_start > min(timedelta(days=1), span / 4):
        history, begin = review.as_of - review.data_start, review.data_start.astimezone(tz)
        if history >= timedelta(days=3):
            held = f" (samples begin {begin:%Y-%m-%d}: {round(history / timedelta(days=1))} days of them, not {days})"
        else:  # under a day reads "0 days": say the hours
            held = f" (samples begin {begin:%Y-%m-%d %H:%M}: {human_duration(history)} of them, not {length})"
    return (
        f"Status, time in bands, episodes and the policy replay cover the {length} to "
        f"{review.as_of.astimezone(tz):%Y-%m-%d %H:%M %Z}{held}; forecasts look {review.horizon_days} days ahead."
    )


def history_text(review: CapacityReview) -> str:
    """How much history the window holds, in words ("12 d 3 h"; "no days" without a sample)."""
    if review.data_start is None:
        return "no days"
    return human_duration(review.as_of - review.data_start)


def forecast_note_lines(review: CapacityReview) -> list[str]:
    """Series the review could not forecast, and why ("needs more history"): one line when none could be;
    and that no threshold is reached, when none is."""
    if review.signals.empty or review.forecasts.empty:
        return [
            "No forecast: a forecast needs daily peaks of at least "
            f"{forecast.MIN_POINTS} days, and the window holds {history_text(review)} of samples."
        ]
    keys = ["component", "instance", "metric"]
    failed = review.forecasts[review.forecasts["date"].isna()].drop_duplicates(keys)
    if len(failed) == review.forecasts.drop_duplicates(keys).shape[0]:
        return [
            f"No forecast yet, every series needs more history: {history_text(review)} of samples, and a "
            f"forecast needs daily peaks of at least {forecast.MIN_POINTS} full days."
        ]
    notes = [f"{row.component}/{row.instance} {row.metric}: not forecast, {row.reason}" for row in
             failed.itertuples()]  # fmt: skip
    if review.crossing_rows().empty:
        notes.append(f"No forecast reaches a threshold within the {review.horizon_days}-day horizon.")
    return notes
