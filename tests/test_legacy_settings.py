"""Settings the original janitoo pickled, as revision 5d2f0a8c91e3 turns them into JSON and back.

The pickles below are those Python 2.7's cPickle wrote (SQLAlchemy's
``PickleType`` on Python 2: cPickle, protocol 2), copied from a real Python
2.7.18; the ``_p0`` ones are protocol 0, as older databases may hold.  Nothing
here needs Python 2, except the one test that checks Python 2 reads what a
downgrade writes, which skips without it.
"""
from __future__ import annotations

import datetime
import decimal
import glob
import json
import os
import pickle
import pickletools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from dbstate import version_ids
from janitoo_db.legacy import ALLOWED_GLOBALS, from_json_data, to_json_data

Run = Callable[..., Result]

ORIGINAL = "33b95995b188"
D = datetime.datetime(2016, 1, 2, 3, 4, 5, 6)

# key -> (the pickle Python 2 wrote, the JSON it becomes, the value that JSON stands for).
PY2_SETTINGS: dict[str, tuple[bytes, Any, Any]] = {
    "when": (b"\x80\x02cdatetime\ndatetime\nq\x01U\n\x07\xe0\x01\x02\x03\x04\x05\x00\x00\x06\x85Rq\x02.",
             {"$datetime": "2016-01-02T03:04:05.000006"}, D),
    "when_p0": (b"cdatetime\ndatetime\np1\n(S'\\x07\\xe0\\x01\\x02\\x03\\x04\\x05\\x00\\x00\\x06'\ntRp2\n.",
                {"$datetime": "2016-01-02T03:04:05.000006"}, D),
    "day": (b"\x80\x02cdatetime\ndate\nq\x01U\x04\x07\xe0\x01\x02\x85Rq\x02.",
            {"$date": "2016-01-02"}, datetime.date(2016, 1, 2)),
    "at": (b"\x80\x02cdatetime\ntime\nq\x01U\x06\x03\x04\x05\x00\x00\x00\x85Rq\x02.",
           {"$time": "03:04:05"}, datetime.time(3, 4, 5)),
    "delay": (b"\x80\x02cdatetime\ntimedelta\nq\x01J\xff\xff\xff\xffK\x05K\x07\x87Rq\x02.",
              {"$timedelta": [-1, 5, 7]}, datetime.timedelta(-1, 5, 7)),
    "price": (b"\x80\x02cdecimal\nDecimal\nq\x01U\x041.10\x85Rq\x02.",
              {"$decimal": "1.10"}, decimal.Decimal("1.10")),
    "price_p0": (b"cdecimal\nDecimal\np1\n(S'1.10'\ntRp2\n.", {"$decimal": "1.10"}, decimal.Decimal("1.10")),
    "impedance": (b"\x80\x02c__builtin__\ncomplex\nq\x01G?\xf8\x00\x00\x00\x00\x00\x00G\xc0\x00\x00\x00\x00\x00\x00"
                  b"\x00\x86Rq\x02.", {"$complex": "(1.5-2j)"}, complex(1.5, -2)),
    # A Python 2 str that is not UTF-8 ('caf\xe9', latin-1) stays bytes; one that is becomes text.
    "latin1": (b"\x80\x02U\x04caf\xe9q\x01.", {"$bytes": "Y2Fm6Q=="}, b"caf\xe9"),
    "latin1_p0": (b"S'caf\\xe9'\np1\n.", {"$bytes": "Y2Fm6Q=="}, b"caf\xe9"),
    "utf8": (b"\x80\x02U\x05caf\xc3\xa9q\x00.", "caf\u00e9", "caf\u00e9"),
    "text": (b"\x80\x02X\t\x00\x00\x00caf\xc3\xa9 \xe2\x82\xacq\x01.", "caf\u00e9 \u20ac", "caf\u00e9 \u20ac"),
    "big": (b"\x80\x02\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@.", 2 ** 70, 2 ** 70),
    "ratio": (b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00.", 1.5, 1.5),
    "limit": (b"\x80\x02G\x7f\xf0\x00\x00\x00\x00\x00\x00.", {"$float": "inf"}, float("inf")),
    "limit_p0": (b"Finf\n.", {"$float": "inf"}, float("inf")),
    "on": (b"\x80\x02\x88.", True, True),
    "nothing": (b"\x80\x02N.", None, None),
    # {1: 'a', 'b': (1, 2)}: a key that is not text keeps its type through the $dict form.
    "by_number": (b"\x80\x02}q\x01(K\x01U\x01aU\x01bK\x01K\x02\x86q\x02u.",
                  {"$dict": [[1, "a"], ["b", [1, 2]]]}, {1: "a", "b": [1, 2]}),
    # {'$date': 'x'}: a dict that would read as a tag is written in the $dict form too.
    "looks_tagged": (b"\x80\x02}q\x01U\x05$dateq\x02U\x01xs.", {"$dict": [["$date", "x"]]}, {"$date": "x"}),
    "flags_p0": (b"c__builtin__\nset\np1\n((lp2\nI1\naI3\natRp3\n.", [1, 3], [1, 3]),
    # {'start': datetime(2015, 11, 22, 21, 53, 11), 'tags': frozenset(['b', 'a']), u'note': u'\u20ac'}
    "nested": (b"\x80\x02}q\x01(X\x04\x00\x00\x00noteq\x02X\x03\x00\x00\x00\xe2\x82\xacU\x05startq\x03cdatetime\n"
               b"datetime\nq\x04U\n\x07\xdf\x0b\x16\x155\x0b\x00\x00\x00\x85Rq\x05U\x04tagsq\x06c__builtin__\n"
               b"frozenset\nq\x07]q\x08(U\x01aU\x01be\x85Rq\tu.",
               {"note": "\u20ac", "start": {"$datetime": "2015-11-22T21:53:11"}, "tags": ["a", "b"]},
               {"note": "\u20ac", "start": datetime.datetime(2015, 11, 22, 21, 53, 11), "tags": ["a", "b"]}),
}


class Call:
    """Pickles as a call of *function* with *args*: what a hostile pickle does."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.function, self.args


def settings_table(stored_as: Any = None) -> sa.TableClause:
    """core_settings, its value and extra columns of type *stored_as* (None: as the driver returns them)."""
    return sa.table("core_settings", sa.column("key", sa.String), sa.column("settinggroup_key", sa.String),
                    sa.column("name", sa.String), sa.column("description", sa.Text),
                    sa.column("value_type", sa.String), sa.column("value", stored_as), sa.column("extra", stored_as))


def insert_pickled(url: str, values: dict[str, bytes], extras: dict[str, bytes] | None = None) -> None:
    """Add a setting per item of *values* to group general, as the original janitoo stored them."""
    table = settings_table(sa.LargeBinary)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(table.insert(), [
                {"key": key, "settinggroup_key": "general", "name": key, "description": "added by the original",
                 "value_type": "string", "value": value, "extra": (extras or {}).get(key)}
                for key, value in values.items()])
    finally:
        engine.dispose()


def stored(url: str, keys: Any = None) -> dict[str, tuple[Any, Any]]:
    """Each setting's stored (value, extra), as the driver returns them (text or bytes); only *keys* if given."""
    table = settings_table()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            found = {key: (bytes(v) if isinstance(v, memoryview) else v, bytes(e) if isinstance(e, memoryview) else e)
                     for key, v, e in connection.execute(sa.select(table.c.key, table.c.value, table.c.extra))}
    finally:
        engine.dispose()
    return found if keys is None else {key: found[key] for key in keys}


def column_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return [column["name"] for column in sa.inspect(engine).get_columns("core_settings")]
    finally:
        engine.dispose()


def globals_named(data: bytes) -> set[tuple[str, str]]:
    """The (module, name) pairs a pickle refers to (GLOBAL opcodes: protocols 0 to 3)."""
    return {tuple(arg.split(" ", 1)) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True would not do)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def at_original(cli: Run, url: str) -> str:
    result = cli("upgrade", ORIGINAL, "-q", "-u", url)
    assert result.exit_code == 0, result.stderr
    assert version_ids(url) == {ORIGINAL}
    return url


@pytest.fixture
def original(cli: Run, sqlite_url: str) -> str:
    """A database as the original janitoo left it: core at 33b95995b188, values pickled."""
    return at_original(cli, sqlite_url)


# -- every type the original could store -------------------------------------------------------

def loose(value: Any) -> Any:
    """*value* with bytes as latin-1 text, tuples and sets as (sorted) lists: how to compare with a py2 pickle."""
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, (set, frozenset)):
        return sorted(loose(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [loose(v) for v in value]
    if isinstance(value, dict):
        return {loose(k): loose(v) for k, v in value.items()}
    return value


def test_the_hand_written_pickles_are_what_they_say() -> None:
    """Each constant loads with the standard unpickler (Python 2 strs as latin-1, as Python 3 allows) to its value."""
    for key, (data, _, value) in PY2_SETTINGS.items():
        if key != "utf8":  # UTF-8 in a py2 str: latin-1 would read mojibake
            assert loose(pickle.loads(data, encoding="latin1")) == loose(value), key


def test_python2_settings_of_every_plain_type_become_json(cli: Run, original: str) -> None:
    insert_pickled(original, {key: data for key, (data, _, _) in PY2_SETTINGS.items()},
                   extras={"when": PY2_SETTINGS["price"][0]})
    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 0, result.stderr
    found = stored(original, PY2_SETTINGS)
    assert {key: json.loads(value) for key, (value, _) in found.items()} == {
        key: expected for key, (_, expected, _) in PY2_SETTINGS.items()}
    assert json.loads(found["when"][1]) == {"$decimal": "1.10"}
    for key, (value, _) in found.items():
        json.loads(value, parse_constant=lambda word, key=key: pytest.fail(f"{key}: {word} is not JSON"))
        assert same(from_json_data(json.loads(value)), PY2_SETTINGS[key][2]), key


def test_downgrading_pickles_each_value_again_as_its_own_type(cli: Run, original: str) -> None:
    """upgrade, downgrade, upgrade: the pickles load to the same values and types, the JSON is the same."""
    insert_pickled(original, {key: data for key, (data, _, _) in PY2_SETTINGS.items()},
                   extras={"day": PY2_SETTINGS["delay"][0]})
    assert cli("upgrade", "-q", "-u", original).exit_code == 0
    first = stored(original)

    result = cli("downgrade", ORIGINAL, "-q", "-u", original)
    assert result.exit_code == 0, result.stderr
    pickled = stored(original, PY2_SETTINGS)
    for key, (value, _) in pickled.items():
        assert isinstance(value, bytes), key
        # Only what the unpickler admits, so that the next upgrade reads it, and Python 2 too.
        assert globals_named(value) <= set(ALLOWED_GLOBALS), key
        assert same(pickle.loads(value), PY2_SETTINGS[key][2]), key
    assert pickle.loads(pickled["day"][1]) == datetime.timedelta(-1, 5, 7)

    assert cli("upgrade", "-q", "-u", original).exit_code == 0
    assert stored(original) == first


def python2() -> str | None:
    """A Python 2 interpreter that runs: JANITOO_TEST_PYTHON2, python2.7 on PATH, or pyenv's."""
    candidates = [os.environ.get("JANITOO_TEST_PYTHON2"), shutil.which("python2.7"), shutil.which("python2"),
                  *sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "2.7*" / "bin" / "python")))]
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[0])"],
                                  capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip() == "2":
            return candidate
    return None


