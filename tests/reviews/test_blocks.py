"""Report blocks: what a manager reads is escaped, readable and in local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from sre_lib.reviews.blocks import bullet_list, local_times, money, since_times, table, verdict_banner

SYDNEY = ZoneInfo("Australia/Sydney")


def _cells(markup: str) -> list[str]:
    """The text of every <td>, in order."""
    return [part.split("</td>")[0] for part in markup.split("<td>")[1:]]


def test_table_formats_for_days_sizes_durations_ratios_p_values_and_ids() -> None:
    frame = pd.DataFrame(
        {
            "age_days": [12.9, 0.1422, None],
            "size": [56_901_632, 746_588_085.15, 2.5 * 2**40],
            "held_s": [3000.0, 5.0, 200_000.0],
            "ratio": [2.345, 1.5, 10.0],
            "p": [4.1e-75, 0.004, 0.2],
            "pid": [36606, 1, 2],
            "used": [85.0, 7.25, 100.0],
        }
    )
    formats = {"age_days": "days", "size": "bytes", "held_s": "seconds", "ratio": "ratio", "p": "p", "pid": "id",
               "used": "pct"}  # fmt: skip
    assert _cells(table(frame, formats=formats).markup) == [
        "12 d 22 h", "54.3 MB", "50 min", "2.3x", "&lt; 0.001", "36606", "85.0 %",
        "3 h 25 min", "712.0 MB", "5 s", "1.5x", "0.004", "1", "7.2 %",
        "", "2.5 TB", "55 h 33 min", "10.0x", "0.200", "2", "100.0 %",
    ]  # fmt: skip


def test_a_table_shows_numbers_for_reading() -> None:
    frame = pd.DataFrame(
        {
            "query": ["SELECT 1", "SELECT <b>2</b>"],
            "calls": [541173, 7],
            "total_ms": [29_786_528.38, 850.4],
            "share_total_time": [0.6266, 0.004877],
            "mean_ms": [55.04, 0.1234567],
            "spans_reset": [False, True],
            "blocks": pd.array([228327435, None], dtype="Int64"),
            "hidden": [1, 2],
        }
    )
    columns = {"query": "statement", "calls": "calls", "total_ms": "total time", "share_total_time": "share",
               "mean_ms": "mean ms", "spans_reset": "spans a reset", "blocks": "blocks read"}  # fmt: skip
    markup = table(frame, columns, formats={"share_total_time": "percent", "total_ms": "ms"}).markup
    assert _cells(markup) == [
        "SELECT 1", "541,173", "8 h 16 min", "62.7 %", "55.04", "no", "228,327,435",
        "SELECT &lt;b&gt;2&lt;/b&gt;", "7", "850 ms", "0.5 %", "0.1235", "yes", "",
    ]  # fmt: skip
    means = table(frame, {"mean_ms": "mean time"}, formats={"mean_ms": "ms"}).markup
    assert _cells(means) == ["55 ms", "0.123 ms"]
    assert "hidden" not in markup and "<th>spans a reset</th>" in markup


def test_a_long_table_says_how_much_is_shown_and_an_empty_one_says_none() -> None:
    frame = pd.DataFrame({"n": range(60)})
    markup = table(frame, max_rows=50).markup
    assert len(_cells(markup)) == 50 and "first 50 of 60 rows" in markup
    assert table(frame.head(0)).markup == "<p><em>none</em></p>"


def test_verdict_banner_names_the_colour_and_the_local_time() -> None:
    banner = verdict_banner("warn", "Disaster recovery <db>", "restore test overdue", datetime(2026, 11, 1, tzinfo=UTC),
                            SYDNEY).markup  # fmt: skip
    assert "<strong>AMBER</strong>" in banner and 'class="sre-verdict warning"' in banner
    assert "Disaster recovery &lt;db&gt;" in banner and "as of 2026-11-01 11:00 AEDT" in banner


def test_verdict_banner_says_when_the_data_is_stale() -> None:
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    fresh = verdict_banner("pass", "DR", "ok", as_of, SYDNEY, made_at=as_of + timedelta(hours=47)).markup
    assert "report made 2026-11-03 10:00 AEDT" in fresh and "Stale" not in fresh
    stale = verdict_banner("pass", "DR", "ok", as_of, SYDNEY, made_at=as_of + timedelta(days=29, hours=2)).markup
    assert "Stale: the newest data is 29 d 2 h old" in stale and 'class="sre-stale"' in stale
    chosen = verdict_banner("pass", "DR", "ok", as_of, SYDNEY, made_at=as_of + timedelta(days=29), as_of_chosen=True)
    assert "Stale" not in chosen.markup  # a report of a past date the reader asked for
    assert "Stale" not in verdict_banner("pass", "DR", "ok", as_of, SYDNEY).markup
    naive = verdict_banner("pass", "DR", "ok", datetime(2026, 11, 1), SYDNEY, made_at=datetime(2026, 11, 30)).markup
    assert "as of 2026-11-01 11:00 AEDT" in naive and "Stale: the newest data is 29 d old" in naive  # naive is UTC
    demo = verdict_banner("pass", "DR", "ok", as_of, SYDNEY, made_at=as_of + timedelta(days=29), demo=True).markup
    assert "Stale" not in demo and 'class="sre-demo"' in demo and "not measurements of a live one" in demo


def test_since_says_before_when_the_state_held_from_the_first_sample_read() -> None:
    frame = pd.DataFrame(
        {
            "since": [pd.Timestamp("2026-10-30 23:59", tz="UTC"), pd.Timestamp("2026-10-31 13:10", tz="UTC"), pd.NaT],
            "since_clipped": [True, False, True],
        }
    )
    assert since_times(frame, SYDNEY)["since"].tolist() == [
        "before 2026-10-31 10:59 AEDT", "2026-11-01 00:10 AEDT", ""
    ]  # fmt: skip
    assert since_times(frame.drop(columns="since_clipped"), SYDNEY)["since"].tolist()[0] == "2026-10-31 10:59 AEDT"
    assert since_times(frame.drop(columns="since"), SYDNEY).columns.tolist() == ["since_clipped"]


def test_a_column_with_nothing_in_it_is_left_out() -> None:
    frame = pd.DataFrame({"action": ["resize", "grow disk"], "caveat": ["", None], "why not": [None, "backtest"]})
    markup = table(frame).markup
    assert "<th>caveat</th>" not in markup and "<th>why not</th>" in markup and "<th>action</th>" in markup
    all_blank = table(frame[["caveat"]]).markup  # rows with nothing in them are still rows, not "none"
    assert "<th>caveat</th>" in all_blank and all_blank.count("<td></td>") == 2


def test_bullets_money_and_local_times() -> None:
    assert bullet_list(["a < b"]).markup == "<ul><li>a &lt; b</li></ul>" and bullet_list([]).markup == ""
    assert money(24.0, "USD") == "+24.00 USD" and money(-12.5, "USD") == "-12.50 USD" and money(None, "USD") == ""
    frame = pd.DataFrame({"since": [pd.Timestamp("2026-10-31 23:59", tz="UTC"), pd.NaT]})
    assert local_times(frame, SYDNEY, ["since"])["since"].tolist() == ["2026-11-01 10:59 AEDT", ""]


def test_amounts_show_as_money_in_the_currency() -> None:
    frame = pd.DataFrame({"size": ["s-2vcpu-4gb", "g-4vcpu-16gb"], "monthly_cost": [72.0, 1252.5]})
    markup = table(frame, formats={"monthly_cost": "money"}, currency="USD").markup
    assert _cells(markup) == ["s-2vcpu-4gb", "72.00 USD", "g-4vcpu-16gb", "1,252.50 USD"]
    with pytest.raises(
        ValueError,
        match=r"table formats: unknown \['euros'\]; expected \['bytes', 'days', .*'money', 'ms', 'p', 'pct', "
        r"'percent', 'ratio', 'seconds'\]",
    ):
        table(frame, formats={"monthly_cost": "euros"})


def test_a_table_layout_renders_labels_and_formats_or_its_empty_sentence() -> None:
    from sre_lib.reviews.blocks import TableLayout

    layout = TableLayout({"cost": "cost / month", "share": "share"}, formats={"cost": "money", "share": "percent"},
                         empty="Nothing here.")  # fmt: skip
    markup = layout.render(pd.DataFrame({"cost": [72.0], "share": [0.627], "hidden": [1]}), currency="USD")
    text = markup._repr_html_()
    assert ">cost / month<" in text and "72.00 USD" in text and "62.7 %" in text and "hidden" not in text
    assert layout.render(pd.DataFrame({"cost": []}))._repr_html_() == "<ul><li>Nothing here.</li></ul>"
    assert TableLayout().render(pd.DataFrame({"a": []}))._repr_html_() == "<p><em>none</em></p>"
