"""Where the workbench keeps things: $SRE_HOME, else the checkout, else the current folder; shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import PROJECT_ROOT

from sre_lib import config, locations
from sre_lib.locations import checkout_root, home_or_shipped, shipped_path, workbench_home


def test_sre_home_comes_first(tmp_path: Path) -> None:
    assert workbench_home({"SRE_HOME": str(tmp_path)}) == tmp_path.resolve()


def test_a_checkout_is_its_own_home_and_ships_its_own_files() -> None:
    assert checkout_root() == PROJECT_ROOT
    assert workbench_home({}) == PROJECT_ROOT
    assert shipped_path("notebooks") == PROJECT_ROOT / "notebooks"
    assert config.PROJECT_ROOT == PROJECT_ROOT  # as before, when nothing says otherwise
    assert config.DEFAULT_CONFIG_PATH == PROJECT_ROOT / "data" / "platform.toml"


def test_installed_the_home_is_the_current_folder_and_files_come_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locations, "checkout_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert workbench_home({}) == tmp_path.resolve()
    assert shipped_path("data/platform.toml") == Path(locations.__file__).parent / "shipped" / "data" / "platform.toml"


def test_the_homes_own_file_wins_over_the_shipped_one(tmp_path: Path) -> None:
    assert home_or_shipped("data/platform.toml", tmp_path) == PROJECT_ROOT / "data" / "platform.toml"
    own = tmp_path / "data" / "platform.toml"
    own.parent.mkdir()
    own.write_text("", encoding="utf-8")
    assert home_or_shipped("data/platform.toml", tmp_path) == own
