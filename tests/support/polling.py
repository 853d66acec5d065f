"""Wait for a condition on a live server instead of sleeping a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def eventually(check: Callable[[], Any], what: str, timeout: float = 30, every: float = 0.3) -> Any:
    """Poll ``check`` until it returns something truthy and return it; fail naming ``what`` and its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:.0f} s (last: {value!r})")
        time.sleep(every)
