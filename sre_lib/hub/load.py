"""A bounded load generator for the hub web app: a linear ramp of requests, mostly reads, a few writes.

Traffic is shaped like a community site's: 95 % reads, and post reads concentrated on what is trending (the
newest ``TRENDING_POSTS`` posts, Zipf-distributed by rank as page popularity is), with a small share spread over
the whole archive. So the app's cache-aside Redis warms within a minute or two and then serves most reads, as
a healthy production cache does, while the archive reads keep the hot statement running on the database.

Bounded by both time and request count, and stoppable by an event, so it always ends by itself. Request k is
due when the ramp's cumulative count reaches k (rate r(t) = start + (end - start) * t / seconds); a few threads
take the next due request in turn, so a slow server lowers the achieved rate instead of piling up requests.
It speaks https through nginx with a self-signed certificate when ``verify_tls`` is False.

    python -m sre_lib.hub.load https://127.0.0.1:8443 --seconds 60 --rps 5:50 --max-requests 5000
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests
import urllib3

from sre_lib.hub.community_schema import MEMBERS_PER_COMMUNITY, SEED_COMMUNITIES, SEED_POSTS

__all__ = ["ARCHIVE_SHARE", "REQUEST_MIX", "TRENDING_POSTS", "LoadSummary", "main", "ramp_offset", "run_load"]

PROGRESS_EVERY_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 10.0
TRENDING_POSTS = 50  # the newest posts, where most post reads (and comments) go
ARCHIVE_SHARE = 0.05  # the share of post reads spread evenly over every post: mostly cache misses
_TRENDING_WEIGHTS = tuple(itertools.accumulate(1 / rank for rank in range(1, TRENDING_POSTS + 1)))  # Zipf, s = 1
CONNECTION_ERROR = "error"  # the status recorded when no HTTP answer came back


@dataclass(frozen=True)
class Planned:
    method: str
    route: str  # the web app's route template, as its metrics label it
    path: str
    payload: dict[str, Any] | None = None


def _post_id(rng: random.Random) -> int:
    """A seeded post as readers pick one: the k-th newest with Zipf odds 1/k, or any post of the archive."""
    if rng.random() < ARCHIVE_SHARE:
        return rng.randint(1, SEED_POSTS)
    rank = rng.choices(range(TRENDING_POSTS), cum_weights=_TRENDING_WEIGHTS)[0]
    return SEED_POSTS - rank  # ids grow with creation time: the newest seeded post is SEED_POSTS


def _author(rng: random.Random) -> int:
    return rng.randint(1, SEED_COMMUNITIES * MEMBERS_PER_COMMUNITY)


def _read_post(rng: random.Random) -> Planned:
    return Planned("GET", "/posts/{id}", f"/posts/{_post_id(rng)}")


def _read_community(rng: random.Random) -> Planned:
    return Planned("GET", "/communities/{id}/posts", f"/communities/{rng.randint(1, SEED_COMMUNITIES)}/posts")


def _comment(rng: random.Random) -> Planned:
    payload = {"author_id": _author(rng), "body": f"Load comment {rng.getrandbits(48):x}"}
    return Planned("POST", "/posts/{id}/comments", f"/posts/{_post_id(rng)}/comments", payload)


def _new_post(rng: random.Random) -> Planned:
    community = rng.randint(1, SEED_COMMUNITIES)
    author = (community - 1) * MEMBERS_PER_COMMUNITY + rng.randint(1, MEMBERS_PER_COMMUNITY)
    payload = {"community_id": community, "author_id": author, "title": "Load post", "body": "Posted by the load."}
    return Planned("POST", "/posts", "/posts", payload)


#: (weight, request maker): 95 % reads, 5 % writes (most visitors read; few post or comment).
REQUEST_MIX: tuple[tuple[int, Callable[[random.Random], Planned]], ...] = (
    (60, _read_post),
    (20, _read_community),
    (8, lambda rng: Planned("GET", "/communities", "/communities")),
    (7, lambda rng: Planned("GET", "/events", "/events")),
    (4, _comment),
    (1, _new_post),
)


@dataclass
class LoadSummary:
    """What a run sent and got: counts by status (``error`` = no answer) and by route, and the rate achieved."""

    requests: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    achieved_rps: float = 0.0
    by_third: tuple[int, int, int] = (0, 0, 0)  # requests sent in each third of the planned duration
    stopped_early: bool = False

    @property
    def errors(self) -> int:
        """Requests answered 5xx or not at all."""
        return sum(n for status, n in self.by_status.items() if status == CONNECTION_ERROR or status.startswith("5"))

    def line(self) -> str:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status.items()))
        return (
            f"load: {self.requests} requests in {self.seconds:.1f} s ({self.achieved_rps:.1f}/s); "
            f"status {statuses or 'none'}"
        )


def ramp_offset(k: int, seconds: float, start_rps: float, end_rps: float) -> float:
    """Seconds from the start at which request ``k`` (0-based) is due on the linear ramp.

    The ramp's cumulative count is N(t) = a t + (b - a) t² / (2 T); this solves N(t) = k for t.
    """
    a, slope = start_rps, (end_rps - start_rps) / seconds
    if abs(slope) < 1e-12:
        return k / a
    discriminant = a * a + 2 * slope * k
    if discriminant < 0:  # a falling ramp that never reaches k requests
        return math.inf
    return (math.sqrt(discriminant) - a) / slope


def run_load(
    base_url: str,
    seconds: float,
    start_rps: float,
    end_rps: float,
    max_requests: int,
    verify_tls: bool = False,
    stop: threading.Event | None = None,
    threads: int = 4,
    progress: TextIO | bool = True,
    progress_every: float = PROGRESS_EVERY_SECONDS,
    seed: int | None = None,
) -> LoadSummary:
    """Send a ramp of requests to the hub web app at ``base_url``; return what was sent and answered.

    Ends at ``seconds``, after ``max_requests``, or when ``stop`` is set, whichever comes first; a line of progress
    goes to ``progress`` (True: stderr, False: none) every ``progress_every`` seconds, and the summary at the end.
    """
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"run_load: base_url {base_url!r} must start with http:// or https://")
    if not seconds > 0 or max_requests < 1 or threads < 1:
        raise ValueError(f"run_load: seconds, max_requests and threads must be positive, got "
                         f"{seconds!r}, {max_requests!r}, {threads!r}")  # fmt: skip
    if start_rps < 0 or end_rps < 0 or start_rps + end_rps <= 0:
        raise ValueError(f"run_load: rates must be >= 0 and not both 0, got {start_rps!r}:{end_rps!r}")
    if not verify_tls:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    stop = stop or threading.Event()
    stream: TextIO | None = sys.stderr if progress is True else (progress or None)
    base_url = base_url.rstrip("/")
    weights = [weight for weight, _ in REQUEST_MIX]
    makers = [maker for _, maker in REQUEST_MIX]
    lock = threading.Lock()
    next_index = 0
    by_status: Counter[str] = Counter()
    by_route: Counter[str] = Counter()
    by_third = [0, 0, 0]
    started = time.monotonic()

    def claim() -> float | None:
        """The offset at which this thread's next request is due, or None when the run is over."""
        nonlocal next_index
        with lock:
            offset = ramp_offset(next_index, seconds, start_rps, end_rps) if next_index < max_requests else math.inf
            if offset >= seconds or time.monotonic() - started >= seconds:  # behind schedule: time still bounds it
                return None
            next_index += 1
            return offset

    def worker(worker_seed: int) -> None:
        rng = random.Random(worker_seed)
        with requests.Session() as session:
            while (offset := claim()) is not None:
                if stop.wait(max(0.0, started + offset - time.monotonic())):
                    return
                planned = rng.choices(makers, weights)[0](rng)
                try:  # verify per request: a Session's .verify gives way to REQUESTS_CA_BUNDLE in the environment
                    answer = session.request(planned.method, base_url + planned.path, json=planned.payload,
                                             timeout=REQUEST_TIMEOUT_SECONDS, verify=verify_tls)  # fmt: skip
                    status = str(answer.status_code)
                except requests.RequestException:
                    status = CONNECTION_ERROR
                third = min(2, int(3 * (time.monotonic() - started) / seconds))
                with lock:
                    by_status[status] += 1
                    by_route[f"{planned.method} {planned.route}"] += 1
                    by_third[third] += 1

    base_seed = random.randrange(2**32) if seed is None else seed
    workers = [threading.Thread(target=worker, args=(base_seed + n,), name=f"load-{n}", daemon=True)
               for n in range(threads)]  # fmt: skip
    for thread in workers:
        thread.start()
    last_line = started
    while alive := [thread for thread in workers if thread.is_alive()]:
        alive[0].join(0.2)
        now = time.monotonic()
        if stream is not None and now - last_line >= progress_every:
            last_line = now
            with lock:
                done, failed = sum(by_status.values()), by_status[CONNECTION_ERROR]
            elapsed = now - started
            target = start_rps + (end_rps - start_rps) * min(1.0, elapsed / seconds)
            print(f"load: {elapsed:.0f}/{seconds:.0f} s, {done} requests, target {target:.1f}/s, "
                  f"{failed} without answer", file=stream, flush=True)  # fmt: skip
    elapsed = time.monotonic() - started
    total = sum(by_status.values())
    summary = LoadSummary(
        requests=total,
        by_status=dict(by_status),
        by_route=dict(by_route),
        seconds=elapsed,
        achieved_rps=total / elapsed if elapsed > 0 else 0.0,
        by_third=(by_third[0], by_third[1], by_third[2]),
        stopped_early=stop.is_set(),
    )
    if stream is not None:
        print(summary.line(), file=stream, flush=True)
    return summary


def _rates(text: str) -> tuple[float, float]:
    try:
        start, _, end = text.partition(":")
        return float(start), float(end or start)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rps {text!r}: expected START:END requests per second, e.g. 5:50") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m sre_lib.hub.load URL`: run a ramp and print its summary."""
    parser = argparse.ArgumentParser(prog="python -m sre_lib.hub.load", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the app's base URL, e.g. https://127.0.0.1:8443 (nginx) or http://...:8001")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rps", type=_rates, default=(5.0, 50.0), help="START:END requests per second (5:50)")
    parser.add_argument("--max-requests", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--verify-tls", action="store_true", help="check the server's certificate")
    args = parser.parse_args(argv)
    try:
        summary = run_load(args.url, args.seconds, *args.rps, max_requests=args.max_requests,
                           verify_tls=args.verify_tls, threads=args.threads)  # fmt: skip
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1 if summary.requests and summary.errors == summary.requests else 0


if __name__ == "__main__":
    sys.exit(main())
