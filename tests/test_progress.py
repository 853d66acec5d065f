"""Progress on a terminal (a live bar) and in a log (plain lines now and then)."""

from __future__ import annotations

import io
import os
import re

from sre_lib.progress import ProgressReporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_plain_line_now_and_then_and_one_at_the_end() -> None:
    stream, clock = io.StringIO(), FakeClock()
    with ProgressReporter("prometheus", unit="chunk", stream=stream, interval_seconds=10, clock=clock) as progress:
        progress.update(0, 15)  # nothing done yet: no line
        for done in range(1, 16):
            clock.now += 3
            progress.update(done, 15)
        progress.update(15, 15)  # told twice that it is done: still one last line
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    shown = [int(re.fullmatch(r"sre: prometheus: (\d+)/15 chunks \(\d+%\) after \d+ s", line)[1]) for line in lines]
    # the first chunk, then one line once 10 s have passed since the last line (every 4th chunk), and the end
    assert shown == [1, 5, 9, 13, 15]
    assert lines[-1] == "sre: prometheus: 15/15 chunks (100%) after 45 s"


def test_a_terminal_gets_a_live_bar_that_is_cleared_at_the_end() -> None:
    leader, follower = os.openpty()
    terminal = os.fdopen(follower, "w")
    try:
        with ProgressReporter("prometheus", unit="chunk", stream=terminal) as progress:
            progress.update(1, 4)
            progress.update(2, 4)
        terminal.flush()
        drawn = _read_until(leader, "2/4")
    finally:
        terminal.close()
        os.close(leader)
    assert "prometheus:  50%" in drawn and "2/4" in drawn and "\r" in drawn  # redrawn in place
    assert "sre: prometheus" not in drawn


def _read_until(fd: int, text: str, timeout_seconds: float = 10.0) -> str:
    """What the terminal shows, read until ``text`` is in it: a pty hands written bytes on asynchronously, so
    one read may return only the first of them on a busy machine."""
    import select
    import time

    seen, deadline = b"", time.monotonic() + timeout_seconds
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 65536)
    return seen.decode()
