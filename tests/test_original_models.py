"""The original janitoo's model API on a database built by the real jnt_dbman.

Ports the intent of the original's model tests (a user created with
``_password=`` and a new primary group) and exercises every public name its
``User``, ``Group``, ``Guest``, ``Setting`` and ``SettingGroup`` offered, both
through ``Base.query`` (a scoped session's query property, as its
applications set it) and with an explicit session.
"""
from __future__ import annotations

import sys
import types
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import pytest
from click.testing import Result
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from dbstate import rows
from janitoo_db.base import Base
from janitoo_db.errors import JanitooDbError, SecretKeyError, SessionRequiredError
from janitoo_db.models import user as user_module
from janitoo_db.models.core import Group, Guest, Setting, SettingGroup, User

Run = Callable[..., Result]
GENERAL = ["posts_per_page", "project_subtitle", "project_title", "topics_per_page", "users_per_page"]
APPEARANCE = ["default_language", "default_theme"]
GUEST_PERMISSIONS = {"admin": False, "power": False, "user": False, "guest": True, "banned": False,
                     "mod_edituser": False, "mod_banuser": False, "editpost": False, "deletepost": False,
                     "deletetopic": False, "posttopic": False, "postreply": False}
T0 = datetime(2024, 3, 1, 12, 0, 0)


class Db:
    """What the original's applications passed to save(db)/delete(db): an object with a session."""

    def __init__(self, session: Session) -> None:
        self.session = session


