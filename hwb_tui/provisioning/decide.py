"""Deciding a held run (approve, discard) and undoing a run (revert), each in the caller's one
transaction, audited under the operator who decided.

- approve: each held leaver is re-checked against the school's latest successful export as the
  store holds it (still at the school, still active, its leaving date still past on the day of
  the decision); one that is no longer a leaver is skipped and reported.
- discard: the held leavers stay active; the next run that lists them as leavers asks again.
- revert: puts back what a run did (its undo record: the values before, by user id) for each
  user no later change has touched; a user changed since is listed with that change. The
  revert is itself a run, with its own undo record, so it can be reverted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from hwb_tui.core import clock
from hwb_tui.core.access import Actor, recheck
from hwb_tui.core.accounts import name_fields
from hwb_tui.core.audit import append, event_row
from hwb_tui.core.errors import NotPermitted
from hwb_tui.core.models import ACTIVE, DEACTIVATED, ROLES, AuditEvent, ProvisioningRun, User
from hwb_tui.core.runs import (
    REVERT_MONTHS,
    HeldState,
    Outcome,
    RunNotHeld,
    RunNotRevertible,
    RunTooOld,
    aware,
    decode,
    empty_undo,
    encode,
    get_run,
    held_leavers,
    held_state,
    load_undo,
)
from hwb_tui.provisioning.apply import undo_of, update_rows, write_audit
from hwb_tui.provisioning.plan import Change, still_leaving

_RUNS = ProvisioningRun.__table__  # type: ignore[attr-defined]
_USERS = User.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
_CHUNK = 500
# derived from the name: rebuilt when a revert puts a name back
_DERIVED = ("surname_key", "forename_key", "sort_en", "sort_cy")


class DecisionAction(StrEnum):
    """The audit actions of deciding and undoing runs."""

    APPROVE = "run_approve"
    DISCARD = "run_discard"
    REVERT = "revert"  # one per user put back, and one for the whole revert


class Skip(StrEnum):
    """Why a held leaver was not deactivated when the plan was approved."""

    NO_LONGER_LEAVER = "no_longer_leaver"
    MOVED = "moved"
    NOT_ACTIVE = "not_active"
    PURGED = "purged"
    GONE = "gone"


class PutBack(StrEnum):
    """What a revert did to one user."""

    ACTIVATED = "activated"
    MOVED_BACK = "moved_back"
    RESTORED = "restored"
    DEACTIVATED = "deactivated"  # an account the run created (never deleted)


class Blocker(StrEnum):
    """Why a revert left a user as they are."""

    CHANGED_LATER = "changed_later"
    PURGED = "purged"
    OUTSIDE_SCOPE = "outside_scope"


@dataclass
class Decision:
    """What approving or discarding a held run did."""

    run_id: int
    school: str
    state: HeldState
    decided_by: str
    decided_at: datetime
    deactivated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # each with "why"

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "school": self.school, "state": str(self.state),
                "decided_by": self.decided_by,
                "decided_at": self.decided_at.isoformat(timespec="seconds"),
                "deactivated": self.deactivated, "skipped": self.skipped}


@dataclass
class Revert:
    """What reverting a run did (or, for a dry run, would do)."""

    run_id: int
    school: str
    dry_run: bool
    revert_run_id: int | None = None
    put_back: list[dict[str, Any]] = field(default_factory=list)  # {user_id, username, what}
    left: list[dict[str, Any]] = field(default_factory=list)  # {..., why, by, action, at, run}

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "school": self.school, "dry_run": self.dry_run,
                "revert_run": self.revert_run_id, "put_back": self.put_back,
                "not_put_back": self.left}


def _may_decide(session: Session, actor: Actor, run_id: int) -> tuple[Actor, ProvisioningRun]:
    """A Hwb administrator or Digital Champion of the run's school, as they are now."""
    actor = recheck(session, actor)
    if actor.role not in ROLES:
        from hwb_tui.i18n import t

        raise NotPermitted(detail=t("permission.operators_only"))
    return actor, get_run(session, actor, run_id)


