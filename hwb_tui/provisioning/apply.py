"""Apply a Plan in the caller's transaction: batched writes, the audit, the undo record.

Writes are batched, one statement per batch whatever its size: the new accounts and the audit
go in with core.db.insert_rows (COPY on PostgreSQL, one executemany on SQLite), and each shape
of change is one conditional UPDATE (core.versioned: each row only while its version is the
planned one). So a 2,000-row school takes a fraction of a second and a national load is not a
server round trip per row; the caller's `store.write()` block makes them one transaction, so a
crash, a kill or an account changed meanwhile leaves the school exactly as it was.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from hwb_tui.core.accounts import name_fields
from hwb_tui.core.audit import append, event_row, last_actor
from hwb_tui.core.db import insert_rows, next_ids
from hwb_tui.core.errors import ChangedMeanwhile
from hwb_tui.core.models import ACTIVE, User
from hwb_tui.core.runs import empty_undo, encode
from hwb_tui.core.usernames import allocate_usernames as allocate_usernames  # re-exported
from hwb_tui.core.usernames import allocate_with_keys, issued
from hwb_tui.core.versioned import VersionedUpdate
from hwb_tui.provisioning.plan import Change, Plan

# The audit action of a move as the school that lost the learner sees it ("move" is the gaining
# school's event).
MOVE_OUT = "move_out"
_ID_CHUNK = 500

# Names repeat (many a Jones Siân): each pair's derived columns are computed once per process.
_NAME_KEYS: dict[tuple[str, str], tuple[str, ...]] = {}
_USERS = User.__table__  # type: ignore[attr-defined]


def apply_plan(
    session: Session, plan: Plan, *, run_id: int, actor: str, stamp: datetime
) -> dict[str, Any]:
    """Write every change of `plan` and its audit events in `session`'s transaction; returns
    the run's undo record (core.runs): the accounts created, each changed account's values
    before, and its version after."""
    creates = [c for c in plan.changes if c.action == "create"]
    others = [c for c in plan.changes if c.action != "create"]
    if creates:
        _create(session, plan.school, creates, stamp)
    if others:
        update_rows(session, others, actor, stamp)
    write_audit(session, plan.changes, school=plan.school, run_id=run_id, actor=actor,
                stamp=stamp)
    return undo_of(plan.changes)


def undo_of(changes: list[Change]) -> dict[str, Any]:
    """The undo record of applied `changes` (JSON-ready; user ids as text keys)."""
    undo = empty_undo()
    for change in changes:
        if change.action == "create":
            undo["created"].append(change.user_id)
            undo["after"][str(change.user_id)] = 1
        else:
            undo["before"][str(change.user_id)] = encode(change.before)
            undo["after"][str(change.user_id)] = (change.version or 0) + 1
    return undo


def write_audit(
    session: Session, changes: list[Change], *, school: str, run_id: int, actor: str,
    stamp: datetime, extra: dict[str, Any] | None = None, action: str | None = None,
) -> None:
    """One audit event per change, in one executemany."""
    audit_rows: list[dict[str, Any]] = []
    for change in changes:
        detail: dict[str, Any] = {}
        if change.fields:
            detail["fields"] = list(change.fields)
        if change.from_school:
            detail["from_school"] = change.from_school
            if change.values.get("status") == ACTIVE:
                detail["activated"] = True
        if change.action == "defer":
            until = change.values["deferred_until"]
            detail["deferred_until"] = until.isoformat()
        if extra:
            detail.update(extra)
        audit_rows.append(event_row(
            at=stamp, actor=actor, action=action or change.action, user_id=change.user_id,
            school=change.values.get("school", school), reason=change.reason, run_id=run_id,
            detail=detail))
        if change.action == "move" and change.from_school:
            # The school the learner left sees the move in its own audit too.
            audit_rows.append(event_row(
                at=stamp, actor=actor, action=MOVE_OUT, user_id=change.user_id,
                school=change.from_school, run_id=run_id, detail={"to_school": school}))
    append(session, audit_rows)


# The columns a new account is written with, in the order _create builds its rows.
_NAME_COLUMNS = ("surname", "forename", "surname_key", "forename_key", "sort_en", "sort_cy")
_NEW_USER_COLUMNS = (
    "id", "username", "username_key", "kind", "source", "school", "upn", "staff_code",
    "year_group", "reg_group", "admission_number", "admission_date", "leaving_date", "role",
    "status", "created_at", "updated_at", "deferred_until", "leaving_seen_at", "version",
    *_NAME_COLUMNS,
)


def _create(session: Session, school: str, creates: list[Change], stamp: datetime) -> None:
    records = [c.record for c in creates]
    names = [(r.surname, r.forename) for r in records if r is not None]
    allocated = allocate_with_keys(session, names)
    conn = session.connection()
    # ids first, so the rows go in one batch (core.db.insert_rows) and nothing is read back
    ids = next_ids(conn, _USERS, len(creates))
    rows: list[tuple[Any, ...]] = []
    keys = _NAME_KEYS
    if len(keys) > 200_000:
        keys.clear()
    for change, user_id, (username, username_key) in zip(creates, ids, allocated, strict=True):
        record = change.record
        assert record is not None
        learner = record.kind == "learner"
        pair = (record.surname, record.forename)
        derived = keys.get(pair)
        if derived is None:
            fields = name_fields(*pair)
            derived = keys[pair] = tuple(fields[c] for c in _NAME_COLUMNS)
        rows.append((
            user_id, username, username_key, record.kind, "mis", school,
            record.identity if learner else None, None if learner else record.identity,
            record.year_group, record.reg_group, record.admission_number,
            record.admission_date, record.leaving_date, record.role, ACTIVE, stamp, stamp,
            change.values.get("deferred_until"),
            stamp if record.leaving_date is not None else None, 1, *derived,
        ))
        change.user_id = user_id
        change.username = username
        change.fields = ()
    insert_rows(conn, _USERS, _NEW_USER_COLUMNS, rows)
    issued(session, [username_key for _, username_key in allocated])


def update_rows(session: Session, changes: list[Change], actor: str, stamp: datetime) -> None:
    """One conditional UPDATE per set of columns (core.versioned); each row only if unchanged
    since planned, else ChangedMeanwhile, and the caller's transaction rolls the school back."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        values = dict(change.values)
        if change.action == "deactivate":
            values["deactivated_at"] = stamp
            values["deactivated_by"] = actor
        values["updated_at"] = stamp
        groups[tuple(sorted(values))].append(
            VersionedUpdate.row(change.user_id, change.version, values))
    conn = session.connection()
    for columns, batch in groups.items():
        writer = VersionedUpdate(columns)
        if writer.many(conn, batch) is False:
            # another writer changed one of these accounts after we planned: roll back
            raise _changed_meanwhile(session, writer, batch)


def _changed_meanwhile(
    session: Session, writer: VersionedUpdate, batch: list[dict[str, Any]]
) -> ChangedMeanwhile:
    """The error naming an account of `batch` that another writer changed since the plan: its
    row does not hold the values this run wrote (versions alone cannot tell: both add one)."""
    conn = session.connection()
    ours = {writer.user_id(p): writer.written(p) for p in batch}
    ids = list(ours)
    for i in range(0, len(ids), _ID_CHUNK):
        stmt = (select(_USERS.c.id, _USERS.c.username, *(_USERS.c[c] for c in writer.columns))
                .where(_USERS.c.id.in_(ids[i:i + _ID_CHUNK])).order_by(_USERS.c.id))
        for user_id, username, *values in conn.execute(stmt):
            if tuple(values) != ours[user_id]:
                return ChangedMeanwhile(username=username, by=last_actor(session, user_id))
    return ChangedMeanwhile(username="?", by="?")
