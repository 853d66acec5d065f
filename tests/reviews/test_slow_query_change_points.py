"""The chart of a regression's change point in the slow-queries report, on the demo: one panel per dated
regression, the step marked at its moment in local time; nothing to draw without one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.charts import show
from sre_lib.reviews.slow_queries import slow_query_review
from sre_lib.reviews.slow_query_tables import change_point_chart
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def test_the_demo_regression_is_drawn_with_its_moment_marked(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, CONFIG)
        chart = change_point_chart(con, review, CONFIG.tz)
        undated = change_point_chart(con, dataclasses.replace(review, change_points=review.change_points.iloc[:0]),
                                     CONFIG.tz)  # fmt: skip
    finally:
        con.close()
    assert undated is None
    assert chart is not None and len(chart.vconcat) == len(review.change_points) == 1
    step = review.change_points.iloc[0]
    line, means, moment = chart.vconcat[0].layer
    local = step["changed_at"].tz_convert(CONFIG.tz).tz_localize(None)
    assert moment.data["at"].tolist() == [local]
    assert means.data["mean_ms"].tolist() == [step["before_mean_ms"], step["after_mean_ms"]]
    points = line.data
    assert points["interval_end"].min() < local < points["interval_end"].max()  # baseline and window both drawn
    assert (points["mean_ms"] > 0).all()
    assert f"at {local:%Y-%m-%d %H:%M} ({CONFIG.tz.key} time)" in chart.vconcat[0].title[1]
    assert show(chart).svg.startswith("<svg")
    assert pd.api.types.is_datetime64_any_dtype(points["interval_end"])
