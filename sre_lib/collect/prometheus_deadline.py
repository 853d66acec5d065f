"""A request's deadline in all, enforced by shutting its socket down; and the ways a request can fail.

A socket timeout bounds each read, not the request: a body dribbled a byte a second never trips it. So each
request runs under a RequestDeadline whose timer shuts down the socket the request uses (requests' adapter
hands it over through WatchedAdapter's connections), which ends a read blocked on it at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_this_request = threading.local()  # .deadline: the RequestDeadline of the request this thread is making, if any


class TransientFailure(Exception):
    """A failure worth retrying: refused or dropped connection, timeout, HTTP 408/429/5xx."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChunkFailed(Exception):
    """A chunk failed for good (retries spent, or a failure no retry will fix)."""

    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class RunCancelled(Exception):
    """The run is being abandoned; a worker stops before its next attempt."""


class RequestDeadline:
    """One request's limit in all, enforced by shutting its socket down when it passes.

    A socket timeout bounds each read, not the request: a body dribbled a byte a second never trips it. So a
    timer shuts down the socket the request uses (see ``_WatchedConnection``), which ends a read blocked on it at
    once; ``failure()`` then says why the request failed, whatever exception or short body it ended with.
    """

    def __init__(self, seconds: float, reason: str, retry: bool) -> None:
        self.seconds = seconds
        self.reason = reason  # what passed, e.g. "timed out after 30 s"
        self.retry = retry  # whether another attempt may do better (not when the run's own deadline passed)
        self.expired = False
        self.cancelled = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._finished = False
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> RequestDeadline:
        _this_request.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._finished = True  # the connection may go back to the pool: never shut it down from now on
        self._timer.cancel()
        _this_request.deadline = None

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut_down(sock)

    def expire(self, cancel: bool = False) -> None:
        """End the request now: its deadline passed, or (``cancel``) the run is being abandoned."""
        with self._lock:
            if self._finished or self.expired:
                return
            self.expired, self.cancelled = True, cancel
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def failure(self) -> Exception:
        if self.cancelled:
            return RunCancelled()
        return TransientFailure(self.reason) if self.retry else ChunkFailed(self.reason)


def _shut_down(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for a TLS socket: ssl.SSLSocket.shutdown would drop its SSL object
    # under the thread reading from it
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(HTTPConnection):
    """A connection whose socket is handed to the current request's RequestDeadline before the response is awaited,
    so that the deadline also ends a wait for headers that never come."""

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedTLSConnection(HTTPSConnection):
    __doc__ = _WatchedConnection.__doc__

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


def _watch(sock: socket.socket | None) -> None:
    deadline: RequestDeadline | None = getattr(_this_request, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedPool, "https": _WatchedTLSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with connections that a RequestDeadline can end (directly or through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # a SOCKS proxy has connection classes of its own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
