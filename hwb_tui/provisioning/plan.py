"""A school's roster compared with the store: the Plan of creates, updates, moves, leavers.

The rules of SPEC §1 and §3 live here and nowhere else:
- a learner is matched by UPN anywhere in Wales, a staff member by (school, staff code);
- a record with a leaving date on or before the run's date is a leaver, deactivated;
- summer rollover: a learner in Years 11–13 leaving on or after 1 June keeps access until
  29 August of that year (the deactivation is deferred; the first run on or after then applies it);
- a learner listed as current whose account is at another school moves here (activated again
  if it had been deactivated); a leaving record for an account that has moved away is ignored;
- a deactivated account listed again without a past leaving date is activated;
- an active MIS account missing from the export is reported "not in export", never deactivated
  (unless its deferred deactivation has fallen due);
- a run made by an operator touches only their schools: a UPN whose account is at a school
  outside their scope is a notice ("at a school you do not manage"), never a move or any other
  change, and the notice names neither the account nor the school.
- the deactivation limit counts only *unannounced* leavers: a deferred summer-rollover
  deactivation falling due, or a leaving date an earlier successful run already stored, is
  announced; a run over the limit holds its unannounced leavers for approval (`decide`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Row, select
from sqlmodel import Session

from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.accounts import name_fields
from hwb_tui.core.leaving import rollover_until as rollover_date
from hwb_tui.core.models import ACTIVE, DEACTIVATED, User
from hwb_tui.provisioning.readers import Record, Roster

ACTIONS = ("create", "update", "move", "deactivate", "activate", "defer")
LIMIT_SHARE = 0.20  # more than 20% of the school's active MIS accounts ...
LIMIT_FLOOR = 10  # ... and more than 10 unannounced leavers: held without --force or a maximum

_T = User.__table__  # type: ignore[attr-defined]
# The columns the planner reads; one query per school loads them all.
# school and source come last: the per-school query (by school, MIS only) leaves them out.
_COLUMNS = (
    "id", "username", "kind", "status", "upn", "staff_code", "surname",
    "forename", "year_group", "reg_group", "admission_number", "admission_date",
    "leaving_date", "role", "deferred_until", "purged_at", "version", "deactivated_at",
    "deactivated_by", "deactivation_reason", "leaving_seen_at", "school", "source",
)
_SELECT = select(*(_T.c[name] for name in _COLUMNS))
_SELECT_SCHOOL = select(*(_T.c[name] for name in _COLUMNS[:-2]))
# The fields an export sets, per kind, in the order compared.
LEARNER_FIELDS = ("surname", "forename", "year_group", "reg_group", "admission_number",
                  "admission_date", "leaving_date")
STAFF_FIELDS = ("surname", "forename", "role", "admission_date", "leaving_date")
_UPN_CHUNK = 500


@dataclass(slots=True)
class Change:
    """One account's change: its action and the columns to set (besides version and stamps)."""

    action: str  # one of ACTIONS
    record: Record | None
    user_id: int | None = None
    username: str | None = None
    version: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # names of the export fields that changed (for the audit)
    from_school: str | None = None
    reason: str | None = None  # deactivate: leaver | leaver-deferred
    announced: bool = False  # deactivate: the leaver was announced (does not count in the limit)
    before: dict[str, Any] = field(default_factory=dict)  # the columns' values before (undo)


