"""Build hook: the wheel carries the report notebooks, the default config and the example jobs.

They live at the top of the checkout (notebooks/, data/platform.toml, papermill_jobs/), where `make lab`, the
README and colleagues find them; an installed sre_lib finds its copy in ``sre_lib/shipped/`` (see
``sre_lib.locations``). Everything else about the build is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"notebooks": "*.ipynb", "data": "platform.toml", "papermill_jobs": "*.toml"}  # folder: files in it


class BuildPyWithShippedFiles(build_py):
    """The usual build_py, then a copy of the shipped files into ``<build>/sre_lib/shipped/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        target = Path(self.build_lib) / "sre_lib" / "shipped"
        for folder, pattern in SHIPPED.items():
            sources = sorted((ROOT / folder).glob(pattern))
            if not sources:
                raise SystemExit(f"setup.py: no {pattern} in {ROOT / folder}: the wheel would miss them")
            self.mkpath(str(target / folder))
            for source in sources:
                self.copy_file(str(source), str(target / folder / source.name))


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
