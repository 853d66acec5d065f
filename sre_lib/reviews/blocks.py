"""Small display blocks for report notebooks: the verdict banner and tables formatted for managers.

Every piece of text that reaches HTML here is escaped (statement text, server names, details), so a
pg_stat_statements entry containing ``<script>`` shows as text and never runs.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from sre_lib.durations import human_duration, rough_duration, to_utc
from sre_lib.units import human_bytes, human_p_value

_LABELS = {
    "healthy": "GREEN", "pass": "GREEN", "warning": "AMBER", "warn": "AMBER", "critical": "RED", "fail": "RED",
    "no data": "GREY",
}  # fmt: skip


class Html:
    """Pre-escaped HTML that Jupyter and nbconvert display as is."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return f"Html({self.markup[:60]!r}...)"


#: A report of the newest data is stale when that data is older than this when the report is made: a
#: collection that stopped would otherwise keep producing confident reports of the past.
STALE_AFTER = timedelta(days=2)


def verdict_banner(
    status: str,
    title: str,
    headline: str,
    as_of: datetime,
    tz: ZoneInfo,
    made_at: datetime | None = None,
    as_of_chosen: bool = False,
    demo: bool = False,
) -> Html:
    """The first thing a manager sees: GREEN / AMBER / RED, what it is about, and as of when.

    With ``made_at`` (when the report is made) it also says when that was, and warns in red when the data is
    older than STALE_AFTER, unless the reader chose the as-of time (``as_of_chosen``: a report of the past).
    ``demo`` (the warehouse holds only ``sre demo``'s synthetic data, see ``sre_lib.demo.build.is_demo``) says so
    instead: a demo's fixed span is not a collection that stopped.
    """
    css = {"warn": "warning", "fail": "critical", "pass": "healthy", "no data": "nodata"}.get(status, status)
    label = _LABELS.get(status, status.upper())
    as_of = to_utc(as_of, "as_of") or as_of  # naive times are UTC
    made_at = to_utc(made_at, "made_at")
    when = as_of.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    footer = f"as of {when}"
    stale = ""
    if made_at is not None:
        footer += f"; report made {made_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
        age = made_at - as_of
        if demo:
            stale = (
                '<span class="sre-demo">Demo data: a synthetic platform made by <code>sre demo</code>, not '
                "measurements of a live one.</span>"
            )
        elif age > STALE_AFTER and not as_of_chosen:
            stale = (
                f'<span class="sre-stale">Stale: the newest data is {human_duration(age)} old. Check that '
                "collection still runs before acting on this report.</span>"
            )
    return Html(
        f'<div class="sre-verdict {html.escape(css)}"><strong>{label}</strong> · {html.escape(title)}'
        f"<br/>{html.escape(headline)}<br/><small>{html.escape(footer)}</small>{stale}</div>"
    )


def bullet_list(items: Iterable[str]) -> Html:
    """An escaped bulleted list (empty list: nothing)."""
    entries = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return Html(f"<ul>{entries}</ul>" if entries else "")


def local_times(
    frame: pd.DataFrame, tz: ZoneInfo, columns: Iterable[str], fmt: str = "%Y-%m-%d %H:%M %Z", missing: str = ""
) -> pd.DataFrame:
    """A copy with timestamp columns shown as local-time strings, with the zone by default (2026-11-01 10:59
    AEDT), ``missing`` where there is no time."""
    out = frame.copy()
    for column in columns:
        if column in out:
            values = pd.to_datetime(out[column], utc=True)
            out[column] = values.dt.tz_convert(tz).dt.strftime(fmt).fillna(missing)
    return out


def since_times(
    frame: pd.DataFrame, tz: ZoneInfo, column: str = "since", clipped: str = "since_clipped"
) -> pd.DataFrame:
    """A copy with ``column`` as local-time text, "before ..." where ``clipped`` says the state already held at
    the first sample read (it began then or earlier, so the time alone would understate how long)."""
    out = local_times(frame, tz, [column])
    if column in frame and clipped in frame:
        early = frame[clipped].fillna(False).astype(bool) & (out[column] != "")
        out.loc[early, column] = "before " + out.loc[early, column]
    return out