def test_python2_reads_what_a_downgrade_writes(cli: Run, original: str) -> None:
    """The point of the downgrade: the original janitoo, on Python 2, reads its settings again."""
    interpreter = python2()
    if interpreter is None:
        pytest.skip("no Python 2 interpreter (set JANITOO_TEST_PYTHON2)")
    insert_pickled(original, {key: data for key, (data, _, _) in PY2_SETTINGS.items()})
    assert cli("upgrade", "-q", "-u", original).exit_code == 0
    assert cli("downgrade", ORIGINAL, "-q", "-u", original).exit_code == 0
    pickled = {key: value.hex() for key, (value, _) in stored(original, PY2_SETTINGS).items()}
    script = (
        "import cPickle, json, sys\n"
        "found = dict((k, repr(cPickle.loads(v.decode('hex')))) for k, v in json.load(sys.stdin).items())\n"
        "print(json.dumps(found))\n")
    done = subprocess.run([interpreter, "-c", script], input=json.dumps(pickled), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # Python 2's repr: the same types as the original stored (text comes back as unicode).
    assert json.loads(done.stdout) == {
        "when": "datetime.datetime(2016, 1, 2, 3, 4, 5, 6)", "when_p0": "datetime.datetime(2016, 1, 2, 3, 4, 5, 6)",
        "day": "datetime.date(2016, 1, 2)", "at": "datetime.time(3, 4, 5)",
        "delay": "datetime.timedelta(-1, 5, 7)", "price": "Decimal('1.10')", "price_p0": "Decimal('1.10')",
        "impedance": "(1.5-2j)", "latin1": "'caf\\xe9'", "latin1_p0": "'caf\\xe9'", "utf8": "u'caf\\xe9'",
        "text": "u'caf\\xe9 \\u20ac'", "big": "1180591620717411303424L", "ratio": "1.5", "limit": "inf",
        "limit_p0": "inf", "on": "True", "nothing": "None", "by_number": "{1: u'a', u'b': [1, 2]}",
        "looks_tagged": "{u'$date': u'x'}", "flags_p0": "[1, 3]",
        "nested": "{u'note': u'\\u20ac', u'start': datetime.datetime(2015, 11, 22, 21, 53, 11), u'tags': [u'a', u'b']}",
    }


def test_the_mapping_is_reversible_for_values_an_application_writes() -> None:
    """to_json_data then from_json_data gives back the value; the JSON is strict (no NaN)."""
    for value in [D, datetime.time(0, 0), decimal.Decimal("-0"), decimal.Decimal("NaN"), decimal.Decimal("1E+3"),
                  complex(-0.0, float("inf")), float("-inf"), b"\xff\x00", {(1, 2): {b"\xff": [D]}},
                  {"$dict": 1}, {"$float": "x", "other": 1}, [[], {}], 0, -(2 ** 80)]:
        text = json.dumps(to_json_data(value), allow_nan=False)
        back = from_json_data(json.loads(text))
        if isinstance(value, decimal.Decimal) and value.is_nan():
            assert back.is_nan()
        elif isinstance(value, complex):
            assert repr(back) == repr(value)
        else:
            assert same(back, value), value
    # Bytes that are UTF-8 were text in a Python 2 str: they become text, on purpose.
    assert to_json_data(b"caf\xc3\xa9") == "caf\u00e9"
    with pytest.raises(TypeError, match="time zone"):
        to_json_data(datetime.datetime(2016, 1, 2, tzinfo=datetime.timezone.utc))
    with pytest.raises(TypeError, match="not plain data"):
        to_json_data(object())


# -- refusing what is not plain data -----------------------------------------------------------

def hostile(marker: Path) -> dict[str, bytes]:
    """Pickles that run code when unpickled, and would convert to JSON if they ran: the marker says."""
    return {
        "getenv": pickle.dumps(Call(os.getenv, "HOME"), protocol=2),
        "system": pickle.dumps(Call(os.system, f"touch {marker}"), protocol=2),
        "exec": pickle.dumps(Call(exec, f"open({str(marker)!r}, 'w').close()"), protocol=2),
        # As Python 2 would have written os.system('touch MARKER') (protocol 0).
        "py2_system": b"cposix\nsystem\np0\n(S'touch " + str(marker).encode() + b"'\np1\ntp2\nRp3\n.",
        "eval": pickle.dumps(Call(eval, "6 * 7"), protocol=2),
    }


@pytest.mark.parametrize("payload", ["getenv", "system", "exec", "py2_system", "eval"])
def test_a_pickle_that_would_run_code_is_refused_and_named(cli: Run, original: str, tmp_path: Path,
                                                           payload: str) -> None:
    """Refused by name before it runs: no marker, the row as it was, the database at 33b95995b188."""
    marker = tmp_path / "marker"
    evil = hostile(marker)[payload]
    module, name = sorted(globals_named(evil) - set(ALLOWED_GLOBALS))[0]
    insert_pickled(original, {"evil": evil})
    before = stored(original)

    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    err = result.stderr.splitlines()
    assert len(err) == 1, result.stderr
    assert err[0].startswith("Error: revision 5d2f0a8c91e3 ")
    assert (f"LegacySettingError: setting general/evil holds a pickle of {module}.{name}; refusing to unpickle it "
            "(only plain data is converted; see 'Settings stored by the original janitoo' in the operating guide)"
            ) in err[0]
    assert err[0].endswith(f"the database is at {ORIGINAL}")
    assert not marker.exists()
    assert stored(original) == before
    assert version_ids(original) == {ORIGINAL}


def test_a_refused_extra_is_named_as_the_settings_extra(cli: Run, original: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    insert_pickled(original, {"fine": PY2_SETTINGS["when"][0]}, extras={"fine": hostile(marker)["system"]})
    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 1
    assert "setting general/fine (its extra) holds a pickle of posix.system; refusing" in result.stderr
    assert not marker.exists()


def test_a_refused_module_is_never_imported(cli: Run, original: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """find_class of a standard unpickler imports the module first, and an import runs code."""
    marker = tmp_path / "marker"
    (tmp_path / "jnt_legacy_trap.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    insert_pickled(original, {"trap": b"\x80\x02cjnt_legacy_trap\nanything\nq\x00)Rq\x01."})
    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 1
    assert "setting general/trap holds a pickle of jnt_legacy_trap.anything; refusing" in result.stderr
    assert not marker.exists() and "jnt_legacy_trap" not in sys.modules


@pytest.mark.parametrize(("data", "says"), [
    # datetime(..., pytz.utc) as Python 2 wrote it: the original stored naive dates; a tzinfo is a class.
    (b"\x80\x02cdatetime\ndatetime\nq\x01U\n\x07\xe0\x01\x02\x03\x04\x05\x00\x00\x00cpytz\n_UTC\nq\x02)Rq\x03"
     b"\x86Rq\x04.", "holds a pickle of pytz._UTC; refusing"),
    # An allowed global called with arguments it refuses: _codecs.encode only undoes Python 3's latin-1 bytes.
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R.",
     "cannot be converted (UnpicklingError: refusing _codecs.encode with encoding 'zlib'"),
    (b"\x80\x02U\x05ab", "cannot be converted (UnpicklingError: "),
    (b"\x80\x02cdatetime\ndate\nU\x02no\x85R.", "cannot be converted (TypeError: "),
    (b"\x80\x02(K\x01Q.", "cannot be converted (UnpicklingError: "),  # a persistent id
])
def test_a_value_that_cannot_be_converted_names_its_setting(cli: Run, original: str, data: bytes,
                                                            says: str) -> None:
    insert_pickled(original, {"odd": data})
    result = cli("upgrade", "-q", "-u", original)
    assert result.exit_code == 1
    assert f"setting general/odd {says}" in result.stderr
    assert "Traceback" not in result.stderr
    assert stored(original, ["odd"]) == {"odd": (data, None)}


def test_offline_scripts_still_refuse_to_convert_existing_values(cli: Run, sqlite_url: str) -> None:
    """--sql cannot read rows: only a script that inserts the initial data itself converts them."""
    result = cli("upgrade", "--sql", f"{ORIGINAL}:5d2f0a8c91e3", "-u", sqlite_url)
    assert result.exit_code == 1
    assert "revision 5d2f0a8c91e3 converts stored setting values and needs a live database" in result.stderr
    result = cli("downgrade", "--sql", f"5d2f0a8c91e3:{ORIGINAL}", "-u", sqlite_url)
    assert result.exit_code == 1
    assert "revision 5d2f0a8c91e3 cannot be downgraded in --sql mode" in result.stderr
    whole = cli("upgrade", "--sql", "janitoo@head", "-u", sqlite_url)
    assert whole.exit_code == 0, whole.stderr
    assert '\'{"min": 5}\'' in whole.stdout


# -- on PostgreSQL and MariaDB -------------------------------------------------------------------

SERVER_KEYS = ("when", "price", "latin1", "impedance", "by_number", "nested")


def test_settings_convert_and_come_back_on_every_database(cli: Run, any_url: str) -> None:
    url = at_original(cli, any_url)
    insert_pickled(url, {key: PY2_SETTINGS[key][0] for key in SERVER_KEYS}, extras={"when": PY2_SETTINGS["day"][0]})
    result = cli("upgrade", "-q", "-u", url)
    assert result.exit_code == 0, result.stderr
    first = stored(url)
    assert {key: json.loads(value) for key, (value, _) in stored(url, SERVER_KEYS).items()} == {
        key: PY2_SETTINGS[key][1] for key in SERVER_KEYS}
    assert json.loads(first["when"][1]) == {"$date": "2016-01-02"}

    assert cli("downgrade", ORIGINAL, "-q", "-u", url).exit_code == 0
    for key, (value, _) in stored(url, SERVER_KEYS).items():
        assert same(pickle.loads(value), PY2_SETTINGS[key][2]), key
    assert cli("upgrade", "-q", "-u", url).exit_code == 0
    assert stored(url) == first


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_a_refused_pickle_changes_nothing_on_a_server(cli: Run, request: pytest.FixtureRequest, tmp_path: Path,
                                                      server: str) -> None:
    """Rows are converted before the table changes: MariaDB, which commits DDL, keeps its table too."""
    url = at_original(cli, request.getfixturevalue(f"{server}_url"))
    marker = tmp_path / "marker"
    insert_pickled(url, {"when": PY2_SETTINGS["when"][0], "evil": hostile(marker)["system"]})
    before, columns = stored(url), column_names(url)
    result = cli("upgrade", "-q", "-u", url)
    assert result.exit_code == 1
    assert "setting general/evil holds a pickle of posix.system; refusing" in result.stderr
    assert not marker.exists()
    assert stored(url) == before and column_names(url) == columns
    # MariaDB keeps the other branches' revisions that completed before (one transaction each).
    assert ORIGINAL in version_ids(url) and "5d2f0a8c91e3" not in version_ids(url)
    planned = [line for line in cli("upgrade", "--plan", "-u", url).stdout.splitlines() if not line.startswith("  ")]
    assert planned[-1].startswith("upgrade 5d2f0a8c91e3 (janitoo)")
