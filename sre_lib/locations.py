"""Where the workbench keeps things, checked out or installed.

The workbench home holds what a user makes and keeps: ``data/`` (config, warehouse), ``reports/`` and
``papermill_jobs/``. It is ``$SRE_HOME``, else the source checkout when sre_lib runs from one, else the current
directory (sre_lib installed from a wheel, run from a folder of the user's choosing). What the project ships
(report notebooks, the default platform config, the example jobs) comes from the checkout, or, installed, from
the copy the wheel carries inside the package (``sre_lib/shipped/``, put there by setup.py at build time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

__all__ = [
    "HOME_ENV_VAR",
    "SHIPPED_PACKAGE_DIR",
    "checkout_root",
    "home_or_shipped",
    "shipped_path",
    "workbench_home",
]

HOME_ENV_VAR = "SRE_HOME"
#: Inside an installed package: where the wheel carries notebooks/, data/platform.toml and papermill_jobs/.
SHIPPED_PACKAGE_DIR = "shipped"


def checkout_root() -> Path | None:
    """The source checkout sre_lib runs from, or None when it runs installed (from site-packages)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def workbench_home(env: Mapping[str, str] | None = None) -> Path:
    """Where data/, reports/ and papermill_jobs/ go: ``$SRE_HOME``, else the checkout, else the current directory."""
    env = os.environ if env is None else env
    if env.get(HOME_ENV_VAR):
        return Path(env[HOME_ENV_VAR]).expanduser().resolve()
    return checkout_root() or Path.cwd().resolve()


def shipped_path(relative: str) -> Path:
    """A file or folder the project ships (``notebooks``, ``data/platform.toml``, ``papermill_jobs``): the
    checkout's when running from one, else the copy inside the installed package."""
    root = checkout_root()
    if root is not None:
        return root / relative
    return Path(str(files("sre_lib") / SHIPPED_PACKAGE_DIR)) / relative


def home_or_shipped(relative: str, home: Path | None = None) -> Path:
    """``relative`` under the workbench home if it exists there (the user's own), else the shipped one."""
    own = (home or workbench_home()) / relative
    return own if own.exists() else shipped_path(relative)
