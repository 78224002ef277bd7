"""The in-memory Alembic configuration of every branch, for code that hands one to Alembic.

jnt_dbman and :mod:`janitoo_db.commands` work on a :class:`janitoo_db.site.Site`;
this module keeps the names callers used before (``alembic_config``,
``resolve_url``, ``read_conf_url``...), and builds the Alembic ``Config`` of a Site.
"""
from __future__ import annotations

from typing import TextIO

from alembic.config import Config
from alembic.script import ScriptDirectory

from janitoo_db.site import SCRIPT_LOCATION, Site, location_separator
from janitoo_db.site.conf import read_conf_section, read_conf_url, resolve_url, version_locations
from janitoo_db.site.extensions import Extension

__all__ = ["SCRIPT_LOCATION", "alembic_config", "configure", "location_separator", "read_conf_section", "read_conf_url",
           "resolve_url", "script_for", "version_locations"]


def alembic_config(url: str, extensions: list[Extension] | None = None, *, stdout: TextIO | None = None,
                   new_branch: str | None = None) -> Config:
    """The Alembic ``Config`` of a new :class:`~janitoo_db.site.Site` for *url*, built in memory.

    For callers of Alembic's own API; :mod:`janitoo_db.commands` take either.
    """
    return Site(url, extensions, new_branch=new_branch, stdout=stdout).alembic_config


def configure(config: Config, url: str, extensions: list[Extension] | None = None, *,
              new_branch: str | None = None, spaced: bool = False) -> Config:
    """Point an Alembic ``Config`` of the caller's at our env.py, every branch's revisions and *url*.

    The Config then carries a new :class:`~janitoo_db.site.Site` for *url*,
    as :func:`alembic_config`'s does.
    """
    Site(url, extensions, new_branch=new_branch, spaced=spaced, check=False).configure(config)
    return config


def script_for(given: Site | Config) -> ScriptDirectory:
    """The revisions of every branch, loaded and checked once per Site."""
    return Site.of(given).script
