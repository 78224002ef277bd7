"""Constants shared by the library and the CLI; importing this costs nothing."""

#: The database used when no URL is given anywhere, as the original jnt_dbman did.
DEFAULT_URL = "sqlite:////tmp/janitoo_dbman.sqlite"
#: The section of a janitoo configuration file that describes the database.
CONF_SECTION = "database"
#: The environment variable that names the database when neither -u nor -c does.
URL_ENVIRONMENT_VARIABLE = "JANITOO_DB_URL"

#: How constraints are named, on every database: later revisions can drop or
#: alter a constraint by name.  Shared by the models and by migrations, which
#: need only this, not the models.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Alembic's table of the revisions a database is at.
VERSION_TABLE = "alembic_version"
#: What head each branch is at, beside alembic_version (see janitoo_db.guard.registry).
REGISTRY_TABLE = "janitoo_db_branches"
#: Revisions a MySQL/MariaDB migration has started and not finished (see janitoo_db.runtime.interrupted).
PROGRESS_TABLE = "janitoo_db_in_progress"
#: The statements of those revisions, each before it runs and once it is done (see janitoo_db.runtime.journal).
JOURNAL_TABLE = "janitoo_db_journal"
#: The branch whose revisions created each table.
TABLES_TABLE = "janitoo_db_tables"
#: The checksum of each applied revision's file (see janitoo_db.runtime.checksums).
CHECKSUMS_TABLE = "janitoo_db_checksums"
#: janitoo_db's own tables, beside Alembic's alembic_version: no model declares them.
BOOKKEEPING_TABLES = frozenset({REGISTRY_TABLE, PROGRESS_TABLE, JOURNAL_TABLE, TABLES_TABLE, CHECKSUMS_TABLE})
