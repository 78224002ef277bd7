"""Packaging for janitoo_db, its jnt_dbman tool and the janitoo_template example."""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent

# Version directories kept at the top of the source tree, as the seed lays them
# out, and the package each one ships inside of in a wheel.  A wheel has no
# project root, so the revisions go to PACKAGE/models/NAME/, the first place
# janitoo_db looks for them.
TOP_LEVEL_VERSION_DIRS = {"janitoo_template": "janitoo_template"}


class BuildWithVersionDirs(build_py):
    """Copy top-level ``models/NAME/`` revisions into ``PACKAGE/models/NAME/``."""

    def run(self) -> None:
        super().run()
        for name, package in TOP_LEVEL_VERSION_DIRS.items():
            source = HERE / "models" / name
            target = Path(self.build_lib) / package / "models" / name
            target.mkdir(parents=True, exist_ok=True)
            for revision in sorted(source.glob("*.py")):
                shutil.copy2(revision, target / revision.name)


setup(
    name="janitoo_db",
    version="1.0.0",
    description="One SQL database shared by many janitoo extensions, each with its own Alembic branch",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="GPL-3.0-or-later",
    python_requires=">=3.10",
    packages=find_packages(include=["janitoo_db", "janitoo_db.*", "janitoo_template", "janitoo_template.*"]),
    package_data={
        "janitoo_db": ["models/janitoo/*.py", "alembic/*.py", "alembic/*.mako", "py.typed"],
    },
    include_package_data=False,
    cmdclass={"build_py": BuildWithVersionDirs},
    install_requires=[
        "SQLAlchemy>=2.0,<3",
        "alembic>=1.16",
        "click>=8.1",
        "itsdangerous>=2.1",
    ],
    extras_require={
        "postgresql": ["psycopg[binary]>=3.1"],
        "mysql": ["PyMySQL>=1.1"],
        # The tests build and install extensions as users do: setuptools and wheel, offline.
        "test": ["pytest>=7", "setuptools>=64", "wheel"],
        "docs": ["Sphinx>=7", "sphinx-click>=5"],
        "dev": [
            "psycopg[binary]>=3.1",
            "PyMySQL>=1.1",
            "pytest>=7",
            "setuptools>=64",
            "wheel",
            "Sphinx>=7",
            "sphinx-click>=5",
        ],
    },
    entry_points={
        "console_scripts": ["jnt_dbman = janitoo_db.cli:run"],
        "janitoo.models": ["janitoo_template = janitoo_template.models:extend"],
        "pytest11": ["janitoo_db = janitoo_db.testing"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
        "Topic :: Database",
    ],
)
