"""Whether a column's new type holds every value of its old one.

``alter_column(..., type_=...)`` can lose data: MySQL/MariaDB outside strict
mode cut a string to the new length or a number to the new range without a
word, and other databases refuse the change only once some row does not fit,
in the middle of a migration.  A change counts as safe only when janitoo_db can
see that every old value fits: a longer or unbounded string, a wider integer,
a decimal with as many digits on each side of the point, a date becoming a
date and time, anything becoming unbounded text.  Everything else is either
seen to narrow, or cannot be told; :mod:`janitoo_db.guard.destructive` marks both.

Numbers are judged for the database at hand: on MySQL/MariaDB ``FLOAT``
(``sa.Float()``, ``Float(p)`` up to 24) is single precision, about 6 digits
(12345678.91 becomes 12345700), and an ``UNSIGNED`` integer has no negative
values but twice the positive range, so signed and unsigned do not fit each
other; on PostgreSQL ``FLOAT`` is double precision and ``REAL`` single; on
SQLite every float is 8 bytes.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

#: What :func:`compare` answers.
FITS, NARROWS, UNKNOWN = "fits", "narrows", "unknown"

#: Decimal digits of the largest value of each integer type, by its SQL name.
INTEGER_DIGITS = {"BOOLEAN": 1, "BOOL": 1, "TINYINT": 3, "SMALLINT": 5, "MEDIUMINT": 7, "INTEGER": 10, "INT": 10,
                  "BIGINT": 19}
#: Digits a double-precision and a single-precision float hold exactly.
DOUBLE_DIGITS, SINGLE_DIGITS = 15, 6
#: Bytes of each integer type on MySQL/MariaDB, by its SQL name (BOOL is TINYINT(1)).
MYSQL_INTEGER_BYTES = {"BOOLEAN": 1, "BOOL": 1, "TINYINT": 1, "SMALLINT": 2, "MEDIUMINT": 3, "INTEGER": 4,
                       "INT": 4, "BIGINT": 8}
_MYSQL = ("mysql", "mariadb")


def render(type_: Any, dialect: Dialect) -> str:
    """*type_* as the database names it (``VARCHAR(20)``), or as SQLAlchemy does when the dialect cannot."""
    instance = sa.types.to_instance(type_)
    try:
        return str(instance.compile(dialect=dialect))
    except Exception:  # noqa: BLE001 - a type this dialect cannot render (String() on MySQL) is still named
        return repr(instance)


def compare(old: Any, new: Any, dialect: Dialect) -> str:
    """:data:`FITS` when every value of type *old* fits type *new*, :data:`NARROWS` when some cannot.

    :data:`UNKNOWN` when janitoo_db cannot tell.
    """
    old, new = sa.types.to_instance(old), sa.types.to_instance(new)
    if render(old, dialect) == render(new, dialect):
        return FITS
    for rule in (_enums, _strings, _binaries, _to_text, _unsigned):
        verdict = rule(old, new, dialect.name)
        if verdict is not None:
            return verdict
    for rule in (_integers, _decimals, _floats, _dates):
        verdict = rule(old, new, dialect.name)
        if verdict is not None:
            return verdict
    return UNKNOWN


def _verdict(fits: bool) -> str:
    return FITS if fits else NARROWS


def _length(type_: TypeEngine[Any]) -> int | None:
    return getattr(type_, "length", None)


def _longer(old: TypeEngine[Any], new: TypeEngine[Any]) -> str:
    """Lengths: None is unbounded."""
    old_length, new_length = _length(old), _length(new)
    return _verdict(new_length is None or (old_length is not None and new_length >= old_length))


def _enums(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if isinstance(old, sa.Enum) and isinstance(new, sa.Enum):
        return _verdict(set(old.enums) <= set(new.enums))
    if isinstance(old, sa.Enum) and isinstance(new, sa.String):
        length = _length(new)
        return _verdict(length is None or all(len(value) <= length for value in old.enums))
    if isinstance(new, sa.Enum):
        return NARROWS
    return None


def _strings(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if isinstance(old, sa.String) and isinstance(new, sa.String):
        return _longer(old, new)
    return None


def _binaries(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if isinstance(old, sa.LargeBinary) and isinstance(new, sa.LargeBinary):
        return _longer(old, new)
    if isinstance(old, sa.LargeBinary):
        return UNKNOWN  # bytes are not text: MySQL refuses or mangles what is not valid in the charset
    return None


def _to_text(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    """Any value can be written as unbounded text."""
    if isinstance(new, sa.String) and _length(new) is None:
        return FITS
    return None


def _digits(type_: TypeEngine[Any], dialect: str) -> int | None:
    """Decimal digits of an integer type (a boolean counts as one); None for other types."""
    if not isinstance(type_, (sa.Integer, sa.Boolean)):
        return None
    if dialect in _MYSQL:
        low, high = _mysql_range(type_)
        return len(str(max(-low, high)))
    name = type(type_).__name__.upper()
    if name in INTEGER_DIGITS:
        return INTEGER_DIGITS[name]
    if isinstance(type_, sa.BigInteger):
        return INTEGER_DIGITS["BIGINT"]
    if isinstance(type_, sa.SmallInteger):
        return INTEGER_DIGITS["SMALLINT"]
    return INTEGER_DIGITS["BOOLEAN"] if isinstance(type_, sa.Boolean) else INTEGER_DIGITS["INTEGER"]


def _mysql_range(type_: TypeEngine[Any]) -> tuple[int, int]:
    """The smallest and largest value of an integer type on MySQL/MariaDB, signed or ``UNSIGNED``."""
    name = type(type_).__name__.upper()
    size = MYSQL_INTEGER_BYTES.get(name) or (8 if isinstance(type_, sa.BigInteger) else
                                             2 if isinstance(type_, sa.SmallInteger) else
                                             1 if isinstance(type_, sa.Boolean) else 4)
    if getattr(type_, "unsigned", False):
        return 0, 2 ** (8 * size) - 1
    return -(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1


def _unsigned(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    """MySQL/MariaDB: a number that may be negative does not fit an ``UNSIGNED`` type."""
    if dialect not in _MYSQL or not getattr(new, "unsigned", False):
        return None
    if _is_number(old) or isinstance(old, (sa.Integer, sa.Boolean)):
        return None if getattr(old, "unsigned", False) else NARROWS
    return None


def _float_digits(type_: TypeEngine[Any], dialect: str) -> int | None:
    """Decimal digits a float type holds exactly on *dialect*; None when it cannot be told."""
    name = type(type_).__name__.upper()
    if dialect == "sqlite" or _is_double(type_) or (name == "REAL" and dialect in _MYSQL):
        return DOUBLE_DIGITS
    if name == "REAL" and dialect == "postgresql":
        return SINGLE_DIGITS
    precision = _precision(type_)  # Float(precision) counts binary digits: up to 24 is single precision
    if precision is not None:
        return SINGLE_DIGITS if precision <= 24 else DOUBLE_DIGITS
    if dialect in _MYSQL:
        return SINGLE_DIGITS
    return DOUBLE_DIGITS if dialect == "postgresql" else None


def _is_decimal(type_: TypeEngine[Any]) -> bool:
    # Float is a Numeric in SQLAlchemy 2.0, not in 2.1.
    return isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float)


def _is_number(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_, (sa.Numeric, sa.Float))


def _precision(type_: TypeEngine[Any]) -> int | None:
    return getattr(type_, "precision", None)


def _scale(type_: TypeEngine[Any]) -> int:
    return getattr(type_, "scale", None) or 0


def _integer_digits(type_: TypeEngine[Any]) -> int | None:
    """Digits before the point of a DECIMAL(p, s); None when its precision is not given."""
    precision = _precision(type_)
    return None if precision is None else precision - _scale(type_)


def _integers(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    old_digits, new_digits = _digits(old, dialect), _digits(new, dialect)
    if old_digits is not None and new_digits is not None:
        if dialect in _MYSQL:
            (old_low, old_high), (new_low, new_high) = _mysql_range(old), _mysql_range(new)
            return _verdict(new_low <= old_low and new_high >= old_high)
        return _verdict(new_digits >= old_digits)
    if old_digits is not None and _is_number(new):
        if isinstance(new, sa.Float):
            return _verdict(old_digits <= (_float_digits(new, dialect) or DOUBLE_DIGITS))
        room = _integer_digits(new)
        return UNKNOWN if room is None else _verdict(room >= old_digits)
    if new_digits is not None and _is_number(old):
        # A fraction is lost, unless the decimal has none and few enough digits.
        room = _integer_digits(old) if _is_decimal(old) and not _scale(old) else None
        return NARROWS if room is None else _verdict(room <= new_digits)
    return None


def _decimals(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if not (_is_decimal(old) and _is_number(new)):
        return None
    if isinstance(new, sa.Float):
        precision = _precision(old)
        return UNKNOWN if precision is None else _verdict(precision <= (_float_digits(new, dialect) or DOUBLE_DIGITS))
    old_room, new_room = _integer_digits(old), _integer_digits(new)
    if old_room is None or new_room is None:
        return UNKNOWN
    return _verdict(new_room >= old_room and _scale(new) >= _scale(old))


def _is_double(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_, sa.Double) or type(type_).__name__.upper() in ("DOUBLE", "DOUBLE_PRECISION")


def _floats(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if not (isinstance(old, sa.Float) and isinstance(new, sa.Float)):
        return None
    old_digits, new_digits = _float_digits(old, dialect), _float_digits(new, dialect)
    if old_digits is not None and new_digits is not None:
        return _verdict(new_digits >= old_digits)
    if _is_double(old) != _is_double(new):
        return _verdict(_is_double(new))
    old_precision, new_precision = _precision(old), _precision(new)
    if old_precision is not None and new_precision is not None:
        return _verdict(new_precision >= old_precision)
    return UNKNOWN


def _dates(old: TypeEngine[Any], new: TypeEngine[Any], dialect: str) -> str | None:
    if isinstance(old, sa.Date) and isinstance(new, sa.DateTime):
        return FITS
    if isinstance(old, sa.DateTime) and isinstance(new, sa.DateTime):
        # Gaining a time zone keeps every instant; losing it loses the offset.
        return _verdict(new.timezone or not old.timezone)
    if isinstance(old, sa.DateTime) and isinstance(new, (sa.Date, sa.Time)):
        return NARROWS
    return None
