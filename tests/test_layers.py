"""The layers show as folders and imports only go down them: app -> reviews -> analysis -> warehouse ->
foundation; collect and demo -> warehouse -> foundation; hub (the live test platform) -> foundation. A module
that imports upward fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sre_lib

PACKAGE = Path(sre_lib.__file__).parent

#: What each layer may import besides itself; the foundation is the modules at the package's root.
ALLOWED: dict[str, set[str]] = {
    "foundation": {"foundation"},
    "warehouse": {"foundation"},
    "collect": {"warehouse", "foundation"},
    "demo": {"warehouse", "foundation"},
    "hub": {"foundation"},
    "analysis": {"warehouse", "foundation"},
    "reviews": {"analysis", "warehouse", "foundation"},
    "app": {"collect", "demo", "hub", "reviews", "analysis", "warehouse", "foundation"},
}


def _layer(dotted: str) -> str:
    """``sre_lib.analysis.health`` -> analysis; ``sre_lib.config`` (a module at the root) -> foundation."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "foundation"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sre_lib":
                found += [f"sre_lib.{alias.name}" for alias in node.names]
            elif node.module.startswith("sre_lib."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("sre_lib.")]
    return found


def _dotted(path: Path) -> str:
    return ".".join(("sre_lib", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_only_go_down_the_layers(path: Path) -> None:
    module = _dotted(path)
    layer = _layer(module) if module != "sre_lib" else "foundation"
    upward = [name for name in _imports(path) if _layer(name) not in ALLOWED[layer] | {layer}]
    assert not upward, f"{module} ({layer}) imports from a layer above or beside it: {upward}"


def test_no_module_is_over_600_lines_and_no_two_share_a_name() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in _modules() if (n := len(path.read_text().splitlines())) > 600}
    assert not long, f"modules over 600 lines: {long}"
    names = [path.name for path in _modules() if path.name != "__init__.py"]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
