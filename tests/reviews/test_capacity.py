"""The capacity review: verdict and dated actions follow from the analyses, on demo and hand-made data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.app_samples import END, TEN_MINUTES_AT, app_warehouse

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import DataError
from sre_lib.reviews.capacity import actions_table, capacity_review, policy_table, server_steps, servers_needed
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

CONFIG = load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def demo_review(demo_warehouse: Path):
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        yield capacity_review(con, CONFIG)
    finally:
        con.close()


def test_servers_needed_and_steps() -> None:
    assert servers_needed(160, 80) == 2 and servers_needed(160.01, 80) == 3 and servers_needed(0, 80) == 1
    frame = pd.DataFrame({"date": pd.date_range("2027-01-01", periods=5), "hi80": [150, 170, 200, 250, 330]})
    steps = server_steps(frame, current=2, per_server_limit=80)
    assert steps.to_dict("list") == {
        "servers": [3, 4, 5],
        "needed_from": [pd.Timestamp("2027-01-02"), pd.Timestamp("2027-01-04"), pd.Timestamp("2027-01-05")],
    }


def test_demo_review_says_when_to_add_the_third_app_server(demo_review) -> None:
    review = demo_review
    assert review.verdict in {"warning", "critical"}
    third = review.actions[review.actions["action"].str.startswith("run 3 app servers")]
    assert len(third) == 1
    expected = server_steps(review.demand_forecast.frame, 2, CONFIG.scaling.horizontal.cpu_threshold_percent)
    assert third["by"].iloc[0] == expected.loc[expected["servers"] == 3, "needed_from"].iloc[0]
    assert third["monthly_cost_change"].iloc[0] == CONFIG.unit_price("app")
    assert list(review.actions["by"]) == sorted(review.actions["by"])
    assert review.monthly_cost == CONFIG.monthly_cost()
    groups = review.actions.groupby("cost_group")["monthly_cost_change"].max()
    assert review.monthly_cost_change == pytest.approx(groups.fillna(0).sum())


def test_a_change_asked_for_by_several_metrics_or_steps_is_listed_and_costed_once(demo_warehouse: Path) -> None:
    """A year ahead, PostgreSQL's CPU, connections and memory each call for the same resize, and the app tier
    grows from 3 to 4 servers and then to bigger ones: each change is one row, and the total counts each
    change once at its dearest step (against today), not the sum of its steps."""
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = capacity_review(con, CONFIG, horizon_days=365)
    finally:
        con.close()
    actions = review.actions
    assert not actions.duplicated(["component", "action"]).any()
    resize = actions[actions["action"].str.startswith("resize postgresql to ")].iloc[0]
    assert {"cpu", "db_connections"} <= set(resize["metric"].split(", "))
    pg = review.crossings.query("component == 'postgresql' and threshold == 'critical'")
    assert resize["by"] == pg["earliest"].min()
    fleet = actions[actions["cost_group"] == "fleet app"]
    assert len(fleet) >= 3  # more servers, then bigger ones: one change of the app tier
    assert review.monthly_cost_change == pytest.approx(
        actions.groupby("cost_group")["monthly_cost_change"].max().fillna(0).sum()
    )
    assert review.monthly_cost_change < actions["monthly_cost_change"].fillna(0).sum()


def test_an_action_due_within_the_horizon_is_listed_whether_or_not_the_likely_path_crosses(demo_review) -> None:
    """Dated by the earliest crossing, as it is: a 90-day report lists what is due within 90 days."""
    crossings = demo_review.crossings
    due = crossings[
        crossings["threshold"].isin(["critical", "full"]) & crossings["earliest"].notna() & crossings["likely"].isna()
        & (crossings["metric"] == "disk")
    ]  # fmt: skip
    assert not due.empty
    for row in due.itertuples():
        listed = demo_review.actions[
            (demo_review.actions["component"] == row.component) & demo_review.actions["action"].str.contains(
                f"before it reaches {row.level:g} %", regex=False
            )
        ]  # fmt: skip
        assert len(listed) == 1 and listed["by"].iloc[0] >= row.earliest
        assert "upper band" in listed["why"].iloc[0]


def test_demo_review_acts_on_the_redis_policy_levels(demo_review) -> None:
    """[redis] levels are the policy's action thresholds: memory > 80 % of maxmemory, increase size (from the
    forecast, already passed by the daily peaks); hit ratio < 80 %, review the caching strategy (now)."""
    redis = demo_review.actions[demo_review.actions["component"] == "redis"].set_index("metric")
    memory = redis.loc["redis_memory"]
    assert "resize redis to s-2vcpu-4gb" in memory["action"] and "raise maxmemory" in memory["action"]
    crossing = demo_review.crossings.query("metric == 'redis_memory' and threshold == 'warning'").iloc[0]
    today = pd.Timestamp(pd.Timestamp(demo_review.as_of).tz_convert(CONFIG.tz).date())
    assert bool(crossing["already"]) and memory["by"] == today
    assert (
        memory["why"] == "redis_memory of redis-1: the last daily peak is already past 80 % (the policy's action level)"
    )
    hit = redis.loc["redis_hit_ratio"]
    assert hit["action"].startswith("review the caching strategy of Redis on redis/redis-1") and hit["by"] == today
    status = demo_review.status.set_index("metric").loc["redis_hit_ratio"]
    assert status["status"] == "warning" and hit["why"] == f"Redis policy: {status['detail']}"
    assert demo_review.headline.startswith("give Redis on redis/redis-1 more memory")


def test_demo_review_tables_for_the_report(demo_review) -> None:
    table = actions_table(demo_review)
    assert list(table.columns) == ["by", "component", "what to do", "cost / month", "why", "caveat"]
    priced = demo_review.actions["monthly_cost_change"].notna()
    assert table["cost / month"][priced].str.endswith(" USD").all()
    assert (table["cost / month"][~priced] == "").all()  # growing a disk: no price in the inventory
    assert demo_review.tier_capacity_lines() == {
        "1 server at 70 %": 70.0, "2 servers at 70 %": 140.0, "3 servers at 70 %": 210.0, "4 servers at 70 %": 280.0,
    }  # fmt: skip
    policies = policy_table(demo_review)
    threshold = demo_review.simulations[0]
    assert policies["policy"].tolist() == [result.policy.name for result in demo_review.simulations]
    assert policies["servers added"].iloc[0] == threshold.scale_outs
    assert policies["how it scales"].iloc[0] == threshold.policy.describe()
    assert policies["minutes warning"].iloc[0] == round(threshold.band_minutes["warning"])
    assert policies["cost / month"].iloc[0] == f"{threshold.monthly_cost:,.2f} USD"
    frame = demo_review.series_forecast("app", "app-1", "cpu")
    assert set(frame["kind"]) == {"history", "forecast"}
    assert demo_review.thresholds("disk") == {"warning": 70.0, "critical": 85.0, "full": 100.0}
    plan = demo_review.plan
    needed = servers_needed(plan.peak_demand, CONFIG.scaling.horizontal.cpu_threshold_percent)
    assert f"({plan.peak_demand:.0f} % CPU summed over the tier" in demo_review.planning
    assert f"{needed} app servers of the current size stay under 70 % CPU each" in demo_review.planning
    assert demo_review.latency is not None
    assert demo_review.latency.servers_needed >= 1


def _flat_warehouse(path: Path, saturated_days_before_end: float | None = None) -> Warehouse:
    """Four weeks of app servers idling at 20 % CPU, and nothing else collected; optionally app-1 saturated
    (97 %) for three hours that many days before the end."""
    warehouse = Warehouse(path)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    times = pd.date_range(end - timedelta(days=28), end, freq="5min", inclusive="left")
    rng = np.random.default_rng(1)
    series, samples = [], []
    for instance in ("app-1", "app-2"):
        labels = {"component": "app", "instance": instance}
        sid = series_id("cpu", labels)
        series.append({"series_id": sid, "source": "test", "metric": "cpu", "component": "app",
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        values = 20 + rng.normal(0, 0.5, len(times))
        if saturated_days_before_end is not None and instance == "app-1":
            since = end - timedelta(days=saturated_days_before_end)
            values[(times >= since) & (times < since + timedelta(hours=3))] = 97.0
        samples.append(pd.DataFrame({"series_id": sid, "ts": times, "value": values}))
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), times[0], times[-1])
    return warehouse


def test_a_quiet_platform_is_healthy_with_nothing_to_do(tmp_path: Path) -> None:
    con = _flat_warehouse(tmp_path / "w.duckdb").open_read_only()
    try:
        review = capacity_review(con, CONFIG, window_days=14)
    finally:
        con.close()
    assert review.actions.empty
    app = review.rollup.components.set_index("component").loc["app", "status"]
    assert app == "healthy"
    # every other configured component has no series: "not monitored", listed, and no colour on the verdict
    assert review.rollup.status == "healthy" and review.verdict == "healthy"
    components = review.rollup.components.set_index("component")["status"].astype(str)
    assert set(components.drop("app")) == {"not monitored"}
    unseen = review.coverage[review.coverage["status"] == "not monitored"]
    assert set(unseen["component"]) == set(CONFIG.components)  # app too: its up, memory, ... are not collected
    assert (review.coverage.query("component == 'app' and indicator == 'cpu'")["status"] == "healthy").all()
    assert review.series_to_chart() == []  # nothing near a band: no forecast chart to draw


def test_the_report_charts_the_series_nearest_their_bands_from_the_data(demo_review) -> None:
    charted = demo_review.series_to_chart()
    crossings = demo_review.crossings
    assert 0 < len(charted) <= 8 and len(set(charted)) == len(charted)
    for component, instance, metric in charted:
        mine = crossings[(crossings["component"] == component) & (crossings["instance"] == instance)
                         & (crossings["metric"] == metric)]  # fmt: skip
        assert (mine["already"] | mine["earliest"].notna()).any()
        assert not demo_review.series_forecast(component, instance, metric).empty
    likely_severe = crossings[crossings["threshold"].isin(["full", "critical"]) & crossings["likely"].notna()
                              & ~crossings["already"]].sort_values("likely")  # fmt: skip
    expected_first = list(likely_severe[["component", "instance", "metric"]].itertuples(index=False, name=None))
    assert expected_first and charted[: len(expected_first)] == expected_first  # the mean reaches critical: first
    already = crossings[crossings["already"]][["component", "instance", "metric"]].itertuples(index=False, name=None)
    assert set(already) - set(expected_first) <= set(charted)  # then what is in a band already
    assert demo_review.series_to_chart(limit=2) == charted[:2]
    assert demo_review.unit_of("db_connections") == "percent of max_connections"
    assert demo_review.unit_of("redis_memory") == "percent of maxmemory"
    assert demo_review.period() == (
        "Status, time in bands, episodes and the policy replay cover the 30 days to 2026-11-01 10:59 AEDT; "
        "forecasts look 90 days ahead."
    )


@pytest.mark.parametrize(("days_before_end", "acted_on"), [(20, False), (2, True)])
def test_a_resize_trigger_is_an_action_only_while_it_keeps_firing(
    tmp_path: Path, days_before_end: float, acted_on: bool
) -> None:
    con = _flat_warehouse(tmp_path / "w.duckdb", saturated_days_before_end=days_before_end).open_read_only()
    try:
        review = capacity_review(con, CONFIG, window_days=28)
    finally:
        con.close()
    fired = review.vertical.set_index(["trigger", "component"]).loc[("consistent high CPU", "app")]
    assert fired["fires"] and fired["episodes"] == 1 and fired["instance"] == "app-1"
    assert fired["recent"] == acted_on
    resize = review.actions[review.actions["action"].str.startswith("consistent high CPU on app")]
    assert len(resize) == int(acted_on)
    if acted_on:
        assert resize["by"].iloc[0] == pd.Timestamp(review.as_of.astimezone(CONFIG.tz).date())
        assert "above 80 % for 60 min (peak 97 %)" in resize["why"].iloc[0]


def test_an_empty_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    con = warehouse.open_read_only()
    try:
        with pytest.raises(DataError, match="holds no metric samples"):
            capacity_review(con, CONFIG)
    finally:
        con.close()


def test_disk_alert_view_is_predict_linear_over_the_last_week(demo_review, demo_warehouse: Path) -> None:
    from sre_lib.analysis.predict_linear import linear_time_to_threshold
    from sre_lib.reviews.capacity import ALERT_WINDOW
    from sre_lib.warehouse.series import read_samples

    view = demo_review.alert_view.set_index(["component", "instance"])
    assert ("media", "media") in view.index and ("postgresql", "pg-1") in view.index
    end = pd.Timestamp(demo_review.as_of)
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        media = read_samples(con, metrics=["disk"], components=["media"], start=end - ALERT_WINDOW, end=end)
    finally:
        con.close()
    line = linear_time_to_threshold(media["ts"], media["value"].to_numpy(), 85.0, eval_time=end, window=ALERT_WINDOW)
    assert view.loc[("media", "media"), "predict_linear_date"] == line.crosses_at
    assert line.crosses_at > end  # the media volume fills, slowly


def test_a_review_limited_to_some_components(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = capacity_review(con, CONFIG, components=["redis", "media"])
        with pytest.raises(DataError, match=r"unknown components \['mainframe'\]"):
            capacity_review(con, CONFIG, components=["mainframe"])
    finally:
        con.close()
    assert set(review.status["component"]) == {"redis", "media"}
    assert set(review.rollup.components["component"]) == {"redis", "media"}
    assert set(review.actions["component"]) <= {"redis", "media"} and not review.actions.empty
    assert review.simulations == () and review.plan is None  # the app tier is not in the review


def test_when_even_the_maximum_fleet_falls_short_the_action_has_the_planning_date() -> None:
    from types import SimpleNamespace

    from sre_lib.analysis.scaling import capacity_plan
    from sre_lib.reviews.capacity.dated_actions import _tier_actions

    day = np.arange(30)
    frame = pd.DataFrame({"date": pd.date_range("2027-01-01", periods=30), "mean": 200.0 + 10 * day})
    frame = frame.assign(hi80=frame["mean"] + 20, hi95=frame["mean"] + 40)
    plan = capacity_plan(frame, CONFIG)
    rows = pd.DataFrame(_tier_actions(CONFIG, "app", SimpleNamespace(frame=frame, trustworthy=True), plan))
    # 4 servers x 70 % = 280: the 80 % upper bound (mean + 20) passes it on day 7
    assert plan.breach.loc["hi80", "threshold_date"] == pd.Timestamp("2027-01-08")
    short = rows[rows["action"].str.startswith("even 4 app servers will not carry the load")]
    assert short["by"].tolist() == [pd.Timestamp("2027-01-08")]
    assert rows[rows["action"].str.startswith("run ")]["action"].tolist() == [
        "run 3 app servers (add a third)", "run 4 app servers (add a fourth)"
    ]  # fmt: skip


def test_a_state_older_than_the_status_read_dates_from_its_episode(demo_review) -> None:
    """Elasticsearch memory has been in warning the whole window: 'since' is not the 24 h the status reads."""
    components = demo_review.rollup.components.set_index("component")
    elastic = components.loc["elasticsearch"]
    assert (elastic["status"], elastic["metric"]) == ("warning", "memory")
    assert elastic["since"] == pd.Timestamp(demo_review.window_start) and elastic["since_clipped"]
    episode = demo_review.episodes.query("component == 'elasticsearch' and metric == 'memory'")
    assert len(episode) == 1 and episode["start"].iloc[0] == pd.Timestamp(demo_review.window_start)
    status = demo_review.status.query("component == 'elasticsearch' and metric == 'memory'").iloc[0]
    assert status["since"] > elastic["since"]  # what the 24 h read alone would have said


def test_components_given_as_text_are_keys_not_letters(demo_warehouse: Path) -> None:
    """``-p components=app`` reaches the notebook as the text 'app'."""
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        one = capacity_review(con, CONFIG, components="app")
        two = capacity_review(con, CONFIG, components="app, redis")
    finally:
        con.close()
    assert set(one.status["component"]) == {"app"}
    assert set(two.status["component"]) == {"app", "redis"}


@pytest.mark.parametrize("as_of", ["2030-01-01", "2026-01-01"])  # after the demo's 90 days, and before them
def test_a_window_without_samples_is_refused_naming_what_the_warehouse_holds(demo_warehouse: Path, as_of) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        first, last = con.execute("SELECT min(ts), max(ts) FROM metric_samples").fetchall()[0]
        with pytest.raises(DataError, match=r"no metric samples from .* \(as_of and window_days\)") as raised:
            capacity_review(con, CONFIG, as_of=as_of)
    finally:
        con.close()
    held = f"the warehouse holds {pd.Timestamp(first).tz_convert(CONFIG.tz):%Y-%m-%d %H:%M}"
    assert held in str(raised.value) and f"{pd.Timestamp(last).tz_convert(CONFIG.tz):%Y-%m-%d}" in str(raised.value)


def test_the_latency_sentence_reads_right_whether_or_not_more_servers_are_needed() -> None:
    from sre_lib.reviews.capacity import LatencyPlan

    short = LatencyPlan(900, 12.5, 2, 200, current_servers=2, p95_at_current_ms=float("inf"), servers_needed=3)
    assert str(short).endswith("with 3 app servers; with today's 2 it would be overloaded")
    enough = LatencyPlan(300, 12.5, 2, 200, current_servers=2, p95_at_current_ms=122.4, servers_needed=2)
    assert "today's 2 app servers keep p95 latency at 122 ms, under the 200 ms target (the CPU" in str(enough)
    spare = LatencyPlan(100, 12.5, 2, 200, current_servers=3, p95_at_current_ms=40, servers_needed=2)
    assert "under the 200 ms target; 2 would be enough for latency alone" in str(spare)


def test_a_window_longer_than_the_history_says_how_much_history_there_is(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        long = capacity_review(con, CONFIG, window_days=200)
        first = con.execute("SELECT min(ts) FROM metric_samples").fetchall()[0][0]
    finally:
        con.close()
    days = round((long.as_of - first).total_seconds() / 86_400)
    assert "cover the 200 days to" in long.period()
    assert f"(samples begin {first.astimezone(CONFIG.tz):%Y-%m-%d}: {days} days of them, not 200)" in long.period()


def test_actions_from_status_alone_are_costed() -> None:
    """Only 'investigate ... now' rows: none of them names a cost group."""
    from sre_lib.reviews.capacity.dated_actions import _actions

    status = pd.DataFrame([{"component": "redis", "instance": "redis-1", "metric": "memory", "status": "critical",
                            "detail": "critical 97 percent"}])  # fmt: skip
    actions = _actions(CONFIG, "app", pd.Timestamp("2026-10-01", tz="UTC"), pd.DataFrame(), None, None,
                       pd.DataFrame(), status)  # fmt: skip
    assert actions["action"].tolist() == ["investigate memory on redis/redis-1 now"]
    assert actions["cost_group"].notna().all()


# ------------------------------------------------------------------------------------------- gaps in the samples


def review_of(warehouse: Warehouse, **options: object):
    con = warehouse.open_read_only()
    try:
        return capacity_review(con, CONFIG, **options)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("holes", "window_days", "notes", "no_data_minutes"),
    [
        ((), 30, [], 0),
        ((("app-2", TEN_MINUTES_AT, 1),), 30, [], 0),  # one sample: bridged, not a gap
        ((("app-2", TEN_MINUTES_AT, 10),), 30, ["app/app-2 cpu: 10 min without samples on 2026-10-31 from 03:10"], 10),
        ((("app-2", END - timedelta(days=6), 10),), 2, [], 0),  # before the window: no note, no failure
        (
            (("app-2", TEN_MINUTES_AT, 10), ("app-2", TEN_MINUTES_AT + timedelta(hours=5), 30)),
            30,
            [
                "app/app-2 cpu: 2 stretches without samples, 40 min in all, the longest 30 min without samples on "
                "2026-10-31 from 08:10"
            ],
            40,
        ),
    ],
)
def test_a_gap_in_one_servers_samples_is_a_note_and_a_gap_in_the_replay_never_a_failure(
    tmp_path: Path, holes, window_days: int, notes: list[str], no_data_minutes: int
) -> None:
    """Issue 13: one of two app servers unscraped for 10 minutes failed the capacity report ("app/app-2 cpu has
    more than 5 missing samples in a row"), also with the gap outside a 7-day window."""
    review = review_of(app_warehouse(tmp_path / "w.duckdb", holes=holes), window_days=window_days)
    assert review.data_notes() == notes
    assert review.demand_forecast is not None and review.plan is not None  # 8 days of daily peaks
    for result in review.simulations:
        assert result.no_data_minutes == no_data_minutes  # unknown load: no band, no decision, not zero
        assert sum(result.band_minutes.values()) + no_data_minutes == len(result.demand)
    table = policy_table(review)
    assert ("minutes without data" in table.columns) == bool(no_data_minutes)
    if no_data_minutes:
        assert table["minutes without data"].tolist() == [no_data_minutes] * 2


def test_a_server_that_joins_or_leaves_in_the_window_is_counted_while_it_reports(tmp_path: Path) -> None:
    joins, leaves = END - timedelta(days=3), END - timedelta(days=1)
    review = review_of(app_warehouse(tmp_path / "w.duckdb", joins=joins, leaves=leaves))
    assert review.data_notes() == [
        "app/app-2 cpu: no samples after 2026-10-31 11:00",
        "app/app-3 cpu: samples begin 2026-10-29 11:00, after the others'",
    ]
    demand = review.simulations[0].timeline["demand"]
    assert demand.notna().all()  # before app-3 and after app-2: the servers there are, not unknown load
    con = app_warehouse(tmp_path / "w2.duckdb").open_read_only()  # the same app-1 and app-2, without app-3
    try:
        two = capacity_review(con, CONFIG).simulations[0].timeline["demand"]
    finally:
        con.close()
    before = demand.index < joins
    assert np.allclose(demand[before], two[before])  # app-3 adds nothing before its first sample
    assert (demand[demand.index > leaves] < two[demand.index > leaves] + 40).all()  # app-2's ~30 % gone


def test_many_gaps_are_counted_past_the_listed_notes_and_a_shared_gap_is_one_line(tmp_path: Path) -> None:
    from sre_lib.reviews.capacity.review_notes import coverage_lines

    spans = pd.DataFrame({
        "series_id": range(12), "component": "app", "instance": [f"app-{n}" for n in range(12)], "metric": "cpu",
        "first_ts": pd.Timestamp(END) - pd.Timedelta(days=2), "last_ts": pd.Timestamp(END),
        "step": pd.Timedelta(minutes=1),
    })  # fmt: skip
    at = pd.Timestamp(TEN_MINUTES_AT) + pd.to_timedelta(spans["series_id"], unit="h")  # one hole each, apart
    gaps = spans[["series_id", "component", "instance", "metric", "step"]].assign(
        missing=10, first_missing=at, resumed=at + pd.Timedelta(minutes=10)
    )
    assert len(coverage_lines(spans, gaps, CONFIG, None)) == 12
    review = review_of(app_warehouse(tmp_path / "w.duckdb", hours=48))
    notes = replace(review, spans=spans, gaps=gaps).data_notes(limit=5)
    assert len(notes) == 5 and notes[-1] == "and 8 more servers or series with missing samples"
    assert notes[:2] == [
        "app/app-0 cpu: 10 min without samples on 2026-10-31 from 03:10",
        "app/app-1 cpu: 10 min without samples on 2026-10-31 from 04:10",
    ]
    shared = gaps.assign(first_missing=pd.Timestamp(TEN_MINUTES_AT))  # the collector was down for everyone
    assert coverage_lines(spans, shared, CONFIG, None) == [
        "12 series of 12 servers (app/app-0, app/app-1, app/app-2, ...): 10 min without samples on 2026-10-31 from "
        "03:10"
    ]


def test_an_hour_old_warehouse_is_reviewed_with_forecasts_needing_more_history(tmp_path: Path) -> None:
    """Issue 13: under a day of data failed the report with KeyError: 'earliest' in a notebook cell."""
    review = review_of(app_warehouse(tmp_path / "w.duckdb", hours=1, metrics=("cpu", "disk")))
    assert (review.alert_view["trend"] == "needs 6 h of samples; 1 h collected").all()
    assert review.forecast_notes() == [
        "No forecast yet, every series needs more history: 1 h of samples, and a forecast needs daily peaks of "
        "at least 3 full days."
    ]
    rows = review.crossing_rows()
    assert rows.empty and {"earliest", "likely", "latest", "summary"} <= set(rows.columns)
    assert review.series_to_chart() == [] and review.demand_forecast is None and review.plan is None
    assert review.planning.startswith("Not enough app-tier load history to plan from yet")
    assert "(samples begin 2026-11-01 10:00: 1 h of them, not 30 days)" in review.period()
    assert review.data_notes() == [] and len(review.simulations) == 2
