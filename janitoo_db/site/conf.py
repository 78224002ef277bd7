"""Where the database is: the URL given, a janitoo INI file's, the environment's, or the default.

Nothing here writes a file: the original janitoo copied a config holding the
database URL into the temp directory; janitoo_db reads the INI file and
builds the rest in memory (:class:`janitoo_db.site.Site`).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from janitoo_db.defaults import CONF_SECTION, DEFAULT_URL, URL_ENVIRONMENT_VARIABLE
from janitoo_db.errors import ConfigError
from janitoo_db.site.extensions import Extension

if TYPE_CHECKING:
    import configparser


def read_conf_section(conf_file: str | os.PathLike[str], section: str = CONF_SECTION) -> dict[str, str]:
    """Every option of one section of a janitoo INI file, such as ``[database]``.

    ``%(here)s`` is the file's directory, as in Alembic; a literal ``%`` is written ``%%``.
    """
    with _reading(conf_file, section) as parser:
        return {key: parser.get(section, key) for key in parser.options(section) if key != "here"}


def read_conf_url(conf_file: str | os.PathLike[str]) -> str:
    """Read ``sqlalchemy.url`` from the ``[database]`` section of a janitoo INI file."""
    with _reading(conf_file, CONF_SECTION) as parser:
        return parser.get(CONF_SECTION, "sqlalchemy.url")


@contextmanager
def _reading(conf_file: str | os.PathLike[str], section: str) -> Iterator[configparser.ConfigParser]:
    """A parser of *conf_file*; what goes wrong while reading it becomes one ConfigError line."""
    import configparser  # only when there is a file to read: a start given -u does without

    path = Path(conf_file)
    parser = configparser.ConfigParser(defaults={"here": str(path.resolve().parent)})
    try:
        if not parser.read(path, encoding="utf-8"):
            raise ConfigError(f"cannot read the configuration file {path}")
        yield parser
    except configparser.NoSectionError:
        raise ConfigError(f"{path} has no [{section}] section") from None
    except configparser.NoOptionError as error:
        raise ConfigError(f"{path}: the [{section}] section has no {error.option}") from None
    except configparser.InterpolationError as error:
        # Never quote the value: it is often a URL, and its text after the '%' a piece of the password.
        raise ConfigError(f"{path}: the value of {error.option} in [{error.section}] holds a '%' that cannot be "
                          "expanded (write a literal % as %%)") from None
    except configparser.Error as error:
        first_line = str(error).splitlines()[0]
        raise ConfigError(f"{path}: {first_line} (write a literal % as %%)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a configuration file: it is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read the configuration file {path}: {error.strerror}") from None


def resolve_url(url: str | None = None, conf_file: str | os.PathLike[str] | None = None) -> str:
    """The database URL: *url*, else *conf_file*'s, else ``$JANITOO_DB_URL``, else the default."""
    if url is not None:
        return url
    if conf_file:
        return read_conf_url(conf_file)
    return os.environ.get(URL_ENVIRONMENT_VARIABLE) or DEFAULT_URL


def version_locations(extensions: Iterable[Extension]) -> list[str]:
    """The version directory of each branch, core first."""
    return [str(extension.version_dir()) for extension in extensions]
