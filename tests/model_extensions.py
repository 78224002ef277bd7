"""The extensions the model-based test (test_model_based.py) installs, and the revision graph it reasons with.

Each extension is written as an editable install of the original's layout:
``ROOT/NAME/__init__.py`` (its models and ``extend``), ``ROOT/NAME/models/NAME/``
(its revisions) and ``ROOT/NAME-1.0.dist-info`` (its ``janitoo.models`` entry
point), one ROOT per extension, so putting ROOT on ``sys.path`` installs it and
taking it off uninstalls it.  Together they stress what a command may think it
owns:

* ``garden`` and ``garden_beds`` share a name prefix (branch and tables);
  ``garden_beds`` depends on ``garden``'s first revision and, with
  ``Stressors.cross_branch_fk``, has a foreign key into ``garden``;
* ``pests`` depends on the core's tables and, with ``cross_branch_fk``, has a
  foreign key into ``core_users``;
* ``compost``'s models, with ``Stressors.imported_models``, import ``garden``'s
  (it loads first: extensions load in name order);
* ``shed`` makes its tables with ``op.create_table(..., if_not_exists=True)``;
  with ``Stressors.if_not_exists_takeover`` one of them is ``garden``, which
  ``garden`` made; with ``Stressors.fk_to_foreign_table`` its table has a
  foreign key into ``birdwatch_log``, a table of another program;
* ``orchard``'s second revision cannot be undone: its downgrade raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CORE_TABLES_REVISION = "1266567cc97f"
#: The table another program keeps in the same database; no revision or model declares it.
FOREIGN_TABLE = "birdwatch_log"


@dataclass(frozen=True)
class Stressors:
    """Which known-dangerous shapes the universe holds (each off until its bug is fixed)."""

    cross_branch_fk: bool = False
    imported_models: bool = False
    if_not_exists_takeover: bool = False
    fk_to_foreign_table: bool = False


@dataclass(frozen=True)
class Revision:
    """One revision of a linear branch: its id, what it runs, and the tables it creates."""

    id: str
    upgrade: str = "pass"
    downgrade: str = "pass"
    creates: tuple[str, ...] = ()
    depends_on: str | None = None
    #: Its downgrade raises: undoing it always fails.
    irreversible: bool = False
    #: It changes no table (a branch's root, or rows only): adopt cannot tell whether it ran.
    no_schema: bool = False


@dataclass(frozen=True)
class Branch:
    """An extension (or a branch always installed): its revisions oldest first, models, what it needs installed."""

    name: str
    revisions: tuple[Revision, ...]
    models: str = ""
    needs: tuple[str, ...] = ()
    #: Always installed in the test process (the core, janitoo_template, acme_sensors): never written.
    fixed: bool = False

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(t for r in self.revisions for t in r.creates)

    def tables_at(self, applied: int) -> set[str]:
        return {t for r in self.revisions[:applied] for t in r.creates}

    def adopted_at(self, applied: int) -> int:
        """Where adopt finds a branch whose tables are those of *applied* revisions (operating.rst, Adopting).

        The newest revision with the same schema (what follows without changing a table is taken as
        applied); a branch none of whose tables is there stays at base.
        """
        while applied < len(self.revisions) and self.revisions[applied].no_schema:
            applied += 1
        return applied if self.tables_at(applied) else 0


def _table(name: str, *columns: str, if_not_exists: bool = False) -> str:
    arguments = [repr(name), "sa.Column('id', sa.Integer, primary_key=True)", *columns]
    if if_not_exists:
        arguments.append("if_not_exists=True")
    return "op.create_table(" + ", ".join(arguments) + ")"


def _model(cls: str, table: str, *columns: str) -> str:
    lines = [f"class {cls}(Base):", f"    __tablename__ = {table!r}",
             "    id = sa.Column(sa.Integer, primary_key=True)", *(f"    {c}" for c in columns)]
    return "\n".join(lines) + "\n\n"


def fixed_branches() -> list[Branch]:
    """The branches the test process always has: the core, janitoo_template, acme_sensors."""
    return [
        Branch("janitoo", (Revision("3b5854d25914", no_schema=True),
                           Revision(CORE_TABLES_REVISION, creates=("core_groups", "core_settings_group",
                                                                   "core_settings", "core_users",
                                                                   "core_groups_users")),
                           Revision("33b95995b188", no_schema=True), Revision("5d2f0a8c91e3")), fixed=True),
        Branch("janitoo_template", (Revision("8f41c2d7a9b0", no_schema=True),
                                    Revision("c3e9b5a1d274", creates=("template_rooms", "template_sensors"))),
               fixed=True),
        Branch("acme_sensors", (Revision("1a2b3c4d5e6f", no_schema=True),
                                Revision("2b3c4d5e6f70", creates=("acme_readings",),
                                         depends_on=CORE_TABLES_REVISION)), fixed=True),
    ]


def generated_branches(stress: Stressors) -> list[Branch]:
    """The extensions the test installs and uninstalls."""
    fk_garden = ", sa.ForeignKey('garden.id')" if stress.cross_branch_fk else ""
    fk_users = ", sa.ForeignKey('core_users.id')" if stress.cross_branch_fk else ""
    fk_birds = f", sa.ForeignKey('{FOREIGN_TABLE}.id')" if stress.fk_to_foreign_table else ""
    takeover = stress.if_not_exists_takeover
    compost_import = "from garden import Garden  # noqa: F401\n\n" if stress.imported_models else ""
    return [
        Branch("garden", (
            Revision("a10000000001", _table("garden", "sa.Column('name', sa.String(40))"),
                     "op.drop_table('garden')", ("garden",)),
            Revision("a10000000002", _table("garden_plots", "sa.Column('note', sa.String(40))"),
                     "op.drop_table('garden_plots')", ("garden_plots",)),
        ), _model("Garden", "garden", "name = sa.Column(sa.String(40))")
           + _model("GardenPlot", "garden_plots", "note = sa.Column(sa.String(40))")),
        Branch("garden_beds", (
            Revision("b10000000001", _table("garden_beds", f"sa.Column('garden_id', sa.Integer{fk_garden})"),
                     "op.drop_table('garden_beds')", ("garden_beds",), depends_on="a10000000001"),
            Revision("b10000000002", "op.add_column('garden_beds', sa.Column('depth', sa.Integer))",
                     "with op.batch_alter_table('garden_beds') as batch:\n    batch.drop_column('depth')"),
        ), _model("GardenBed", "garden_beds", f"garden_id = sa.Column(sa.Integer{fk_garden})",
                  "depth = sa.Column(sa.Integer)"), needs=("garden",)),
        Branch("pests", (
            Revision("c10000000001", no_schema=True),
            Revision("c10000000002", _table("pests_sightings", f"sa.Column('user_id', sa.Integer{fk_users})"),
                     "op.drop_table('pests_sightings')", ("pests_sightings",), depends_on=CORE_TABLES_REVISION),
        ), _model("Sighting", "pests_sightings", f"user_id = sa.Column(sa.Integer{fk_users})")),
        Branch("compost", (
            Revision("d10000000001", _table("compost_heaps", "sa.Column('kind', sa.String(20))"),
                     "op.drop_table('compost_heaps')", ("compost_heaps",)),
        ), compost_import + _model("CompostHeap", "compost_heaps", "kind = sa.Column(sa.String(20))"),
            needs=("garden",) if stress.imported_models else ()),
        Branch("shed", (
            Revision("e10000000001", _table("shed_tools", f"sa.Column('bird_id', sa.Integer{fk_birds})",
                                            if_not_exists=True),
                     "op.drop_table('shed_tools')", ("shed_tools",)),
            Revision("e10000000002", _table("garden", "sa.Column('name', sa.String(40))", if_not_exists=True),
                     "pass", (), depends_on="a10000000001") if takeover else
            Revision("e10000000002", _table("shed_pots", if_not_exists=True), "op.drop_table('shed_pots')",
                     ("shed_pots",)),
        ), _model("ShedTool", "shed_tools", "bird_id = sa.Column(sa.Integer)")
           + ("" if takeover else _model("ShedPot", "shed_pots")),
            needs=("garden",) if takeover else ()),
        Branch("orchard", (
            Revision("f10000000001", _table("orchard_trees", "sa.Column('name', sa.String(40))"),
                     "op.drop_table('orchard_trees')", ("orchard_trees",)),
            Revision("f10000000002", _table("orchard_crates", "sa.Column('tree_id', sa.Integer)"),
                     "raise RuntimeError('orchard_crates cannot be undone')", ("orchard_crates",),
                     irreversible=True),
        ), _model("Tree", "orchard_trees", "name = sa.Column(sa.String(40))")
           + _model("Crate", "orchard_crates", "tree_id = sa.Column(sa.Integer)")),
    ]


@dataclass
class Universe:
    """Every branch, by name, and where each generated extension is written."""

    branches: dict[str, Branch]
    roots: dict[str, Path] = field(default_factory=dict)
    #: The last revision of each squashed branch's history, and the branch: it stands for the squashed revision.
    replaced: dict[str, str] = field(default_factory=dict)

    def revision(self, revision_id: str) -> tuple[str, int]:
        """The branch of *revision_id* and how many of its revisions it makes applied."""
        if revision_id in self.replaced:
            return self.replaced[revision_id], len(self.branches[self.replaced[revision_id]].revisions)
        for branch in self.branches.values():
            for index, revision in enumerate(branch.revisions):
                if revision.id == revision_id:
                    return branch.name, index + 1
        raise KeyError(revision_id)

    def closure(self, heads: set[str]) -> dict[str, int]:
        """How many revisions of each branch *heads* (alembic_version) hold applied, following depends_on."""
        applied = {name: 0 for name in self.branches}
        todo = list(heads)
        while todo:
            name, count = self.revision(todo.pop())
            if count <= applied[name]:
                continue
            for revision in self.branches[name].revisions[applied[name]:count]:
                if revision.depends_on:
                    todo.append(revision.depends_on)
            applied[name] = count
        return applied


def write_branch(root: Path, branch: Branch) -> Path:
    """Write *branch* under *root* in the original's layout (an editable install); return *root*."""
    package = root / branch.name
    versions = package / "models" / branch.name
    versions.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import sqlalchemy as sa\nfrom janitoo_db.base import Base\n\n" + branch.models
        + "\n\ndef extend(jntmodel):\n    pass\n")
    dist = root / f"{branch.name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {branch.name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[janitoo.models]\n{branch.name} = {branch.name}:extend\n")
    previous: str | None = None
    for index, revision in enumerate(branch.revisions):
        labels = (branch.name,) if previous is None else None
        (versions / f"{revision.id}_step_{index}.py").write_text(
            f'"""Step {index} of {branch.name}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {revision.id!r}\ndown_revision = {previous!r}\n"
            f"branch_labels = {labels!r}\ndepends_on = {revision.depends_on!r}\n\n\n"
            "def upgrade():\n" + _indent(revision.upgrade) + "\n\ndef downgrade():\n" + _indent(revision.downgrade))
        previous = revision.id
    return root


def _indent(body: str) -> str:
    return "".join(f"    {line}\n" for line in body.splitlines())


def build_universe(directory: Path, stress: Stressors) -> Universe:
    """Write every generated extension under *directory* (one root each); nothing is installed yet."""
    branches = {b.name: b for b in fixed_branches() + generated_branches(stress)}
    universe = Universe(branches)
    for branch in branches.values():
        if not branch.fixed:
            universe.roots[branch.name] = write_branch(directory / branch.name, branch)
    return universe