class NoticeKind(StrEnum):
    """What a run noticed and left alone (each has a message provisioning.notice.<kind>)."""

    NOT_IN_EXPORT = "not_in_export"
    MOVED_AWAY = "moved_away"
    STALE_MOVE = "stale_move"
    LEAVER_NO_ACCOUNT = "leaver_no_account"
    PURGED = "purged"
    UPN_TAKEN = "upn_taken"
    OUTSIDE_SCOPE = "outside_scope"  # the UPN's account is at a school the operator lacks
    AWAITING_DECISION = "awaiting_decision"  # a leaver an earlier held run still holds


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the run noticed and left alone (not in export, a late leaver, ...)."""

    what: str  # a NoticeKind
    username: str | None = None
    where: str | None = None  # file:line of the record, when there is one
    other_school: str | None = None


@dataclass
class Plan:
    """Everything one run would do to one school."""

    school: str
    as_of: date
    active_mis: int = 0  # the school's active MIS accounts before the run
    scope: frozenset[str] | None = None  # the schools the run may touch (None = every school)
    changes: list[Change] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    # users whose deactivation an earlier run of the school holds, still waiting for a decision
    pending: frozenset[int] = frozenset()
    held: list[Change] = field(default_factory=list)  # deactivations held by the limit
    supersedes: bool = False  # this run decides the earlier held plan's leavers afresh
    seen_at: datetime = field(default_factory=clock.now)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["not_in_export"] = sum(1 for n in self.notices if n.what == "not_in_export")
        return counts


def rollover_until(record: Record) -> date | None:
    """29 August of the leaving year, for a Year 11–13 learner leaving from 1 June; else None.
    (The rule is core.leaving's, which also tells operators who is leaving soon.)"""
    return rollover_date(record.kind, record.year_group, record.leaving_date)


def standing(record: Record, as_of: date) -> tuple[str, date | None]:
    """('current', None), ('deferred', until) or ('leaver', None) on the run's date."""
    leaving = record.leaving_date
    if leaving is None or leaving > as_of:
        return "current", None
    until = rollover_until(record)
    if until is not None and as_of < until:
        return "deferred", until
    return "leaver", None


def load_school(session: Session, school: str) -> list[Row[Any]]:
    """The school's MIS accounts, in one query."""
    stmt = _SELECT_SCHOOL.where(_T.c.school == school, _T.c.source == "mis")
    return list(session.connection().execute(stmt).all())


def load_upns(session: Session, upns: Sequence[str]) -> dict[str, Row[Any]]:
    """Accounts anywhere holding these UPNs (learners who may be moving here)."""
    found: dict[str, Row[Any]] = {}
    conn = session.connection()
    for i in range(0, len(upns), _UPN_CHUNK):
        chunk = upns[i:i + _UPN_CHUNK]
        for row in conn.execute(_SELECT.where(_T.c.upn.in_(chunk))):
            found[row.upn] = row
    return found


def make_plan(session: Session, school: str, roster: Roster, as_of: date,
              actor: Actor | None = None) -> Plan:
    """Compare `roster` with the store as `session` sees it; the store is not changed.

    With `actor`, the plan stays within the actor's schools (see the module docstring); the
    caller has checked that `school` itself is one of them.
    """
    from hwb_tui.core.runs import pending_leavers

    plan = Plan(school=school, as_of=as_of, scope=actor.schools if actor is not None else None,
                pending=pending_leavers(session, school))
    rows = load_school(session, school)
    plan.active_mis = sum(1 for r in rows if r.status == ACTIVE)
    by_upn: dict[str, Row[Any]] = {}
    by_code: dict[str, Row[Any]] = {}
    for row in rows:
        if row.kind == "learner" and row.upn:
            by_upn[row.upn] = row
        elif row.kind == "staff" and row.staff_code:
            by_code[row.staff_code] = row
    elsewhere = load_upns(session, [u for u in roster.learners if u not in by_upn])
    of_record, of_row = _GETTERS[LEARNER_FIELDS]
    for upn, record in roster.learners.items():
        mine = by_upn.get(upn)
        if mine is not None:
            # The common case of a re-sync, decided inline: a current learner whose active
            # account already says what the record says.
            if (record.leaving_date is None and mine.status == ACTIVE
                    and mine.deferred_until is None and mine.purged_at is None
                    and of_record(record) == of_row(mine)):
                continue
            _here(plan, record, mine, LEARNER_FIELDS)
        else:
            _arriving(plan, record, elsewhere.get(upn))
    for code, record in roster.staff.items():
        mine = by_code.get(code)
        if mine is not None:
            _here(plan, record, mine, STAFF_FIELDS)
        else:
            _arriving(plan, record, None)
    _unlisted(plan, by_upn, by_code, roster)
    return plan


# C-level getters: the planner compares every listed account with its record.
_GETTERS: dict[tuple[str, ...], tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    names: (attrgetter(*names), itemgetter(*(_COLUMNS.index(n) for n in names)))
    for names in (LEARNER_FIELDS, STAFF_FIELDS)
}


def _field_changes(
    record: Record, row: Row[Any], names: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The column values to set for the export's fields that differ, and those fields' names."""
    of_record, of_row = _GETTERS[names]
    wanted = of_record(record)
    have = of_row(row)
    if wanted == have:
        return {}, ()
    values: dict[str, Any] = {}
    for name, new, old in zip(names, wanted, have, strict=True):
        if new != old:
            values[name] = new
    changed = tuple(values)
    if "surname" in values or "forename" in values:
        # derived search and sort keys follow the name; the username never does
        values.update(name_fields(record.surname, record.forename))
    return values, changed


def _here(plan: Plan, record: Record, row: Row[Any], names: tuple[str, ...]) -> None:
    """A record whose account is already at this school."""
    if row.purged_at is not None:
        plan.notices.append(Notice("purged", row.username, record.where))
        return
    values, changed = _field_changes(record, row, names)
    _seen(plan, values)
    state, until = standing(record, plan.as_of)
    action: str | None = None
    reason = None
    announced = False
    if state == "current":
        if row.deferred_until is not None:
            values["deferred_until"] = None
        if row.status == DEACTIVATED:
            action = "activate"
            values.update(_ACTIVATE)
    elif state == "deferred":
        if row.status == ACTIVE and row.deferred_until != until:
            action = "defer"
            values["deferred_until"] = until
    elif row.status == ACTIVE:  # a leaver
        action = "deactivate"
        reason = "leaver"
        # announced: its rollover deferral falls due, or a successful run already stored
        # this very leaving date
        announced = row.deferred_until is not None or (
            row.leaving_seen_at is not None and row.leaving_date == record.leaving_date)
        values.update(_DEACTIVATE)
        values["deactivation_reason"] = reason
    if action is None:
        if not values:
            return
        action = "update"
    plan.changes.append(Change(action, record, row.id, row.username, row.version, values,
                               changed, reason=reason, announced=announced,
                               before=_before(row, values)))


def _seen(plan: Plan, values: dict[str, Any]) -> None:
    """A leaving date stored by this run is seen now (cleared with it)."""
    if "leaving_date" in values:
        values["leaving_seen_at"] = plan.seen_at if values["leaving_date"] is not None else None


def _before(row: Row[Any], values: dict[str, Any]) -> dict[str, Any]:
    """The row's values of the columns `values` sets (the derived name keys are rebuilt)."""
    mapping = row._mapping
    return {k: mapping[k] for k in values if k in mapping}


def _arriving(plan: Plan, record: Record, row: Row[Any] | None) -> None:
    """A record with no account at this school: a new account, or a learner moving here."""
    state, until = standing(record, plan.as_of)
    if row is None:
        if state == "leaver":
            plan.notices.append(Notice("leaver_no_account", None, record.where))
            return
        plan.changes.append(Change("create", record, values={"deferred_until": until}))
        return
    if plan.scope is not None and row.school not in plan.scope:
        # Another school's learner: not ours to move, and not ours to learn about either.
        plan.notices.append(Notice(NoticeKind.OUTSIDE_SCOPE, None, record.where))
        return
    if row.purged_at is not None or row.source != "mis" or row.kind != "learner":
        plan.notices.append(Notice("purged" if row.purged_at else "upn_taken", row.username,
                                   record.where, row.school))
        return
    if state != "current":
        # A late leaving record: the account has moved to another school and is theirs now.
        plan.notices.append(Notice("moved_away", row.username, record.where, row.school))
        return
    if (record.admission_date is not None and row.admission_date is not None
            and record.admission_date < row.admission_date):
        # This school lists the learner, but the other school admitted them more recently:
        # the record here is stale. Moving back would undo the real move.
        plan.notices.append(Notice("stale_move", row.username, record.where, row.school))
        return
    values, changed = _field_changes(record, row, LEARNER_FIELDS)
    _seen(plan, values)
    values["school"] = plan.school
    values["deferred_until"] = None
    if row.status == DEACTIVATED:
        values.update(_ACTIVATE)
    plan.changes.append(Change("move", record, row.id, row.username, row.version, values,
                               changed, from_school=row.school, before=_before(row, values)))


def _unlisted(
    plan: Plan, by_upn: dict[str, Row[Any]], by_code: dict[str, Row[Any]], roster: Roster
) -> None:
    """Active accounts of the kinds these files cover that the files do not list."""
    kinds = roster.kinds
    absent: list[Row[Any]] = []
    if "learner" in kinds:
        absent.extend(by_upn[u] for u in by_upn.keys() - roster.learners.keys())
    if "staff" in kinds:
        absent.extend(by_code[c] for c in by_code.keys() - roster.staff.keys())
    absent.sort(key=lambda r: r.id)
    for row in absent:
        if row.status != ACTIVE:
            continue
        if row.deferred_until is not None and row.deferred_until <= plan.as_of:
            # the summer rollover's deferred deactivation falls due even if the MIS has
            # already dropped the leaver from its export
            values = dict(_DEACTIVATE)
            values["deactivation_reason"] = "leaver-deferred"
            plan.changes.append(Change("deactivate", None, row.id, row.username, row.version,
                                       values, reason="leaver-deferred", announced=True,
                                       before=_before(row, values)))
            continue
        plan.notices.append(Notice("not_in_export", row.username))


_ACTIVATE: dict[str, Any] = {
    "status": ACTIVE,
    "deactivated_at": None,
    "deactivated_by": None,
    "deactivation_reason": None,
}
# deactivated_at and deactivated_by are stamped by apply, in the transaction.
_DEACTIVATE: dict[str, Any] = {"status": DEACTIVATED, "deferred_until": None,
                               "deactivated_at": None, "deactivated_by": None}
# what a held leaver's deactivation sets beyond the export's fields (held back)
_HELD_BACK = frozenset(_DEACTIVATE) | {"deactivation_reason", "leaving_seen_at"}


# --- the deactivation limit ---------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """The deactivation limit as it applies to one run: it counts unannounced leavers only."""

    unannounced: int  # leavers this run would deactivate that nothing announced
    announced: int  # deferred rollover leavers falling due, leaving dates already seen
    active: int
    maximum: int | None  # --max-deactivations
    force: bool
    pending: int = 0  # leavers an earlier run holds, still waiting for a decision

    @property
    def over_default(self) -> bool:
        """More than 20% of the active MIS accounts, and more than 10."""
        return self.unannounced > LIMIT_FLOOR and self.unannounced > self.active * LIMIT_SHARE

    @property
    def held(self) -> bool:
        if self.force:
            return False
        if self.maximum is not None:
            # an explicit maximum replaces the default rule, in both directions
            return self.unannounced > self.maximum
        return self.over_default

    def as_dict(self) -> dict[str, Any]:
        return {"deactivations": self.unannounced, "announced": self.announced,
                "pending": self.pending, "active": self.active, "maximum": self.maximum,
                "force": self.force, "held": self.held}


def check_limit(plan: Plan, maximum: int | None, force: bool) -> Limit:
    """The limit for `plan` as planned (before `decide`)."""
    unannounced = announced = pending = 0
    for change in plan.changes:
        if change.action != "deactivate":
            continue
        if change.announced:
            announced += 1
        elif change.user_id in plan.pending:
            pending += 1
        else:
            unannounced += 1
    return Limit(unannounced, announced, plan.active_mis, maximum, force, pending)


def decide(plan: Plan, maximum: int | None, force: bool) -> Limit:
    """Apply the limit to `plan`: over it, the unannounced leavers move to `plan.held` (their
    export fields are still stored, their deactivation waits for approval). Leavers an earlier
    run holds stay in that run's held plan, unless this run holds or is forced: then it
    decides them afresh and replaces the earlier held plan."""
    limit = check_limit(plan, maximum, force)
    plan.supersedes = limit.held or force
    kept: list[Change] = []
    for change in plan.changes:
        if change.action == "deactivate" and not change.announced:
            if limit.held:
                plan.held.append(change)
                update = _fields_only(change)
                if update is not None:
                    kept.append(update)
                continue
            if change.user_id in plan.pending and not plan.supersedes:
                plan.notices.append(Notice(NoticeKind.AWAITING_DECISION, change.username,
                                           change.record.where if change.record else None))
                update = _fields_only(change)
                if update is not None:
                    kept.append(update)
                continue
        kept.append(change)
    plan.changes = kept
    return limit


def _fields_only(change: Change) -> Change | None:
    """A held leaver's export fields as an update (its leaving date stored, not yet seen by a
    successful run), or None when none changed."""
    values = {k: v for k, v in change.values.items() if k not in _HELD_BACK}
    if not values:
        return None
    before = {k: v for k, v in change.before.items() if k in values}
    return Change("update", change.record, change.user_id, change.username, change.version,
                  values, change.fields, before=before)


def still_leaving(kind: str, year_group: int | None, leaving_date: date | None,
                  as_of: date) -> bool:
    """A held leaver re-checked when the held plan is approved: is the account, as the school's
    latest successful export left it, still a leaver on `as_of`?"""
    if leaving_date is None:
        return False
    record = Record(kind=kind, identity="", surname="", forename="", file="", line=0,
                    leaving_date=leaving_date, year_group=year_group)
    return standing(record, as_of)[0] == "leaver"
