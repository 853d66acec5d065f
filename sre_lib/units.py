"""Numbers for people: bytes as pg_size_pretty writes them (1024-based kB, MB, GB, TB), p-values as papers do."""

from __future__ import annotations

__all__ = ["human_bytes", "human_p_value"]


def human_bytes(value: float) -> str:
    """``512 B``, ``54.3 MB``, ``1.2 TB``: the units PostgreSQL users read in pg_size_pretty."""
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TB"


def human_p_value(p_value: float) -> str:
    """``< 0.001``, ``0.004``: a p-value to three places, the smallest ones not spelled out."""
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"
