"""janitoo_db.base.create_db_engine: what the original accepted, and what it accepts today."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from janitoo_db.base import create_db_engine
from janitoo_db.errors import ConfigError
from janitoo_db.site.options import ConfFileOptions


class JanitooLikeOptions:
    """janitoo's JNTOptions as create_db_engine uses it: get_options('database') gives the section."""

    def __init__(self, database: dict[str, Any]) -> None:
        self.asked: list[str] = []
        self.database = database

    def get_options(self, section: str) -> dict[str, Any]:
        self.asked.append(section)
        return self.database


def query_one(engine: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar()


def test_a_url_string(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    assert str(engine.url) == sqlite_url and query_one(engine) == 1


def test_an_options_object_gives_its_database_section(sqlite_url: str) -> None:
    options = JanitooLikeOptions({"sqlalchemy.url": sqlite_url, "auto_migrate": "true", "here": "/x"})
    engine = create_db_engine(options)
    assert options.asked == ["database"]
    assert str(engine.url) == sqlite_url and query_one(engine) == 1


def test_the_sections_other_sqlalchemy_keys_are_engine_options(tmp_path: Path, sqlite_url: str) -> None:
    conf = tmp_path / "janitoo.conf"
    conf.write_text(f"[database]\nsqlalchemy.url = {sqlite_url}\nsqlalchemy.echo = true\n"
                    "sqlalchemy.pool_recycle = 60\nauto_migrate = false\n")
    engine = create_db_engine(ConfFileOptions(conf))
    assert engine.echo is True and engine.pool._recycle == 60
    assert create_db_engine({"sqlalchemy.url": sqlite_url, "sqlalchemy.echo": "false"}).echo is False


def test_unusable_sections_are_our_errors(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="no sqlalchemy.url"):
        create_db_engine(JanitooLikeOptions({"auto_migrate": "true"}))
    with pytest.raises(ConfigError, match="unusable engine option in .database.: .*no_such_option"):
        create_db_engine({"sqlalchemy.url": sqlite_url, "sqlalchemy.no_such_option": "1"})
    with pytest.raises(ConfigError, match="takes a URL, a .database. section, or janitoo options, not int"):
        create_db_engine(42)
