"""The hub web app against real PostgreSQL 15 and Redis, served by a real waitress on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from support.servers import (
    PG_BIN,
    PostgresServer,
    RedisServer,
    _as_postgres,
    free_port,
    postgres_server,
    redis_server,
    wait_for_port,
)

from sre_lib.hub.community_schema import HOT_INDEX, HOT_INDEX_DDL, prepare_database, seeded_counts
from sre_lib.hub.webapp import DURATION_BUCKETS, HubApp, WebappSettings, make_app, serving_in_thread

pytestmark = pytest.mark.servers

COMMUNITIES, POSTS, COMMENTS = 12, 4_000, 100_000


@dataclass
class Running:
    app: HubApp
    url: str

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def post(self, path: str, payload: object) -> requests.Response:
        return requests.post(self.url + path, json=payload, timeout=10)

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, keyed by (sample name, sorted labels)."""
        text = self.get("/metrics").text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@contextlib.contextmanager
def running(settings: WebappSettings) -> Iterator[Running]:
    app = make_app(settings)
    try:
        with serving_in_thread(app) as url:
            yield Running(app, url)
    finally:
        app.close()


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        prepare_database(server.dsn(), communities=COMMUNITIES, posts=POSTS, comments=COMMENTS)
        yield server


@pytest.fixture(scope="module")
def cache() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def hub(pg: PostgresServer, cache: RedisServer) -> Iterator[Running]:
    with running(WebappSettings("app-1", pg.dsn(), cache.url, cache_ttl_seconds=60, pool_size=4)) as app:
        yield app


def _hot_statement_stats(pg: PostgresServer) -> tuple[int, float]:
    """(calls, total ms) of the hot statement in pg_stat_statements."""
    rows = pg.execute(
        "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8 FROM pg_stat_statements "
        "WHERE query LIKE 'SELECT id, author_id, body, created_at FROM comments WHERE post_id = $1%'"
    )
    return rows[0]


def _keyspace_hits(cache: RedisServer) -> int:
    import redis

    return int(redis.Redis.from_url(cache.url).info("stats")["keyspace_hits"])


