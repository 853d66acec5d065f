"""The `sre` command as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import FIXTURES

from sre_lib.config import DEFAULT_CONFIG_PATH

SRE = str(Path(sys.executable).with_name("sre"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SRE, *args], capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_the_subcommands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "config", "warehouse"):
        assert command in result.stdout


def test_config_check_accepts_the_default_and_summarises_it() -> None:
    result = run("config", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK {DEFAULT_CONFIG_PATH}: Community Hub")
    assert "Australia/Sydney" in result.stdout


def test_config_check_rejects_a_bad_file_in_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_CONFIG_PATH.read_text().replace("count = 2", "count = -3", 1))
    result = run("config", "check", str(bad))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"sre: error: {bad}: components.app.count: expected greater than or equal to 0, got -3"
    ]


def test_demo_builds_a_warehouse_and_says_where(tmp_path: Path) -> None:
    target = tmp_path / "w.duckdb"
    result = run("demo", "--warehouse", str(target), "--days", "7", "--no-reports")
    assert result.returncode == 0, result.stderr
    assert f"demo warehouse ready: {target}" in result.stdout
    info = run("warehouse", "info", "--warehouse", str(target))
    assert info.returncode == 0, info.stderr
    samples_line = next(line for line in info.stdout.splitlines() if line.strip().startswith("metric_samples"))
    assert int(samples_line.split()[-1].replace(",", "")) > 7 * 24 * 60 * 20


def test_user_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    result = run("warehouse", "info", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["demo", "--days", "100000", "--no-reports"], "--days: expected a number of days from 1 to 366"),
        (["demo", "--seed", "-1", "--no-reports"], "--seed: expected a whole number of 0 or more, got -1"),
        (["demo", "--end", "9999-12-31", "--no-reports"], "expected a date from 1971 to 2200"),
        (["collect", "prometheus", "--since", "99999999999999d"], "--since: expected a positive duration"),
        (["collect", "prometheus", "--start", "1900-01-01", "--end", "1900-01-02"], "--start: expected a time from"),
        (["collect", "all", "--start", "2026-11-01", "--end", "2126-01-01"], "--end: expected a time from 2000-01-01"),
    ],
)
def test_out_of_range_options_get_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    result = run(*args, "--warehouse", str(tmp_path / "w.duckdb"))
    assert result.returncode in (1, 2), result  # 2: argparse's own usage error
    assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_a_damaged_warehouse_or_config_and_an_unusable_folder_get_one_line(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(bytes(range(256)) * 400)
    result = run("warehouse", "info", "--warehouse", str(damaged))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"sre: error: cannot read warehouse {damaged}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    config = tmp_path / "latin1.toml"
    config.write_bytes(DEFAULT_CONFIG_PATH.read_text().replace("Community Hub", "Caf\xe9").encode("latin-1"))
    result = run("config", "check", str(config))
    assert result.stderr.strip() == f"sre: error: {config}: not UTF-8 text: expected a TOML platform config"
    (tmp_path / "file").write_text("not a folder")
    inside_a_file = tmp_path / "file" / "w.duckdb"
    result = run("demo", "--days", "1", "--no-reports", "--warehouse", str(inside_a_file))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"sre: error: warehouse {inside_a_file}: cannot create its lock file" in result.stderr


def test_backups_load_reads_pgbackrest_json_and_the_log(tmp_path: Path) -> None:
    fixtures = FIXTURES
    args = [
        "backups", "load", "--warehouse", str(tmp_path / "w.duckdb"), "--stanza", "main",
        "--pgbackrest-json", str(fixtures / "dr_pgbackrest_info.json"), "--log", str(fixtures / "dr_backup_log.csv"),
    ]  # fmt: skip
    first = run(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("loaded ") and "backups" in first.stdout
    assert run(*args).stdout == first.stdout  # idempotent: the same rows again
    missing = run("backups", "load", "--warehouse", str(tmp_path / "w.duckdb"))
    assert missing.returncode == 1 and "give --pgbackrest-json FILE, --log FILE, or both" in missing.stderr


def test_ctrl_c_that_a_library_turns_into_an_error_still_stops_collect_every(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI saw `sre collect postgres --every 1s` ignore SIGINT for 30 s: DuckDB reports an interrupt that lands
    in a query as its own InterruptException, which the warehouse wraps in a WarehouseError, and the loop went
    on past errors. A real SIGINT here, turned into that error, must stop the loop with exit 130."""
    import os
    import signal
    import time

    from sre_lib.app import cli
    from sre_lib.collect import by_source
    from sre_lib.errors import WarehouseError

    calls = []

    def interrupted_in_a_query(*_args: object, **_kwargs: object) -> str:
        calls.append(1)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs at once and ends the sleep
        except KeyboardInterrupt:
            raise WarehouseError("warehouse w.duckdb: INTERRUPT Error: Interrupted!") from None
        raise AssertionError("SIGINT was not delivered")

    previous = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(by_source, "collect_once", interrupted_in_a_query)
    try:
        code = cli.main(["collect", "postgres", "--every", "1s", "--warehouse", str(tmp_path / "w.duckdb")])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130 and len(calls) == 1
    assert "sre: interrupted" in capsys.readouterr().err
