"""Durations and instants as users type them, and durations as reports print them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from sre_lib.durations import human_duration, parse_duration, parse_instant, rough_duration, to_utc
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
