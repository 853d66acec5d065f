"""The DR report's check table: its headings label the columns of ``DrReport.to_frame()``."""

from __future__ import annotations

from pathlib import Path

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.dr_readiness import dr_readiness
from sre_lib.reviews.dr_tables import DR_CHECKS_LAYOUT
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def test_the_check_table_labels_every_column_it_shows(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        report = dr_readiness(con, CONFIG)
    finally:
        con.close()
    frame = report.to_frame()
    assert set(DR_CHECKS_LAYOUT.labels) <= set(frame.columns)
    markup = DR_CHECKS_LAYOUT.render(frame)._repr_html_()
    for label in ("check", "result", "evidence", "what to do"):
        assert f">{label}<" in markup
    assert all(check.title in markup for check in report.checks)
