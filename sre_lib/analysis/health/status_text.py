"""Status in words: a reading rounded so it never crosses its level, and why a level puts a sample in its band."""

from __future__ import annotations

from sre_lib.analysis.health.bands import CRITICAL, WARNING
from sre_lib.config import Indicator

__all__ = ["UP_METRIC", "level_detail", "reading", "target_detail"]

#: The catalogue's scrape-target metric: 1 while every target of a server answers, 0 while one does not.
UP_METRIC = "up"


def reading(value: float, level: float) -> str:
    """``value`` rounded for a reader (one decimal, or as many more as it takes to stay on the same side of
    ``level``): 33.2063 next to 70 reads "33.2"; 69.96 next to 70 reads "69.96", never "70"."""
    for decimals in range(1, 7):
        text = f"{value:.{decimals}f}"
        if (float(text) > level) == (value > level) and (float(text) < level) == (value < level):
            return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:g}"


def level_detail(value: float, indicator: Indicator, band: int, status: int, hot: float, sustained: float) -> str:
    """Why a value is in its band, in words ("85.2 percent, above critical 80"); ``hot`` and ``sustained`` say
    how long a critical-band reading has lasted and must last."""
    above = indicator.direction == "above"
    nearest = indicator.warning if band != CRITICAL else indicator.critical
    shown = f"{reading(value, nearest)} {indicator.unit}"
    if band == CRITICAL:
        side = "above" if above else "below"
        if status == CRITICAL:
            return f"{shown}, {side} critical {indicator.critical:g}"
        return f"{shown}, {side} critical {indicator.critical:g} for {hot:g} min; critical after {sustained:g} min"
    if band == WARNING:
        side = "at or above" if above else "at or below"
        return f"{shown}, {side} warning {indicator.warning:g}"
    side = "below" if above else "above"
    return f"{shown}, {side} warning {indicator.warning:g}"


def target_detail(value: float, server: str, critical: float) -> str:
    """Why a server's ``up`` reading is what it is, in words: a target down is named, never a bare 0."""
    if value < critical:
        return f"down: a scrape target of {server} does not answer"
    if value < 1:
        return f"partly down: {reading(value, critical)} of {server}'s scrape targets answer"
    return f"up: every scrape target of {server} answers"
