"""Provisioning runs as the operators see them: the queries and rules behind `runs`, the
Provisioning view and `health` (one place for each: the faces hold no SQL).

- runs in the operator's scope, newest first; schools whose last successful run is stale;
- a held run's state (held → approved | discarded | superseded, or expired after 14 days);
- the leavers a waiting held plan holds (the planner leaves them to that plan);
- a run's undo record (the before-values of every account it changed, by user id).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, DateTime, TypeDecorator, func, update
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor, recheck
from hwb_tui.core.dates import parse_date
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import ProvisioningRun, School, User

HELD_DAYS = 14  # a held plan waits this long for a decision, then expires
STALE_DAYS = 7  # a school whose last successful run is older than this is flagged
REVERT_MONTHS = 12  # a run can be reverted for this long (as long as activation is possible)
_RUNS = ProvisioningRun.__table__  # type: ignore[attr-defined]
_USERS = User.__table__  # type: ignore[attr-defined]


class Outcome(StrEnum):
    """A run's outcome (SPEC §3's exit statuses follow from it)."""

    APPLIED = "applied"
    PLANNED = "planned"
    REJECTED = "rejected"
    HELD = "held"  # applied, with its unannounced leavers held for a decision
    BLOCKED = "blocked"  # recorded by versions before held runs: nothing was applied
    FAILED = "failed"
    SKIPPED = "skipped"


SUCCESS = (Outcome.APPLIED, Outcome.HELD)  # the run's export was applied


class HeldState(StrEnum):
    """Where a held plan stands."""

    HELD = "held"  # waiting for an operator of the school
    APPROVED = "approved"
    DISCARDED = "discarded"
    SUPERSEDED = "superseded"  # a later run of the school replaced it
    EXPIRED = "expired"  # 14 days passed (never stored: read from held_until)


class RunNotFound(HwbError):
    key = "error.run_not_found"


class RunNotHeld(HwbError):
    key = "error.run_not_held"


class RunTooOld(HwbError):
    key = "error.run_too_old"


class RunNotRevertible(HwbError):
    key = "error.run_not_revertible"


def aware(stamp: datetime) -> datetime:
    """The store hands back naive UTC: make it say so."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def held_state(run: ProvisioningRun, now: datetime | None = None) -> HeldState | None:
    """The run's held plan's state now (None: the run never held anything)."""
    if run.held_state is None:
        return None
    state = HeldState(run.held_state)
    if state is HeldState.HELD and run.held_until is not None:
        if aware(run.held_until) <= (now or clock.now()):
            return HeldState.EXPIRED
    return state


def held_until(started: datetime) -> datetime:
    return started + timedelta(days=HELD_DAYS)


def _in_scope(stmt: Any, actor: Actor) -> Any:
    if actor.schools is None:
        return stmt
    return stmt.where(col(ProvisioningRun.school).in_(sorted(actor.schools)))


