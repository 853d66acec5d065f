"""Every package declares its API in ``__all__``, and ``__all__`` says exactly what the package offers.

In the spirit of httpx's ``tests/test_exported_members.py``: a package's ``__all__`` equals its public names,
so notebooks and users know what they may import. Two kinds of package:

* a layer (``sre_lib.collect``) groups modules and re-exports nothing: ``__all__`` lists every public submodule;
* a facade (``sre_lib.analysis.health``) re-exports names from its own modules: ``__all__`` lists exactly those
  names, that is ``dir()`` without underscores, without submodules and without names imported from elsewhere
  (``annotations``, ``Path``, ...).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import sre_lib

SUBPACKAGES = sorted(info.name for info in pkgutil.walk_packages(sre_lib.__path__, prefix="sre_lib.") if info.ispkg)
PACKAGES = ["sre_lib", *SUBPACKAGES]
FUTURE_FEATURE = type(annotations)  # what `from __future__ import annotations` binds in every module


def submodule_names(package: ModuleType) -> set[str]:
    """The public modules and subpackages inside ``package``, imported or not."""
    return {info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")}


def own_public_names(package: ModuleType) -> set[str]:
    """Names the package offers itself: public, not a module, and not imported from outside the package."""
    names = set()
    for name in dir(package):
        if name.startswith("_"):
            continue
        value = getattr(package, name)
        if inspect.ismodule(value) or isinstance(value, FUTURE_FEATURE):
            continue
        home = getattr(value, "__module__", None) if inspect.isfunction(value) or inspect.isclass(value) else None
        if home is not None and home != package.__name__ and not home.startswith(package.__name__ + "."):
            continue  # imported from another package (Path, dataclass, a foundation error)
        names.add(name)
    return names


@pytest.mark.parametrize("name", PACKAGES)
def test_every_package_declares_all(name: str) -> None:
    package = importlib.import_module(name)
    assert isinstance(getattr(package, "__all__", None), list | tuple), f"{name} has no __all__"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_equals_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = set(getattr(package, "__all__", ()))
    modules = submodule_names(package)
    own = own_public_names(package)
    if own:  # a facade: exactly the names it offers (submodules may be listed too)
        listed = {item for item in exported if item in own or item not in modules}  # a function may share a name
        assert listed == own, (
            f"{name}.__all__ differs from its public names: "
            f"missing {sorted(own - listed)}, not public {sorted(listed - own)}"
        )
    else:  # a layer: every public submodule
        assert exported == modules, (
            f"{name}.__all__ differs from its modules: missing {sorted(modules - exported)}, "
            f"no such module {sorted(exported - modules)}"
        )


@pytest.mark.parametrize("name", PACKAGES)
def test_exported_names_exist_once_and_are_documented(name: str) -> None:
    package = importlib.import_module(name)
    exported = list(getattr(package, "__all__", ()))
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    for attribute in exported:
        if attribute in submodule_names(package):
            value = importlib.import_module(f"{name}.{attribute}")
        else:
            assert hasattr(package, attribute), f"{name}.__all__ names {attribute!r}, which does not exist"
            value = getattr(package, attribute)
        if inspect.ismodule(value) or inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), f"{name}.{attribute} has no docstring"


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from sre_lib.collect import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sre_lib.collect.__all__)
