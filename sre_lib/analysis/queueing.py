"""M/M/c queueing (Erlang C): how long requests wait and how many servers keep p95 response time down.

Model: requests arrive as a Poisson stream (``rate_per_s``), each needs an exponentially distributed
service time (mean ``service_time_s``) on one of ``c`` identical queueing servers, first come first served.

What a "queueing server" is for an app server is a modelling choice, so it is a parameter
(``per_server_concurrency``): for CPU-bound request handling each vCPU serves one request at a time, so an
app Droplet with 2 vCPUs is 2 queueing servers and ``service_time_s`` is CPU-seconds per request; for a
worker-pool app (gunicorn/puma workers) use the worker count. The default, 1, treats each app server as
one queueing server. The model ignores the network, the database and the proxy: its p95 is the app tier's
share of the latency only.

An unstable queue (offered load >= servers) has no steady state: ``erlang_c`` returns 1 (every request
waits) and waits and percentiles are ``inf``; nothing raises for it. Invalid input (negative or NaN rate,
zero servers) raises ``DataError``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd
from scipy.optimize import brentq

from sre_lib.errors import DataError

# Above this many queueing servers the search gives up (a target too close to the bare service time).
MAX_QUEUE_SERVERS = 100_000


def _count(name: str, value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value != int(value)
        or value < 1
    ):
        raise DataError(f"{name}: expected a whole number of servers >= 1, got {value!r}")
    return int(value)


def _nonnegative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise DataError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def _positive(name: str, value: object) -> float:
    number = _nonnegative(name, value)
    if number == 0:
        raise DataError(f"{name}: expected a number > 0, got {value!r}")
    return number


def erlang_b(servers: int, offered_load_erlangs: float) -> float:
    """Blocking probability of an M/M/c/c loss system, by the numerically stable recursion.

    B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)): no factorials or powers, so it works for thousands of servers.
    """
    c = _count("servers", servers)
    load = _nonnegative("offered_load_erlangs", offered_load_erlangs)
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, offered_load_erlangs: float) -> float:
    """Probability that a request has to wait in an M/M/c queue (Erlang C).

    C = B / (1 - rho (1 - B)) with B the Erlang B value and rho = A / c. For A >= c the queue is unstable
    and every request eventually waits: returns 1.0.
    """
    c = _count("servers", servers)
    load = _nonnegative("offered_load_erlangs", offered_load_erlangs)
    if load >= c:
        return 1.0
    b = erlang_b(c, load)
    rho = load / c
    return b / (1.0 - rho * (1.0 - b))


def _sum_of_exponentials_sf(t: float, rate_a: float, rate_b: float) -> float:
    """P(X + Y > t) for independent exponentials with rates a and b, without cancellation when a ~ b."""
    low, high = min(rate_a, rate_b), max(rate_a, rate_b)
    gap = high - low
    spread = t if gap == 0 else -math.expm1(-gap * t) / gap
    return math.exp(-low * t) * (1.0 + low * spread)


@dataclass(frozen=True)
class MmcQueue:
    """An M/M/c FCFS queue; its properties are the steady-state answers (``inf`` when unstable)."""

    rate_per_s: float
    service_time_s: float
    servers: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_per_s", _nonnegative("rate_per_s", self.rate_per_s))
        object.__setattr__(self, "service_time_s", _positive("service_time_s", self.service_time_s))
        object.__setattr__(self, "servers", _count("servers", self.servers))

    @property
    def offered_load(self) -> float:
        """A = rate x service time, in erlangs (busy servers on average)."""
        return self.rate_per_s * self.service_time_s

    @property
    def utilisation(self) -> float:
        """rho = A / c; 1 or more means the queue grows without bound."""
        return self.offered_load / self.servers

    @property
    def stable(self) -> bool:
        return self.offered_load < self.servers

    @property
    def p_wait(self) -> float:
        return erlang_c(self.servers, self.offered_load)

    @property
    def mean_wait_s(self) -> float:
        if not self.stable:
            return math.inf
        return self.p_wait / (self.servers / self.service_time_s - self.rate_per_s)

    @property
    def mean_response_s(self) -> float:
        return self.mean_wait_s + self.service_time_s

    def response_time_sf(self, t: float) -> float:
        """P(response time > t): no wait with probability 1 - C, else an Exp(c mu - lambda) wait, plus service."""
        if t < 0:
            return 1.0
        if not self.stable:
            return 1.0
        mu = 1.0 / self.service_time_s
        theta = self.servers * mu - self.rate_per_s
        c = self.p_wait
        return (1.0 - c) * math.exp(-mu * t) + c * _sum_of_exponentials_sf(t, theta, mu)

    def response_time_quantile(self, q: float) -> float:
        """The q-quantile of response time in seconds (root of P(T > t) = 1 - q), ``inf`` if unstable."""
        if not 0 < q < 1:
            raise ValueError(f"q: expected a probability strictly between 0 and 1, got {q!r}")
        if not self.stable:
            return math.inf
        tail = 1.0 - q
        high = self.service_time_s
        while self.response_time_sf(high) > tail:
            high *= 2.0
        return float(brentq(lambda t: self.response_time_sf(t) - tail, 0.0, high, xtol=1e-12, rtol=1e-10))

    @property
    def p95_response_s(self) -> float:
        return self.response_time_quantile(0.95)

    def __repr__(self) -> str:
        return (
            f"MmcQueue(rate={self.rate_per_s:g}/s, service={self.service_time_s * 1e3:.4g} ms, c={self.servers}, "
            f"rho={self.utilisation:.3f}, P(wait)={self.p_wait:.4g}, p95={self.p95_response_s * 1e3:.4g} ms)"
        )


def p95_response_time(rate_per_s: float, service_time_s: float, servers: int) -> float:
    """p95 response time (seconds) of an M/M/c queue; ``inf`` if the load is at or above ``servers``."""
    return MmcQueue(rate_per_s, service_time_s, servers).p95_response_s


def servers_for_p95(
    rate_per_s: float,
    service_time_s: float,
    target_p95_s: float,
    per_server_concurrency: int = 1,
) -> int:
    """Smallest number of app servers, each ``per_server_concurrency`` queueing servers, with p95 <= target.

    p95 falls as servers are added, towards the p95 of the service time alone (ln 20 x service time); a
    target at or below that cannot be met by any number of servers and raises DataError.
    """
    rate = _nonnegative("rate_per_s", rate_per_s)
    service = _positive("service_time_s", service_time_s)
    target = _positive("target_p95_s", target_p95_s)
    per_server = _count("per_server_concurrency", per_server_concurrency)
    floor = service * math.log(20.0)
    if target <= floor:
        raise DataError(
            f"target_p95_s: {target:g} s is at or below the p95 of the service time alone ({floor:.4g} s): "
            "no number of servers reaches it"
        )

    def meets(app_servers: int) -> bool:
        return p95_response_time(rate, service, app_servers * per_server) <= target

    low = max(1, math.floor(rate * service / per_server))  # the queue needs more than A queueing servers
    if meets(low):
        return low
    high = low * 2
    while not meets(high):  # gallop up, then bisect between the last failing and the first passing count
        low, high = high, high * 2
        if high * per_server > MAX_QUEUE_SERVERS:
            raise DataError(f"target_p95_s: {target:g} s needs more than {MAX_QUEUE_SERVERS} queueing servers")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if meets(middle) else (middle, high)
    return high


def mmc_table(rate_per_s: float, service_time_s: float, servers: range | list[int]) -> pd.DataFrame:
    """One row per server count: utilisation, P(wait), mean wait, mean and p95 response time (ms)."""
    rows = []
    for c in servers:
        queue = MmcQueue(rate_per_s, service_time_s, c)
        rows.append(
            {
                "servers": queue.servers,
                "utilisation": queue.utilisation,
                "p_wait": queue.p_wait,
                "mean_wait_ms": queue.mean_wait_s * 1e3,
                "mean_response_ms": queue.mean_response_s * 1e3,
                "p95_response_ms": queue.p95_response_s * 1e3,
            }
        )
    return pd.DataFrame(rows).set_index("servers")
