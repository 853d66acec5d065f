"""The Community Hub web app: a small plain-WSGI app over PostgreSQL and Redis, served by waitress.

Reads are cache-aside in Redis with a TTL of minutes, as a production cache keeps popular pages (values of a few
kilobytes; the hub's small ``maxmemory`` holds the popular set, and evicts under pressure); writes go to
PostgreSQL and invalidate the keys they change. Every request is counted in the conventional
Prometheus metrics ``http_requests_total{method,handler,status}`` and ``http_request_duration_seconds{handler}``,
where ``handler`` is the route template (``/posts/{id}``), never the raw path, so cardinality stays bounded.
A failing database gives a JSON 503 and is counted; no request ever shows a traceback.

    python -m sre_lib.hub.webapp --name app-1 --host 127.0.0.1 --port 8001

reads the conninfo from ``HUB_PG_DSN`` and the Redis URL from ``HUB_REDIS_URL`` (both may hold a password: they
are never printed or logged).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from sre_lib.hub.community_schema import HOT_STATEMENT
from sre_lib.secrets import environment_secrets, redact

__all__ = [
    "DURATION_BUCKETS",
    "ROUTES",
    "HubApp",
    "WebappSettings",
    "main",
    "make_app",
    "serve",
    "serving_in_thread",
]

log = logging.getLogger("sre_lib.hub.webapp")

#: Latency buckets from 5 ms to 10 s (Prometheus client's defaults, which already span exactly that).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
UNMATCHED = "unmatched"  # the handler label of a path no route knows: one label value, however many paths
PAGE_SIZE = 20


@dataclass(frozen=True)
class WebappSettings:
    """How one app server reaches its stores; the conninfo and URL may hold secrets and are never shown."""

    name: str
    pg_conninfo: str
    redis_url: str
    cache_ttl_seconds: int = 300  # minutes: a popular read is served from Redis many times before it expires
    statement_timeout_ms: int = 5000
    pool_size: int = 8
    pool_timeout_seconds: float = 2.0
    store_timeout_seconds: float = 1.0


class HttpError(Exception):
    """An answer other than 200, with a one-line message for the JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # the handler label: bounded, whatever the path
    pattern: re.Pattern[str]
    view: str  # the HubApp method that answers


def _route(method: str, template: str, view: str) -> Route:
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[0-9]{1,18})", template) + "$")
    return Route(method, template, pattern, view)


ROUTES: tuple[Route, ...] = (
    _route("GET", "/communities", "list_communities"),
    _route("GET", "/communities/{id}/posts", "community_posts"),
    _route("GET", "/posts/{id}", "post_with_comments"),
    _route("GET", "/events", "upcoming_events"),
    _route("POST", "/posts", "create_post"),
    _route("POST", "/posts/{id}/comments", "create_comment"),
    _route("GET", "/healthz", "healthz"),
    _route("GET", "/metrics", "metrics"),
)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_BODY_BYTES = 64 * 1024


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(payload: Any, status: int = 200, cache: str | None = None) -> Response:
    headers = [("X-Cache", cache)] if cache else []
    return Response(status, json.dumps(payload, default=_json_default).encode(), headers=headers)


