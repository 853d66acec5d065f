"""The demo metrics really have the shape the generator was given, measured from the data."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sre_lib.demo.metric_history import DEMO_INCIDENTS, DEMO_SERIES, metric_frames
from sre_lib.demo.spec import DemoSpec

SPEC = DemoSpec()


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return metric_frames(SPEC)


def _series(frames: tuple[pd.DataFrame, pd.DataFrame], component: str, instance: str, metric: str) -> pd.Series:
    series, samples = frames
    sid = series.query("component == @component and instance == @instance and metric == @metric").series_id
    rows = samples[samples.series_id == sid.item()]
    return pd.Series(rows.value.to_numpy(), index=pd.DatetimeIndex(rows.ts).tz_convert(SPEC.tz))


def _shape(component: str, instance: str, metric: str):
    return next(s.shape for s in DEMO_SERIES if (s.component, s.instance, s.metric) == (component, instance, metric))


def test_every_series_spans_90_days_at_one_minute(frames) -> None:
    series, samples = frames
    counts = samples.groupby("series_id").size()
    assert len(counts) == len(DEMO_SERIES) == len(series)
    assert (counts == 90 * 24 * 60).all()
    assert samples.ts.min() == pd.Timestamp(SPEC.start)
    assert np.isfinite(samples.value).all()
    metrics = set(series.metric)
    assert {"cpu", "memory", "disk", "db_connections", "error_rate", "latency_p95"} <= metrics


@pytest.mark.parametrize("key", [("nginx", "nginx-1", "cpu"), ("postgresql", "pg-1", "db_connections")])
def test_daily_weekly_and_growth_match_the_generator(frames, key) -> None:
    shape = _shape(*key)
    values = _series(frames, *key)
    weekdays = values[values.index.day_of_week < 5]
    by_hour = weekdays.groupby(weekdays.index.hour).mean()
    swing = (by_hour.max() - by_hour.min()) / weekdays.mean()
    assert swing == pytest.approx(shape.daily_swing, rel=0.15)
    assert by_hour.idxmax() in {19, 20, 21}

    weekend = values[values.index.day_of_week >= 5].mean() / weekdays.mean()
    assert weekend == pytest.approx(shape.weekend_factor, abs=0.05)

    first, last = values.iloc[: 7 * 1440].mean(), values.iloc[-7 * 1440 :].mean()
    assert last / first - 1 == pytest.approx(shape.growth * 83 / 90, abs=0.05)


def test_daily_peak_follows_local_time_across_daylight_saving(frames) -> None:
    """Sydney moved to UTC+11 on 2026-10-04: the evening peak stays at 20:00 local, moving an hour in UTC."""
    values = _series(frames, "nginx", "nginx-1", "cpu").tz_convert("UTC")
    dst_start = pd.Timestamp("2026-10-04 16:00", tz="UTC")
    before = values[(values.index < dst_start) & (values.index > dst_start - timedelta(days=28))]
    after = values[(values.index > dst_start) & (values.index < dst_start + timedelta(days=28))]
    peak_utc_before = before.groupby(before.index.hour).mean().idxmax()
    peak_utc_after = after.groupby(after.index.hour).mean().idxmax()
    assert (peak_utc_before - peak_utc_after) % 24 == 1


def test_incidents_are_in_the_data_where_scripted(frames) -> None:
    for incident in DEMO_INCIDENTS:
        values = _series(frames, incident.component, incident.instance, incident.metric).tz_convert("UTC")
        start = pd.Timestamp(SPEC.at_day(incident.start_day))
        inside = values[(values.index >= start) & (values.index < start + incident.duration)]
        outside = values.drop(inside.index)
        assert inside.max() == pytest.approx(incident.peak, rel=0.05), incident.name
        assert outside.max() < inside.max(), incident.name


def test_same_seed_same_data_other_seed_other_data() -> None:
    short = DemoSpec(days=3)
    a_series, a_samples = metric_frames(short)
    b_series, b_samples = metric_frames(short)
    pd.testing.assert_frame_equal(a_samples, b_samples)
    pd.testing.assert_frame_equal(a_series, b_series)
    _, other = metric_frames(DemoSpec(days=3, seed=1))
    assert not np.allclose(other.value.to_numpy(), a_samples.value.to_numpy())


def test_the_live_catalogue_entries_have_demo_series_too(frames) -> None:
    """Every server answers, the certificate runs down from 150 to 60 days, and Elasticsearch turns yellow with
    unassigned shards for the 10 hours of its incident and is green otherwise."""
    from sre_lib.demo.metric_history import CERT_DAYS_AT_START, CERT_DAYS_SPENT, UP_SERVERS

    for component, instance in UP_SERVERS:
        assert (_series(frames, component, instance, "up") == 1.0).all()
    cert = _series(frames, "nginx", "nginx-1", "tls_cert_days")
    assert cert.iloc[0] == CERT_DAYS_AT_START and bool((cert.diff().dropna() < 0).all())
    assert cert.iloc[-1] == pytest.approx(CERT_DAYS_AT_START * (1 - CERT_DAYS_SPENT), abs=0.01)
    status = _series(frames, "elasticsearch", "es-1", "es_status")
    shards = _series(frames, "elasticsearch", "es-1", "es_unassigned_shards")
    yellow = next(i for i in DEMO_INCIDENTS if i.metric == "es_status")
    assert set(status.unique()) == {0.0, 1.0} and (status == 1.0).sum() == yellow.duration / timedelta(minutes=1)
    assert status.index[status == 1.0][0] == pd.Timestamp(SPEC.at_day(yellow.start_day))
    assert ((shards > 0) == (status > 0)).all()
    heap = _series(frames, "elasticsearch", "es-1", "es_jvm_heap")
    assert heap.min() > 40 and heap.max() < 75  # healthy throughout
