"""The public API: every name a module exports exists, is documented, and is listed once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import sre_lib

MODULES = sorted(info.name for info in pkgutil.walk_packages(sre_lib.__path__, prefix="sre_lib.") if not info.ispkg)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_says_what_it_is_for(name: str) -> None:
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no module docstring"


@pytest.mark.parametrize("name", [m for m in MODULES if hasattr(importlib.import_module(m), "__all__")])
def test_exported_names_exist_once_and_are_documented(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.__all__ names {attribute!r}, which does not exist"
        value = getattr(module, attribute)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name}.{attribute} has no docstring"
