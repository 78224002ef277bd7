"""How jnt_dbman shows what the commands return: lines a person reads, or JSON."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any, Callable

import click

from janitoo_db.cli.wording import NOTHING_TO_DO
from janitoo_db.results import DriftReport, RevisionInfo, Step


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def print_revisions(infos: list[RevisionInfo], as_json: bool, verbose: bool = False,
                     with_parent: bool = False) -> None:
    if as_json:
        print_json([info.as_dict() for info in infos])
        return
    for info in infos:
        click.echo(revision_details(info) if verbose else revision_line(info, with_parent=with_parent))


class Progress:
    """Each revision as it is applied or reverted, numbered (``[12/1006]``), then one summary line.

    With *quiet*, nothing at all.  A command that fails after listing
    revisions says which of them were kept.
    """

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.listed = 0
        self.started = time.monotonic()

    def __call__(self, step: Step) -> None:
        self.listed += 1
        if not self.quiet:
            verb = "Applied" if step.is_upgrade else "Reverted"
            place = f"[{step.number}/{step.total}] " if step.total else ""
            click.echo(f"{place}{verb} {step.revision} ({', '.join(step.branches)}): {step.message}", err=True)

    def finish(self, steps: list[Step], nothing_to_do: Callable[[], str] = lambda: NOTHING_TO_DO) -> None:
        """The summary; when nothing ran, *nothing_to_do* says where the database is (asked only then)."""
        if self.quiet:
            return
        if not steps:
            click.echo(nothing_to_do(), err=True)
            return
        verb = "applied" if steps[0].is_upgrade else "reverted"
        click.echo(f"Done: {_revisions(len(steps))} {verb} in {time.monotonic() - self.started:.2f} s, committed.",
                   err=True)

    def failed(self, rolled_back: bool, committed_partway: bool = False, needs_repair: bool = False,
               split_commits: int = 0) -> None:
        if self.quiet or not self.listed:
            return
        if rolled_back:
            click.echo(f"Rolled back: none of the {_revisions(self.listed)} listed above were kept.", err=True)
        elif split_commits and not needs_repair:
            click.echo(f"Partly kept: the run was split for PostgreSQL's lock table, and the {split_commits} "
                       "transaction(s) before the failing revision's were committed with their versions; the rest "
                       "was rolled back. 'jnt_dbman current' shows where the database is.", err=True)
        elif committed_partway:
            rest = ("part of the failing one stays, marked for 'jnt_dbman repair' (the error says why)"
                    if needs_repair else "the rest was rolled back or undone")
            click.echo("Partly kept: an autocommit block committed the revisions before it (and its own, once "
                       f"finished); {rest}. 'jnt_dbman current' shows where the database is.", err=True)
        else:
            rest = ("what the failing one ran stays, marked for 'jnt_dbman repair' (the error says why)"
                    if needs_repair else "the failing one was not recorded, and nothing of it stays")
            click.echo(f"Kept: the {_revisions(self.listed)} listed above were committed one by one "
                       f"(MySQL/MariaDB); {rest}.", err=True)


def _revisions(count: int) -> str:
    return f"{count} revision" + ("" if count == 1 else "s")


def revision_line(info: RevisionInfo, with_parent: bool = False) -> str:
    """One-line form, as Alembic prints it: ``33b95995b188 (janitoo) (head)``."""
    text = info.revision
    if with_parent:
        text = f"{', '.join(info.down_revisions) or '<base>'} -> {text}"
    if info.branches:
        text += f" ({', '.join(info.branches)})"
    if info.is_head:
        text += " (head)"
    if info.is_branch_point:
        text += " (branchpoint)"
    if info.is_merge_point:
        text += " (mergepoint)"
    if info.orphaned:
        return f"{text} (orphaned): {info.message}"
    if info.replaced_by:
        return f"{text} (replaced): {info.message}"
    if with_parent and info.message:
        text += f", {info.message}"
    return text


def revision_details(info: RevisionInfo) -> str:
    if info.orphaned or info.replaced_by:
        return revision_line(info) + "\n"
    lines = [f"Rev: {revision_line(info)}", f"Parent: {', '.join(info.down_revisions) or '<base>'}"]
    if info.depends_on:
        lines.append(f"Depends on: {', '.join(info.depends_on)}")
    if info.branches:
        lines.append(f"Branch names: {', '.join(info.branches)}")
    lines.append(f"Path: {info.path}")
    lines.append("")
    lines.extend(f"    {line}" for line in (info.doc or info.message).splitlines())
    return "\n".join(lines) + "\n"


def print_plan(steps: list[Step], as_json: bool = False,
               nothing_to_do: Callable[[], str] = lambda: NOTHING_TO_DO) -> None:
    """Each revision on a line, its note and what it can destroy (``!``) under it, then its SQL if asked.

    With no revision to run, *nothing_to_do* says where the database is.
    """
    if as_json:
        print_json([asdict(step) for step in steps])
        return
    if not steps:
        click.echo(nothing_to_do())
    for step in steps:
        verb = "upgrade" if step.is_upgrade else "downgrade"
        click.echo(f"{verb} {step.revision} ({', '.join(step.branches)}): {step.message}")
        if step.note:
            click.echo(f"  note: {step.note}")
        for mark in step.destructive:
            click.echo(f"  ! {mark.describe()}")
        for finding in step.lint:
            click.echo(f"  lock: {finding.describe()}")
        if step.sql is not None:
            click.echo(step.sql.rstrip("\n") + "\n")


def print_drift(report: DriftReport) -> None:
    by_owner: dict[str | None, list[str]] = {}
    for difference in report.differences:
        by_owner.setdefault(difference.owner, []).append(difference.description)
    for name in report.extensions:
        found = by_owner.get(name, [])
        click.echo(f"{name}: " + ("models and database agree" if not found else f"{len(found)} difference(s)"))
        for description in found:
            click.echo(f"  {description}")
    if None in by_owner:
        click.echo("Tables no model declares:")
        for description in by_owner[None]:
            click.echo(f"  {description}")