def list_runs(session: Session, actor: Actor, limit: int | None = None) -> list[ProvisioningRun]:
    """The runs of the operator's schools, newest first."""
    actor = recheck(session, actor)  # the operator as the store says now
    stmt = _in_scope(select(ProvisioningRun), actor).order_by(
        col(ProvisioningRun.started_at).desc(), col(ProvisioningRun.id).desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def get_run(session: Session, actor: Actor, run_id: int) -> ProvisioningRun:
    """One run of the operator's schools; another school's run is not found, as its users are."""
    actor = recheck(session, actor)
    run = session.get(ProvisioningRun, run_id)
    if run is None or not actor.covers(run.school):
        raise RunNotFound(run=run_id)
    return run


def last_success(session: Session, actor: Actor) -> dict[str, datetime]:
    """When each school in scope last had a successful (applied or held) run of an export."""
    actor = recheck(session, actor)
    stmt = _in_scope(
        select(ProvisioningRun.school, func.max(ProvisioningRun.started_at))
        .where(col(ProvisioningRun.outcome).in_([str(o) for o in SUCCESS]),
               col(ProvisioningRun.dry_run).is_(False),
               col(ProvisioningRun.revert_of).is_(None))  # a revert is no export
        .group_by(col(ProvisioningRun.school)), actor)
    return {school: aware(at) for school, at in session.exec(stmt)}


def stale_schools(session: Session, actor: Actor, now: datetime,
                  days: int = STALE_DAYS) -> list[str]:
    """Schools in scope that have runs but none successful in the last `days` days.

    Schools never provisioned at all are not flagged: a new register has many of them."""
    actor = recheck(session, actor)
    last = last_success(session, actor)
    schools = select(col(School.dfes))
    with_runs = select(col(ProvisioningRun.school)).distinct()
    if actor.schools is not None:
        scope = sorted(actor.schools)
        schools = schools.where(col(School.dfes).in_(scope))
        with_runs = with_runs.where(col(ProvisioningRun.school).in_(scope))
    known: set[str] = set(session.exec(schools))
    known &= set(session.connection().execute(with_runs).scalars())
    cutoff = now - timedelta(days=days)
    return [s for s in sorted(known) if s not in last or last[s] < cutoff]


def waiting_runs(session: Session, actor: Actor, now: datetime) -> list[ProvisioningRun]:
    """Held runs in scope still waiting for a decision (not expired), oldest first."""
    actor = recheck(session, actor)
    stmt = _in_scope(select(ProvisioningRun), actor).where(
        col(ProvisioningRun.held_state) == HeldState.HELD.value,
        col(ProvisioningRun.held_until) > now,
    ).order_by(col(ProvisioningRun.started_at), col(ProvisioningRun.id))
    return list(session.exec(stmt).all())


def pending_leavers(session: Session, school: str) -> frozenset[int]:
    """User ids a waiting held plan of `school` holds (the planner leaves them to it)."""
    stmt = select(ProvisioningRun.held).where(
        col(ProvisioningRun.school) == school,
        col(ProvisioningRun.held_state) == HeldState.HELD.value,
        col(ProvisioningRun.held_until) > clock.now(),
    )
    ids: set[int] = set()
    for held in session.exec(stmt):
        ids.update(int(h["user_id"]) for h in json.loads(held or "[]"))
    return frozenset(ids)


def supersede(session: Session, school: str, by_run: int) -> None:
    """A later run of `school` replaces its waiting held plans."""
    session.connection().execute(
        update(_RUNS)
        .where(_RUNS.c.school == school, _RUNS.c.held_state == HeldState.HELD.value,
               _RUNS.c.id != by_run)
        .values(held_state=HeldState.SUPERSEDED.value, superseded_by=by_run,
                decided_at=clock.now()))


def held_leavers(run: ProvisioningRun) -> list[dict[str, Any]]:
    """The held plan: [{user_id, username, leaving_date, reason, where}, ...]."""
    return list(json.loads(run.held or "[]"))


# --- undo records -------------------------------------------------------------------------

def encode(values: dict[str, Any]) -> dict[str, Any]:
    """Column values as JSON (dates and times as ISO text)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            value = aware(value).astimezone(UTC).replace(tzinfo=None).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        out[name] = value
    return out


def decode(values: dict[str, Any]) -> dict[str, Any]:
    """`encode` undone, by each user column's type."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = _USERS.c[name].type
        kind = kind.impl if isinstance(kind, TypeDecorator) else kind  # sqlmodel's UTCDateTime
        if value is not None and isinstance(kind, DateTime):
            value = aware(datetime.fromisoformat(value))
        elif value is not None and isinstance(kind, Date):
            day = parse_date(value, padded=True)
            if day is None:
                raise ValueError(f"undo record: {name} {value!r} is not a date")
            value = day
        out[name] = value
    return out


def empty_undo() -> dict[str, Any]:
    return {"created": [], "before": {}, "after": {}}


def load_undo(run: ProvisioningRun) -> dict[str, Any]:
    return json.loads(run.undo) if run.undo else empty_undo()


# --- a run as data ----------------------------------------------------------------------------

def run_record(run: ProvisioningRun, now: datetime | None = None, *,
               full: bool = False) -> dict[str, Any]:
    """A run as plain JSON types: core.records' shape of a run and its held plan's state
    (`runs --json`); with `full` (`runs show --json`), the held leavers and the stored report."""
    from hwb_tui.core import records

    state = held_state(run, now)
    data = records.run_report(run) if full else records.run(run)
    data["held"] = len(held_leavers(run)) if run.held else 0
    data["held_state"] = str(state) if state else None
    data["held_until"] = records.jsonable(run.held_until)
    data["decided_by"] = run.decided_by
    data["decided_at"] = records.jsonable(run.decided_at)
    data["superseded_by"] = run.superseded_by
    data["revert_of"] = run.revert_of
    if full:
        data["held_leavers"] = held_leavers(run)
    return data
