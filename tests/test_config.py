"""Platform configuration: the shipped defaults match the seed manual; every kind of bad file is named."""

from __future__ import annotations

import math
import re
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
import tomli_w

from sre_lib.config import (
    DEFAULT_CONFIG_PATH,
    config_to_toml,
    load_config,
    parse_config,
    resolve_config_path,
)
from sre_lib.errors import ConfigError

DEFAULT_TEXT = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


def test_default_config_carries_the_seed_bands_and_policies() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    bands = {name: (i.warning, i.critical) for name, i in config.indicators.items()}
    assert bands == {
        "cpu": (60, 80),
        "memory": (70, 85),
        "disk": (70, 85),
        "db_connections": (70, 85),
        "error_rate": (0.1, 1.0),
        "latency_p95": (200, 500),
        "up": (0.99, 0.5),
        "tls_cert_days": (30, 14),
        "nginx_upstream_errors": (0.1, 1.0),
        "es_status": (1, 1.5),
        "es_unassigned_shards": (1, 10),
        "es_jvm_heap": (75, 85),
    }
    assert config.indicators["tls_cert_days"].direction == config.indicators["up"].direction == "below"
    assert config.mountpoint_component("/srv/media") == config.mountpoint_component("/srv/media/") == "media"
    assert config.mountpoint_component("/") is None
    horizontal = config.scaling.horizontal
    assert (horizontal.cpu_threshold_percent, horizontal.cooldown_seconds) == (70, 300)
    assert (horizontal.min_servers, horizontal.max_servers) == (1, 4)
    assert {t.trigger for t in config.scaling.vertical} == {
        "consistent high CPU",
        "memory pressure",
        "database bottleneck",
    }
    assert (config.redis.memory_percent, config.redis.hit_ratio_percent) == (80, 80)
    backup = config.backup
    assert (backup.wal_archive_interval_minutes, backup.full_backup_local_time) == (5, "03:00")
    assert (backup.offsite_copy_interval_days, backup.restore_test_interval_days) == (7, 30)
    assert backup.retention_days == 30
    assert (config.recovery.rto_hours, config.recovery.rpo_hours) == (4, 1)
    assert config.platform.timezone == "Australia/Sydney"


def test_inventory_prices_and_resize_options() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.unit_price("app") == config.sizes["s-2vcpu-4gb"].monthly_price
    assert config.unit_price("cdn") == 5.0
    expected = sum(config.unit_price(n) * c.count for n, c in config.components.items())
    assert config.monthly_cost() == pytest.approx(expected)
    options = config.resize_options("postgresql")
    current = config.component_size("postgresql")
    assert options, "the catalogue has bigger sizes than the database's"
    assert all(s.vcpu >= current.vcpu and s.ram_gb >= current.ram_gb for _, s in options)
    assert [s.monthly_price for _, s in options] == sorted(s.monthly_price for _, s in options)
    assert config.resize_options("cdn") == []


def test_time_zone_handles_daylight_saving() -> None:
    tz = load_config(DEFAULT_CONFIG_PATH).tz
    # Sydney moves from AEST (+10) to AEDT (+11) on the first Sunday of October.
    assert datetime(2026, 10, 3, 12, tzinfo=tz).utcoffset().total_seconds() == 10 * 3600
    assert datetime(2026, 10, 5, 12, tzinfo=tz).utcoffset().total_seconds() == 11 * 3600


def test_round_trip_through_toml_gives_an_equal_config() -> None:
    original = load_config(DEFAULT_CONFIG_PATH)
    again = parse_config(config_to_toml(original))
    assert again.model_dump() == original.model_dump()


