"""A model-based test of every command that removes or rewrites (Hypothesis's stateful testing).

A state machine installs and uninstalls the extensions of model_extensions.py
and runs ``initdb``, ``upgrade``, ``downgrade``, ``forget --drop-tables``,
``dropdb``, ``createdb`` and ``adopt`` in random order through the real CLI,
inserting rows as an application would, against a model of what must
survive (model_state.py).  After every step the database must be what the
model says: the tables the applied revisions created and the other program's
table, each with the rows inserted into it, alembic_version at the model's
revisions, ``checkdb`` exiting as the model says and never pointing at
``repair``.  A command predicted to fail must fail and change nothing; a
migration must destroy only what its ``--plan`` marked.

Each stressor whose bug is known and not yet fixed is a switch below, off
until the fix lands; the lead turns it on after merging.  Every new command
joins the machine as a rule.  ``squash`` runs only on a branch the database
holds at base or at its head, and that no other branch depends on (a
database at an earlier replaced revision is refused by design: its way out is
the release named in the message, which the machine cannot install).

Each command runs in a forked child (forked_cli.py): the real CLI through
click's CliRunner, with the models loaded afresh for the extensions installed
at that step.  ``JANITOO_DB_MODEL_EXAMPLES=N`` runs N sequences instead of the
default; ``JANITOO_DB_MODEL_NO_SHRINK=1`` reports a failure as found, without
the minutes Hypothesis spends shrinking it (to try a switch quickly).
"""
from __future__ import annotations

import importlib
import json
import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import forked_cli
import janitoo_db.cli  # noqa: F401 - imported once here, so that each forked command starts warm
from model_extensions import FOREIGN_TABLE, Revision, Stressors, build_universe
from model_state import MARKER, Model, lose_versioning, read, reset
from model_state import insert as insert_row

#: Issue 18 point 1: forget --drop-tables drops the tables a dropped table's foreign keys point at.
CROSS_BRANCH_FK = True
#: Point 3: createdb records the tables of models another extension imports as that extension's.
IMPORTED_MODELS = True
#: Point 4: op.create_table(..., if_not_exists=True) on another branch's table records it as its own.
IF_NOT_EXISTS_TAKEOVER = True
#: Points 1 and 2: forget --drop-tables (and dropdb) drop another program's table a foreign key points at.
FK_TO_FOREIGN_TABLE = True
#: Point 5: on MariaDB, initdb over a database without alembic_version commits half and leaves a state only
#: repair (which then drops the core's tables) gets out of.  On SQLite and PostgreSQL it rolls back: on there.
LOST_VERSIONING_ON_MARIADB = True
#: Found by this test: on MariaDB a migration whose next revision raises before its first statement (orchard's
#: irreversible downgrade, under dropdb) loses the version row of the revision before it, which stays marked
#: interrupted (checkdb 5, repair) though its statements ran (test_model_regressions.py).
IRREVERSIBLE_ON_MARIADB = True

STRESS = Stressors(cross_branch_fk=CROSS_BRANCH_FK, imported_models=IMPORTED_MODELS,
                   if_not_exists_takeover=IF_NOT_EXISTS_TAKEOVER, fk_to_foreign_table=FK_TO_FOREIGN_TABLE)

#: Commands whose failure leaves the database as it was: every one on SQLite and PostgreSQL.
TRANSACTIONAL = {"sqlite": True, "postgresql": True, "mysql": False}
#: Tables the insert rule writes to (the core's other tables hold the revisions' own rows).
NOT_WRITTEN = {"core_groups", "core_settings_group", "core_settings", "core_groups_users", "template_sensors",
               FOREIGN_TABLE}