def _waiting(run: ProvisioningRun, now: datetime) -> None:
    from hwb_tui.i18n import t

    state = held_state(run, now)
    if state is not HeldState.HELD:
        label = t(f"runs.state.{state}") if state else t("runs.state.none")
        raise RunNotHeld(run=run.id, state=label)


def _rows(session: Session, ids: list[int]) -> dict[int, Any]:
    rows: dict[int, Any] = {}
    conn = session.connection()
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(select(_USERS).where(_USERS.c.id.in_(ids[i:i + _CHUNK]))):
            rows[row.id] = row
    return rows


def _claim(session: Session, run: ProvisioningRun, state: HeldState, actor: str,
           now: datetime, **values: Any) -> None:
    """Mark the held plan decided, only if it is still waiting: of two operators deciding at
    once, one wins and the other is told who decided."""
    result = session.connection().execute(
        update(_RUNS).where(_RUNS.c.id == run.id, _RUNS.c.held_state == HeldState.HELD.value)
        .values(held_state=state.value, decided_by=actor, decided_at=now, **values))
    if result.rowcount != 1:
        session.refresh(run)
        _waiting(run, now)


def _run_event(session: Session, actor: str, action: str, run: ProvisioningRun, now: datetime,
               detail: dict[str, Any], *, run_id: int | None = None) -> None:
    """The event about a run as a whole (no user): under `run_id`, else the run's own id."""
    append(session, [event_row(at=now, actor=actor, action=action, school=run.school,
                               run_id=run_id or run.id, detail=detail)])


def approve(session: Session, actor: Actor, run_id: int) -> Decision:
    """Apply a held run's deactivations, each re-checked; see the module docstring."""
    actor, run = _may_decide(session, actor, run_id)
    now = clock.now()
    _waiting(run, now)
    today = now.date()
    held = held_leavers(run)
    rows = _rows(session, [int(h["user_id"]) for h in held])
    decision = Decision(run.id or 0, run.school, HeldState.APPROVED, actor.login, now)
    changes: list[Change] = []
    for leaver in held:
        row = rows.get(int(leaver["user_id"]))
        why = _not_leaving(row, run.school, today)
        if why is not None or row is None:
            decision.skipped.append({**leaver, "why": str(why)})
            continue
        values: dict[str, Any] = {"status": DEACTIVATED, "deferred_until": None,
                                  "deactivated_at": None, "deactivated_by": None,
                                  "deactivation_reason": "leaver", "leaving_seen_at": now}
        before = {k: getattr(row, k) for k in values}
        changes.append(Change("deactivate", None, row.id, row.username, row.version, values,
                              reason="leaver", before=before))
        decision.deactivated.append(leaver)
    _claim(session, run, HeldState.APPROVED, actor.login, now,
           deactivated=(run.deactivated or 0) + len(changes),
           undo=json.dumps(_merge(load_undo(run), undo_of(changes), changes),
                           separators=(",", ":")))
    if changes:
        update_rows(session, changes, actor.login, now)
        write_audit(session, changes, school=run.school, run_id=run.id or 0, actor=actor.login,
                    stamp=now, extra={"approved": True})
    _run_event(session, actor.login, DecisionAction.APPROVE, run, now,
               {"deactivated": len(decision.deactivated),
                "skipped": [{"username": s["username"], "why": s["why"]}
                            for s in decision.skipped]})
    _record_decision(session, run, decision)
    return decision


def discard(session: Session, actor: Actor, run_id: int) -> Decision:
    """Drop a held run's deactivations: the held leavers stay active."""
    actor, run = _may_decide(session, actor, run_id)
    now = clock.now()
    _waiting(run, now)
    decision = Decision(run.id or 0, run.school, HeldState.DISCARDED, actor.login, now,
                        skipped=[{**h, "why": "discarded"} for h in held_leavers(run)])
    _claim(session, run, HeldState.DISCARDED, actor.login, now)
    _run_event(session, actor.login, DecisionAction.DISCARD, run, now,
               {"held": len(decision.skipped)})
    _record_decision(session, run, decision)
    return decision


