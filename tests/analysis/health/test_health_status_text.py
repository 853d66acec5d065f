"""Status in words (analysis.health.status_text): a reading is rounded but never across its level."""

from __future__ import annotations

import pytest

from sre_lib.analysis import health


@pytest.mark.parametrize(
    ("value", "level", "shown"),
    [(33.2063, 70, "33.2"), (2.7661, 90, "2.8"), (69.96, 70, "69.96"), (69.9999, 70, "69.9999"), (70.0, 70, "70"),
     (85.04, 85, "85.04"), (77.7907, 80, "77.8"), (120.0, 80, "120")],
)  # fmt: skip
def test_a_reading_is_rounded_but_never_across_its_level(value: float, level: float, shown: str) -> None:
    assert health.reading(value, level) == shown
