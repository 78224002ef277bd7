"""The part of janitoo's options object that the database needs, for code without janitoo.

The original servers and engines took a ``janitoo.options.JNTOptions``: built
from ``{"conf_file": PATH}``, its ``get_options("database")`` returns the
``[database]`` section of that janitoo INI file as a dict.  Anything with such
a method is accepted where an options object is; :func:`as_options` makes one
from the dict the original servers were constructed with.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Protocol, runtime_checkable

from janitoo_db.errors import ConfigError
from janitoo_db.site.conf import read_conf_section

#: What the original janitoo read as false for a flag such as ``auto_migrate``; anything else is true.
FALSE_WORDS = frozenset({"0", "FALSE", "OFF", "NO"})


@runtime_checkable
class Options(Protocol):
    """What janitoo_db needs of an options object: one INI section as a dict."""

    def get_options(self, section: str) -> Mapping[str, Any]: ...


class ConfFileOptions:
    """Options read from a janitoo INI file, as ``JNTOptions({"conf_file": path})`` reads them.

    Sections are read when first asked for, and remembered; a missing file or
    section is an error here, where janitoo logged it and returned ``{}``.
    """

    def __init__(self, conf_file: str | os.PathLike[str], data: Mapping[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = {**(data or {}), "conf_file": os.fspath(conf_file)}
        self._sections: dict[str, dict[str, Any]] = {}

    def get_options(self, section: str) -> dict[str, Any]:
        """The options of *section*, as a dict of strings."""
        if section not in self._sections:
            self._sections[section] = read_conf_section(self.data["conf_file"], section)
        return self._sections[section]

    def get_option(self, section: str, key: str, default: Any = None) -> Any:
        """One option of *section*, or *default* when it is not there."""
        return self.get_options(section).get(key, default)

    def set_option(self, section: str, key: str, value: Any) -> None:
        """Override one option for this object only (the file is left as it is)."""
        self.get_options(section)[key] = value


def as_options(options: Any) -> Options:
    """An options object from *options*: one already, or the original's ``{"conf_file": PATH}`` dict."""
    if isinstance(options, Options):
        return options
    if isinstance(options, Mapping) and options.get("conf_file"):
        return ConfFileOptions(options["conf_file"], options)
    raise ConfigError("expected janitoo options (an object with get_options(section)) "
                      f"or a dict holding conf_file, not {type(options).__name__}")


def to_bool(value: Any) -> bool:
    """A janitoo flag as janitoo read it: 0, false, off and no are false, anything else is true."""
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() not in FALSE_WORDS
