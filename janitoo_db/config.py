"""Where the database is, and the in-memory Alembic configuration for every branch.

Nothing here writes a file: the original janitoo copied a config holding the
database URL into the temp directory; this module hands Alembic a ``Config``
built in memory, with one version location per branch.
"""
from __future__ import annotations

import configparser
import os
import re
import sys
import warnings
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

from alembic import util
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError as AlembicRevisionError
from alembic.util import CommandError

from janitoo_db.alembic_internals import all_revisions
from janitoo_db.defaults import CONF_SECTION, DEFAULT_URL, URL_ENVIRONMENT_VARIABLE
from janitoo_db.engine import check_url
from janitoo_db.errors import ConfigError, ExtensionError, RevisionError
from janitoo_db.extensions import Extension, discover, gc_paused, start_branch_command
from janitoo_db.graph import own_labels
from janitoo_db.revision_cache import use_cached_headers

SCRIPT_LOCATION = str(Path(__file__).resolve().parent / "alembic")


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


#: Config attribute: the branch ``generate`` may find without revisions, to write its root.
NEW_BRANCH = "new_branch"
#: Config attribute set once the revisions are loaded: the new branch, when it has no revisions indeed.
UNSTARTED = "unstarted_branch"


def branch_dirs(config: Config) -> dict[str, Path | None]:
    """Each branch's version directory; ``None`` for the new branch (see :func:`alembic_config`) while it has none."""
    new_branch = config.attributes.get(NEW_BRANCH)
    found: dict[str, Path | None] = {}
    for extension in config.attributes["extensions"]:
        try:
            found[extension.name] = extension.version_dir()
        except ExtensionError:
            if extension.name != new_branch:
                raise
            found[extension.name] = None
    return found


def _locations(config: Config) -> list[str]:
    return [str(directory) for directory in branch_dirs(config).values() if directory is not None]


def alembic_config(
    url: str,
    extensions: list[Extension] | None = None,
    *,
    stdout: TextIO = sys.stdout,
    attributes: dict[str, Any] | None = None,
    new_branch: str | None = None,
) -> Config:
    """Build the Alembic ``Config`` for *url* and every branch, without touching the disk.

    A URL that cannot be used is refused here, before any command starts.
    *new_branch* names an extension that may have no revisions yet (its
    version directory empty or missing), so that ``generate`` can write its
    root; every other branch must be whole.
    """
    check_url(url)
    # quiet: Alembic's own progress lines would go to stdout; jnt_dbman reports itself.
    config = Config(stdout=stdout, attributes=attributes, ini_section=CONF_SECTION,
                    cmd_opts=Namespace(quiet=True, x=None))
    return configure(config, url, extensions, new_branch=new_branch)


def configure(config: Config, url: str, extensions: list[Extension] | None = None, *,
              new_branch: str | None = None, spaced: bool = False) -> Config:
    """Point an Alembic ``Config`` at janitoo_db's env.py, every branch's revisions and *url*.

    ``version_locations`` is joined with the system's path separator; with
    *spaced*, with spaces as the original's was, unless a directory's path
    holds a space itself.
    """
    if extensions is None:
        extensions = discover()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes.setdefault("extensions", extensions)
    if new_branch is not None:
        config.attributes[NEW_BRANCH] = new_branch
    locations = _locations(config)
    spaced = spaced and not any(" " in location for location in locations)
    config.set_main_option("path_separator", "space" if spaced else "os")
    config.set_main_option("version_locations", _escape(location_separator(config).join(locations)))
    # Config options go through ConfigParser interpolation: a URL's %-escapes must be doubled.
    config.set_main_option("sqlalchemy.url", _escape(url))
    config.attributes.setdefault("url", url)
    return config


def location_separator(config: Config) -> str:
    """What joins the directories of *config*'s ``version_locations``: a space or the system's path separator."""
    return " " if config.get_main_option("path_separator") == "space" else os.pathsep


def _escape(value: str) -> str:
    return value.replace("%", "%%")


def _duplicate_revision(warning: str, config: Config) -> str:
    """Say which extensions' version directories hold a revision id twice."""
    match = re.search(r"Revision (\S+) is present more than once", warning)
    revision = match.group(1) if match else "?"
    holders = []
    dirs = branch_dirs(config)
    for extension in config.attributes["extensions"]:
        directory = dirs[extension.name]
        if directory is None:
            continue
        files = [f.name for f in sorted(directory.glob("*.py")) if revision in f.read_text(encoding="utf-8")]
        if files:
            holders.append(f"{extension.describe()} in {directory} ({', '.join(files)})")
    return f"revision id {revision} appears more than once: " + "; ".join(holders or [warning])