def test_config_file_is_chosen_by_argument_then_environment(tmp_path: Path, monkeypatch) -> None:
    other = tmp_path / "other.toml"
    other.write_text(DEFAULT_TEXT.replace('name = "Community Hub"', 'name = "Staging"'))
    monkeypatch.setenv("SRE_CONFIG", str(other))
    assert resolve_config_path() == other
    assert load_config().platform.name == "Staging"
    assert load_config(DEFAULT_CONFIG_PATH).platform.name == "Community Hub"
    monkeypatch.delenv("SRE_CONFIG")
    assert resolve_config_path() == DEFAULT_CONFIG_PATH


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("[platform]", "[platform", "not valid TOML"),
        ("[platform]", "[platform]\ncolour = 'red'", "platform.colour: unknown key"),
        ("count = 2", 'count = "two"', "components.app.count: expected a valid integer, got 'two'"),
        ("count = 2", "count = -1", "components.app.count: expected greater than or equal to 0, got -1"),
        ("warning = 60.0", "warning = 85.0", "indicators.cpu: expected warning (85.0) below critical (80.0)"),
        (
            'timezone = "Australia/Sydney"',
            'timezone = "Australia/Gotham"',
            "platform.timezone: expected an IANA",
        ),
        (
            'size = "s-2vcpu-4gb"\ncount = 2',
            'size = "m-64vcpu"\ncount = 2',
            "components.app.size: expected one of",
        ),
        (
            "min_servers = 1",
            "min_servers = 5",
            "scaling.horizontal: expected min_servers (5) <= max_servers (4)",
        ),
        ('"03:00"', '"3am"', "backup.full_backup_local_time: expected a local time of day as 'HH:MM'"),
        ("rto_hours = 4.0", "rto_hours = -4.0", "recovery.rto_hours: expected greater than 0"),
        (
            'indicator = "memory"',
            'indicator = "ram"',
            "scaling.vertical[1].indicator: expected a key of [indicators]",
        ),
        (
            'url = "http://127.0.0.1:9090"',
            'url = "http://sre:Pa55/word@127.0.0.1:9090"',
            "sources.prometheus.url: expected a URL like http://host:port",
        ),
        (
            'mountpoint = "/srv/media"',
            'mountpoint = "srv/media"',
            "components.media.mountpoint: expected an absolute mount point such as '/srv/media', got 'srv/media'",
        ),
        (
            "count = 1\nmonthly_price = 5.0",
            'count = 1\nmonthly_price = 5.0\nmountpoint = "/srv/media"',
            "components.media.mountpoint: expected a mount point no other component has, got '/srv/media' "
            "(also components.cdn.mountpoint)",
        ),
        (
            'url = "redis://127.0.0.1:6379/0"',
            'url = "127.0.0.1:6379"',
            "sources.redis.url: expected a URL like redis://host:port (scheme redis or rediss or unix)",
        ),
    ],
)
def test_bad_config_gets_one_error_naming_file_key_and_expectation(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in DEFAULT_TEXT
    path = tmp_path / "platform.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message
    assert "Pa55" not in message  # a password in a URL is never shown


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: config file not found"):
        load_config(tmp_path / "nowhere.toml")


def test_catalogue_percentages_divide_before_scaling() -> None:
    """100 * (a / b) is exactly 100 when a equals b; (100 * a) / b can come out at 100.00000000000001."""
    x = 2.897816145904856  # a rate, say
    assert 100 * x / x > 100 and 100 * (x / x) == 100  # the float behaviour PromQL shares
    percents = {name: entry.query for name, entry in load_config().catalogue.items() if entry.unit == "percent"}
    assert len(percents) >= 8
    for name, query in percents.items():
        assert query.startswith("100 * (") and query.endswith(")"), (name, query)


@pytest.mark.parametrize(
    "text",
    ["a = " + "[" * 300 + "]" * 300, "a = " + "{b = " * 300 + "1" + "}" * 300, "[x]\n" + "y = [" * 40 + "]" * 40],
)
def test_a_deeply_nested_file_is_named_not_a_recursion_traceback(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^f\.toml: nested \d+ levels deep: expected at most 16"):
        parse_config(text, source="f.toml")


def test_brackets_in_strings_and_comments_do_not_count_as_nesting() -> None:
    text = DEFAULT_TEXT + '\n# [[[[[[[[[[[[[[[[[[[[[[[[[[\n[platform.notes]\nwhy = "[[[[[[[[[[[[[[[[[[[[["\n'
    with pytest.raises(ConfigError, match=r"platform\.notes: unknown key"):
        parse_config(text, source="f.toml")


def _config_with(tmp_path: Path, key: str, value: object) -> Path:
    """The shipped config with one value set (``key`` as messages write it: ``scaling.vertical[0].action``)."""
    raw = tomllib.loads(DEFAULT_TEXT)
    parts: list[str | int] = []
    for part in key.split("."):
        name, _, index = part.partition("[")
        parts += [name, int(index.rstrip("]"))] if index else [name]
    table = raw
    for part in parts[:-1]:
        table = table[part]
    table[parts[-1]] = value
    written = tmp_path / "platform.toml"
    written.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return written


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("components.app.count", 10**21, "less than or equal to 10000, got 1000000000000000000000"),
        ("components.app.count", 10_001, "less than or equal to 10000, got 10001"),
        ("components.cdn.monthly_price", 0.0, "greater than 0, got 0.0"),
        ("components.cdn.monthly_price", -5.0, "greater than 0, got -5.0"),
        ("components.cdn.monthly_price", math.inf, "a finite number, got inf"),
        ("components.cdn.monthly_price", 1e12, "less than or equal to 10000000"),
        ("components.media.disk_gb", -250.0, "greater than 0, got -250.0"),
        ("sizes.s-1vcpu-2gb.monthly_price", math.nan, "a finite number, got nan"),
        ("sizes.s-1vcpu-2gb.monthly_price", 0.0, "greater than 0, got 0.0"),
        ("sizes.s-1vcpu-2gb.vcpu", 0, "greater than 0, got 0"),
        ("sizes.s-1vcpu-2gb.vcpu", 100_000, "less than or equal to 1024, got 100000"),
        ("sizes.s-1vcpu-2gb.ram_gb", 0.0, "greater than 0, got 0.0"),
        ("sizes.s-1vcpu-2gb.disk_gb", 1e9, "less than or equal to 1000000, got 1000000000.0"),
        ("indicators.cpu.warning", math.nan, "a finite number, got nan"),
        ("indicators.cpu.critical", math.inf, "a finite number, got inf"),
        ("indicators.cpu.warning", -5.0, "greater than or equal to 0, got -5.0"),
        ("indicators.latency_p95.critical", -math.inf, "a finite number, got -inf"),
        ("indicators.cpu.sustained_minutes", 20_000, "less than or equal to 10080, got 20000"),
        ("indicators.cpu.unit", "", "some text, got ''"),
        ("redis.memory_percent", 150.0, "less than or equal to 100, got 150.0"),
        ("redis.memory_percent", -5.0, "greater than 0, got -5.0"),
        ("redis.hit_ratio_percent", math.nan, "a finite number, got nan"),
        ("redis.evictions_trend_hours", 0, "greater than 0, got 0"),
        ("redis.evictions_trend_hours", 10**6, "less than or equal to 8760, got 1000000"),
        ("scaling.horizontal.cpu_threshold_percent", 101.0, "less than or equal to 100, got 101.0"),
        ("scaling.horizontal.max_servers", 10**6, "less than or equal to 10000, got 1000000"),
        ("scaling.horizontal.cooldown_seconds", -1, "greater than or equal to 0, got -1"),
        ("scaling.vertical[0].above_percent", 120.0, "less than or equal to 100, got 120.0"),
        ("scaling.vertical[0].action", "", "some text, got ''"),
        ("backup.retention_days", 0, "greater than 0, got 0"),
        ("backup.wal_archive_interval_minutes", 0, "greater than 0, got 0"),
        ("backup.offsite_copy_interval_days", 1000, "less than or equal to 366, got 1000"),
        ("recovery.rto_hours", 0.0, "greater than 0, got 0.0"),
        ("recovery.rpo_hours", math.inf, "a finite number, got inf"),
        ("sources.postgres.port", 70_000, "less than 65536, got 70000"),
        ("sources.postgres.statement_timeout_ms", 0, "greater than 0, got 0"),
        ("sources.postgres.long_session_seconds", math.nan, "a finite number, got nan"),
        ("sources.postgres.user", "", "some text, got ''"),
        ("sources.postgres.dbname", "d" * 64, "at most 63 characters, got 'dddd"),
        ("sources.redis.timeout_seconds", 0.0, "greater than 0, got 0.0"),
        ("sources.redis.timeout_seconds", math.inf, "a finite number, got inf"),
        ("sources.prometheus.timeout_seconds", -1.0, "greater than 0, got -1.0"),
        ("sources.prometheus.timeout_seconds", math.inf, "a finite number, got inf"),
        ("sources.prometheus.retries", -1, "greater than or equal to 0, got -1"),
        ("sources.prometheus.max_samples_per_request", 0, "greater than 0, got 0"),
        ("platform.currency", "dollars", "a three-letter currency code such as 'USD' or 'AUD', got 'dollars'"),
        ("platform.name", "x" * 5000, "at most 200 characters, got 'xxxx"),
        ("catalogue.cpu.instance_label", "host name", "a Prometheus label name such as 'job'"),
    ],
)
def test_a_value_out_of_its_range_is_named_with_the_range(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    written = _config_with(tmp_path, key, value)
    with pytest.raises(ConfigError) as raised:
        load_config(written)
    message = str(raised.value)
    assert message.startswith(f"{written}: {key}: expected {expected}"), message
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize(
    ("key", "value", "band"),
    [
        ("indicators.cpu.critical", 150.0, "got warning 60.0 and critical 150.0"),
        ("indicators.db_connections.critical", 100.5, "got warning 70.0 and critical 100.5"),
        ("indicators.error_rate.warning", 120.0, "got warning 120.0 and critical 1.0"),
    ],
)
def test_a_percent_indicator_band_lies_within_0_to_100(tmp_path: Path, key: str, value: float, band: str) -> None:
    written = _config_with(tmp_path, key, value)
    indicator = key.rsplit(".", 1)[0]
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(written))}: {indicator}: expected warning and critical "
                       rf"from 0 to 100 for a '[a-z_ ]+' indicator, {band}$"):  # fmt: skip
        load_config(written)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("components.app.count", 0),  # a planned or retired component
        ("components.app.count", 10_000),
        ("indicators.latency_p95.critical", 30_000.0),  # not a percentage: no upper bound of 100
        ("indicators.cpu.critical", 100.0),
        ("redis.memory_percent", 100.0),
        ("scaling.horizontal.cooldown_seconds", 0),
        ("sources.prometheus.retries", 0),
        ("sizes.s-1vcpu-2gb.monthly_price", 0.01),
        ("platform.currency", "AUD"),
    ],
)
def test_values_at_the_edge_of_their_range_are_accepted(tmp_path: Path, key: str, value: object) -> None:
    config = load_config(_config_with(tmp_path, key, value))
    node: object = config
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    assert node == value


@pytest.mark.parametrize("table", ["components", "sizes", "indicators", "catalogue"])
@pytest.mark.parametrize("name", ["app\nserver", "<script>", "", "-app", "a" * 64, "app server"])
def test_a_component_size_indicator_or_metric_name_is_a_plain_name(table: str, name: str) -> None:
    raw = tomllib.loads(DEFAULT_TEXT)
    first = next(iter(raw[table]))
    raw[table][name] = raw[table].pop(first)
    with pytest.raises(ConfigError) as raised:
        parse_config(tomli_w.dumps(raw), source="f.toml")
    message = str(raised.value)
    assert message.startswith(f"f.toml: {table}.{name[:40]!r}: expected a name of up to 63 letters"), message
    assert "\n" not in message
