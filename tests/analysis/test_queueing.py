"""M/M/c queueing: published Erlang tables, closed forms, a Monte-Carlo queue, and bad input."""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from sre_lib.analysis.queueing import (
    MmcQueue,
    erlang_b,
    erlang_c,
    mmc_table,
    p95_response_time,
    servers_for_p95,
)
from sre_lib.errors import DataError


def erlang_c_log_space(servers: int, load: float) -> float:
    """An independent Erlang C: the textbook sum of A^k / k!, evaluated in log space."""
    k = np.arange(servers)
    log_terms = k * math.log(load) - gammaln(k + 1)
    log_last = servers * math.log(load) - gammaln(servers + 1) + math.log(servers / (servers - load))
    return math.exp(log_last - logsumexp(np.append(log_terms, log_last)))


@pytest.mark.parametrize(
    ("servers", "load", "printed", "digits"),
    [(26, 20.0, 0.1434, 4), (30, 20.0, 0.02495, 5), (55, 48.0, 0.2387, 4)],
)
def test_erlang_c_matches_published_tables(servers: int, load: float, printed: float, digits: int) -> None:
    assert round(erlang_c(servers, load), digits) == printed


def test_erlang_b_matches_published_table_and_one_server_closed_form() -> None:
    assert round(erlang_b(10, 10.0), 4) == 0.2146  # 10 erlangs offered to 10 trunks
    assert erlang_b(1, 3.0) == pytest.approx(3.0 / 4.0)
    assert erlang_c(1, 0.3) == pytest.approx(0.3)  # M/M/1: P(wait) = rho


@pytest.mark.parametrize(("servers", "load"), [(5, 2.5), (40, 37.0), (800, 780.0), (5000, 4900.0)])
def test_erlang_c_is_stable_for_large_server_counts(servers: int, load: float) -> None:
    value = erlang_c(servers, load)
    assert 0.0 < value < 1.0
    assert value == pytest.approx(erlang_c_log_space(servers, load), rel=1e-9)


def test_unstable_queue_is_a_clear_result_not_a_crash() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert erlang_c(10, 12.5) == 1.0
    queue = MmcQueue(rate_per_s=120.0, service_time_s=0.1, servers=10)
    assert not queue.stable
    assert queue.mean_wait_s == math.inf
    assert queue.p95_response_s == math.inf
    assert p95_response_time(120.0, 0.1, 10) == math.inf
    assert "p95=inf" in repr(queue)


def test_one_server_matches_the_m_m_1_closed_form() -> None:
    # M/M/1 response time is exponential with rate mu - lambda.
    queue = MmcQueue(rate_per_s=0.5, service_time_s=1.0, servers=1)
    for t in (0.1, 1.0, 4.0, 12.0):
        assert queue.response_time_sf(t) == pytest.approx(math.exp(-0.5 * t), rel=1e-12)
    assert queue.p95_response_s == pytest.approx(math.log(20.0) / 0.5, rel=1e-9)
    assert queue.mean_response_s == pytest.approx(2.0)


def test_response_time_is_continuous_where_wait_and_service_rates_meet() -> None:
    # c = 2, mu = 1, lambda = 1: the wait's rate c mu - lambda equals mu (the formula's special case).
    at = MmcQueue(1.0, 1.0, 2)
    near = MmcQueue(1.0 + 1e-7, 1.0, 2)
    for t in (0.5, 2.0, 8.0):
        assert at.response_time_sf(t) == pytest.approx(near.response_time_sf(t), rel=1e-5)
    assert at.response_time_sf(0.0) == pytest.approx(1.0)


