"""What janitoo_db's packaged ``env.py`` does, for jnt_dbman and for plain ``alembic``.

Migrations hold a database lock, so several servers starting at once run them
one after the other.  Where DDL is transactional (PostgreSQL, SQLite) every
revision of a command runs in one transaction; on MySQL/MariaDB, whose DDL
commits by itself, Alembic runs one transaction per revision.
"""
from __future__ import annotations

import configparser
import zlib
from contextlib import contextmanager
from logging.config import fileConfig
from typing import Any, Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from janitoo_db.engine import connect, create_db_engine, parse_url

#: Key of the PostgreSQL advisory lock and prefix of the MySQL named lock.
LOCK_NAME = "janitoo_db.migrate"
LOCK_KEY = zlib.crc32(LOCK_NAME.encode())
#: Seconds MySQL/MariaDB waits for another migrating process.
MYSQL_LOCK_TIMEOUT = 600


def has_transactional_ddl(connection: Connection) -> bool:
    """False for MySQL and MariaDB, whose DDL statements commit by themselves."""
    return connection.dialect.name not in ("mysql", "mariadb")


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock; its work is committed on success.

    With transactional DDL the connection is inside one transaction that is
    rolled back on any error; otherwise it is outside any transaction so that
    Alembic can commit after each revision.
    """
    with connect(engine) as connection:
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
        if has_transactional_ddl(connection):
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                yield connection
            return
        name = connection.execute(text("SELECT CONCAT(:prefix, DATABASE())"), {"prefix": LOCK_NAME + ":"}).scalar()
        name = name[:64]
        connection.execute(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": MYSQL_LOCK_TIMEOUT})
        connection.commit()
        try:
            yield connection
            if connection.in_transaction():
                connection.commit()
        finally:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            connection.commit()


def _configure_logging(config: Any) -> None:
    """Apply the ini file's logging sections, if it has any (never for jnt_dbman)."""
    if config.config_file_name is None:
        return
    parser = configparser.ConfigParser()
    parser.read(config.config_file_name)
    if parser.has_section("loggers"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_environment(context: Any) -> None:
    """Run the migrations Alembic asked for, online or offline (``--sql``)."""
    config = context.config
    _configure_logging(config)
    import janitoo_db.models  # noqa: F401  (loads every extension's tables)
    from janitoo_db.base import Base

    options: dict[str, Any] = {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "render_as_batch": True,
        "include_object": config.attributes.get("include_object"),
        "on_version_apply": config.attributes.get("on_version_apply", ()),
    }
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=parse_url(url), literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(context, connection, options)
        return
    engine = create_db_engine(url)
    try:
        with migration_connection(engine) as connection:
            _run_online(context, connection, options)
    finally:
        engine.dispose()


def _run_online(context: Any, connection: Connection, options: dict[str, Any]) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
