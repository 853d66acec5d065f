"""Synthetic daily signals shared by the forecast and threshold tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def daily(values: np.ndarray, start: str = "2026-03-01") -> pd.DataFrame:
    """A daily signal (date, value) from ``start``."""
    return pd.DataFrame({"date": pd.date_range(start, periods=len(values), freq="D"), "value": values})


def trend_series(n: int, slope: float, level: float = 30.0, noise: float = 0.5, weekly: float = 0.0, seed: int = 0):
    """``level + slope * t`` with Gaussian noise and, optionally, a weekend dip of ``weekly``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + slope * t + weekly * np.where(t % 7 >= 5, -1.0, 0.3) + rng.normal(0, noise, n)
