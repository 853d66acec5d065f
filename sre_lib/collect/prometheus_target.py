"""Where and how the Prometheus collector queries: the URL, the token and the request limits of a run.

The URL comes from [sources.prometheus] or SRE_PROMETHEUS_URL; an optional bearer token from
SRE_PROMETHEUS_TOKEN. Neither the token nor a password in the URL appears in a message or the warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sre_lib.config import PROMETHEUS_URL_SCHEMES, PlatformConfig
from sre_lib.secrets import url_location

URL_ENV_VAR = "SRE_PROMETHEUS_URL"
TOKEN_ENV_VAR = "SRE_PROMETHEUS_TOKEN"
SOURCE = "prometheus"


@dataclass(frozen=True)
class PrometheusTarget:
    """Where and how to query. Neither the URL (it may hold a password) nor the token is in the repr."""

    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    max_points_per_request: int = 11000
    max_samples_per_request: int = 1_000_000
    max_response_bytes: int = 256 * 2**20
    concurrency: int = 4
    timeout_seconds: float = 30.0  # per request, in all
    retry_seconds: float = 60.0  # how long a failing request is retried after its first failure
    retries: int | None = None  # at most this many retries of a request (None: as many as retry_seconds allows)
    run_timeout_seconds: float = 3600.0  # every request and retry of the run

    def describe(self) -> str:
        """The URL without credentials, query or fragment: fit for messages and the run log."""
        return url_location(self.url, f"{URL_ENV_VAR} or sources.prometheus.url", PROMETHEUS_URL_SCHEMES)

    def secrets(self) -> list[str | None]:
        return [self.token, urlsplit(self.url).password]


def prometheus_target(config: PlatformConfig, env: Mapping[str, str] | None = None) -> PrometheusTarget:
    """Settings from [sources.prometheus]; URL overridden by SRE_PROMETHEUS_URL; token from SRE_PROMETHEUS_TOKEN."""
    env = os.environ if env is None else env
    source = config.sources.prometheus
    target = PrometheusTarget(
        url=(env.get(URL_ENV_VAR) or source.url).rstrip("/"),
        token=env.get(TOKEN_ENV_VAR) or None,
        max_points_per_request=source.max_points_per_request,
        max_samples_per_request=source.max_samples_per_request,
        max_response_bytes=source.max_response_bytes,
        concurrency=source.concurrency,
        timeout_seconds=source.timeout_seconds,
        retry_seconds=source.retry_seconds,
        retries=source.retries,
        run_timeout_seconds=source.run_timeout_seconds,
    )
    target.describe()  # a URL that cannot be read fails here, before any request
    return target
