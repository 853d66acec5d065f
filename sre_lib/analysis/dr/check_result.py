"""What one DR check returns: a pass / warn / fail status with its evidence, and the words its finding uses.

Every check module builds a :class:`DrCheck`; the verdict of several checks is the :func:`worst` of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from sre_lib.units import human_bytes

__all__ = [
    "FAIL",
    "NOT_CONFIGURED",
    "NO_ACTION",
    "PASS",
    "WARN",
    "DrCheck",
    "Status",
    "bytes_text",
    "count_text",
    "hours_text",
    "local_time",
    "worst",
]

Status = Literal["pass", "warn", "fail", "not configured"]
PASS: Status = "pass"
WARN: Status = "warn"
FAIL: Status = "fail"
#: Nothing to judge: the platform does not have what the check reads (no pgBackRest to run ``check``). Grey in
#: a report, and it never colours the verdict.
NOT_CONFIGURED: Status = "not configured"
_RANK = {NOT_CONFIGURED: -1, PASS: 0, WARN: 1, FAIL: 2}

NO_ACTION = "No action needed: meets the policy."


@dataclass(frozen=True)
class DrCheck:
    """One check's result. ``evidence`` holds numbers and UTC timestamps; ``finding`` says it in words."""

    name: str
    title: str
    status: Status
    headline: str  # a few words for the manager summary, e.g. "restore test overdue (33 d old)"
    finding: str  # what was found, with times (local) and ages as text
    action: str  # what to do
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"[{self.status.upper()}] {self.title}: {self.finding}"


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe of the statuses (fail over warn over pass); pass when there are none or none is configured."""
    result = PASS
    for status in statuses:
        if _RANK[status] > _RANK[result]:
            result = status
    return result


# ---------------------------------------------------------------------------------------------- wording


def local_time(ts: datetime, tz: ZoneInfo) -> str:
    """A UTC time as the reader's clock shows it: '2026-11-01 11:00 AEDT'."""
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def hours_text(value: float) -> str:
    """A policy figure in hours: '1 h', '4 h'."""
    return f"{value:g} h"


def count_text(value: Any) -> str:
    """A counter from pg_stat_archiver with thousands separators, or words when it is unknown."""
    return "an unknown number of" if value is None or pd.isna(value) else f"{int(value):,}"


def bytes_text(value: Any) -> str:
    """A size in bytes for people, or 'unknown size'."""
    return "unknown size" if value is None else human_bytes(value)
