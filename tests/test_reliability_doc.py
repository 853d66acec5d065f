"""docs/reliability.md: every row of the fault table names a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
DOC = ROOT / "docs" / "reliability.md"
TEST_REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_fault_row_names_a_test_that_exists() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    faults = [row for row in rows if not row.startswith(("| fault", "|---"))]
    assert len(faults) >= 60
    missing = []
    for row in faults:
        references = TEST_REFERENCE.findall(row)
        assert references, f"a fault row names no test: {row[:80]}"
        for file, name in references:
            path = ROOT / file
            if not path.is_file() or name not in _test_functions(path):
                missing.append(f"{file}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
