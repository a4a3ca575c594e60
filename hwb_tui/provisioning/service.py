"""One provisioning run over many files and schools: read, plan, check, apply, record, report.

Each school's files are applied together in that school's own transaction; a school whose input
is rejected changes nothing, and its run is recorded (with that outcome) in a separate small
transaction so the console can show the failure. A run over the deactivation limit is held: it
applies everything else and keeps its unannounced leavers as a held plan (core.runs).

A run is made by an actor: the provisioning client (the scheduled job, every school) or, from the
console, an operator. An operator's run is held to what the operator may do at each step: every
school must be theirs, the operator is checked again inside each school's transaction (enabled,
still an operator, still scoped), the plan never reaches outside their schools, and the run
record and every audit row name them. An operator who may not (or no longer may) provision a
school stops the whole command with that refusal, and nothing is recorded for that school.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from hwb_tui.core import clock
from hwb_tui.core.access import PROVISIONING_ACTOR, Actor, recheck, system_actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import (
    DatabaseUnavailable,
    HwbError,
    NotPermitted,
    OperatorDisabled,
    SchoolNotFound,
    UnknownOperator,
    UsageError,
)
from hwb_tui.core.models import ProvisioningRun, School
from hwb_tui.core.runs import HeldState, Outcome, held_until, supersede
from hwb_tui.core.schools import closed_error, registered_many
from hwb_tui.i18n import t
from hwb_tui.provisioning.apply import apply_plan
from hwb_tui.provisioning.export_files import check_export, export_rules
from hwb_tui.provisioning.plan import Change, Limit, Plan, decide, make_plan
from hwb_tui.provisioning.readers import Roster, combine, read_export
from hwb_tui.provisioning.sources import gather, is_dfes, require_named_for

_DFES_AT_START = re.compile(r"^(\d{7})(?!\d)")
_DFES = re.compile(r"^\d{7}$")
# exit status per outcome (SPEC §3); the command's status is the worst of its schools
EXIT: dict[str, int] = {Outcome.APPLIED: 0, Outcome.PLANNED: 0, Outcome.REJECTED: 1,
                        Outcome.HELD: 3,
                        Outcome.BLOCKED: 3, Outcome.FAILED: 4, Outcome.SKIPPED: 4}
COUNTS = ("created", "updated", "moved", "deactivated", "activated", "deferred",
          "not_in_export", "invalid")
_COUNT_OF_ACTION = {"create": "created", "update": "updated", "move": "moved",
                    "deactivate": "deactivated", "activate": "activated", "defer": "deferred"}
STORED_ERRORS = 1000  # a run record keeps this many error lines; the command prints them all
# Refusals of the actor's authority: they end the whole command, and nothing is recorded.
_AUTHORITY = (NotPermitted, OperatorDisabled, UnknownOperator)
_RUNS = ProvisioningRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProvisionOptions:
    """The options of `hwb-tui provision` (and of the console's preview and apply)."""

    format: str = "auto"
    as_of: date | None = None  # the run's date; None = today
    dry_run: bool = False
    max_deactivations: int | None = None
    force: bool = False
    skip_invalid: bool = False
    language: str | None = None  # language of the reasons in the report; None = current
    size_limit: int | None = None  # the largest file read, in bytes; None: 64 MiB
    inbox: Path | None = None  # files only from inside this folder; None = any path


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run has got to, for a progress bar: stage is read, plan, apply or done."""

    school: str
    stage: str
    schools_done: int
    schools_total: int
    bytes_done: int
    bytes_total: int
    changes: int = 0


Progress = Callable[[ProgressEvent], None]


@dataclass
class FileSummary:
    name: str
    sha256: str
    format: str | None
    rows: int
    size: int


@dataclass
class SchoolResult:
    """What the run did (or would do, or refused to do) for one school."""

    school: str
    outcome: str  # applied | planned | rejected | held | failed | skipped (core.runs.Outcome)
    files: list[FileSummary] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    errors: list[str] = field(default_factory=list)  # file:line:field: reason
    message: str | None = None  # a reason for the whole school (unknown school, database, …)
    deactivations: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)  # leavers held for a decision
    not_in_export: list[str] = field(default_factory=list)  # usernames
    notices: list[dict[str, Any]] = field(default_factory=list)  # late leavers and the like
    limit: dict[str, Any] | None = None
    run_id: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT[self.outcome]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        return data


@dataclass
class ProvisionReport:
    """The whole command's report: every school, and the worst exit status."""

    as_of: date
    dry_run: bool
    schools: list[SchoolResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max((s.exit_code for s in self.schools), default=0)


def report_as_dict(report: ProvisionReport) -> dict[str, Any]:
    """The machine-readable report (`--json`): plain JSON types only."""
    return {
        "as_of": report.as_of.isoformat(),
        "dry_run": report.dry_run,
        "exit_code": report.exit_code,
        "schools": [s.as_dict() for s in report.schools],
    }


def group_by_school(files: list[Path], school: str | None) -> dict[str, list[Path]]:
    """Files per school: all for --school, else by the DfES number each file name begins with.

    A file whose name begins with a DfES number belongs to that school only: given for another
    school it is refused, so a file cannot be passed off as another school's export by name.
    """
    if school is not None:
        if not _DFES.match(school):
            raise UsageError(detail=t("provisioning.bad_dfes", dfes=school))
        for path in files:
            require_named_for(path, school)
        return {school: list(files)}
    groups: dict[str, list[Path]] = {}
    for path in files:
        match = _DFES_AT_START.match(path.name)
        if match is None:
            raise UsageError(detail=t("provisioning.no_school_in_name", file=str(path)))
        groups.setdefault(match.group(1), []).append(path)
    return dict(sorted(groups.items()))


def provision(
    store: Store,
    files: list[Path],
    school: str | None,
    options: ProvisionOptions,
    progress: Progress | None = None,
    actor: Actor | None = None,
) -> ProvisionReport:
    """Provision every school the files cover, as `actor` (default: the provisioning client);
    see the package docstring."""
    if not files:
        raise UsageError(detail=t("provisioning.no_files"))
    # every file of the run is opened by export_files.open_export under these rules
    with export_rules(options.size_limit, options.inbox):
        if options.inbox is not None and actor is not None:
            # names an operator typed (the console): refused at once, in one line, before
            # anything is read; the scheduled job's refusals are per file, in each school's run
            files = [check_export(path) for path in files]
        return _provision(store, files, school, options, progress, actor)


def _provision(
    store: Store,
    files: list[Path],
    school: str | None,
    options: ProvisionOptions,
    progress: Progress | None,
    actor: Actor | None,
) -> ProvisionReport:
    actor = actor or system_actor(PROVISIONING_ACTOR)
    as_of = options.as_of or clock.now().date()
    # CSV exports are grouped by name and read at their school's turn; a OneRoster set or a
    # CTF is read here, as it says which schools it covers (sources.gather)
    units = gather(files, school, options.format, as_of)
    with store.read() as session:
        # before anything is planned: an operator provisions only their own schools (a source
        # too unreadable to name its school is rejected unrecorded, and needs no check)
        now = recheck(session, actor)
        for unit in units:
            if is_dfes(unit.school):
                now.require_school(unit.school)
    report = ProvisionReport(as_of=as_of, dry_run=options.dry_run)
    total = sum(u.size for u in units)
    with store.read() as session:
        known = registered_many(session, [u.school for u in units if is_dfes(u.school)])
    done = 0
    unavailable: DatabaseUnavailable | None = None
    for index, unit in enumerate(units):
        dfes = unit.school
        if unavailable is not None:
            result = SchoolResult(dfes, "skipped", message=unavailable.message(options.language))
        else:
            tick = _ticker(progress, dfes, index, len(units), done, total)
            try:
                tick("read", 0)
                roster = combine(unit.exports + [read_export(p, options.format)
                                                 for p in unit.paths])
                unit.exports = []  # a national set's records go as each school is done
                result = _school(store, actor, dfes, roster, options, as_of, tick,
                                 known.get(dfes))
            except DatabaseUnavailable as exc:
                unavailable = exc
                result = SchoolResult(dfes, "failed", message=exc.message(options.language))
        done += unit.size
        report.schools.append(result)
        if progress is not None:
            progress(ProgressEvent(dfes, "done", index + 1, len(units), done, total))
    return report


def read_roster(paths: list[Path], fmt: str = "auto") -> Roster:
    """A school's files read, validated and combined (no database needed)."""
    return combine([read_export(p, fmt) for p in paths])


def _ticker(
    progress: Progress | None, school: str, index: int, total_schools: int, done: int,
    total: int,
) -> Callable[[str, int], None]:
    def tick(stage: str, changes: int = 0) -> None:
        if progress is not None:
            progress(ProgressEvent(school, stage, index, total_schools, done, total, changes))

    return tick


def _school(
    store: Store,
    actor: Actor,
    dfes: str,
    roster: Roster,
    options: ProvisionOptions,
    as_of: date,
    tick: Callable[[str, int], None],
    registered: School | None,
) -> SchoolResult:
    lang = options.language
    exports = roster.files
    result = SchoolResult(dfes, "rejected")
    result.files = [FileSummary(e.name, e.sha256, e.profile, e.rows, e.size) for e in exports]
    result.errors = [e.render(lang) for e in roster.errors]
    result.counts["invalid"] = len({(e.file, e.line) for e in roster.errors})
    started = clock.now()
    # a source that could not be read far enough to say its school is labelled by its name
    named = is_dfes(dfes)
    # A run needs a registered, open school (SPEC §1): anything else is rejected, recorded.
    known = registered is not None and registered.closed_at is None
    if registered is None and named:
        result.message = SchoolNotFound(dfes=dfes).message(lang)
    elif registered is not None and registered.closed_at is not None:
        result.message = closed_error(registered).message(lang)
    if not known or roster.fatal or (roster.errors and not options.skip_invalid):
        if roster.errors and not roster.fatal and known:
            result.message = t("provisioning.rejected_invalid", lang,
                               count=result.counts["invalid"])
        elif roster.fatal and (known or not named):
            result.message = t("provisioning.rejected_unreadable", lang)
        if not options.dry_run and named:
            _record_failure(store, actor, result, options, as_of, started)
        return result
    tick("plan", 0)
    if options.dry_run:
        with store.read() as session:
            now = recheck(session, actor)
            now.require_school(dfes)
            plan = make_plan(session, dfes, roster, as_of, now)
        limit = decide(plan, options.max_deactivations, options.force)
        _fill(result, plan, limit, roster)
        result.outcome = Outcome.PLANNED
        return result
    try:
        with store.write() as session:
            # the operator as the store says now, in the transaction that makes the changes
            now = recheck(session, actor)
            now.require_school(dfes)
            conn = session.connection()
            # Core statements, not ORM objects: a national re-sync records 1,500 runs.
            run_values = _run_values(actor, result, options, as_of, started, "applying")
            inserted = conn.execute(insert(_RUNS).values(**run_values)).inserted_primary_key
            run_id = int(inserted[0]) if inserted is not None else 0
            plan = make_plan(session, dfes, roster, as_of, now)
            limit = decide(plan, options.max_deactivations, options.force)
            tick("apply", len(plan.changes))
            undo = apply_plan(session, plan, run_id=run_id, actor=actor.login,
                              stamp=clock.now())
            result.outcome = Outcome.HELD if plan.held else Outcome.APPLIED
            result.run_id = run_id
            _fill(result, plan, limit, roster)
            if plan.held:
                result.message = t("provisioning.held", lang, count=len(plan.held),
                                   active=limit.active, run_id=run_id)
            finish = _finish_values(result)
            finish["undo"] = json.dumps(undo, separators=(",", ":"))
            if plan.supersedes or plan.held:
                supersede(session, dfes, run_id)
            if plan.held:
                finish.update(held=json.dumps(result.held, ensure_ascii=False),
                              held_state=HeldState.HELD.value, held_until=held_until(started))
            conn.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(**finish))
    except HwbError as exc:
        if isinstance(exc, (DatabaseUnavailable, *_AUTHORITY)):
            raise
        result.outcome = "failed"
        result.message = exc.message(lang)
        _record_failure(store, actor, result, options, as_of, started)
    return result


def _fill(result: SchoolResult, plan: Plan, limit: Limit, roster: Roster) -> None:
    """Counts, deactivations, held leavers and notices of `plan` into `result`."""
    for change in plan.changes:
        result.counts[_COUNT_OF_ACTION[change.action]] += 1
        if change.action == "deactivate":
            result.deactivations.append(_leaver(change))
    for change in plan.held:
        result.held.append({"user_id": change.user_id, **_leaver(change)})
    for notice in plan.notices:
        if notice.what == "not_in_export":
            result.not_in_export.append(notice.username or "")
        else:
            result.notices.append({"what": notice.what, "username": notice.username,
                                   "where": notice.where, "other_school": notice.other_school})
    result.counts["not_in_export"] = len(result.not_in_export)
    result.limit = limit.as_dict()


def _leaver(change: Change) -> dict[str, Any]:
    record = change.record
    return {
        "username": change.username,
        "reason": change.reason,
        "leaving_date": record.leaving_date.isoformat()
        if record is not None and record.leaving_date else None,
        "where": record.where if record is not None else None,
    }


def _run_values(
    actor: Actor, result: SchoolResult, options: ProvisionOptions, as_of: date, started: Any,
    outcome: str,
) -> dict[str, Any]:
    formats = sorted({f.format for f in result.files if f.format})
    return {
        "started_at": started,
        "school": result.school,
        "actor": actor.login,
        "files": json.dumps([f.name for f in result.files], ensure_ascii=False),
        "sha256": json.dumps([f.sha256 for f in result.files]),
        "format": ",".join(formats) or options.format,
        "as_of": as_of,
        "dry_run": options.dry_run,
        "outcome": outcome,
    }


def _finish_values(result: SchoolResult) -> dict[str, Any]:
    values: dict[str, Any] = {"outcome": result.outcome, "finished_at": clock.now()}
    for name in COUNTS:
        values[name] = result.counts[name]
    values["report"] = json.dumps(_stored(result), ensure_ascii=False, sort_keys=True)
    return values


def _stored(result: SchoolResult) -> dict[str, Any]:
    stored = result.as_dict()
    if len(result.errors) > STORED_ERRORS:
        stored["errors"] = result.errors[:STORED_ERRORS]
        stored["errors_total"] = len(result.errors)
    return stored


def _record_failure(
    store: Store, actor: Actor, result: SchoolResult, options: ProvisionOptions, as_of: date,
    started: Any,
) -> None:
    """A rejected or failed run, recorded on its own: accounts and audit are untouched."""
    with store.write() as session:
        recheck(session, actor).require_school(result.school)
        values = _run_values(actor, result, options, as_of, started, result.outcome)
        inserted = session.connection().execute(
            insert(_RUNS).values({**values, **_finish_values(result)})).inserted_primary_key
        result.run_id = int(inserted[0]) if inserted is not None else None
