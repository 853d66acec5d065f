"""Every error sre_lib raises on purpose, so callers (and the CLI) can tell a user's mistake from a bug.

    SreError                    base: the CLI prints its message on one line and exits non-zero
    ├── ConfigError             a config or job file is missing, unreadable or invalid (source, key)
    ├── WarehouseError          the DuckDB warehouse cannot be opened, is busy, or has another schema (path)
    │   └── WarehouseBusyError  another writer holds the warehouse for longer than we wait (path)
    ├── CollectionError         a source (Prometheus, PostgreSQL, Redis) failed; nothing was written (source, target)
    ├── ReportError             a report run failed; its folder is kept and `latest` did not move (report, run_dir)
    └── DataError               input data is not what an analysis or loader expects (subject)

Each error carries, beside its message, the fields a caller needs to act on it without parsing the message
(which file, which key, which source). Every field defaults to None, so ``raise ConfigError("...")`` still
works. Messages name the thing, the place and what was expected, and never carry a secret; neither do fields.

A wrong argument passed by a programmer (an unknown ``how=``, a negative horizon) is not one of these: it raises
ValueError or TypeError, as Python does.
"""

from __future__ import annotations

__all__ = [
    "CollectionError",
    "ConfigError",
    "DataError",
    "ReportError",
    "SreError",
    "WarehouseBusyError",
    "WarehouseError",
]


class SreError(Exception):
    """Base class: an expected failure with a message fit for a user."""

    @property
    def message(self) -> str:
        """The one-line message, as ``str(error)`` gives it."""
        return str(self.args[0]) if self.args else ""


class ConfigError(SreError):
    """A platform configuration or job file is missing, unreadable or fails validation.

    ``source``: the file (or ``<string>``) it came from; ``key``: the dotted key at fault, when one is.
    """

    def __init__(self, message: str = "", *, source: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.key = key


class WarehouseError(SreError):
    """The warehouse cannot be opened or written as asked. ``path``: the warehouse file, when known."""

    def __init__(self, message: str = "", *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class WarehouseBusyError(WarehouseError):
    """Another writer holds the warehouse's write lock for longer than the allowed wait (``waited_seconds``)."""

    def __init__(self, message: str = "", *, path: str | None = None, waited_seconds: float | None = None) -> None:
        super().__init__(message, path=path)
        self.waited_seconds = waited_seconds


class CollectionError(SreError):
    """Reading a source failed; the run was rolled back and logged as failed.

    ``source``: prometheus, postgres or redis; ``target``: the server it read, as messages show it (a server
    name or a URL without credentials).
    """

    def __init__(self, message: str = "", *, source: str | None = None, target: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.target = target


class ReportError(SreError):
    """A report run failed; its directory is kept for debugging and `latest` did not move.

    ``report``: capacity, slow-queries or dr; ``run_dir``: the kept run folder, when one was made.
    """

    def __init__(self, message: str = "", *, report: str | None = None, run_dir: str | None = None) -> None:
        super().__init__(message)
        self.report = report
        self.run_dir = run_dir


class DataError(SreError):
    """Input data is empty, malformed or out of the range an operation accepts. ``subject``: which input."""

    def __init__(self, message: str = "", *, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject
