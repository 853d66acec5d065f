"""Every error sre_lib raises on purpose, so callers (and the CLI) can tell a user's mistake from a bug.

    SreError                    base: the CLI prints its message on one line and exits non-zero
    ├── ConfigError             a platform config file is missing, unreadable or invalid
    ├── WarehouseError          the DuckDB warehouse cannot be opened, is busy, or has another schema
    │   └── WarehouseBusyError  another writer holds the warehouse for longer than we wait
    ├── CollectionError         a source (Prometheus, PostgreSQL, Redis) failed; nothing was written
    └── DataError               input data is not what an analysis or loader expects

Messages name the thing, the place and what was expected, and never carry a secret.
"""

from __future__ import annotations


class SreError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class ConfigError(SreError):
    """A platform configuration file is missing, unreadable or fails validation."""


class WarehouseError(SreError):
    """The warehouse cannot be opened or written as asked."""


class WarehouseBusyError(WarehouseError):
    """Another writer holds the warehouse's write lock for longer than the allowed wait."""


class CollectionError(SreError):
    """Reading a source failed; the run was rolled back and logged as failed."""


class DataError(SreError):
    """Input data is empty, malformed or out of the range an operation accepts."""