def _record_decision(session: Session, run: ProvisioningRun, decision: Decision) -> None:
    """The decision goes into the run's stored report, so `runs show` tells who decided."""
    try:
        report = json.loads(run.report or "{}")
    except ValueError:
        report = {}
    report["decision"] = decision.as_dict()
    session.connection().execute(update(_RUNS).where(_RUNS.c.id == run.id).values(
        report=json.dumps(report, ensure_ascii=False, sort_keys=True)))
    session.expire(run)


def _not_leaving(row: Any, school: str, today: Any) -> Skip | None:
    if row is None:
        return Skip.GONE
    if row.purged_at is not None:
        return Skip.PURGED
    if row.school != school or row.source != "mis":
        return Skip.MOVED
    if row.status != ACTIVE:
        return Skip.NOT_ACTIVE
    if not still_leaving(row.kind, row.year_group, row.leaving_date, today):
        return Skip.NO_LONGER_LEAVER
    return None


def _merge(first: dict[str, Any], later: dict[str, Any], changes: list[Change]
           ) -> dict[str, Any]:
    """The run's undo record with its approval's: the earliest before-values of each user, and
    the approval's version after, unless another change came between the run and the approval
    (then the run's version is kept, and a revert reports that change)."""
    merged: dict[str, Any] = {"created": list(first["created"]),
              "before": {k: dict(v) for k, v in first["before"].items()},
              "after": dict(first["after"])}
    for change in changes:
        key = str(change.user_id)
        if key in merged["after"] and merged["after"][key] != change.version:
            continue
        mine = merged["before"].setdefault(key, {})
        for name, value in later["before"][key].items():
            mine.setdefault(name, value)
        merged["after"][key] = later["after"][key]
    return merged


# --- revert ---------------------------------------------------------------------------------

