"""Progress of long work on stderr: a live bar on a terminal, plain lines in a log.

A scheduled job's output goes to a file or the journal, where a tqdm bar is a stream of carriage returns
(one redraw per update, all on one "line"). There the progress is a line now and then instead:
``sre: prometheus: 6/15 chunks (40%) after 12 s``, and always one line when the work is done.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

PLAIN_INTERVAL_SECONDS = 10.0  # at most one plain line this often (the last one is always written)


class ProgressReporter:
    """Advanced by a ``progress(done, total)`` callback (``update``); a context manager that closes the bar."""

    def __init__(
        self,
        description: str,
        unit: str,
        stream: TextIO | None = None,
        interval_seconds: float = PLAIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.started = clock()
        self.last_line: float | None = None
        self.last_done = 0
        self.bar: Any = None
        self.live = _is_terminal(self.stream)

    def update(self, done: int, total: int) -> None:
        if self.live:
            self._draw(done, total)
            return
        now = self.clock()
        finished = done >= total
        due = finished or self.last_line is None or now - self.last_line >= self.interval_seconds
        if done <= self.last_done or not due:
            return
        share = f" ({done / total:.0%})" if total else ""
        print(
            f"sre: {self.description}: {done:,}/{total:,} {self.unit}s{share} after {now - self.started:.0f} s",
            file=self.stream,
            flush=True,
        )
        self.last_line, self.last_done = now, done

    def _draw(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit=self.unit, desc=self.description, leave=False, file=self.stream)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
