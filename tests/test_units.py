"""Sizes read as pg_size_pretty writes them."""

from __future__ import annotations

import pytest

from sre_lib.units import human_bytes, human_p_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 kB"),
        (56_901_632, "54.3 MB"),
        (3 * 2**30, "3.0 GB"),
        (1.5 * 2**40, "1.5 TB"),
        (2048 * 2**40, "2,048.0 TB"),
        (-5 * 2**20, "-5.0 MB"),
    ],
)
def test_human_bytes(value: float, text: str) -> None:
    assert human_bytes(value) == text


@pytest.mark.parametrize(("p", "text"), [(4.1e-75, "< 0.001"), (0.00099, "< 0.001"), (0.001, "0.001"), (0.2, "0.200")])
def test_human_p_value(p: float, text: str) -> None:
    assert human_p_value(p) == text