def revert(session: Session, actor: Actor, run_id: int, *, dry_run: bool = False) -> Revert:
    """Undo run `run_id` for every user nothing has changed since; see the module docstring."""
    actor = recheck(session, actor)
    actor.require_admin()
    run = get_run(session, actor, run_id)
    now = clock.now()
    if aware(run.started_at) < _months_ago(now, REVERT_MONTHS):
        raise RunTooOld(run=run_id)
    undo = load_undo(run)
    ids = sorted({int(i) for i in undo["created"]} | {int(k) for k in undo["before"]})
    if not ids:
        raise RunNotRevertible(run=run_id, outcome=run.outcome)
    result = Revert(run.id or 0, run.school, dry_run)
    rows = _rows(session, ids)
    created = {int(i) for i in undo["created"]}
    changes: list[Change] = []
    for user_id in ids:
        row = rows.get(user_id)
        after = undo["after"].get(str(user_id))
        if row is None or row.purged_at is not None:
            result.left.append(_left(user_id, row, Blocker.PURGED))
            continue
        if row.version != after:
            later = _later_change(session, user_id, run.id or 0)
            result.left.append(_left(user_id, row, Blocker.CHANGED_LATER, later))
            continue
        if user_id in created:
            values: dict[str, Any] = {"status": DEACTIVATED, "deactivated_at": None,
                                      "deactivated_by": None, "deactivation_reason": "revert",
                                      "deferred_until": None}
            what = PutBack.DEACTIVATED
            action = "deactivate"
        else:
            values = decode(undo["before"][str(user_id)])
            if "surname" in values or "forename" in values:
                values.update(name_fields(values.get("surname", row.surname),
                                          values.get("forename", row.forename)))
            what = _what(values, row)
            action = "revert"
        if not actor.covers(row.school) or not actor.covers(values.get("school", row.school)):
            result.left.append(_left(user_id, row, Blocker.OUTSIDE_SCOPE))
            continue
        before = {k: getattr(row, k) for k in values if k not in _DERIVED}
        changes.append(Change(action, None, user_id, row.username, row.version, values,
                              reason="revert", before=before))
        result.put_back.append({"user_id": user_id, "username": row.username,
                                "what": str(what)})
    if dry_run:
        return result
    conn = session.connection()
    counts = {"deactivated": 0, "activated": 0, "moved": 0, "updated": 0}
    for entry in result.put_back:
        counts[{"deactivated": "deactivated", "activated": "activated",
                "moved_back": "moved"}.get(entry["what"], "updated")] += 1
    revert_undo = empty_undo()
    for change in changes:
        revert_undo["before"][str(change.user_id)] = encode(change.before)
        revert_undo["after"][str(change.user_id)] = (change.version or 0) + 1
    inserted = conn.execute(insert(_RUNS).values(
        started_at=now, finished_at=now, school=run.school, actor=actor.login,
        files=json.dumps([]), sha256=json.dumps([]), format="revert", as_of=now.date(),
        dry_run=False, outcome=Outcome.APPLIED.value, revert_of=run.id,
        undo=json.dumps(revert_undo, separators=(",", ":")), **counts,
        report=json.dumps(result.as_dict(), ensure_ascii=False, sort_keys=True),
    )).inserted_primary_key
    revert_id = int(inserted[0]) if inserted is not None else 0
    result.revert_run_id = revert_id
    if changes:
        update_rows(session, changes, actor.login, now)
        write_audit(session, changes, school=run.school, run_id=revert_id, actor=actor.login,
                    stamp=now, extra={"revert_of": run.id}, action=DecisionAction.REVERT)
    _run_event(session, actor.login, DecisionAction.REVERT, run, now,
               {"revert_of": run.id, "put_back": len(result.put_back),
                "not_put_back": len(result.left)}, run_id=revert_id)
    conn.execute(update(_RUNS).where(_RUNS.c.id == revert_id).values(
        report=json.dumps(result.as_dict(), ensure_ascii=False, sort_keys=True)))
    return result


def _months_ago(now: datetime, months: int) -> datetime:
    day = clock.add_months(now.date(), -months)
    return now.replace(year=day.year, month=day.month, day=day.day)


def _what(values: dict[str, Any], row: Any) -> PutBack:
    if "school" in values and values["school"] != row.school:
        return PutBack.MOVED_BACK
    if values.get("status") == ACTIVE and row.status == DEACTIVATED:
        return PutBack.ACTIVATED
    if values.get("status") == DEACTIVATED and row.status == ACTIVE:
        return PutBack.DEACTIVATED
    return PutBack.RESTORED


def _left(user_id: int, row: Any, why: Blocker, later: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    entry: dict[str, Any] = {"user_id": user_id,
                             "username": row.username if row is not None else None,
                             "why": str(why)}
    if later:
        entry.update(later)
    return entry


def _later_change(session: Session, user_id: int, run_id: int) -> dict[str, Any]:
    """The first change to the user after the run's own (and its approval's)."""
    conn = session.connection()
    mine = conn.execute(select(func.max(_AUDIT.c.id)).where(
        _AUDIT.c.user_id == user_id, _AUDIT.c.run_id == run_id)).scalar() or 0
    row = conn.execute(
        select(_AUDIT.c.actor, _AUDIT.c.action, _AUDIT.c.at, _AUDIT.c.run_id)
        .where(_AUDIT.c.user_id == user_id, _AUDIT.c.id > mine)
        .order_by(_AUDIT.c.id).limit(1)).first()
    if row is None:
        return {"by": None, "action": None, "at": None, "later_run": None}
    return {"by": row.actor, "action": row.action,
            "at": aware(row.at).isoformat(timespec="seconds"), "later_run": row.run_id}
