"""Setting values as the original janitoo pickled them, and the JSON they become.

The original (Python 2) stored ``core_settings.value`` and ``.extra`` with
SQLAlchemy's ``PickleType``.  Revision 5d2f0a8c91e3 reads those pickles with
:class:`PlainDataUnpickler`, which builds plain data only and refuses every
other global a pickle names (that is how a pickle runs code), and stores
:func:`to_json_data` of the value as JSON text.  Its downgrade turns the JSON
back into a pickle of the same value with :func:`from_json_data`.

Python types JSON has no word for become a one-key object whose key names the
type (a *tag*)::

    datetime.datetime(2016, 1, 2, 3, 4, 5)  {"$datetime": "2016-01-02T03:04:05"}
    datetime.date(2016, 1, 2)               {"$date": "2016-01-02"}
    datetime.time(3, 4, 5, 6)               {"$time": "03:04:05.000006"}
    datetime.timedelta(-1, 5, 7)            {"$timedelta": [-1, 5, 7]}
    decimal.Decimal("1.10")                 {"$decimal": "1.10"}
    complex(1.5, -2)                        {"$complex": "(1.5-2j)"}
    float("nan"), float("-inf")             {"$float": "nan"}, {"$float": "-inf"}
    b"caf\\xe9" (not UTF-8)                  {"$bytes": "Y2Fm6Q=="}  (base64)
    {1: "a"} (a key that is not text)       {"$dict": [[1, "a"]]}

Everything else maps as JSON does: None, bool, int (and Python 2's long),
finite float, str (and a Python 2 ``str`` that is UTF-8: text), list and
tuple (an array), dict with text keys (an object), set and frozenset (a
sorted array).  A dict that would read as a tag is written as ``$dict``.
This module imports no models: revision files use it.
"""
from __future__ import annotations

import base64
import datetime
import decimal
import io
import json
import math
import pickle
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ALLOWED_GLOBALS", "LegacySettingError", "PlainDataUnpickler", "RefusedGlobal", "convert_settings",
           "from_json_data", "json_to_pickled", "pickled_to_json", "to_json_data", "unpickle"]

#: Where the error of a setting that cannot be converted sends the operator.
SEE_DOCS = "see 'Settings stored by the original janitoo' in the operating guide"


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global that is not plain data."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"refusing to unpickle {module}.{name}")
        self.module, self.name = module, name


class LegacySettingError(ValueError):
    """A stored setting cannot be converted; the message names it (group/key)."""


def _decimal(value: Any) -> decimal.Decimal:
    # Python 2 pickles a Decimal as Decimal(str), and its str arrives here as bytes.
    if isinstance(value, bytes):
        value = value.decode("ascii")
    if not isinstance(value, str):
        raise pickle.UnpicklingError(f"refusing decimal.Decimal({type(value).__name__})")
    return decimal.Decimal(value)


def _latin1(text: Any, encoding: Any = None) -> bytes:
    # Python 3 pickles bytes (and the state of dates) for protocol 2 as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _builtin(cls: type) -> dict[tuple[str, str], Callable[..., Any]]:
    # Python 2 pickles name the module __builtin__; Python 3 ones builtins.
    return {("__builtin__", cls.__name__): cls, ("builtins", cls.__name__): cls}


#: Every global a setting's pickle may name, and what the unpickler calls instead.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    **_builtin(set), **_builtin(frozenset), **_builtin(complex),
    # Their constructors take a pickled state (bytes or latin-1 text) or numbers.  A tzinfo cannot
    # reach them: every tzinfo class is refused, so only naive dates and times are built.
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "date"): datetime.date,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
    ("decimal", "Decimal"): _decimal,
    ("_codecs", "encode"): _latin1,
}