def test_prepare_database_seeds_once(pg: PostgresServer) -> None:
    counts = seeded_counts(pg.dsn())
    assert (counts["communities"], counts["posts"], counts["comments"]) == (COMMUNITIES, POSTS, COMMENTS)
    prepare_database(pg.dsn(), communities=COMMUNITIES, posts=POSTS, comments=COMMENTS)
    assert seeded_counts(pg.dsn()) == counts
    indexes = {row[0] for row in pg.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'comments'")}
    assert HOT_INDEX in indexes
    foreign_keys = pg.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")[0][0]
    assert foreign_keys == 6  # added after the seed, once


def test_the_seeded_schema_has_no_redundant_index(pg: PostgresServer) -> None:
    """The healthy hub carries no index debt: the slow-queries report's own check finds no covered index."""
    import pandas as pd

    from sre_lib.analysis.postgres.index_definitions import find_duplicate_indexes

    rows = pg.execute(
        "SELECT current_database(), i.schemaname, i.tablename, i.indexname, i.indexdef, x.indisunique, "
        "x.indisprimary, x.indisvalid, pg_relation_size(x.indexrelid) FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.schemaname = 'public'"
    )
    columns = ["datname", "schemaname", "relname", "indexrelname", "indexdef", "is_unique", "is_primary", "is_valid",
               "index_bytes"]  # fmt: skip
    indexes = pd.DataFrame(rows, columns=columns)
    assert {"members_community_id_username_key", HOT_INDEX} <= set(indexes["indexrelname"])
    assert find_duplicate_indexes(indexes).empty


def test_routes_answer_with_the_seeded_data(hub: Running, pg: PostgresServer) -> None:
    communities = hub.get("/communities").json()
    assert [c["id"] for c in communities] == list(range(1, COMMUNITIES + 1))

    posts = hub.get("/communities/3/posts").json()
    owners = {row[0] for row in pg.execute(f"SELECT DISTINCT community_id FROM posts WHERE id IN "
                                            f"({','.join(str(p['id']) for p in posts)})")}  # fmt: skip
    assert posts and owners == {3}
    assert [p["created_at"] for p in posts] == sorted((p["created_at"] for p in posts), reverse=True)

    post = hub.get("/posts/17").json()
    in_database = pg.execute("SELECT count(*) FROM comments WHERE post_id = 17")[0][0]
    assert post["id"] == 17 and len(post["comments"]) == min(50, in_database) > 0

    events = hub.get("/events").json()
    assert events and [e["starts_at"] for e in events] == sorted(e["starts_at"] for e in events)

    assert hub.get("/posts/999999").status_code == 404
    assert hub.get("/communities/999/posts").status_code == 404
    assert hub.get("/no/such/page").status_code == 404
    assert requests.delete(hub.url + "/posts/1", timeout=10).status_code == 405


def test_a_second_read_is_served_from_redis(hub: Running, pg: PostgresServer, cache: RedisServer) -> None:
    calls_before, _ = _hot_statement_stats(pg)
    hits_before = _keyspace_hits(cache)
    first = hub.get("/posts/23")
    second = hub.get("/posts/23")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    assert _hot_statement_stats(pg)[0] == calls_before + 1
    assert _keyspace_hits(cache) > hits_before


def test_a_write_invalidates_the_cached_read(hub: Running) -> None:
    hub.get("/posts/31")
    assert hub.get("/posts/31").headers["X-Cache"] == "hit"
    created = hub.post("/posts/31/comments", {"author_id": 5, "body": "a fresh comment"})
    assert created.status_code == 201
    after = hub.get("/posts/31")
    assert after.headers["X-Cache"] == "miss"
    assert created.json()["id"] in {c["id"] for c in after.json()["comments"]} or len(after.json()["comments"]) == 50

    hub.get("/communities/4/posts")
    post = hub.post("/posts", {"community_id": 4, "author_id": 7, "title": "New", "body": "Hello"})
    assert post.status_code == 201
    listing = hub.get("/communities/4/posts")
    assert listing.headers["X-Cache"] == "miss" and listing.json()[0]["id"] == post.json()["id"]


def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(hub: Running, pg: PostgresServer) -> None:
    before = seeded_counts(pg.dsn())
    missing = hub.post("/posts/5/comments", {"author_id": 5})
    assert missing.status_code == 400 and "'body'" in missing.json()["error"]
    assert "/posts/5/comments" in missing.json()["error"]
    not_json = requests.post(hub.url + "/posts", data=b"{oops", timeout=10)
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    unknown = hub.post("/posts/999999/comments", {"author_id": 5, "body": "x"})
    assert unknown.status_code == 404 and "999999" in unknown.json()["error"]
    no_author = hub.post("/posts/5/comments", {"author_id": 999999, "body": "x"})
    assert no_author.status_code == 404 and "author 999999" in no_author.json()["error"]
    assert seeded_counts(pg.dsn()) == before


def test_metrics_count_requests_by_handler_and_status(hub: Running) -> None:
    before = hub.samples()
    for post_id in (41, 42, 43):
        assert hub.get(f"/posts/{post_id}").status_code == 200
    hub.get("/posts/999998")
    hub.get("/not/a/route/1")
    after = hub.samples()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("http_requests_total", method="GET", handler="/posts/{id}", status="200") == 3
    assert delta("http_requests_total", method="GET", handler="/posts/{id}", status="404") == 1
    assert delta("http_requests_total", method="GET", handler="unmatched", status="404") == 1
    assert delta("http_request_duration_seconds_count", handler="/posts/{id}") == 4
    assert delta("http_request_duration_seconds_bucket", handler="/posts/{id}", le="+Inf") == 4
    buckets = {dict(labels)["le"] for name, labels in after if name == "http_request_duration_seconds_bucket"}
    assert {"0.005", "10.0", "+Inf"} <= buckets and len(buckets) == len(DURATION_BUCKETS) + 1
    handlers = {dict(labels).get("handler") for name, labels in after if name == "http_requests_total"}
    assert not any(h and any(ch.isdigit() for ch in h) for h in handlers), handlers  # templates, never raw paths


def test_an_unreachable_database_gives_counted_503s(cache: RedisServer) -> None:
    nowhere = f"host=127.0.0.1 port={free_port()} user=postgres dbname=postgres password=not-shown-anywhere"
    settings = WebappSettings("app-down", nowhere, cache.url, pool_timeout_seconds=0.5)
    with running(settings) as down:
        answer = down.get("/posts/77")
        assert answer.status_code == 503 and answer.json() == {"error": "database unavailable"}
        health = down.get("/healthz")
        assert health.status_code == 503 and health.json()["failing"] == ["postgresql"]
        samples = down.samples()
        assert samples[("http_requests_total", (("handler", "/posts/{id}"), ("method", "GET"), ("status", "503")))]
        assert "not-shown-anywhere" not in answer.text + health.text


def test_a_stopped_database_gives_503s_and_a_restart_recovers(cache: RedisServer) -> None:
    with postgres_server() as own:
        prepare_database(own.dsn(), communities=2, posts=20, comments=200)
        settings = WebappSettings("app-restart", own.dsn(), cache.url, pool_timeout_seconds=0.5)
        with running(settings) as app:
            assert app.get("/posts/3").status_code == 200
            subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(own.datadir), "-m", "fast", "stop"]),
                           check=True, capture_output=True)  # fmt: skip
            assert app.get("/posts/4").status_code == 503 and app.get("/healthz").status_code == 503
            restarted = subprocess.Popen(_as_postgres([str(PG_BIN / "postgres"), "-D", str(own.datadir)]),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                deadline = time.monotonic() + 20
                while (answer := app.get("/posts/5")).status_code != 200:
                    assert time.monotonic() < deadline, answer.text
                    time.sleep(0.2)
                samples = app.samples()
            finally:
                restarted.terminate()
                restarted.wait(10)

    def answered(status: str) -> float:
        labels = (("handler", "/posts/{id}"), ("method", "GET"), ("status", status))
        return samples.get(("http_requests_total", labels), 0.0)

    assert answered("200") == 2 and answered("503") >= 1


def test_healthz_names_an_unreachable_redis_and_reads_still_work(pg: PostgresServer) -> None:
    settings = WebappSettings("app-nocache", pg.dsn(), f"redis://127.0.0.1:{free_port()}/0", store_timeout_seconds=0.3)
    with running(settings) as nocache:
        assert nocache.get("/healthz").json()["failing"] == ["redis"]
        assert nocache.get("/healthz").status_code == 503
        read = nocache.get("/posts/9")
        assert read.status_code == 200 and read.headers["X-Cache"] == "miss"


def test_healthz_is_200_when_both_stores_answer(hub: Running) -> None:
    health = hub.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "failing": [], "name": "app-1"}


