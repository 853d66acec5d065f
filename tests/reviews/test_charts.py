"""Charts: under the row limit, spikes kept, and drawn as self-contained SVG that names what it shows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sre_lib.reviews.charts import MAX_ROWS, downsample, metric_chart, servers_chart, show


def _minutes(days: int, instances: tuple[str, ...] = ("app-1", "app-2")) -> pd.DataFrame:
    times = pd.date_range("2026-10-01", periods=days * 1440, freq="1min", tz="UTC")
    rng = np.random.default_rng(3)
    frames = []
    for number, instance in enumerate(instances):
        values = 40 + 10 * number + rng.normal(0, 1, len(times))
        frames.append(pd.DataFrame({"ts": times, "instance": instance, "value": values}))
    return pd.concat(frames, ignore_index=True)


def test_downsample_stays_under_the_limit_and_keeps_the_spike() -> None:
    samples = _minutes(30)
    spike_at = samples.index[(samples["instance"] == "app-1")][20_000]
    samples.loc[spike_at, "value"] = 99.0
    out = downsample(samples, "ts", "value", by=["instance"])
    assert len(out) <= MAX_ROWS and set(out["instance"]) == {"app-1", "app-2"}
    assert out["max"].max() == 99.0  # one minute at 99 % survives aggregation
    app2 = samples[samples["instance"] == "app-2"]["value"]
    assert abs(out.loc[out["instance"] == "app-2", "value"].mean() - app2.mean()) < 0.1


def test_a_chart_is_inline_svg_with_nothing_to_fetch() -> None:
    chart = metric_chart(_minutes(2), "app cpu", "CPU %", {"warning": 60.0, "critical": 80.0})
    svg = show(chart).svg
    assert svg.lstrip().startswith("<svg") and "<script" not in svg
    links = re.findall(r'(?:href|src)="([^"]+)"', svg)
    assert not [link for link in links if link.startswith(("http:", "https:", "//"))], links
    assert "app cpu" in svg and "warning" in svg and "critical" in svg


def test_long_policy_names_are_shown_whole_in_the_servers_legend() -> None:
    names = ["threshold 70/35% cooldown 300s [1-4]", "hpa target 70% tol 0.1 window 300s [1-4]"]
    times = pd.date_range("2026-10-01", periods=48, freq="1h", tz="UTC")
    timeline = pd.concat(
        [pd.DataFrame({"ts": times, "policy": name, "servers_mean": 2.0, "servers_max": 3}) for name in names]
    )
    drawn = re.findall(r"<text[^>]*>([^<]*)</text>", show(servers_chart(timeline)).svg)
    for name in names:
        assert name in drawn, (name, [text for text in drawn if "%" in text])


def test_episodes_are_drawn_on_the_platforms_clock() -> None:
    from zoneinfo import ZoneInfo

    from sre_lib.reviews.charts import episode_timeline, local_clock

    sydney = ZoneInfo("Australia/Sydney")
    episodes = pd.DataFrame({"component": ["app"], "instance": ["app-1"], "metric": ["error_rate"],
                             "status": ["critical"], "start": [pd.Timestamp("2026-10-22 09:36", tz="UTC")],
                             "end": [pd.Timestamp("2026-10-22 09:50", tz="UTC")]})  # fmt: skip
    local = local_clock(episodes, ["start", "end"], sydney)
    assert local["start"].iloc[0] == pd.Timestamp("2026-10-22 20:36")  # AEDT, drawn as the reader's wall clock
    spec = episode_timeline(episodes, tz=sydney).to_dict()
    assert spec["encoding"]["x"]["axis"]["title"] == "Australia/Sydney time"
    assert spec["encoding"]["x"]["axis"]["format"] == "%d %b"  # the month is on the axis
    assert "2026-10-22T20:36:00" in str(spec["datasets"])