class PlainDataUnpickler(pickle.Unpickler):
    """Build plain data only: every global outside :data:`ALLOWED_GLOBALS` is refused, never imported."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise RefusedGlobal(module, name) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a persistent id")


def unpickle(data: bytes) -> Any:
    """The plain data *data* holds; a Python 2 ``str`` comes back as bytes (see :func:`to_json_data`)."""
    return PlainDataUnpickler(io.BytesIO(bytes(data)), encoding="bytes").load()


_TAGS = frozenset({"$bytes", "$complex", "$date", "$datetime", "$decimal", "$dict", "$float", "$time",
                   "$timedelta"})


def _sort_key(value: Any) -> tuple[int, Any]:
    """Order a set's members: numbers by value, text alphabetically, anything else by its JSON."""
    if isinstance(value, (bool, int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))


def to_json_data(value: Any) -> Any:
    """*value* as data :func:`json.dumps` writes as strict JSON, in the mapping of this module's docstring."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [to_json_data(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_json_data(v) for v in value), key=_sort_key)
    if isinstance(value, dict):
        pairs = [(to_json_data(k), to_json_data(v)) for k, v in value.items()]
        keys = [json.dumps(k, sort_keys=True) for k, _ in pairs]
        if len(set(keys)) < len(keys):
            raise ValueError("two keys of a dict are the same text once Python 2 strings are decoded")
        if all(isinstance(k, str) for k, _ in pairs) and not (len(pairs) == 1 and pairs[0][0] in _TAGS):
            return dict(pairs)
        return {"$dict": [list(pair) for pair in pairs]}
    if isinstance(value, (datetime.datetime, datetime.time)) and value.tzinfo is not None:
        raise TypeError(f"{value!r} has a time zone; only naive dates and times are converted")
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, complex):
        return {"$complex": repr(value)}
    raise TypeError(f"{type(value).__module__}.{type(value).__qualname__} is not plain data")


def _hashable(value: Any) -> Any:
    """A dict key as Python needs it: an array (a tuple key once) becomes a tuple."""
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


_DECODE: dict[str, Callable[[Any], Any]] = {
    "$bytes": lambda v: base64.b64decode(v.encode("ascii"), validate=True),
    "$complex": complex,
    "$date": datetime.date.fromisoformat,
    "$datetime": datetime.datetime.fromisoformat,
    "$decimal": decimal.Decimal,
    "$dict": lambda pairs: {_hashable(from_json_data(k)): from_json_data(v) for k, v in pairs},
    "$float": float,
    "$time": datetime.time.fromisoformat,
    "$timedelta": lambda v: datetime.timedelta(*v),
}


def from_json_data(data: Any) -> Any:
    """The Python value *data* (as :func:`json.loads` returns it) stands for: the inverse of :func:`to_json_data`."""
    if isinstance(data, list):
        return [from_json_data(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1:
            (tag, value), = data.items()
            if tag in _DECODE:
                return _DECODE[tag](value)
        return {k: from_json_data(v) for k, v in data.items()}
    return data


def pickled_to_json(data: bytes | None) -> str | None:
    """A stored pickle as JSON text; None stays None."""
    if data is None:
        return None
    return json.dumps(to_json_data(unpickle(data)), sort_keys=True, allow_nan=False)


def json_to_pickled(text: str | None) -> bytes | None:
    """JSON text as the pickle the original janitoo reads (protocol 2); None stays None."""
    return None if text is None else pickle.dumps(from_json_data(json.loads(text)), protocol=2)


def convert_settings(rows: Iterable[tuple[str, str, Any, Any]],
                     convert: Callable[[Any], Any]) -> list[tuple[str, Any, Any]]:
    """``(key, value, extra)`` converted for every ``(key, group, value, extra)``, or an error naming the setting."""
    converted = []
    for key, group, value, extra in rows:
        done = []
        for column, data in (("value", value), ("extra", extra)):
            where = f"setting {group}/{key}" + (" (its extra)" if column == "extra" else "")
            try:
                done.append(convert(data))
            except RefusedGlobal as error:
                raise LegacySettingError(
                    f"{where} holds a pickle of {error.module}.{error.name}; refusing to unpickle it "
                    f"(only plain data is converted; {SEE_DOCS})") from None
            except Exception as error:  # noqa: BLE001 - any failure is this setting's, and must name it
                raise LegacySettingError(
                    f"{where} cannot be converted ({type(error).__name__}: {error}; {SEE_DOCS})") from None
        converted.append((key, *done))
    return converted