class HubApp:
    """The WSGI callable, with its pool, Redis client and metrics registry (one per app, so tests can run two)."""

    def __init__(self, settings: WebappSettings) -> None:
        self.settings = settings
        self._secrets = [*environment_secrets(), settings.pg_conninfo, settings.redis_url]
        self.pool = ConnectionPool(
            settings.pg_conninfo,
            min_size=1,
            max_size=settings.pool_size,
            timeout=settings.pool_timeout_seconds,
            kwargs={
                "options": f"-c statement_timeout={settings.statement_timeout_ms}",
                "connect_timeout": max(1, round(settings.store_timeout_seconds * 2)),
                "application_name": f"hub-{settings.name}",
            },
            check=ConnectionPool.check_connection,  # a server restart leaves dead connections in the pool
            name=settings.name,
            open=False,
        )
        self.pool.open(wait=False)  # the app starts (and answers 503) while the database is down
        self.cache = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.store_timeout_seconds,
            socket_connect_timeout=settings.store_timeout_seconds,
        )
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "HTTP requests answered", ["method", "handler", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["handler"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.cache_events = Counter(
            "hub_cache_requests", "Cache-aside lookups by result (hit, miss, error)", ["result"], registry=self.registry
        )
        Gauge("hub_app_info", "This app server", ["name"], registry=self.registry).labels(settings.name).set(1)

    def close(self) -> None:
        """Close the pool and the Redis client."""
        self.pool.close()
        self.cache.close()

    # -- WSGI -----------------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        handler = UNMATCHED
        try:
            route, params = self._match(method, path)
            handler = route.template
            response = getattr(self, route.view)(environ, **params)
        except HttpError as error:
            response = _json({"error": str(error)}, error.status)
        except (psycopg.OperationalError, psycopg.errors.QueryCanceled, PoolTimeout) as error:
            log.warning("%s %s: database unavailable: %s", method, handler, self._safe(error))
            response = _json({"error": "database unavailable"}, 503)
        except psycopg.Error as error:  # the server answered, but not as this app expects (a missing table)
            log.error("%s %s: database error: %s", method, handler, self._safe(error))
            response = _json({"error": "database error"}, 500)
        except Exception as error:  # a bug must still be a counted 500, never a traceback page
            log.exception("%s %s: %s", method, handler, self._safe(error))
            response = _json({"error": "internal error"}, 500)
        self.requests.labels(method, handler, str(response.status)).inc()
        self.duration.labels(handler).observe(time.perf_counter() - started)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_STATUS_TEXT.get(response.status, '')}", headers + response.headers)
        return [response.body]

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, int]]:
        allowed = False
        for route in ROUTES:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, {key: int(value) for key, value in found.groupdict().items()}
                allowed = True
        if allowed:
            raise HttpError(405, f"{method} {path}: method not allowed")
        raise HttpError(404, f"{method} {path}: no route")

    def _safe(self, error: BaseException) -> str:
        return redact(f"{type(error).__name__}: {error}".splitlines()[0], self._secrets)

    # -- the stores -------------------------------------------------------------------------------------------------

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.pool.connection() as connection, connection.cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _cached(self, key: str, load: Callable[[], Any]) -> Response:
        """Cache-aside: Redis first; on a miss the database, then store with the TTL. A Redis fault only costs speed."""
        try:
            hit = self.cache.get(key)
        except redis.RedisError:
            hit = None
            self.cache_events.labels("error").inc()
        if hit is not None:
            self.cache_events.labels("hit").inc()
            return Response(200, hit, headers=[("X-Cache", "hit")])
        self.cache_events.labels("miss").inc()
        body = json.dumps(load(), default=_json_default).encode()
        try:
            self.cache.set(key, body, ex=self.settings.cache_ttl_seconds)
        except redis.RedisError:  # e.g. OOM under maxmemory with noeviction: serve it uncached
            self.cache_events.labels("error").inc()
        return Response(200, body, headers=[("X-Cache", "miss")])

    def _invalidate(self, *keys: str) -> None:
        try:
            self.cache.delete(*keys)
        except redis.RedisError as error:  # the TTL bounds how long a stale value can live
            self.cache_events.labels("error").inc()
            log.warning("cache invalidation failed: %s", self._safe(error))

    # -- reads ------------------------------------------------------------------------------------------------------

    def list_communities(self, environ: dict[str, Any]) -> Response:
        return self._cached(
            "hub:communities",
            lambda: self._query(
                "SELECT c.id, c.slug, c.name, c.description, count(m.id) AS members FROM communities c "
                "LEFT JOIN members m ON m.community_id = c.id GROUP BY c.id ORDER BY c.id"
            ),
        )

    def community_posts(self, environ: dict[str, Any], id: int) -> Response:
        def load() -> list[dict[str, Any]]:
            if not self._query("SELECT 1 FROM communities WHERE id = %(id)s", {"id": id}):
                raise HttpError(404, f"community {id}: not found")
            return self._query(
                "SELECT id, author_id, title, body, created_at FROM posts WHERE community_id = %(id)s "
                "ORDER BY created_at DESC LIMIT %(limit)s",
                {"id": id, "limit": PAGE_SIZE},
            )

        return self._cached(f"hub:community:{id}:posts", load)

    def post_with_comments(self, environ: dict[str, Any], id: int) -> Response:
        def load() -> dict[str, Any]:
            posts = self._query(
                "SELECT id, community_id, author_id, title, body, created_at FROM posts WHERE id = %(id)s", {"id": id}
            )
            if not posts:
                raise HttpError(404, f"post {id}: not found")
            return {**posts[0], "comments": self._query(HOT_STATEMENT, {"post_id": id})}

        return self._cached(f"hub:post:{id}", load)

    def upcoming_events(self, environ: dict[str, Any]) -> Response:
        return self._cached(
            "hub:events",
            lambda: self._query(
                "SELECT id, community_id, title, starts_at FROM events WHERE starts_at >= now() "
                "ORDER BY starts_at LIMIT %(limit)s",
                {"limit": PAGE_SIZE},
            ),
        )

    # -- writes -----------------------------------------------------------------------------------------------------

    def create_post(self, environ: dict[str, Any]) -> Response:
        body = _read_json(environ, "POST /posts", {"community_id": int, "author_id": int, "title": str, "body": str})
        rows = self._insert(
            "INSERT INTO posts (community_id, author_id, title, body) SELECT %(community_id)s, %(author_id)s, "
            "%(title)s, %(body)s WHERE EXISTS (SELECT FROM communities WHERE id = %(community_id)s) RETURNING id",
            body,
            f"POST /posts: community {body['community_id']} or author {body['author_id']} not found",
        )
        self._invalidate(f"hub:community:{body['community_id']}:posts")
        return _json({"id": rows[0]["id"]}, 201)

    def create_comment(self, environ: dict[str, Any], id: int) -> Response:
        body = _read_json(environ, f"POST /posts/{id}/comments", {"author_id": int, "body": str})
        rows = self._insert(
            "INSERT INTO comments (post_id, author_id, body) SELECT %(post_id)s, %(author_id)s, %(body)s "
            "WHERE EXISTS (SELECT FROM posts WHERE id = %(post_id)s) RETURNING id",
            {**body, "post_id": id},
            f"POST /posts/{id}/comments: post {id} or author {body['author_id']} not found",
        )
        self._invalidate(f"hub:post:{id}")
        return _json({"id": rows[0]["id"]}, 201)

    def _insert(self, sql: str, params: dict[str, Any], not_found: str) -> list[dict[str, Any]]:
        try:
            rows = self._query(sql, params)
        except psycopg.errors.ForeignKeyViolation:
            rows = []
        if not rows:
            raise HttpError(404, not_found)
        return rows

    # -- operations -------------------------------------------------------------------------------------------------

    def healthz(self, environ: dict[str, Any]) -> Response:
        """200 when PostgreSQL and Redis both answer now; 503 naming the one that does not."""
        failing = []
        try:
            self._query("SELECT 1")
        except (psycopg.Error, PoolTimeout):
            failing.append("postgresql")
        try:
            self.cache.ping()
        except redis.RedisError:
            failing.append("redis")
        return _json({"status": "ok" if not failing else "unavailable", "failing": failing, "name": self.settings.name},
                     503 if failing else 200)  # fmt: skip

    def metrics(self, environ: dict[str, Any]) -> Response:
        return Response(200, generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


def _read_json(environ: dict[str, Any], where: str, fields: dict[str, type]) -> dict[str, Any]:
    """The request body as a JSON object with exactly these typed fields, or a 400 naming what was expected."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError(400, f"{where}: Content-Length is not a number") from None
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"{where}: body of {length} bytes, expected at most {MAX_BODY_BYTES}")
    try:
        payload = json.loads(environ["wsgi.input"].read(length) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, f"{where}: body is not JSON, expected an object with {sorted(fields)}") from None
    if not isinstance(payload, dict):
        raise HttpError(400, f"{where}: expected a JSON object with {sorted(fields)}")
    for name, kind in fields.items():
        value = payload.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is str and not value.strip()):
            raise HttpError(400, f"{where}: field {name!r} must be a non-empty {kind.__name__}, got {value!r:.40}")
    return {name: payload[name] for name in fields}


def make_app(settings: WebappSettings) -> HubApp:
    """The WSGI app for these settings (its pool opens in the background)."""
    return HubApp(settings)


def serve(app: HubApp, host: str, port: int, threads: int = 8) -> Any:
    """A waitress server for ``app``, bound and ready; call ``.run()`` (blocks) and ``.close()`` to stop."""
    from waitress.server import create_server

    return create_server(app, host=host, port=port, threads=threads, ident=f"hub-{app.settings.name}")


@contextlib.contextmanager
def serving_in_thread(app: HubApp, host: str = "127.0.0.1", port: int = 0, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` with waitress from a background thread (tests, the load generator's own checks); yields the
    base URL. The loop closes its sockets in its own thread, so stopping never races a select on a closed socket."""
    from waitress import wasyncore

    server = serve(app, host, port, threads=threads)
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    thread = threading.Thread(target=loop, name=f"hub-{app.settings.name}", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        stopping.set()
        thread.join(10)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m sre_lib.hub.webapp --name app-1 --port P`: serve the app with waitress until stopped."""
    parser = argparse.ArgumentParser(prog="python -m sre_lib.hub.webapp", description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="this app server's name, e.g. app-1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--cache-ttl", type=int, default=WebappSettings.cache_ttl_seconds,
                        help="seconds a cached read lives")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("waitress").setLevel(logging.WARNING)  # its "Serving on" would repeat our one start line
    missing = [name for name in ("HUB_PG_DSN", "HUB_REDIS_URL") if not os.environ.get(name)]
    if missing:
        print(f"hub app {args.name}: environment variable(s) {', '.join(missing)} not set", file=sys.stderr)
        return 2
    settings = WebappSettings(
        name=args.name,
        pg_conninfo=os.environ["HUB_PG_DSN"],
        redis_url=os.environ["HUB_REDIS_URL"],
        cache_ttl_seconds=args.cache_ttl,
        pool_size=args.threads,
    )
    app = make_app(settings)
    server = serve(app, args.host, args.port, threads=args.threads)
    signal.signal(signal.SIGTERM, _interrupt)  # the hub stops its app servers with SIGTERM: close cleanly
    log.info("hub app %s listening on %s:%d", args.name, args.host, args.port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
