"""Packaging for janitoo_db and its jnt_dbman tool.

Only the ``janitoo_db`` package is published.  The tutorial's example
extension, ``janitoo_template``, is a distribution of its own
(``janitoo_template/pyproject.toml``) that a clone installs in editable mode:
the README's set-up command does, so that every user's database does not get
the example's tables.
"""
from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

# The floors are the oldest releases the whole test suite passes on; CI runs it
# on them (.ci/oldest.txt) as well as on the newest.
FLASK_CALLER = ["Flask>=2.2.5", "Flask-SQLAlchemy>=3.0.5", "Flask-Login>=0.6.3"]
POSTGRESQL_DRIVER = ["psycopg[binary]>=3.1"]
MYSQL_DRIVER = ["PyMySQL>=1.1"]
LOCK_LINT = ["squawk-cli>=2.70"]
setup(
    name="janitoo_db",
    version="1.0.0",
    description="One SQL database shared by many janitoo extensions, each with its own Alembic branch",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license_expression="GPL-3.0-or-later",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["janitoo_db", "janitoo_db.*"]),
    package_data={
        "janitoo_db": ["models/janitoo/*.py", "models/janitoo/plan_notes.json", "alembic/*.py", "alembic/*.mako",
                       "py.typed"],
    },
    include_package_data=False,
    install_requires=[
        "SQLAlchemy>=2.0,<3",
        "alembic>=1.16",
        # 8.2 keeps stderr apart in CliRunner's results, which the tests read.
        "click>=8.2.0",
        "itsdangerous>=2.1",
        # [tool.janitoo_db] post-write hooks in an extension's pyproject.toml.
        "tomli>=1.1; python_version < '3.11'",
        # --no-destructive and --plan read a revision's SQL with it (janitoo_db.guard.sql_text); older
        # releases read less of MySQL's and PostgreSQL's syntax (it is then refused, not checked).
        "sqlglot>=30.22",
    ],
    extras_require={
        "postgresql": POSTGRESQL_DRIVER,
        "mysql": MYSQL_DRIVER,
        # The tests build and install packages as users do, offline: setuptools
        # (which Python 3.12+ venvs lack) builds wheels itself since 70.1.
        # The model-based test (tests/test_model_based.py) is a Hypothesis state machine.
        # tests/test_original_callers.py runs a Flask application whose models mix the core's
        # with Flask-SQLAlchemy's db.Model and log in with Flask-Login, as janitoo_manager did.
        # Both drivers: where PostgreSQL and MariaDB run, their tests run too (without a driver they skip).
        # pytest-xdist: the README's test command runs the suite on every core (-n auto).
        # squawk-cli: upgrade --plan --lint's checks run where PostgreSQL does.
        "test": ["pytest>=7", "pytest-xdist>=3.0.2", "setuptools>=77.0.3", "hypothesis>=6.0", *FLASK_CALLER,
                 *POSTGRESQL_DRIVER, *MYSQL_DRIVER, *LOCK_LINT],
        # upgrade --plan --lint: squawk, which ships its own binary, reads PostgreSQL's locks.
        "lint": LOCK_LINT,
        # autodoc imports janitoo_db.testing, the pytest plugin, which imports pytest.
        # sphinxcontrib-mermaid: the picture jnt_dbman graph draws, in docs/operating.rst.
        "docs": ["Sphinx>=7", "sphinx-click>=5", "sphinxcontrib-mermaid>=1.0", "pytest>=7"],
        "dev": [
            *POSTGRESQL_DRIVER,
            *MYSQL_DRIVER,
            *LOCK_LINT,
            "pytest>=7",
            "pytest-xdist>=3.0.2",
            "setuptools>=77.0.3",
            "hypothesis>=6.0",
            *FLASK_CALLER,
            "Sphinx>=7",
            "sphinx-click>=5",
            "sphinxcontrib-mermaid>=1.0",
            # CI's lint and type checks (.ci/run); older releases report differently.
            "ruff>=0.9",
            "mypy>=1.20",
        ],
    },
    entry_points={
        "console_scripts": ["jnt_dbman = janitoo_db.cli:run"],
        "pytest11": ["janitoo_db = janitoo_db.testing"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Database",
    ],
)
