"""Durations and instants as users type them, and durations as reports print them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from sre_lib.durations import human_duration, parse_duration, parse_instant, parse_window, rough_duration, to_utc
from sre_lib.errors import DataError, SreError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), (" 6h ", timedelta(hours=6)),
     ("30d", timedelta(days=30)), ("2w", timedelta(weeks=2)), ("1.5h", timedelta(minutes=90))],
)  # fmt: skip
def test_durations_as_users_type_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15", "0m", "-5m", "15 minutes", "1y", "", "99999999999999d", "5300w"])
def test_a_bad_duration_names_the_option_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(SreError, match=rf"--every: expected a positive duration of at most 100 years, such as 90s.*"
                       rf"got {text!r}"):  # fmt: skip
        parse_duration(text, "--every")
    assert parse_duration("5200w", "--every") == timedelta(weeks=5200)  # just under a century


def test_instants_are_utc_unless_they_say_otherwise() -> None:
    assert parse_instant("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    sydney = parse_instant("2026-11-01T03:00+11:00")
    assert sydney.utcoffset() == timedelta(hours=11) and sydney.astimezone(UTC).hour == 16
    assert abs(parse_instant("now") - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(SreError, match=r"--start: expected an ISO time such as 2026-11-01.*got 'yesterday'"):
        parse_instant("yesterday", "--start")


def test_a_report_reads_an_instant_without_offset_in_the_platform_time_zone() -> None:
    from zoneinfo import ZoneInfo

    sydney = ZoneInfo("Australia/Sydney")
    noon = parse_instant("2026-10-02T12:00:00", "as_of", sydney)  # AEST, UTC+10, before the October switch
    assert noon.astimezone(UTC) == datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
    summer = parse_instant("2026-12-01", "as_of", sydney)  # AEDT, UTC+11
    assert summer.astimezone(UTC) == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    given = parse_instant("2026-10-02T12:00:00+00:00", "as_of", sydney)  # an offset wins
    assert given == datetime(2026, 10, 2, 12, 0, tzinfo=UTC)


def test_to_utc_accepts_what_pandas_reads_and_refuses_the_rest() -> None:
    assert to_utc(None) is None
    assert to_utc("2026-11-01 10:00") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    eleven = timezone(timedelta(hours=11))
    assert to_utc(datetime(2026, 11, 1, 21, tzinfo=eleven)) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert to_utc(pd.Timestamp("2026-11-01 10:00", tz="Australia/Sydney")).hour == 23
    for bad in ("not a time", pd.NaT):
        with pytest.raises(DataError, match="as_of: expected a date-time"):
            to_utc(bad, "as_of")


def test_human_durations() -> None:
    assert [human_duration(s) for s in (42, 298, 900, 7468, 93_600, 2_840_100, -300)] == [
        "42 s", "4 min 58 s", "15 min", "2 h 04 min", "26 h", "32 d 21 h", "-5 min",
    ]  # fmt: skip
    assert human_duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"


@pytest.mark.parametrize(
    ("days", "text"),
    [(5760.2, "about 16 years"), (731, "about 2 years"), (150, "about 5 months"), (59, "59 d"), (2.5, "60 h")],
)
def test_rough_duration_for_planning(days: float, text: str) -> None:
    assert rough_duration(days) == text


NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "start", "end", "expected"),
    [
        ("6h", None, None, (NOW - timedelta(hours=6), NOW)),
        (None, None, None, (NOW - timedelta(days=1), NOW)),  # --since defaults to a day
        ("2d", None, "2026-11-01", (datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))),
        (None, "2000-01-01", "2000-01-02", (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC))),
        (None, "2026-12-01", "2026-12-03T04:59", (datetime(2026, 12, 1, tzinfo=UTC), NOW + timedelta(minutes=1439))),
        (None, "2026-12-01", "now", None),  # "now" is the clock's, not the test's
    ],
)  # fmt: skip
def test_a_collection_window_within_2000_and_a_day_ahead(
    since: str | None, start: str | None, end: str | None, expected: tuple[datetime, datetime] | None
) -> None:
    window = parse_window(since, start, end, now=NOW)
    assert window == expected or (expected is None and window[0] < window[1])


@pytest.mark.parametrize(
    ("since", "start", "end", "message"),
    [
        (None, "1900-01-01", "1900-01-02", "--start: expected a time from 2000-01-01 to a day ahead of now "
                                           "(2026-12-03 05:00 UTC), got '1900-01-01'"),
        (None, "1999-12-31T23:59:59+00:00", "2026-11-01", "--start: expected a time from 2000-01-01"),
        (None, "2026-11-01", "2030-01-01", "--end: expected a time from 2000-01-01 to a day ahead of now"),
        ("1d", None, "2030-01-01", "--end: expected a time from 2000-01-01"),
        (None, "2026-12-03T05:00:01", None, "--start: expected a time from 2000-01-01"),
        ("1d", None, "1999-06-01", "--end: expected a time from 2000-01-01"),
        ("10000d", None, None, "--since: expected a window starting on or after 2000-01-01, got '10000d' "
                               "(from 1999-07-17)"),
        ("1d", None, "2000-01-01T12:00", "--since: expected a window starting on or after 2000-01-01"),
        (None, "2026-11-02", "2026-11-01", "--start (2026-11-02 00:00) must be before --end (2026-11-01 00:00)"),
        ("0m", None, None, "--since: expected a positive duration"),
        (None, "yesterday", None, "--start: expected an ISO time"),
    ],
)  # fmt: skip
def test_a_collection_window_in_1900_or_2030_is_refused_naming_the_option(
    since: str | None, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(SreError) as raised:
        parse_window(since, start, end, now=NOW)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_a_collection_window_ends_now_by_default() -> None:
    start, end = parse_window("1h", None, None)
    assert abs(end - datetime.now(UTC)) < timedelta(seconds=5) and end - start == timedelta(hours=1)
