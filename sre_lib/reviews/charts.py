"""Altair chart builders that stay offline-safe and under Altair's row limit.

Reports must open without a network, and Altair's default renderer loads Vega from a CDN. ``show()`` turns a
chart into inline SVG with vl-convert (which bundles Vega), so the rendered HTML carries the drawing itself.
Builders aggregate their input first (``downsample``), keeping every chart well under 5,000 rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd

MAX_ROWS = 4000
STATUS_COLOURS = {"healthy": "#1e8e3e", "warning": "#f9ab00", "critical": "#d93025", "no data": "#80868b"}
WIDTH = 760
LEGEND_SLACK_PX = 40


class SvgChart:
    """An SVG drawing that Jupyter and nbconvert display inline (image/svg+xml), with no script at all."""

    def __init__(self, svg: str) -> None:
        self.svg = svg

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"SvgChart({len(self.svg):,} bytes)"


def show(chart: alt.TopLevelMixin) -> SvgChart:
    """Render a chart to inline SVG: offline-safe in JupyterLab and in the HTML report alike."""
    import vl_convert

    spec = chart.to_dict()
    # Text is measured by vl-convert's font and drawn in the browser's, often wider: room on both sides keeps
    # axis labels (left) and legend labels (right) from being cut.
    spec.setdefault("padding", {"left": LEGEND_SLACK_PX, "top": 5, "right": LEGEND_SLACK_PX, "bottom": 5})
    return SvgChart(vl_convert.vegalite_to_svg(spec))


def downsample(
    frame: pd.DataFrame, time_column: str, value_column: str, by: Sequence[str] = (), max_points: int = MAX_ROWS
) -> pd.DataFrame:
    """Bucket a long series into at most ``max_points`` rows in total, keeping each bucket's min, mean and max.

    Min and max survive so that spikes and dips stay visible after aggregation.
    """
    if frame.empty:
        return frame.assign(min=[], max=[])
    groups = max(1, frame.groupby(list(by)).ngroups if by else 1)
    per_group = max(2, max_points // groups)
    span = frame[time_column].max() - frame[time_column].min()
    bucket = max(span / per_group, pd.Timedelta(seconds=1))
    keys = [*by, pd.Grouper(key=time_column, freq=bucket.ceil("s"))]
    out = frame.groupby(keys)[value_column].agg(["min", "mean", "max"]).reset_index()
    return out.rename(columns={"mean": value_column}).dropna(subset=[value_column])


#: Lines that are not a status (e.g. "2 servers at 70 %"): distinct greys and blues, darker as they go.
OTHER_LINE_COLOURS = ["#9aa0a6", "#669df6", "#5f6368", "#1967d2", "#3c4043", "#174ea6"]
#: What the marks of a forecast chart mean; Altair has no legend for marks drawn in fixed colours.
FORECAST_KEY = "black: history · blue dashed: forecast · shaded: 80 % and 95 % bands · dashed lines: thresholds"


def threshold_rules(thresholds: Mapping[str, float]) -> alt.Chart:
    """Horizontal rules for named thresholds (warning, critical, ...), coloured by status."""
    rows = pd.DataFrame({"threshold": list(thresholds), "value": list(thresholds.values())})
    others = itertools.cycle(OTHER_LINE_COLOURS)
    colours = [STATUS_COLOURS.get(name) or next(others) for name in thresholds]
    return (
        alt.Chart(rows)
        .mark_rule(strokeDash=[6, 4])
        .encode(
            y="value:Q",
            color=alt.Color(
                "threshold:N",
                scale=alt.Scale(domain=list(thresholds), range=colours),
                title=None,
                legend=alt.Legend(labelLimit=0),
            ),
        )
    )


def metric_chart(
    frame: pd.DataFrame,
    title: str,
    unit: str,
    thresholds: Mapping[str, float] | None = None,
    time_column: str = "ts",
    value_column: str = "value",
    series_column: str | None = "instance",
) -> alt.LayerChart:
    """A metric over time (bucketed min-max band and mean line per series) with its threshold lines."""
    by = [series_column] if series_column else []
    data = downsample(frame, time_column, value_column, by)
    colour = alt.Color(f"{series_column}:N", title=None) if series_column else alt.value("#1a73e8")
    base = alt.Chart(data).encode(x=alt.X(f"{time_column}:T", title=None))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("min:Q", title=unit), y2="max:Q", color=colour)
    line = base.mark_line(strokeWidth=1.2).encode(y=f"{value_column}:Q", color=colour)
    layers: list[alt.Chart] = [band, line]
    if thresholds:
        layers.append(threshold_rules(thresholds))
    return alt.layer(*layers).properties(title=title, width=WIDTH, height=220).resolve_scale(color="independent")


def local_clock(frame: pd.DataFrame, columns: Sequence[str], tz: ZoneInfo | None) -> pd.DataFrame:
    """A copy with tz-aware time columns as wall-clock times in ``tz``: Vega draws times in the renderer's own
    zone (UTC here), and a report's readers think in the platform's."""
    if tz is None:
        return frame
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_datetime(out[column], utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    return out


def _time_axis(tz: ZoneInfo | None) -> alt.Axis:
    return alt.Axis(format="%d %b", title=f"{tz.key} time" if tz is not None else "UTC")


def status_timeline(
    episodes: pd.DataFrame, title: str = "Warning and critical episodes", tz: ZoneInfo | None = None
) -> alt.Chart:
    """One lane per series, a bar for each episode coloured by status, times in ``tz`` (default UTC).

    Expects columns: series (a label), status, start, end.
    """
    data = episodes.nlargest(MAX_ROWS, "end") if len(episodes) > MAX_ROWS else episodes
    data = local_clock(data, ["start", "end"], tz)
    return (
        alt.Chart(data)
        .mark_bar(height=12)
        .encode(
            x=alt.X("start:T", axis=_time_axis(tz)),
            x2="end:T",
            y=alt.Y("series:N", title=None, axis=alt.Axis(labelLimit=0)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
                title=None,
            ),
            tooltip=["series", "status", "start:T", "end:T"],
        )
        .properties(title=title, width=WIDTH)
    )


def episode_timeline(
    episodes: pd.DataFrame, title: str = "Warning and critical episodes", tz: ZoneInfo | None = None
) -> alt.Chart:
    """``status_timeline`` for ``health.episodes`` output: one lane per component/instance/metric."""
    frame = episodes.assign(series=episodes["component"] + "/" + episodes["instance"] + " " + episodes["metric"])
    return status_timeline(frame[["series", "status", "start", "end"]], title=title, tz=tz)


def band_shares(time_in_bands: pd.DataFrame, title: str = "Time in each band") -> alt.Chart:
    """Stacked shares of healthy / warning / critical / no data per series (``health.time_in_bands`` output)."""
    shares = time_in_bands.assign(
        series=time_in_bands["component"] + "/" + time_in_bands["instance"] + " " + time_in_bands["metric"]
    ).melt(
        id_vars=["series"],
        value_vars=["healthy_share", "warning_share", "critical_share", "no_data_share"],
        var_name="status",
        value_name="share",
    )
    shares["status"] = shares["status"].str.removesuffix("_share").str.replace("no_data", "no data")
    return (
        alt.Chart(shares)
        .mark_bar()
        .encode(
            y=alt.Y("series:N", title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X(
                "share:Q", stack="normalize", axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]), title=None
            ),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
                title=None,
            ),
            tooltip=["series", "status", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(title=title, width=WIDTH)
    )


def forecast_chart(
    frame: pd.DataFrame, title: str, unit: str, thresholds: Mapping[str, float] | None = None
) -> alt.LayerChart:
    """History, forecast mean, 80 % and 95 % bands, and threshold lines (``Forecast.to_frame()`` shape)."""
    history = frame[frame["kind"] == "history"]
    future = frame[frame["kind"] == "forecast"]
    base = alt.Chart(future).encode(x=alt.X("date:T", title=None))
    layers: list[alt.Chart] = [
        base.mark_area(opacity=0.15, color="#1a73e8").encode(y=alt.Y("lo95:Q", title=unit), y2="hi95:Q"),
        base.mark_area(opacity=0.25, color="#1a73e8").encode(y="lo80:Q", y2="hi80:Q"),
        base.mark_line(color="#1a73e8", strokeDash=[4, 2]).encode(y="mean:Q"),
        alt.Chart(history).mark_line(color="#202124").encode(x="date:T", y="value:Q"),
    ]
    if thresholds:
        layers.append(threshold_rules(thresholds))
    heading = alt.TitleParams(title, subtitle=FORECAST_KEY, subtitleColor="#5f6368")
    return alt.layer(*layers).properties(title=heading, width=WIDTH, height=220)


def servers_chart(
    timeline: pd.DataFrame, title: str = "App servers over time, by scaling policy", tz: ZoneInfo | None = None
) -> alt.Chart:
    """Servers (bucket mean) over time per policy, from ``scaling.timeline_frame``, times in ``tz``."""
    return (
        alt.Chart(local_clock(timeline, ["ts"], tz))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("ts:T", axis=_time_axis(tz)),
            y=alt.Y("servers_mean:Q", title="servers", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                "policy:N", title=None, legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0)
            ),
        )
        .properties(title=title, width=WIDTH, height=200)
    )
