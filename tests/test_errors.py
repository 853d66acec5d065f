"""Errors carry the fields a caller acts on (which file and key, which source and server), not only a message."""

from __future__ import annotations

import pickle
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w

from sre_lib import errors
from sre_lib.collect.by_source import collect_once
from sre_lib.config import DEFAULT_CONFIG_PATH, config_to_toml, load_config, parse_config
from sre_lib.errors import CollectionError, ConfigError, DataError, ReportError, SreError, WarehouseBusyError
from sre_lib.warehouse.store import Warehouse

ERROR_CLASSES = [getattr(errors, name) for name in errors.__all__]


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_a_message_alone_still_raises_and_reads_as_before(error_class: type[SreError]) -> None:
    error = error_class("warehouse.duckdb: something is wrong")
    assert str(error) == error.message == "warehouse.duckdb: something is wrong"
    assert isinstance(error, SreError)
    assert str(error_class()) == ""


def test_every_error_class_lives_in_the_errors_module() -> None:
    import sre_lib.app.report_runner as report_runner

    assert report_runner.ReportError is ReportError  # still importable where it was
    assert all(cls.__module__ == "sre_lib.errors" for cls in ERROR_CLASSES)


def test_fields_default_to_none_and_survive_pickling() -> None:
    assert (ConfigError("x").source, ConfigError("x").key) == (None, None)
    assert (CollectionError("x").source, CollectionError("x").target) == (None, None)
    busy = WarehouseBusyError("busy", path="/w.duckdb", waited_seconds=120.0)
    copy = pickle.loads(pickle.dumps(busy))  # a worker process's error reaches the parent whole
    assert (str(copy), copy.path, copy.waited_seconds) == ("busy", "/w.duckdb", 120.0)
    assert DataError("empty", subject="samples").subject == "samples"
    report = ReportError("failed", report="dr", run_dir="/reports/dr/2026-11-01_0300")
    assert (report.report, report.run_dir) == ("dr", "/reports/dr/2026-11-01_0300")


def test_a_missing_config_file_names_its_source(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as raised:
        load_config(missing)
    assert (raised.value.source, raised.value.key) == (str(missing), None)


def test_invalid_toml_names_its_source() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config("[platform\n", source="broken.toml")
    assert raised.value.source == "broken.toml"
    assert raised.value.key is None


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("count = 2", "count = -3", "components.app.count"),
        ('name = "Community Hub"', 'name = "Community Hub"\ncolour = "blue"', "platform.colour"),
        ('component = "app"', 'component = "nosuch"', "scaling.horizontal.component"),
    ],
)
def test_a_validation_error_names_the_key_at_fault(old: str, new: str, key: str) -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(ConfigError) as raised:
        parse_config(text.replace(old, new, 1), source="edited.toml")
    assert (raised.value.source, raised.value.key) == ("edited.toml", key)
    assert key.split(".")[-1] in str(raised.value)


def test_a_failed_collection_names_its_source_and_server(tmp_path: Path) -> None:
    raw = tomllib.loads(config_to_toml(load_config()))
    raw["sources"]["redis"].update(url="redis://127.0.0.1:1/0", timeout_seconds=2.0)  # nothing listens on port 1
    raw["sources"]["redis"]["server"] = "cache-1"
    config = parse_config(tomli_w.dumps(raw))
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(CollectionError) as raised:
        collect_once("redis", Warehouse(tmp_path / "w.duckdb"), config, end - timedelta(hours=1), end, timedelta(60))
    assert (raised.value.source, raised.value.target) == ("redis", "cache-1")


def test_an_unknown_source_is_a_collection_error_naming_it(tmp_path: Path) -> None:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(CollectionError, match="unknown source 'ftp'") as raised:
        collect_once("ftp", Warehouse(tmp_path / "w.duckdb"), load_config(), end, end, timedelta(60))
    assert raised.value.source == "ftp"
