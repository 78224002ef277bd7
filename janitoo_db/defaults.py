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
