"""Each branch's version directory, as every command and the revision cache name them."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from janitoo_db.errors import ExtensionError

if TYPE_CHECKING:
    from janitoo_db.site import Site


def branch_dirs(site: Site) -> dict[str, Path | None]:
    """Each branch's version directory; ``None`` for the site's new branch while it has none."""
    found: dict[str, Path | None] = {}
    for extension in site.extensions:
        try:
            found[extension.name] = extension.version_dir()
        except ExtensionError:
            if extension.name != site.new_branch:
                raise
            found[extension.name] = None
    return found


def locations(site: Site) -> list[str]:
    """The version directories Alembic is given: every branch's that exists."""
    return [str(directory) for directory in branch_dirs(site).values() if directory is not None]
