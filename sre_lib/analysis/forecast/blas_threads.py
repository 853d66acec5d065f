"""One BLAS thread while statsmodels fits: tiny optimisations run ~10x faster without OpenBLAS's spinning threads."""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator
from typing import Any

_BLAS_SYMBOLS = [
    (f"{prefix}_set_num_threads{suffix}", f"{prefix}_get_num_threads{suffix}")
    for prefix in ("scipy_openblas", "openblas")
    for suffix in ("64_", "")
]


@functools.cache
def _blas_controls() -> tuple[tuple[Any, Any], ...]:
    """(set, get) thread-count functions of every OpenBLAS loaded in this process; none off Linux."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return ()
    controls = []
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _BLAS_SYMBOLS:
            setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
            if setter is not None and getter is not None:
                controls.append((setter, getter))
                break
    return tuple(controls)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run statsmodels' tiny optimisations on one BLAS thread.

    Why: L-BFGS-B on 2-5 parameters gains nothing from BLAS threads, but OpenBLAS's spinning threads make every
    fit ~10x slower as soon as the cores are busy (other work, or our own worker processes).
    """
    controls = _blas_controls()
    before = [getter() for _setter, getter in controls]
    for setter, _getter in controls:
        setter(1)
    try:
        yield
    finally:
        for (setter, _getter), count in zip(controls, before, strict=True):
            setter(count)
