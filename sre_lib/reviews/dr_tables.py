"""The DR readiness report's check table: headings for ``DrReport.to_frame()``, kept out of the notebook."""

from __future__ import annotations

from sre_lib.reviews.blocks import TableLayout

DR_CHECKS_LAYOUT = TableLayout({"title": "check", "status": "result", "finding": "evidence", "action": "what to do"})
