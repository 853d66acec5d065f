"""Secrets out of messages and stored text, and statement text left as pg_stat_statements normalised it."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import pytest
import tomli_w

from sre_lib.collect.postgres_snapshot import postgres_target
from sre_lib.collect.prometheus import prometheus_target
from sre_lib.collect.redis_info import redis_target
from sre_lib.config import DEFAULT_CONFIG_PATH, config_to_toml, load_config, parse_config
from sre_lib.errors import ConfigError
from sre_lib.secrets import environment_secrets, redact, redact_statement, url_location


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
        ("ALTER ROLE app PASSWORD /* rotated */ 'pw4'", "ALTER ROLE app PASSWORD /* rotated */ '***'"),
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


# ---------------------------------------------------------------------------------------------- SQL text

# (statement as PostgreSQL shows it, the secret in it): no quoting, comment, escape or nesting hides the secret.
HIDDEN_SECRETS = [
    ("DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''pw-a'''; END $$", "pw-a"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=x password=''pw-b''' PUBLICATION p", "pw-b"),
    ("ALTER ROLE app PASSWORD /* rotated */ 'pw-c'", "pw-c"),
    ("ALTER ROLE app PASSWORD -- rotated\n 'pw-d'", "pw-d"),
    ("DO $o$ BEGIN EXECUTE $i$ALTER ROLE app PASSWORD 'pw-e'$i$; END $o$", "pw-e"),
    ("DO $$ BEGIN EXECUTE E'ALTER ROLE app \\x50ASSWORD ''pw-f'''; END $$", "pw-f"),  # the keyword escaped
    ("SELECT E'\\160assword=pw-g'", "pw-g"),  # octal
    ("SELECT U&'\\0070assword=pw-h'", "pw-h"),
    ("SELECT U&'!0070assword=pw-i' UESCAPE '!'", "pw-i"),
    (  # three levels, the innermost keyword escaped
        "DO 'BEGIN EXECUTE ''DO $x$ BEGIN EXECUTE E''''ALTER ROLE a \\x50ASSWORD ''''''''pw-j''''''''''''; "
        "END $x$''; END'",
        "pw-j",
    ),
    ("CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'pw-k')", "pw-k"),
    ("SELECT dblink_connect('c', 'host=x user=u pass' || 'word=pw-l')", "pw-l"),
    ("ALTER SYSTEM SET primary_conninfo = 'host=x password=pw-m'", "pw-m"),
    ("COPY t FROM PROGRAM 'curl https://u:pw-n@h/x'", "pw-n"),
    ("SELECT 1 /* password=pw-o */", "pw-o"),
    ("ALTER ROLE app PASSWORD 'pw-p", "pw-p"),  # cut short (track_activity_query_size)
    ("ALTER ROLE app PASSWORD hunter-q", "hunter-q"),  # not SQL: a session's failed statement
    ("ALTER SUBSCRIPTION s CONNECTION host=x password=p@ss!q-r", "p@ss!q-r"),
    ("SELECT 'a\x00pw-s'", "pw-s"),  # a character the scanner stops at
    ("ALTER ROLE app ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:pw-t'", "pw-t"),
]  # fmt: skip


@pytest.mark.parametrize(("statement", "secret"), HIDDEN_SECRETS)
def test_no_quoting_comment_escape_or_nesting_hides_a_password_from_statement_redaction(
    statement: str, secret: str
) -> None:
    assert secret not in redact_statement(statement)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("ALTER ROLE app PASSWORD /* rotated */ 'pw'", "ALTER ROLE app PASSWORD /* *** */ '***'"),
        (
            "ALTER ROLE bob PASSWORD $$Dollar'Secret1$$ VALID UNTIL 'x'",
            "ALTER ROLE bob PASSWORD '***' VALID UNTIL '***'",
        ),
        ("DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''pw'''; END $$", "DO '***'"),
        (
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (password 'pw')",
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (password '***')",
        ),
        (
            "SELECT password, email FROM users WHERE name = 'bob' LIMIT 10",
            "SELECT password, email FROM users WHERE name = '***' LIMIT ***",
        ),
        ("select 'é', 'abc", "select '***', ***"),  # the unreadable rest is replaced whole
        ("ALTER ROLE app PASSWORD hunter2 VALID", "ALTER ROLE app PASSWORD *** VALID"),
    ],
)  # fmt: skip
def test_a_statement_that_mentions_a_secret_keeps_its_words_but_no_constant_or_comment(
    statement: str, expected: str
) -> None:
    assert redact_statement(statement) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT id FROM users WHERE password = $1",
        "UPDATE users SET password = crypt($1, gen_salt($2)) WHERE id = $3",
        "CREATE TABLE users (id int, password text NOT NULL)",
        "SELECT a, b FROM t WHERE c = $1 AND d = 'x' -- a note",
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        "CREATE INDEX i ON public.t USING btree (a) WHERE (b <> 'x'::text)",
        "SELECT $tag$it's$tag$, 'don''t', E'a\\nb'",
    ],
)
def test_ordinary_and_normalised_statements_are_stored_as_they_are(statement: str) -> None:
    assert redact_statement(statement) == statement


def test_a_session_text_loses_every_constant_as_pg_stat_statements_would_normalise_it() -> None:
    statement = "INSERT INTO users (name, hash) VALUES ('bob', 'hunter2') /* app */ RETURNING id, $1"
    assert redact_statement(statement) == statement  # names no secret: as a normalised statement, it stays
    assert redact_statement(statement, every_constant=True) == (
        "INSERT INTO users (name, hash) VALUES ('***', '***') /* *** */ RETURNING id, $1"
    )


def test_literals_nested_deeper_than_redaction_looks_count_as_secret() -> None:
    statement = "SELECT 'x'"
    for _ in range(10):  # each level doubles the quotes of the one inside
        statement = "SELECT '" + statement.replace("'", "''") + "'"
    assert redact_statement(statement) == "SELECT '***'"


def test_a_known_secret_is_replaced_in_a_statement_wherever_it_is() -> None:
    assert redact_statement("SELECT 1 AS Monitor_Pw_9", ["Monitor_Pw_9"]) == "SELECT 1 AS ***"


# ---------------------------------------------------------------------------------------------- HTTP credentials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTTP 400: refused Authorization: Basic dXNlcjpzZWNyZXQ=", "HTTP 400: refused Authorization: Basic ***"),
        (
            "{'Authorization': 'Bearer abc.def-ghi', 'Accept': '*/*'}",
            "{'Authorization': 'Bearer ***', 'Accept': '*/*'}",
        ),
        ('{"authorization":"Token 12345678"}', '{"authorization":"Token ***"}'),
        ("echo: Proxy-Authorization=Basic Zm9vOmJhcg==; x", "echo: Proxy-Authorization=Basic ***; x"),
        ("sent Basic dXNlcjpzZWNyZXQ= and bearer abcdefgh12", "sent Basic *** and bearer ***"),
        ("Basic usage: the basic idea", "Basic usage: the basic idea"),  # prose stays
    ],
)  # fmt: skip
def test_credential_headers_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_known_password_is_replaced_in_every_form_a_client_sends_it() -> None:
    url_password = "p%2Fss-9"  # as the URL holds it; the client sends p/ss-9
    basic = base64.b64encode(b"reader:p/ss-9").decode()
    text = f"raw p%2Fss-9, decoded p/ss-9, encoded p%2fss-9, basic {basic}, unpadded {basic.rstrip('=')}"
    redacted = redact(text, [url_password])
    assert "ss-9" not in redacted and basic.rstrip("=") not in redacted
    assert redacted == "raw ***, decoded ***, encoded ***, basic ***, unpadded ***"


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