class CommandMachine(RuleBasedStateMachine):
    """One database, the extensions installed so far, and a model of what must be in it."""

    directory: Path
    url_for: Callable[[Path], str]
    transactional: bool = True
    examples = 0
    steps = 0
    used: Counter[str] = Counter()

    def __init__(self) -> None:
        super().__init__()
        type(self).examples += 1
        here = self.directory / f"example-{type(self).examples}"
        self.universe = build_universe(here / "ext", STRESS)
        self.url = type(self).url_for(here)
        reset(self.url)
        self.model = Model(self.universe)
        self.next_id = MARKER
        self.on_path: list[str] = []

    def teardown(self) -> None:
        for entry in self.on_path:
            while entry in sys.path:
                sys.path.remove(entry)
        importlib.invalidate_caches()

    # -- running commands ------------------------------------------------------------

    def jnt(self, *args: str) -> forked_cli.Outcome:
        type(self).steps += 1
        type(self).used[" ".join(a for a in args[:2] if not a.startswith("-"))] += 1
        done = forked_cli.run([*args, "-u", self.url], self.universe.roots)
        note(f"jnt_dbman {' '.join(args)} -> {done.exit_code}: {(done.stderr or done.stdout).strip()[:300]}")
        assert done.crash is None, done.crash
        assert "unexpected" not in done.stderr, done.stderr
        return done

    def plan(self, *args: str) -> set[str]:
        """The tables a migration's ``--plan --json`` marks as losing data (all of them when it cannot say)."""
        planned = self.jnt(*args, "--plan", "--json")
        if planned.exit_code:
            return set()
        marked: set[str] = set()
        for step in json.loads(planned.stdout):
            for mark in step["destructive"]:
                marked |= {mark["table"]} if mark["table"] else set(self.universe_tables())
        return marked

    def universe_tables(self) -> set[str]:
        return {t for branch in self.universe.branches.values() for t in branch.tables}

    def settle(self, done: forked_cli.Outcome, expected: Model | None, marked: set[str] | None = None, *,
               may_refuse: bool = False, migrates: bool = False) -> None:
        """Check the command against the model's prediction (None: it must fail), then adopt the new model.

        *may_refuse*: failing is right too (a migration over a database that lost its versioning: main refuses
        it, original-database detection adopts it first); it then changes nothing either.
        """
        before = read(self.url, set(self.model.rows))
        if expected is None or (may_refuse and done.exit_code):
            assert done.exit_code != 0, f"{done.args} was to be refused: {done.stdout}"
            if not self.transactional:  # MariaDB keeps the revisions that completed before the failure
                self.model.applied = self.universe.closure(set(before.versions))
                self.model.drop_rows_of_missing_tables()
            return
        assert done.exit_code == 0, f"{done.args} failed: {done.stderr}"
        if marked is not None:
            lost = {t for t, ids in self.model.rows.items() if not ids <= before.rows.get(t, frozenset())}
            lost |= self.model.tables() - before.tables
            assert lost <= marked, f"{done.args} destroyed {sorted(lost - marked)}, which its --plan did not mark"
        if migrates:  # every migration first re-stamps a squashed branch held at its last replaced revision
            expected.restamp.clear()
        expected.drop_rows_of_missing_tables()
        self.model = expected

    # -- the rules ------------------------------------------------------------------------

    @initialize(data=st.data())
    def a_site(self, data: st.DataObject) -> None:
        """Start where the interesting sequences start: some extensions installed, often migrated."""
        for name in sorted(self.universe.roots, key=lambda n: (len(self.universe.branches[n].needs), n)):
            if name in self.installable() and data.draw(
                    st.booleans(), label=f"install {name}"):
                self.put_on_path(name)
        built = data.draw(st.sampled_from(["initdb", "createdb", "nothing"]), label="build with")
        if built != "nothing":
            getattr(self, built)()
            if self.lose_versioning_allowed() and data.draw(st.sampled_from([False, False, True]),
                                                            label="lose versioning"):
                self.lose_versioning()
            for name in self.uninstallable()[::-1]:  # dependents first
                if name in self.uninstallable() and data.draw(st.booleans(), label=f"uninstall {name}"):
                    self.take_off_path(name)

    def installable(self) -> list[str]:
        if self.model.stripped is not None:  # which extension's tables are which stays as adopt found it
            return []
        return sorted(n for n, b in self.universe.branches.items()
                      if n not in self.model.installed and set(b.needs) <= self.model.installed
                      and (self.transactional or IRREVERSIBLE_ON_MARIADB or n != "orchard"))

    def uninstallable(self) -> list[str]:
        if self.model.stripped is not None:
            return []
        return sorted(n for n in self.model.installed if not self.universe.branches[n].fixed
                      and not any(n in self.universe.branches[o].needs for o in self.model.installed))

    def downgradable(self) -> list[str]:
        return sorted(n for n in self.model.installed if n != "janitoo" and self.model.applied[n])

    def forgettable(self) -> list[str]:
        return sorted(n for n in self.model.orphans() if not self.dependents(n))

    def writable(self) -> list[str]:
        return sorted(self.model.tables() - NOT_WRITTEN)

    @precondition(lambda self: self.installable())
    @rule(data=st.data())
    def install(self, data: st.DataObject) -> None:
        """pip install: the extension's root goes on the path, where discovery finds it."""
        choices = self.installable()
        self.put_on_path(data.draw(st.sampled_from(choices), label="install"))

    def put_on_path(self, name: str) -> None:
        root = str(self.universe.roots[name])
        sys.path.insert(0, root)
        self.on_path.append(root)
        importlib.invalidate_caches()
        self.model.installed.add(name)

    @precondition(lambda self: self.uninstallable())
    @rule(data=st.data())
    def uninstall(self, data: st.DataObject) -> None:
        """pip uninstall, without removing the branch first; never under an extension that needs it."""
        choices = self.uninstallable()
        if not choices:
            return
        self.take_off_path(data.draw(st.sampled_from(choices), label="uninstall"))

    def take_off_path(self, name: str) -> None:
        root = str(self.universe.roots[name])
        while root in sys.path:
            sys.path.remove(root)
        importlib.invalidate_caches()
        self.model.installed.discard(name)

    @rule()
    def initdb(self) -> None:
        marked = self.plan("upgrade", "heads")
        expected = None if self.model.orphans() else self.adopted()
        if expected is not None:
            for name in self.model.installed:
                expected.bring(name, self.model.length(name))
        self.settle(self.jnt("initdb", "-q"), expected, marked, may_refuse=self.model.stripped is not None,
                    migrates=True)

    def adopted(self) -> Model:
        """The model once adopt stamped a database that lost its versioning (else as it is)."""
        expected = self.model.copy()
        if expected.stripped is not None:
            expected.applied = {n: self.universe.branches[n].adopted_at(count)
                                for n, count in expected.stripped.items()}
            expected.stripped = None
        return expected

    @precondition(lambda self: self.model.stripped is None)  # one branch of a database that lost its versioning:
    @rule(data=st.data())                                     # upgraded alone, the others' tables stay unversioned
    def upgrade(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.model.installed)), label="upgrade")
        marked = self.plan("upgrade", f"{name}@head")
        expected = None if self.model.orphans() else self.adopted()
        if expected is not None:
            expected.bring(name, self.model.length(name))
        self.settle(self.jnt("upgrade", "-q", f"{name}@head"), expected, marked,
                    migrates=True)

    @precondition(lambda self: self.downgradable())
    @rule(data=st.data())
    def downgrade(self, data: st.DataObject) -> None:
        choices = self.downgradable()
        name = data.draw(st.sampled_from(choices), label="downgrade")
        step = data.draw(st.sampled_from(["-1", "base"]), label="to")
        cascade = ("--cascade",) if data.draw(st.booleans(), label="cascade") else ()
        target = self.model.applied[name] - 1 if step == "-1" else 0
        ends = self.model.undone_with(name, target)
        undone = [r for b, end in ends.items() for r in self.universe.branches[b].revisions[end:self.model.applied[b]]]
        refused = (self.model.orphans() or (set(ends) - {name} and not cascade)
                   or any(r.irreversible for r in undone))
        expected = None if refused else self.model.copy()
        if expected is not None:
            expected.applied.update(ends)
        marked = self.plan("downgrade", f"{name}@{step}", *cascade)
        self.settle(self.jnt("downgrade", "-q", "--yes", f"{name}@{step}", *cascade), expected, marked, migrates=True)

    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        """forget --drop-tables of an uninstalled extension no other applied branch depends on.

        With none, of an installed one: refused, dropping nothing (point 14).
        """
        choices = self.forgettable()
        name = data.draw(st.sampled_from(choices or sorted(self.model.installed - {"janitoo"})), label="forget")
        expected = None
        if choices:
            expected = self.model.copy()
            expected.applied[name] = 0
            expected.restamp.discard(name)
        self.settle(self.jnt("forget", name, "--drop-tables", "--yes"), expected)

    def dependents(self, name: str) -> set[str]:
        ids = {r.id for r in self.universe.branches[name].revisions[:self.model.applied[name]]}
        return {b for b, count in self.model.applied.items() if b != name
                and any(r.depends_on in ids for r in self.universe.branches[b].revisions[:count])}

    @rule()
    def dropdb(self) -> None:
        irreversible = any(r.irreversible for n in self.model.installed
                           for r in self.universe.branches[n].revisions[:self.model.applied[n]])
        lost = self.model.stripped is not None  # no alembic_version: no downgrade runs
        expected = None if self.model.orphans() or (irreversible and not lost) else self.model.copy()
        if expected is not None and not lost:
            expected.applied = dict.fromkeys(expected.applied, 0)
        # With the versioning lost the owner ledger went too: nothing proves janitoo_db made a table, so all stay.
        self.settle(self.jnt("dropdb", "--yes"), expected, migrates=True)

    @rule()
    def createdb(self) -> None:
        expected = self.model.copy()
        if self.model.stripped is not None:  # the models' tables all there, as the models say: only stamped
            at_heads = all(self.model.stripped[n] == self.model.length(n) for n in self.model.installed)
            # shed's key to another program's table is one no model can declare: its tables differ from the models.
            foreign_key = FK_TO_FOREIGN_TABLE and self.model.stripped.get("shed", 0) > 0
            expected = self.adopted() if at_heads and not foreign_key else None  # type: ignore[assignment]
        elif self.model.versioned():  # at every head it has nothing to do (an orphan beside them does not matter)
            expected = expected if not self.model.restamp & self.model.installed and not any(
                self.model.applied[n] < self.model.length(n) for n in self.model.installed) else None  # type: ignore
        else:
            expected.applied.update({n: self.model.length(n) for n in self.model.installed})
        self.settle(self.jnt("createdb"), expected)

    @precondition(lambda self: not self.model.versioned())
    @rule()
    def adopt(self) -> None:
        """Stamp each branch at the revision its tables are at (nothing when no branch's table is there)."""
        self.settle(self.jnt("adopt", "--yes"), self.adopted())

    def lose_versioning_allowed(self) -> bool:
        return (self.model.versioned() and not self.model.orphans() and not self.model.restamp
                and (self.transactional or LOST_VERSIONING_ON_MARIADB))

    @precondition(lambda self: self.lose_versioning_allowed())
    @rule()
    def lose_versioning(self) -> None:
        """The tables stay, alembic_version and the bookkeeping go: a database the original janitoo_db made."""
        lose_versioning(self.url)
        type(self).used["(lose versioning)"] += 1
        note("dropped alembic_version and janitoo_db's bookkeeping tables")
        self.model.stripped, self.model.applied = self.model.applied, dict.fromkeys(self.model.applied, 0)

    def squashable(self) -> list[str]:
        depended = {r.depends_on for b in self.universe.branches.values() for r in b.revisions}
        return sorted(n for n in self.model.installed if not self.universe.branches[n].fixed
                      and n not in self.universe.replaced.values() and self.model.length(n) > 1
                      and self.model.applied[n] in (0, self.model.length(n)) and self.model.stripped is None
                      and not any(r.id in depended for r in self.universe.branches[n].revisions))

    @precondition(lambda self: self.squashable())
    @rule(data=st.data())
    def squash(self, data: st.DataObject) -> None:
        """One revision in place of the branch's history (files rewritten); the database is re-stamped later."""
        choices = self.squashable()
        name = data.draw(st.sampled_from(choices), label="squash")
        branch = self.universe.branches[name]
        revision = f"5a{sorted(self.universe.roots).index(name):010d}"
        done = self.jnt("squash", name, "--rev-id", revision, "--json")
        assert done.exit_code == 0, done.stderr
        squashed = json.loads(done.stdout)
        assert squashed["replaces"] == [r.id for r in branch.revisions]
        assert {t["table"] for t in squashed["tables"]} == set(branch.tables), "it must create what they created"
        assert len(squashed["depends_on"]) <= 1, squashed["depends_on"]
        self.universe.branches[name] = replace(branch, revisions=(Revision(
            revision, creates=branch.tables, depends_on=(squashed["depends_on"] or [None])[0]),))
        self.universe.replaced[branch.revisions[-1].id] = name
        if self.model.applied[name]:
            self.model.applied[name] = 1
            self.model.restamp.add(name)

    @precondition(lambda self: self.writable())
    @rule(data=st.data())
    def insert(self, data: st.DataObject) -> None:
        """An application writes a row into a table that exists."""
        choices = self.writable()
        table = data.draw(st.sampled_from(choices), label="insert into")
        self.next_id += 1
        if insert_row(self.url, table, self.next_id):  # core_users needs a group: createdb makes none
            note(f"inserted row {self.next_id} into {table}")
            self.model.rows.setdefault(table, set()).add(self.next_id)

    # -- what must hold after every step --------------------------------------------------

    @invariant()
    def the_database_is_what_the_model_says(self) -> None:
        seen = read(self.url, set(self.model.rows))
        assert seen.foreign_rows == 1, f"the other program's table {FOREIGN_TABLE} or its row is gone"
        wanted = self.model.tables()
        assert seen.tables == wanted, f"missing {sorted(wanted - seen.tables)}, extra {sorted(seen.tables - wanted)}"
        assert self.universe.closure(set(seen.versions)) == self.model.applied, sorted(seen.versions)
        for table, ids in self.model.rows.items():
            assert ids <= seen.rows.get(table, frozenset()), f"rows {sorted(ids)} of {table} are gone"
        check = self.jnt("checkdb", "--json")
        assert check.exit_code == self.model.checkdb_code(), check.stdout
        assert not json.loads(check.stdout).get("interrupted"), "a command left a state only repair gets out of"


