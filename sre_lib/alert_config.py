"""The alerting part of the platform config: SLO objectives (``[slos.*]``) and alert settings (``[alerts]``).

Kept beside ``sre_lib.config``, which validates them as part of the whole file and names the key of any problem.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["WINDOW_PLACEHOLDER", "AlertSettings", "SloObjective"]

#: Written in an SLO's queries where the rate window goes; the generated rules put 5m, 30m, 1h, 6h or 3d there.
WINDOW_PLACEHOLDER = "{{window}}"
MINUTES_PER_WEEK = 7 * 24 * 60
Query = Annotated[str, Field(min_length=1, max_length=10_000)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class SloObjective(_Frozen):
    """A service level objective: the share of good events over ``period_days``, from two windowed queries.

    ``errors_query`` and ``total_query`` count bad and all events per second with ``{{window}}`` as the rate
    window; the alert rules fill in 5m, 30m, 1h, 6h and 3d for the multi-window burn-rate alerts.
    """

    description: Annotated[str, Field(min_length=1, max_length=200)]
    component: str  # a key of [components]: PlatformConfig checks it
    objective_percent: Annotated[float, Field(gt=0, lt=100)]
    period_days: Annotated[int, Field(gt=0, le=366)] = 30
    errors_query: Query
    total_query: Query

    @field_validator("errors_query", "total_query")
    @classmethod
    def _windowed(cls, value: str) -> str:
        if WINDOW_PLACEHOLDER not in value:
            raise ValueError(f"a PromQL query with {WINDOW_PLACEHOLDER} as its rate window, got {value[:60]!r}")
        return value


class AlertSettings(_Frozen):
    """How generated Prometheus alerts link to runbooks and how long a band must hold by default."""

    runbook_url: Annotated[str, Field(min_length=1, max_length=500)] = "https://runbooks.example.com/{alert}"
    default_for_minutes: Annotated[int, Field(ge=0, le=MINUTES_PER_WEEK)] = 5  # `for:` when sustained_minutes is 0

    @field_validator("runbook_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if not re.fullmatch(r"https?://\S+", value):
            raise ValueError(f"an http(s) address, optionally with {{alert}} for the alert's name, got {value[:60]!r}")
        return value