def test_dropping_the_hot_index_makes_the_hot_statement_slower(hub: Running, pg: PostgresServer) -> None:
    def per_call_ms(post_ids: range) -> float:
        calls, total = _hot_statement_stats(pg)
        for post_id in post_ids:  # distinct posts: every read misses the cache and runs the statement
            assert hub.get(f"/posts/{post_id}").status_code == 200
        calls_after, total_after = _hot_statement_stats(pg)
        assert calls_after - calls == len(post_ids)
        return (total_after - total) / len(post_ids)

    with_index = per_call_ms(range(1000, 1030))
    pg.execute(f"DROP INDEX {HOT_INDEX}")
    try:
        without_index = per_call_ms(range(2000, 2030))
    finally:
        pg.execute(HOT_INDEX_DDL)
    assert without_index > 5 * with_index, (with_index, without_index)


def test_the_module_runs_under_waitress_and_logs_no_secret(pg: PostgresServer, cache: RedisServer) -> None:
    port = free_port()
    secret = "pg-password-in-the-dsn"
    env = {**os.environ, "HUB_PG_DSN": pg.dsn(password=secret), "HUB_REDIS_URL": cache.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "sre_lib.hub.webapp", "--name", "app-7", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, process, what="hub web app")
        deadline = time.monotonic() + 10
        while (health := requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)).status_code != 200:
            assert time.monotonic() < deadline, health.text
            time.sleep(0.1)
        assert health.json()["name"] == "app-7"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert (
        [line for line in output.splitlines() if "listening" in line or "Serving" in line]
        == [line for line in output.splitlines() if line.endswith(f"hub app app-7 listening on 127.0.0.1:{port}")]
        != []
    )
    assert secret not in output and cache.password not in output


def test_the_module_names_a_missing_environment_variable() -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"HUB_PG_DSN", "HUB_REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "-m", "sre_lib.hub.webapp", "--name", "app-8", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "hub app app-8: environment variable(s) HUB_PG_DSN, HUB_REDIS_URL not set"