def _run(directory: Path, url_for: Callable[[Path], str], dialect: str, chosen: settings) -> None:
    forked_cli.warm_up(str(directory))
    machine = type(f"{dialect.title()}Machine", (CommandMachine,),
                   {"directory": directory, "url_for": staticmethod(url_for), "used": Counter(),
                    "transactional": TRANSACTIONAL[dialect]})
    try:
        run_state_machine_as_test(machine, settings=chosen)
    finally:
        print(f"{dialect}: {machine.examples} sequences, {machine.steps} jnt_dbman commands", dict(machine.used))


def _settings(examples: int, steps: int) -> settings:
    """Deterministic and bounded; JANITOO_DB_MODEL_EXAMPLES runs more sequences, and
    JANITOO_DB_MODEL_NO_SHRINK=1 reports a failure as found (shrinking one takes minutes)."""
    phases = [Phase.generate] if os.environ.get("JANITOO_DB_MODEL_NO_SHRINK") else list(Phase)
    return settings(derandomize=True, max_examples=int(os.environ.get("JANITOO_DB_MODEL_EXAMPLES", examples)),
                    stateful_step_count=steps, deadline=None, database=None, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_every_command_against_the_model_on_sqlite(tmp_path: Path) -> None:
    _run(tmp_path, lambda here: f"sqlite:///{here / 'janitoo.sqlite'}", "sqlite", _settings(60, 10))


@pytest.mark.server
@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_every_command_against_the_model_on_a_server(tmp_path: Path, dialect: str,
                                                      request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{dialect}_url")
    _run(tmp_path, lambda here: url, dialect, _settings(8, 10))
