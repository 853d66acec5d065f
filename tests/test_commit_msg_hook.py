"""The commit-msg hook the project installs: subjects of at most 72 characters, a blank line before the body."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import PROJECT_ROOT

HOOK = PROJECT_ROOT / ".githooks" / "commit-msg"


def _check(tmp_path: Path, message: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message, encoding="utf-8")
    return subprocess.run([sys.executable, str(HOOK), str(path)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "message",
    ["Fix the thing\n", "Fix the thing\n\nWhy, and how it was tested.\n", "x" * 72 + "\n", "Subject\n# a comment\n"],
)
def test_a_scannable_message_passes(tmp_path: Path, message: str) -> None:
    result = _check(tmp_path, message)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("x" * 73 + "\n", "the subject is 73 characters: at most 72"),
        ("Subject\nbody right under it\n", "the second line is not blank"),
        ("\n\nbody only\n", "the subject (first line) is empty"),
        ("# only a comment\n", "the subject (first line) is empty"),
    ],
)
def test_a_message_hard_to_scan_is_refused_with_the_reason(tmp_path: Path, message: str, problem: str) -> None:
    result = _check(tmp_path, message)
    assert result.returncode == 1
    assert problem in result.stderr


def test_make_installs_the_hook() -> None:
    makefile = (HOOK.parents[1] / "Makefile").read_text(encoding="utf-8")
    assert "git config core.hooksPath .githooks" in makefile
