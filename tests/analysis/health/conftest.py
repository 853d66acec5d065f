"""Fixtures of the health tests."""

from __future__ import annotations

import pytest
from health_inputs import health_config

from sre_lib.config import PlatformConfig


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    """The test platform's configuration (see ``health_inputs.CONFIG_TOML``)."""
    return health_config()