def test_p95_falls_with_every_added_server_towards_the_bare_service_time() -> None:
    values = [p95_response_time(40.0, 0.05, c) for c in range(3, 15)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[-1] == pytest.approx(0.05 * math.log(20.0), rel=1e-3)


def simulate_mmc(rate: float, service: float, servers: int, customers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """FCFS M/M/c by brute force: each arrival takes the earliest-free server. (response times, waited)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, customers)).tolist()
    services = rng.exponential(service, customers).tolist()
    free = [0.0] * servers
    response = np.empty(customers)
    waited = np.empty(customers, dtype=bool)
    for i, (arrive, work) in enumerate(zip(arrivals, services, strict=True)):
        start = max(arrive, heapq.heappop(free))
        heapq.heappush(free, start + work)
        response[i] = start + work - arrive
        waited[i] = start > arrive
    warm = customers // 20
    return response[warm:], waited[warm:]


@pytest.mark.parametrize(("rate", "servers"), [(2.4, 3), (6.0, 8)])
def test_analytic_answers_agree_with_a_monte_carlo_queue(rate: float, servers: int) -> None:
    response, waited = simulate_mmc(rate, 1.0, servers, 150_000, seed=7)
    queue = MmcQueue(rate, 1.0, servers)
    assert waited.mean() == pytest.approx(queue.p_wait, abs=0.02)
    assert response.mean() == pytest.approx(queue.mean_response_s, rel=0.05)
    assert np.quantile(response, 0.95) == pytest.approx(queue.p95_response_s, rel=0.05)


def test_servers_for_p95_against_the_m_m_1_bound() -> None:
    # One server (mu = 10/s) meets p95 <= 0.5 s while ln 20 / (10 - lambda) <= 0.5, i.e. lambda <= 4.009.
    assert servers_for_p95(4.0, 0.1, 0.5) == 1
    assert servers_for_p95(4.1, 0.1, 0.5) >= 2


def test_servers_for_p95_is_the_smallest_count_that_meets_the_target() -> None:
    rate, service, target = 900.0, 0.02, 0.12
    c = servers_for_p95(rate, service, target)
    assert c > rate * service
    assert p95_response_time(rate, service, c) <= target < p95_response_time(rate, service, c - 1)


def test_servers_for_p95_counts_app_servers_of_several_queueing_servers() -> None:
    rate, service, target = 900.0, 0.02, 0.12
    single = servers_for_p95(rate, service, target)
    for per_server in (2, 4, 8):
        assert servers_for_p95(rate, service, target, per_server_concurrency=per_server) == math.ceil(
            single / per_server
        )


def test_a_target_below_the_service_time_alone_is_refused() -> None:
    with pytest.raises(DataError, match="service time alone"):
        servers_for_p95(10.0, 0.1, 0.25)  # p95 of Exp(0.1 s) alone is 0.30 s


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: erlang_c(0, 1.0), "servers"),
        (lambda: erlang_c(2.5, 1.0), "servers"),
        (lambda: erlang_c(3, -1.0), "offered_load"),
        (lambda: erlang_c(3, math.nan), "offered_load"),
        (lambda: MmcQueue(-1.0, 0.1, 2), "rate_per_s"),
        (lambda: MmcQueue(1.0, 0.0, 2), "service_time_s"),
        (lambda: servers_for_p95(1.0, 0.1, 0.5, per_server_concurrency=0), "per_server_concurrency"),
    ],
)
def test_bad_input_is_a_data_error_naming_the_argument(call, match: str) -> None:
    with pytest.raises(DataError, match=match):
        call()


def test_a_quantile_outside_zero_to_one_is_a_value_error() -> None:
    """q is the caller's argument, not measured data: a wrong one is a ValueError, not a DataError."""
    with pytest.raises(ValueError, match="q: expected a probability") as raised:
        MmcQueue(1.0, 0.1, 2).response_time_quantile(1.0)
    assert not isinstance(raised.value, DataError)


def test_table_reads_well_in_a_notebook() -> None:
    table = mmc_table(2.4, 1.0, range(3, 7))
    assert list(table.index) == [3, 4, 5, 6]
    assert table["p_wait"].is_monotonic_decreasing
    assert table["p95_response_ms"].is_monotonic_decreasing
    assert table.loc[3, "utilisation"] == pytest.approx(0.8)
