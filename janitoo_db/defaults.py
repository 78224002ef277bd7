"""Defaults shared by the library and the CLI; importing this costs nothing."""

#: The database used when no URL is given anywhere, as the original jnt_dbman did.
DEFAULT_URL = "sqlite:////tmp/janitoo_dbman.sqlite"
#: The environment variable that names the database when neither -u nor -c does.
URL_ENVIRONMENT_VARIABLE = "JANITOO_DB_URL"