def _missing_parent(warning: str) -> str:
    """Name the revision whose down_revision or depends_on no installed branch provides."""
    match = re.search(r"Revision (\S+) referenced from .*-> (\w+)", warning)
    missing, child = (match.group(1), match.group(2)) if match else ("?", "?")
    return (f"revision {child} names {missing} as its down_revision or depends_on, and no installed branch "
            "provides it")


def _missing_dependency(script: ScriptDirectory, missing: str) -> str:
    """Name the revisions whose depends_on is *missing*, which no installed branch provides."""
    try:
        children = sorted(r.revision for r in script.revision_map._generator()
                          if missing in util.to_tuple(r.dependencies, default=()))
    except Exception:  # noqa: BLE001 - only to name them; the error is raised either way
        children = []
    return (f"revision {', '.join(children) or '?'} names {missing} in its depends_on, and no installed branch "
            f"provides it: install the extension whose revision {missing} is again")


def script_for(config: Config) -> ScriptDirectory:
    """The revisions of every branch, loaded and checked once per Config."""
    if "script" not in config.attributes:
        config.attributes["script"] = script_directory(config)
    return config.attributes["script"]


def script_directory(config: Config) -> ScriptDirectory:
    """Load every branch's revisions and check that each branch is what it claims.

    Each version directory must hold exactly one branch root, labelled with the
    extension's name; no revision id may appear twice.  The new branch (see
    :func:`alembic_config`) may have no revisions at all.
    """
    extensions: list[Extension] = config.attributes["extensions"]
    dirs = branch_dirs(config)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Revision .* is present more than once")
        warnings.filterwarnings("error", message="Revision .* referenced from .* is not present")
        try:
            script = ScriptDirectory.from_config(config)
            use_cached_headers(script, _locations(config))
            with gc_paused():
                revisions = all_revisions(script)
        except UserWarning as warning:
            if "is not present" in str(warning):
                raise RevisionError(_missing_parent(str(warning))) from None
            raise RevisionError(_duplicate_revision(str(warning), config)) from None
        except (CommandError, AlembicRevisionError) as error:  # a cycle, a missing down_revision...
            raise RevisionError(str(error)) from None
        except KeyError as error:  # Alembic's map has no entry for a depends_on: its extension is uninstalled
            raise RevisionError(_missing_dependency(script, str(error.args[0]))) from None
        except SyntaxError as error:
            raise RevisionError(
                f"syntax error in revision file {error.filename or '(not named by Python)'}"
                f"{f', line {error.lineno}' if error.lineno else ''}: {error.msg}") from None
    # Alembic builds each path from the (already resolved) version location it was found in.
    by_dir: dict[str, list[Any]] = {}
    for revision in revisions:
        if hasattr(revision, "path"):
            by_dir.setdefault(os.path.dirname(revision.path), []).append(revision)
    for extension in extensions:
        directory = dirs[extension.name]
        held = by_dir.get(str(directory), []) if directory is not None else []
        if not held and extension.name == config.attributes.get(NEW_BRANCH):
            config.attributes[UNSTARTED] = extension.name  # generate writes its root
            continue
        if not held:
            raise ExtensionError(f"{extension.describe()}: {directory} holds no revision; "
                                 f"start its branch with {start_branch_command(extension.name)}")
        roots = [r for r in held if r.is_base]
        if len(roots) != 1:
            found = ", ".join(r.revision for r in roots) or "none"
            raise ExtensionError(
                f"{extension.describe()}: {directory} must hold exactly one branch root, found {found}"
            )
        labels = own_labels(roots[0])
        if extension.name not in labels:
            shown = ", ".join(sorted(labels)) or "no label"
            raise ExtensionError(
                f"{extension.describe()}: its branch root {roots[0].revision} in {directory} "
                f"is labelled {shown}, not {extension.name!r}"
            )
        # A revision added to another branch from here would outlive this extension's uninstall.
        strays = [r for r in by_dir[str(directory)] if extension.name not in r.branch_labels]
        if strays:
            stray = strays[0]
            raise ExtensionError(
                f"{extension.describe()}: {directory} holds revision {stray.revision} "
                f"({os.path.basename(stray.path)}) of branch {', '.join(sorted(stray.branch_labels)) or 'none'}; "
                f"every revision there must belong to {extension.name!r}"
            )
    return script
