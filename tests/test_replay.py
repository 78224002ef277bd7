"""The revisions replayed on a scratch database: what adopt and squash learn each revision's schema from."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_extension
from janitoo_db.errors import RevisionError
from janitoo_db.history.replay import Applied, replay
from janitoo_db.site import Site
from janitoo_db.site.extensions import discover


def replayed(url: str, **kwargs: object) -> list[tuple[str, list[str], list[str], list[str]]]:
    seen = []

    def each(applied: Applied, connection: object) -> None:
        seen.append((applied.revision.revision, sorted(applied.revision.branch_labels),
                     sorted(applied.created), sorted(applied.dropped)))

    replay(Site(url, discover()), each, **kwargs)  # type: ignore[arg-type]
    return seen


def test_each_revision_with_the_tables_it_made_and_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_extension(tmp_path / "ext", "acme", [
        ("a10000000001", "op.create_table('acme_a', sa.Column('id', sa.Integer, primary_key=True))"),
        ("a10000000002", "op.create_table('acme_b', sa.Column('id', sa.Integer, primary_key=True))\n"
                         "op.drop_table('acme_a')"),
    ])
    monkeypatch.syspath_prepend(str(root))
    database = tmp_path / "real.sqlite"
    seen = replayed(f"sqlite:///{database}")
    assert ("1266567cc97f", ["janitoo"], ["core_groups", "core_groups_users", "core_settings",
                                          "core_settings_group", "core_users"], []) in seen
    assert ("a10000000001", ["acme"], ["acme_a"], []) in seen
    assert ("a10000000002", ["acme"], ["acme_b"], ["acme_a"]) in seen
    assert len(seen) == len({revision for revision, *_ in seen})  # each revision once
    assert not database.exists()  # the real database is never touched


def test_a_revision_that_cannot_run_on_sqlite_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_extension(tmp_path / "ext", "pgonly", [
        ("b10000000001", "op.execute('CREATE EXTENSION hstore')"),
    ])
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(RevisionError, match=r"cannot run revision b10000000001 \(pgonly\) on a scratch SQLite"):
        replayed(f"sqlite:///{tmp_path / 'real.sqlite'}")


def test_up_to_a_destination(tmp_path: Path) -> None:
    seen = replayed(f"sqlite:///{tmp_path / 'real.sqlite'}", destination="janitoo@head")
    assert [revision for revision, *_ in seen] == ["3b5854d25914", "1266567cc97f", "33b95995b188", "5d2f0a8c91e3"]