def money(value: float | None, currency: str, signed: bool = True) -> str:
    """A change, ``+24.00 USD`` / ``-12.00 USD``, or an amount, ``72.00 USD`` (``signed=False``); empty for unknown."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:{'+' if signed else ''},.2f} {currency}".rstrip()


def table(
    frame: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    max_rows: int = 50,
    formats: Mapping[str, str] | None = None,
    currency: str = "",
) -> Html:
    """The chosen columns (default: all), renamed for readers, capped at ``max_rows`` rows: an escaped HTML
    table, full text, no index, blanks for missing values, numbers for reading: counts with thousands
    separators, other numbers rounded, true/false as yes/no. A column with nothing in any row is left out.

    ``formats`` names how some columns read: ``"percent"`` (a fraction 0-1 shown as 62.7 %), ``"money"``
    (72.00 USD, in ``currency``), ``"ms"`` (milliseconds shown as 8 h 16 min, 4 min 00 s, 305 ms or 6.11 ms),
    ``"seconds"`` (50 min), ``"days"`` (12 d 22 h, 3 h 25 min), ``"bytes"`` (54.3 MB), ``"ratio"`` (2.4x),
    ``"pct"`` (a value already in percent: 85.0 %), ``"long_days"`` (days, roughly: about 16 years),
    ``"p"`` (a p-value: 0.004, < 0.001) or ``"id"`` (an identifier: 36606, no thousands separator).
    """
    columns = columns if columns is not None else {name: name for name in frame.columns}
    chosen = {source: label for source, label in columns.items() if source in frame}
    present = {source: label for source, label in chosen.items() if not _blank(frame[source])} or chosen
    out = frame.loc[:, list(present)].rename(columns=present).head(max_rows)
    if out.empty:
        return Html("<p><em>none</em></p>")
    named: dict[str, Callable[[Any], str]] = {
        "percent": _percent,
        "money": lambda value: money(value, currency, signed=False),
        "ms": _duration_ms,
        "seconds": human_duration,
        "days": lambda days: human_duration(days * 86_400),
        "long_days": rough_duration,
        "bytes": human_bytes,
        "ratio": lambda ratio: f"{ratio:.1f}x",
        "pct": lambda value: f"{value:.1f} %",
        "p": human_p_value,
        "id": lambda value: str(int(value)),
    }
    unknown = sorted({kind for kind in (formats or {}).values() if kind not in named})
    if unknown:
        raise ValueError(f"table formats: unknown {unknown}; expected {sorted(named)}")
    formatters: dict[str, Callable[[Any], str]] = {}
    for source, label in present.items():
        kind = frame[source].dtype
        if formats and source in formats:
            formatters[label] = _blank_or(named[formats[source]])
        elif pd.api.types.is_bool_dtype(kind):
            formatters[label] = _blank_or(lambda value: "yes" if value else "no")
        elif pd.api.types.is_integer_dtype(kind):
            formatters[label] = _blank_or(lambda value: f"{value:,}")
    out = out.assign(**{label: out[label].map(show) for label, show in formatters.items()})
    markup = out.to_html(
        index=False, escape=True, na_rep="", justify="left", border=0, classes="dataframe sre-table",
        float_format=_reading_number,
    )  # fmt: skip
    suffix = f"<p><small>first {max_rows} of {len(frame)} rows</small></p>" if len(frame) > max_rows else ""
    return Html(markup + suffix)


def _blank(column: pd.Series) -> bool:
    """Nothing to read in any row: missing values or empty text only (a table of no rows keeps its columns)."""
    return len(column) > 0 and bool((column.isna() | column.astype(str).str.strip().eq("")).all())


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def _duration_ms(milliseconds: float) -> str:
    return f"{milliseconds:.3g} ms" if abs(milliseconds) < 1000 else human_duration(milliseconds / 1000)


def _reading_number(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"


def _blank_or(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: "" if pd.isna(value) else show(value)


@dataclass(frozen=True)
class TableLayout:
    """How a report shows one frame: which columns under which headings (``labels``; None: all, as they are),
    read how (``formats``, as ``table`` names them), and the sentence shown instead when the frame has no rows
    (``empty``; None: the empty table). Kept in the library, not in notebook cells, so tests can check that
    every labelled column is one the review produces."""

    labels: Mapping[str, str] | None = None
    formats: Mapping[str, str] = field(default_factory=dict)
    empty: str | None = None

    def render(self, frame: pd.DataFrame, currency: str = "") -> Html:
        """The frame as a ``table``, or ``empty`` as a one-item ``bullet_list`` when it has no rows."""
        if self.empty is not None and frame.empty:
            return bullet_list([self.empty])
        return table(frame, self.labels, formats=dict(self.formats) or None, currency=currency)
