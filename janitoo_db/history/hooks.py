"""Post-write hooks: programs run on every revision file ``generate`` and ``merge`` write.

They follow Alembic's ``post_write_hooks``: the same keys, the same hook
types (``exec``, ``module``, ``console_scripts``), the same
``REVISION_SCRIPT_FILENAME`` token.  They come from the ``[database]``
section of the ``-c`` configuration file::

    [database]
    hooks = ruff
    ruff.type = exec
    ruff.executable = %(here)s/.venv/bin/ruff
    ruff.options = format REVISION_SCRIPT_FILENAME

else from the ``pyproject.toml`` of the project that holds the version
directory, in the form of Alembic's ``[tool.alembic]``::

    [[tool.janitoo_db.post_write_hooks]]
    name = "ruff"
    type = "exec"
    executable = "ruff"
    options = "format REVISION_SCRIPT_FILENAME"

A conf file with a ``hooks`` key, even an empty one, replaces the project's
hooks for that run.  Unlike Alembic, janitoo_db runs them itself, on the file still in its
staging directory: a hook that exits with a non-zero status, or cannot be
started, is an error, and the revision is not written.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping

from janitoo_db.errors import ConfigError, RevisionError

#: Replaced by the revision file's path in a hook's options (put first when absent), as in Alembic.
REVISION_SCRIPT_TOKEN = "REVISION_SCRIPT_FILENAME"
#: What each hook type needs besides its type.
REQUIRED = {"exec": "executable", "module": "module", "console_scripts": "entrypoint"}


@dataclass(frozen=True)
class Hook:
    """One post-write hook: its name and its options (``type``, ``executable``, ``options``, ``cwd``...)."""

    name: str
    options: Mapping[str, str] = field(default_factory=dict)
    #: Where it was configured, for error messages.
    source: str = ""


def configured(conf_file: str | os.PathLike[str] | None, version_dir: Path) -> list[Hook]:
    """The hooks of the conf file's ``[database]`` when it has a ``hooks`` key, else the project's pyproject.toml's."""
    if conf_file:
        hooks = from_conf(conf_file)
        if hooks is not None:
            return hooks
    return from_pyproject(version_dir)


def from_conf(conf_file: str | os.PathLike[str]) -> list[Hook] | None:
    """The hooks a conf file's ``[database]`` section names with Alembic's keys, or None without a ``hooks`` key."""
    from janitoo_db.site.conf import read_conf_section

    section = read_conf_section(conf_file)
    if "hooks" not in section:
        return None
    hooks = []
    for name in (n for n in re.split(r"[\s,]+", section["hooks"]) if n):
        prefix = f"{name}."
        options = {key[len(prefix):]: value for key, value in section.items() if key.startswith(prefix)}
        hooks.append(Hook(name, options, f"{conf_file} [database] {name}."))
    return hooks


def from_pyproject(version_dir: Path) -> list[Hook]:
    """The ``[[tool.janitoo_db.post_write_hooks]]`` of the first pyproject.toml above *version_dir*."""
    pyproject = next((d / "pyproject.toml" for d in (version_dir, *version_dir.parents)
                      if (d / "pyproject.toml").is_file()), None)
    if pyproject is None:
        return []
    tool = _read_toml(pyproject).get("tool", {}).get("janitoo_db", {})
    entries = tool.get("post_write_hooks", []) if isinstance(tool, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise ConfigError(f"{pyproject}: tool.janitoo_db.post_write_hooks must be an array of tables, "
                          "each with a name ([[tool.janitoo_db.post_write_hooks]])")
    return [Hook(e["name"], {k: str(v) for k, v in e.items() if k != "name"},
                 f"{pyproject} [tool.janitoo_db] hook ") for e in entries]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli as tomllib
    except ImportError:  # Python 3.10 without tomli
        if "janitoo_db" in path.read_text(encoding="utf-8", errors="replace"):
            raise ConfigError(f"{path}: reading [tool.janitoo_db] needs Python 3.11 or the tomli package") from None
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def run(hooks: list[Hook], path: Path) -> None:
    """Run each hook on the revision file *path*, in order; the first that fails raises RevisionError."""
    for hook in hooks:
        command = _command(hook) + _arguments(hook, str(path))
        try:
            done = subprocess.run(command, cwd=hook.options.get("cwd") or None, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL)
        except OSError as error:
            raise RevisionError(f"post-write hook {hook.name!r} cannot run {command[0]}: "
                                f"{error.strerror or error}; nothing was written") from None
        if done.returncode != 0:
            said = next((line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()), "")
            raise RevisionError(f"post-write hook {hook.name!r} failed with exit code {done.returncode}"
                                + (f" ({said})" if said else "") + "; nothing was written")


def _command(hook: Hook) -> list[str]:
    """The program a hook runs, as Alembic's hook of that type would run it."""
    kind = hook.options.get("type")
    if kind not in REQUIRED:
        shown = f"type {kind!r}" if kind else "no type"
        raise ConfigError(f"post-write hook {hook.name!r} ({hook.source}type) has {shown}: "
                          f"use {', '.join(REQUIRED)}")
    value = hook.options.get(REQUIRED[kind])
    if not value:
        raise ConfigError(f"post-write hook {hook.name!r} of type {kind} needs {hook.source}{REQUIRED[kind]}")
    if kind == "exec":
        return [value]
    if kind == "module":
        if find_spec(value) is None:
            raise ConfigError(f"post-write hook {hook.name!r}: no module {value!r} is installed")
        return [sys.executable, "-m", value]
    found = next((e for e in entry_points(group="console_scripts") if e.name == value), None)
    if found is None:
        raise ConfigError(f"post-write hook {hook.name!r}: no console script {value!r} is installed")
    return [sys.executable, "-c", f"import {found.module}; {found.module}.{found.attr}()"]


def _arguments(hook: Hook, path: str) -> list[str]:
    options = hook.options.get("options", "")
    if REVISION_SCRIPT_TOKEN not in options:
        options = f"{REVISION_SCRIPT_TOKEN} {options}"
    return [part.replace(REVISION_SCRIPT_TOKEN, path) for part in shlex.split(options, posix=os.name == "posix")]
