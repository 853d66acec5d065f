"""sre_lib works installed from a wheel, not only from a checkout: `sre demo` and `sre report` from an empty folder.

Installed, sre_lib sits in site-packages, far from the checkout's notebooks/, data/ and papermill_jobs/. The wheel
carries the notebooks, the default config and the example jobs (setup.py copies them into sre_lib/shipped/), and
what a user makes (warehouse, reports) goes under the workbench home: $SRE_HOME, else the current folder.

The wheel is built from a copy of the sources, so the checkout gains no build/ folder. It is installed with
--no-deps into a fresh virtualenv whose dependencies come from ours, through a .pth line naming our site-packages.
(A --system-site-packages venv made by a venv's python sees the base interpreter's packages, not the venv's.) A
plain path line, unlike site.addsitedir, runs none of our .pth files, so our editable install of the checkout
stays out of the way, and the test checks that the installed copy is the one imported.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from support.paths import PROJECT_ROOT

#: What a wheel is built from (the rest of the checkout, tests and benchmarks, stays out of it).
BUILD_INPUTS = (
    "pyproject.toml", "setup.py", "README.md", "sre_lib", "notebooks", "data/platform.toml", "papermill_jobs",
)  # fmt: skip
#: An offline build (no PyPI) needs this setuptools in our venv; older ones refuse pyproject's `license = "MIT"`.
OFFLINE_SETUPTOOLS = 77
TIMEOUT_SECONDS = 600

pytestmark = pytest.mark.slow


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.duckdb*", ".ipynb_checkpoints", "shipped")
    for name in BUILD_INPUTS:
        source = PROJECT_ROOT / name
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=ignore)
        else:
            shutil.copy2(source, destination)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with sre-workbench installed from a wheel; returns its bin/ folder."""
    root = tmp_path_factory.mktemp("installed")
    sources, wheels, venv = root / "src", root / "wheels", root / "venv"
    _copy_sources(sources)
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(sources)]
    if int(version("setuptools").split(".")[0]) >= OFFLINE_SETUPTOOLS:
        build.insert(4, "--no-build-isolation")  # no PyPI needed
    _run(build, cwd=root)
    (wheel,) = wheels.glob("sre_workbench-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    (venv_site,) = venv.glob("lib/python*/site-packages")
    ours = [path for path in site.getsitepackages() if Path(path).is_dir()]
    (venv_site / "sre_dependencies.pth").write_text("".join(f"{path}\n" for path in ours), encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
          str(wheel)], cwd=root)  # fmt: skip
    return venv / "bin"


def _clean_environment(home: Path | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SRE_", "PYTHON", "VIRTUAL_ENV"))}
    # nbconvert's templates are data files of our venv (share/jupyter), which a .pth line does not reach
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    if home is not None:
        env["SRE_HOME"] = str(home)
    return env


def test_the_installed_package_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    probe = "import sre_lib, sre_lib.config as c; print(sre_lib.__file__); print(c.DEFAULT_CONFIG_PATH)"
    result = _run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=_clean_environment())
    module_file, config_path = result.stdout.splitlines()
    assert "site-packages" in module_file and not module_file.startswith(str(PROJECT_ROOT))
    assert config_path.endswith("sre_lib/shipped/data/platform.toml")


def test_demo_and_a_report_run_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = _clean_environment()
    demo = _run([str(installed / "sre"), "demo", "--days", "2", "--no-reports"], cwd=empty, env=env)  # days: any
    assert f"demo warehouse ready: {empty / 'data' / 'warehouse.duckdb'}" in demo.stdout
    _run([str(installed / "sre"), "report", "dr"], cwd=empty, env=env)
    status = (empty / "reports" / "dr" / "latest" / "status.json").read_text(encoding="utf-8")
    assert '"status": "ok"' in status
    assert sorted(path.name for path in empty.iterdir()) == ["data", "reports"]


def test_sre_home_decides_where_data_and_reports_go(installed: Path, tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(
        [str(installed / "sre"), "demo", "--days", "1", "--no-reports"], cwd=elsewhere, env=_clean_environment(home)
    )
    assert f"demo warehouse ready: {home / 'data' / 'warehouse.duckdb'}" in result.stdout
    assert not any(elsewhere.iterdir())
