"""Build hook: ship the top-level templates/ and config/ as package data.

The project keeps `templates/` and `config/` at the top level (the product brief fixes the
layout); a non-editable install still needs them, so the wheel carries copies under
`newsletter/_templates` and `newsletter/_starter`.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


class BuildPyWithData(build_py):
    """Copy templates and the starter config into the built package."""

    def run(self) -> None:
        super().run()
        package = Path(self.build_lib) / "newsletter"
        shutil.copytree(ROOT / "templates", package / "_templates", dirs_exist_ok=True)
        shutil.copytree(ROOT / "config", package / "_starter", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithData})