@pytest.fixture
def engine(cli: Run, sqlite_url: str) -> Iterator[Engine]:
    result = cli("initdb", "-q", "-u", sqlite_url)
    assert result.exit_code == 0, result.stderr
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def query_property(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[scoped_session[Session]]:
    """``Base.query = scoped_session(...).query_property()``, as the original's applications did; undone after."""
    scoped = scoped_session(sessionmaker(engine))
    monkeypatch.setattr(Base, "query", scoped.query_property(), raising=False)
    yield scoped
    scoped.remove()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time the models see (reset tokens, days_registered)."""
    def set_now(now: datetime) -> None:
        monkeypatch.setattr(user_module, "utcnow", lambda: now)
    return set_now


def group(session: Session, name: str) -> Group:
    return session.scalars(select(Group).where(Group.name == name)).one()


def add_user(session: Session, name: str = "alice", group_name: str = "User", password: str = "secret") -> User:
    user = User(username=name, email=f"{name}@example.org", primary_group=group(session, group_name))
    user.password = password
    session.add(user)
    session.commit()
    return user


def secondary_rows(url: str, user_id: int) -> list[str]:
    return [name for (name,) in rows(url, "SELECT g.name FROM core_groups_users gu JOIN core_groups g"
                                          f" ON g.id = gu.group_id WHERE gu.user_id = {user_id} ORDER BY g.name")]


# -- users and passwords ------------------------------------------------------------

def test_a_user_made_as_the_originals_test_made_one(session: Session, url: str) -> None:
    """``User(..., _password="test", primary_group=Group(name=...))``: _password is the column itself."""
    new_group = Group(name="test_group")
    user = User(username="test_user", email="test@gmail.com", _password="test", primary_group=new_group)
    session.add(user)
    session.commit()
    assert rows(url, "SELECT u.password, g.name FROM core_users u JOIN core_groups g ON g.id = u.primary_group_id"
                     " WHERE u.username = 'test_user'") == [("test", "test_group")]
    assert user.password == user.password_hash == user._password == "test"
    assert session.scalars(select(User).where(User.password == "test")).one() is user
    assert list(new_group.core_groups) == [user]  # the original's backref: users whose primary group it is


def test_password_hashes_on_assignment_and_in_the_constructor(session: Session, url: str) -> None:
    user = User(username="bob", email="bob@example.org", password="correct horse", primary_group=group(session, "User"))
    session.add(user)
    session.commit()
    stored = rows(url, "SELECT password FROM core_users WHERE username = 'bob'")[0][0]
    assert stored.startswith("scrypt:") and "correct horse" not in stored
    assert user.password == user.password_hash == stored
    assert user.check_password("correct horse") and not user.check_password("wrong")
    user.password_hash = "plain$$set through the alias"  # today's name writes the hash as it is
    assert user._password == "plain$$set through the alias" and user.check_password("set through the alias")


def test_authenticate_by_username_or_email(session: Session) -> None:
    alice = add_user(session)
    assert User.authenticate("alice", "secret", session=session) == (alice, True)
    assert User.authenticate("alice@example.org", "secret", session=session) == (alice, True)
    assert User.authenticate("alice", "Secret", session=session) == (alice, False)
    assert User.authenticate("nobody", "secret", session=session) == (None, False)


# -- groups and permissions -----------------------------------------------------------

def test_secondary_groups_add_remove_and_in_group(session: Session, url: str) -> None:
    alice = add_user(session)
    guest, power = group(session, "Guest"), group(session, "Power")
    assert not alice.in_group(guest)
    assert alice.add_to_group(guest) is alice
    assert alice.add_to_group(guest) is None  # already in it
    alice.add_to_group(power)
    session.commit()
    assert secondary_rows(url, alice.id) == ["Guest", "Power"]
    assert alice.in_group(guest) and alice.in_group(power) and not alice.in_group(group(session, "User"))
    assert [g.name for g in alice.groups] == [g.name for g in alice.get_groups()] == ["User", "Guest", "Power"]
    # secondary_groups and Group.users are queries, as in the original (lazy="dynamic").
    assert alice.secondary_groups.count() == 2
    assert alice.secondary_groups.filter(Group.name == "Power").one() is power
    assert guest.users.all() == [alice] and list(guest.members) == [alice]

    assert alice.remove_from_group(guest) is alice
    assert alice.remove_from_group(guest) is None  # not in it any more
    session.commit()
    assert secondary_rows(url, alice.id) == ["Power"]
    assert not alice.in_group(guest) and guest.users.count() == 0


def test_permissions_combine_every_group(session: Session) -> None:
    alice = add_user(session)
    user_only = alice.permissions
    assert user_only["user"] and user_only["posttopic"] and not user_only["power"] and not user_only["deletepost"]
    assert set(user_only) == set(GUEST_PERMISSIONS)  # id, name and description are no permissions
    alice.add_to_group(group(session, "Power"))
    both = alice.permissions
    assert both["user"] and both["power"] and both["deletepost"] and both["mod_banuser"] and not both["admin"]
    exclude = ["admin", "power"]
    assert set(alice.get_permissions(exclude=exclude)) == set(GUEST_PERMISSIONS) - {"admin", "power"}
    assert exclude == ["admin", "power"]  # the caller's list is left alone


def test_guest_has_the_guest_groups_permissions(session: Session) -> None:
    assert Guest(session).permissions == GUEST_PERMISSIONS
    assert Guest().get_permissions(exclude=["guest"], session=session) == {
        k: v for k, v in GUEST_PERMISSIONS.items() if k != "guest"}


def test_group_lookups(session: Session) -> None:
    assert Group.selectable_groups_choices(session=session) == [
        (1, "Administrator"), (4, "Banned"), (5, "Guest"), (2, "Power"), (3, "User")]
    assert Group.get_guest_group(session=session) is group(session, "Guest")


def test_ban_and_unban_commit_through_the_users_own_session(session: Session, url: str) -> None:
    alice = add_user(session)
    assert alice.ban() is True
    assert rows(url, "SELECT primary_group_id FROM core_users WHERE username = 'alice'") == [(4,)]
    assert alice.permissions["banned"] and alice.primary_group.name == "Banned"
    assert alice.ban() is False  # already banned
    assert alice.unban() is True
    assert rows(url, "SELECT primary_group_id FROM core_users WHERE username = 'alice'") == [(3,)]
    assert not alice.permissions["banned"]
    assert alice.unban() is False  # not banned


def test_unban_prefers_a_group_with_the_user_flag(session: Session, url: str) -> None:
    """Not admin, power, guest nor banned; among those, one granting ``user`` first."""
    alice = add_user(session, group_name="Banned")
    group(session, "User").user = False
    session.add(Group(name="Members", user=True))
    session.commit()
    assert alice.unban(Db(session)) is True
    primary = "SELECT g.name FROM core_users u JOIN core_groups g ON g.id = u.primary_group_id"
    assert rows(url, primary) == [("Members",)]


def test_save_and_delete_with_a_db_object(engine: Engine, url: str) -> None:
    with Session(engine) as session:
        db = Db(session)
        user_group, guest, power = group(session, "User"), group(session, "Guest"), group(session, "Power")
        alice = User(username="alice", email="alice@example.org", _password="x", primary_group=user_group)
        assert alice.save(db, groups=[user_group, guest, power]) is alice  # the primary group is skipped
        assert secondary_rows(url, alice.id) == ["Guest", "Power"]
        alice.save(db, groups=[group(session, "Administrator")])  # replaces the secondary groups
        assert secondary_rows(url, alice.id) == ["Administrator"]
        alice_id = alice.id
        assert alice.delete(db) is alice
    assert rows(url, "SELECT count(*) FROM core_users") == [(0,)]
    assert secondary_rows(url, alice_id) == []


def test_save_and_delete_use_the_objects_session_when_given_none(session: Session, url: str) -> None:
    alice = add_user(session)
    alice.location = "Paris"
    alice.save()
    assert rows(url, "SELECT location FROM core_users") == [("Paris",)]
    alice.delete()
    assert rows(url, "SELECT count(*) FROM core_users") == [(0,)]


def test_days_registered(session: Session, clock: Callable[[datetime], None]) -> None:
    alice = add_user(session)
    alice.date_joined = T0
    clock(T0 + timedelta(hours=5))
    assert alice.days_registered == 1  # never 0
    clock(T0 + timedelta(days=10, hours=5))
    assert alice.days_registered == 10


# -- reset tokens -------------------------------------------------------------------

def test_a_reset_token_verifies_for_its_user_only(session: Session) -> None:
    alice, bob = add_user(session), add_user(session, "bob")
    token = alice.make_reset_token(secret_key="s3cret")
    assert alice.verify_reset_token(token, secret_key="s3cret") == (False, False, True)
    assert bob.verify_reset_token(token, secret_key="s3cret") == (False, False, False)


def test_a_reset_token_expires(session: Session, clock: Callable[[datetime], None]) -> None:
    alice = add_user(session)
    clock(T0)
    token = alice.make_reset_token(expiration=60, secret_key="s3cret")
    clock(T0 + timedelta(seconds=60))
    assert alice.verify_reset_token(token, secret_key="s3cret") == (False, False, True)
    clock(T0 + timedelta(seconds=61))
    assert alice.verify_reset_token(token, secret_key="s3cret") == (True, False, False)
    assert alice.make_reset_token(secret_key="s3cret") != token  # a new one, from the new time, is valid
    assert alice.verify_reset_token(alice.make_reset_token(secret_key="s3cret"), secret_key="s3cret")[2]


def test_a_tampered_or_foreign_token_is_invalid(session: Session) -> None:
    alice = add_user(session)
    token = alice.make_reset_token(secret_key="s3cret")
    payload, timestamp, signature = token.split(".")
    forged = f"{payload[:-2]}xx.{timestamp}.{signature}"
    assert alice.verify_reset_token(forged, secret_key="s3cret") == (False, True, False)
    assert alice.verify_reset_token(token, secret_key="another key") == (False, True, False)
    assert alice.verify_reset_token("not a token", secret_key="s3cret") == (False, True, False)


def test_the_secret_key_comes_from_the_class_then_flask(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = add_user(session)
    monkeypatch.setitem(sys.modules, "flask", None)  # Flask not installed
    with pytest.raises(SecretKeyError, match="secret_key=") as missing:
        alice.make_reset_token()
    assert isinstance(missing.value, JanitooDbError)

    monkeypatch.setattr(User, "secret_key", "class key")
    token = alice.make_reset_token()
    assert alice.verify_reset_token(token, secret_key="class key") == (False, False, True)
    monkeypatch.setattr(User, "secret_key", None)

    flask: Any = types.ModuleType("flask")
    flask.current_app = types.SimpleNamespace(config={"SECRET_KEY": "flask key"})
    flask.has_app_context = lambda: True
    monkeypatch.setitem(sys.modules, "flask", flask)
    token = alice.make_reset_token()
    assert alice.verify_reset_token(token, secret_key="flask key") == (False, False, True)
    flask.has_app_context = lambda: False  # outside an application context
    with pytest.raises(SecretKeyError):
        alice.verify_reset_token(token)


# -- settings -----------------------------------------------------------------------

def test_settings_get_all_and_get_settings(session: Session) -> None:
    assert [s.key for s in Setting.get_all(session=session)] == sorted(GENERAL + APPEARANCE)
    every = Setting.get_settings(session=session)
    assert sorted(every) == sorted(GENERAL + APPEARANCE)
    assert every["posts_per_page"] == {"name": "Posts per page", "description": "Number of posts displayed per page.",
                                       "value": 10, "value_type": "integer", "extra": {"min": 5}}
    appearance = session.get(SettingGroup, "appearance")
    assert sorted(Setting.get_settings(appearance)) == APPEARANCE
    assert appearance.settings.count() == 2  # a query, as in the original
    assert session.get(Setting, "default_theme").settinggroup == "appearance"  # the original's attribute name


def test_settings_as_dict(session: Session) -> None:
    assert Setting.as_dict(session=session) == {
        "PROJECT_TITLE": "Janitoo", "PROJECT_SUBTITLE": "Janitoo", "POSTS_PER_PAGE": 10, "TOPICS_PER_PAGE": 10,
        "USERS_PER_PAGE": 10, "DEFAULT_THEME": "admin", "DEFAULT_LANGUAGE": "en"}
    assert Setting.as_dict("appearance", session=session) == {"DEFAULT_THEME": "admin", "DEFAULT_LANGUAGE": "en"}
    assert Setting.as_dict("appearance", upper=False, session=session) == {"default_theme": "admin",
                                                                            "default_language": "en"}
    assert Setting.as_dict("no such group", session=session) == {}


# -- the query property, and neither ----------------------------------------------------

def test_everything_works_through_base_query(query_property: scoped_session[Session], url: str) -> None:
    """No session= anywhere: the original's applications set Base.query and called these so."""
    assert Group.selectable_groups_choices()[0] == (1, "Administrator")
    assert Group.get_guest_group().name == "Guest"
    assert Guest().permissions == GUEST_PERMISSIONS
    assert Setting.as_dict("appearance", upper=False) == {"default_theme": "admin", "default_language": "en"}
    assert len(Setting.get_all()) == 7 and sorted(Setting.get_settings()) == sorted(GENERAL + APPEARANCE)

    user_group = Group.query.filter_by(name="User").one()
    carol = User(username="carol", email="carol@example.org", primary_group=user_group)
    carol.password = "pw"
    carol.save()  # a new object: the query property's session
    assert User.authenticate("carol@example.org", "pw") == (carol, True)
    assert carol.ban() and rows(url, "SELECT primary_group_id FROM core_users") == [(4,)]
    assert carol.unban() and rows(url, "SELECT primary_group_id FROM core_users") == [(3,)]
    carol.delete()
    assert User.authenticate("carol", "pw") == (None, False)


@pytest.mark.parametrize("call", [
    lambda: User.authenticate("alice", "pw"),
    lambda: Group.selectable_groups_choices(),
    lambda: Group.get_guest_group(),
    lambda: Guest().permissions,
    lambda: Setting.get_all(),
    lambda: Setting.get_settings(),
    lambda: Setting.as_dict("general"),
    lambda: User(username="x", email="x", _password="x", primary_group_id=3).save(),
    lambda: User(username="x", email="x", _password="x", primary_group_id=3).ban(),
], ids=["authenticate", "selectable_groups_choices", "get_guest_group", "Guest.permissions", "get_all",
        "get_settings", "as_dict", "save", "ban"])
def test_without_a_session_or_base_query_the_error_says_what_to_do(call: Callable[[], Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(Base, "query", raising=False)
    with pytest.raises(SessionRequiredError, match=r"pass session=\.\.\., or set Base\.query = ") as error:
        call()
    assert isinstance(error.value, JanitooDbError)


def test_extend_attaches_every_core_name() -> None:
    """As in the original, the core's classes are also reachable from janitoo_db.models.user and .utils."""
    import janitoo_db.models as models
    from janitoo_db.models import core, utils

    for name in ("User", "Group", "Guest", "Setting", "SettingGroup", "groups_users"):
        assert getattr(models, name) is getattr(core, name), name
    for name in ("User", "Group", "Guest", "groups_users"):
        assert getattr(user_module, name) is getattr(models, name), name
    for name in ("Setting", "SettingGroup"):
        assert getattr(utils, name) is getattr(models, name), name


# -- saobject_to_dict ----------------------------------------------------------------

def test_saobject_to_dict_of_a_user_stops_at_the_cycles_and_gives_iso_dates(session: Session) -> None:
    """A user's group's users' groups...: each relationship is followed once, and the dict dumps as JSON."""
    import json

    from janitoo_db.helpers import saobject_to_dict

    user = add_user(session, "dora")
    user.birthday = datetime(1990, 5, 17, 8, 30, 15)
    user.secondary_groups.append(group(session, "Power"))
    session.commit()
    found = saobject_to_dict(user)
    assert found["username"] == "dora" and found["birthday"] == "1990-05-17T08:30:15"
    # Depth first, as the original: user -> primary group -> its users (as primary group) -> dora again,
    # who still has her secondary groups to show, and whose primary group was followed already.
    primary = found["primary_group"]
    assert primary["name"] == "User" and primary["users"] == []
    [again] = primary["core_groups"]
    assert again["username"] == "dora" and "primary_group" not in again
    assert [g["name"] for g in again["secondary_groups"]] == ["Power"]
    assert all("users" not in g and "core_groups" not in g for g in again["secondary_groups"])
    assert "secondary_groups" not in found
    json.dumps(found)  # only JSON types: the dates are strings


def test_saobject_to_dict_turns_date_datetime_and_time_into_iso_strings() -> None:
    """Columns of each temporal type, on a model of the test's own (the core has only DateTime)."""
    import json
    from datetime import date, time

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, mapped_column, relationship

    from janitoo_db.helpers import saobject_to_dict

    class Own(DeclarativeBase):
        pass

    class Node(Own):  # no annotations: the test module's are strings, resolved at module level only
        __tablename__ = "nodes"
        id = mapped_column(sa.Integer, primary_key=True)
        day = mapped_column(sa.Date)
        moment = mapped_column(sa.DateTime)
        hour = mapped_column(sa.Time)
        parent_id = mapped_column(sa.ForeignKey("nodes.id"))
        parent = relationship("Node", remote_side=[id], back_populates="children")
        children = relationship("Node", back_populates="parent")

    engine = create_engine("sqlite://")
    Own.metadata.create_all(engine)
    try:
        with Session(engine) as own:
            root = Node(day=date(2024, 2, 29), moment=datetime(2024, 2, 29, 23, 59, 1), hour=time(7, 5, 3))
            leaf = Node(day=date(2024, 3, 1), moment=datetime(2024, 3, 1, 0, 0), hour=time(0, 0), parent=root)
            own.add_all([root, leaf])
            own.commit()
            found = saobject_to_dict(root)
            assert (found["day"], found["moment"], found["hour"]) == ("2024-02-29", "2024-02-29T23:59:01", "07:05:03")
            # root -> parent (None) and children -> leaf, whose parent and children were met already: it stops.
            [child] = found["children"]
            assert (child["day"], child["moment"], child["hour"]) == ("2024-03-01", "2024-03-01T00:00:00", "00:00:00")
            assert "children" not in child and "parent" not in child
            json.dumps(found)
            # leaf -> parent (root) -> children (leaf again), and there the cycle stops.
            back = saobject_to_dict(leaf)["parent"]["children"][0]
            assert back["id"] == leaf.id and "parent" not in back and "children" not in back
    finally:
        engine.dispose()
