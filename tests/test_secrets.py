"""Secrets out of messages and stored text, and statement text left as pg_stat_statements normalised it."""

from __future__ import annotations

import pytest

from sre_lib.secrets import environment_secrets, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=db port=5432 password=S3cr3t! user=x", "host=db port=5432 password=*** user=x"),
        ("host=db password='two words' user=x", "host=db password=*** user=x"),
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
