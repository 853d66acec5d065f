"""Secrets out of messages and stored text, and statement text left as pg_stat_statements normalised it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w

from sre_lib.collect.postgres import postgres_target
from sre_lib.collect.prometheus import prometheus_target
from sre_lib.collect.redis import redis_target
from sre_lib.config import DEFAULT_CONFIG_PATH, config_to_toml, load_config, parse_config
from sre_lib.errors import ConfigError
from sre_lib.secrets import environment_secrets, redact, url_location


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=db port=5432 password=S3cr3t! user=x", "host=db port=5432 password=*** user=x"),
        ("host=db password='two words' user=x", "host=db password=*** user=x"),
        ("host=db password=$1!abc user=x", "host=db password=*** user=x"),  # a password, not a placeholder
        ("redis://:hunter2@cache:6379/0 refused", "redis://:***@cache:6379/0 refused"),
        ("http://sre:tok3n@prom:9090/api", "http://sre:***@prom:9090/api"),
        ("CREATE ROLE app LOGIN PASSWORD 'pw''quoted'", "CREATE ROLE app LOGIN PASSWORD '***'"),
        ('ALTER USER app WITH PASSWORD = "pw"', "ALTER USER app WITH PASSWORD = ***"),
        ("ALTER ROLE bob PASSWORD $$Dollar'Secret1$$ VALID UNTIL 'x'", "ALTER ROLE bob PASSWORD '***' VALID UNTIL 'x'"),
        ("ALTER ROLE bob PASSWORD $pw$Tagged$$Secret$pw$;", "ALTER ROLE bob PASSWORD '***';"),
        ("ALTER ROLE bob PASSWORD E'Esc\\'Secret2'", "ALTER ROLE bob PASSWORD '***'"),
        ("alter role bob password U&'Uni''Secret3'", "alter role bob password '***'"),
    ],
)
def test_passwords_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT id FROM users WHERE password = $1",
        "UPDATE users SET password=$12, salt = $13 WHERE id = $1",
        "SELECT password = $1 AS ok FROM users",
        "SELECT * FROM users WHERE password = $1",
        "SELECT f(password=$1, $2)",
        "UPDATE t SET password = $3;",
    ],
)
def test_placeholders_of_normalised_statements_are_kept(statement: str) -> None:
    assert redact(statement) == statement


def test_known_secret_values_are_replaced_wherever_they_appear() -> None:
    assert redact("connect failed for token abc123xyz at abc123xyz", ["abc123xyz", None, ""]) == (
        "connect failed for token *** at ***"
    )


def test_environment_secrets_are_the_passwords_not_the_whole_urls() -> None:
    env = {
        "PGPASSWORD": "pg-pass",
        "SRE_PG_DSN": "host=db password=dsn-pass",
        "SRE_REDIS_URL": "redis://:redis-pass@cache:6379/0",
        "SRE_PROMETHEUS_URL": "http://prom:9090",
        "SRE_PROMETHEUS_TOKEN": "bearer-token",
    }
    assert sorted(environment_secrets(env)) == ["bearer-token", "dsn-pass", "pg-pass", "redis-pass"]
    assert environment_secrets({"SRE_PG_DSN": "host=db password=$12345"}) == ["$12345"]  # a DSN has no placeholders


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://sre:tok3n@prom.internal:9090/prefix/?x=1#f", "http://prom.internal:9090/prefix"),
        ("https://prom.internal", "https://prom.internal"),
    ],
)
def test_url_location_drops_credentials(url: str, expected: str) -> None:
    assert url_location(url, "SRE_PROMETHEUS_URL", ("http", "https")) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:aB3x/9kQz+Lm@127.0.0.1:1",
        "http://admin:aB3x?9kQz@host",
        "http://admin:1234/9kQz@prom:9090",  # reads as port 1234 of host admin: the '@' after it gives it away
        "http://admin:aB3x@9kQz@prom:9090",
        "127.0.0.1:9090",
        "ftp://h",
    ],
)
def test_an_unreadable_url_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^SRE_PROMETHEUS_URL: expected a URL like http://host:port") as raised:
        url_location(url, "SRE_PROMETHEUS_URL", ("http", "https"))
    assert "aB3x" not in str(raised.value) and "9kQz" not in str(raised.value) and "1234" not in str(raised.value)


def test_collector_targets_refuse_an_unreadable_url_before_connecting() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    with pytest.raises(ConfigError, match=r"SRE_PROMETHEUS_URL or sources\.prometheus\.url") as raised:
        prometheus_target(config, {"SRE_PROMETHEUS_URL": "http://admin:aB3x/9kQz@127.0.0.1:1"})
    assert "aB3x" not in str(raised.value)
    with pytest.raises(ConfigError, match=r"SRE_REDIS_URL or sources\.redis\.url") as raised:
        redis_target(config, {"SRE_REDIS_URL": "redis://:aB3x/9kQz@127.0.0.1:6379/0"})
    assert "aB3x" not in str(raised.value)
    with pytest.raises(ConfigError, match="SRE_REDIS_URL"):
        redis_target(config, {"SRE_REDIS_URL": "127.0.0.1:6379"})
    assert redis_target(config, {"SRE_REDIS_URL": "unix:///run/redis.sock"}).describe().endswith("(/run/redis.sock)")


def test_an_unreadable_password_file_is_named_with_the_config_that_points_at_it(tmp_path: Path) -> None:
    raw = tomllib.loads(config_to_toml(load_config(DEFAULT_CONFIG_PATH)))
    raw["sources"]["redis"]["password_file"] = str(tmp_path / "missing")
    raw["sources"]["postgres"]["password_file"] = str(tmp_path / "missing")
    config = parse_config(tomli_w.dumps(raw), source="site.toml")
    expected = rf"^site\.toml: sources\.redis: cannot read a secret from password_file {tmp_path}/missing$"
    with pytest.raises(ConfigError, match=expected):
        redis_target(config, {})
    with pytest.raises(ConfigError, match=r"^site\.toml: sources\.postgres: cannot read a secret"):
        postgres_target(config, {})
