"""The append-only audit log: the one shape of an event row (`event_row`), appended one at a
time (`audit`) or many at once (`append`), and the events an operator may see."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, or_
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.db import insert_rows
from hwb_tui.core.models import AuditEvent, User

_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]


def detail_text(detail: Mapping[str, Any] | None) -> str | None:
    """An event's detail as the log stores it: JSON, keys sorted, Welsh letters as written."""
    return json.dumps(detail, sort_keys=True, ensure_ascii=False) if detail else None


def event_row(*, at: datetime, actor: str, action: str, user_id: int | None = None,
              school: str | None = None, reason: str | None = None, run_id: int | None = None,
              detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One audit event's columns: the one shape of a row of the log, whoever appends it (a
    change by hand, a provisioning run, a decision on a held run, housekeeping)."""
    return {"at": at, "actor": actor, "action": str(action), "user_id": user_id,
            "school": school, "reason": reason, "run_id": run_id,
            "detail": detail_text(detail)}


def append(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append events built by `event_row` in one statement (core.db.insert_rows: COPY on
    PostgreSQL), in the caller's transaction (a run or housekeeping appends thousands at once)."""
    if rows:
        columns = tuple(rows[0])  # every event_row has the same columns, in the same order
        insert_rows(session.connection(), _AUDIT, columns,
                    [tuple(row[c] for c in columns) for row in rows])


def audit(
    session: Session,
    actor: str,
    action: str,
    user: User | None = None,
    *,
    reason: str | None = None,
    run_id: int | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    school: str | None = None,
) -> AuditEvent:
    """Append an audit event to the current transaction (about a user, or else a `school`)."""
    event = AuditEvent(**event_row(
        at=at or clock.now(), actor=actor, action=action, user_id=user.id if user else None,
        school=user.school if user else school, reason=reason, run_id=run_id, detail=detail))
    session.add(event)
    return event


def last_actor(session: Session, user_id: int | None) -> str:
    """Who last changed the user (the actor of its newest event), for "changed meanwhile by"."""
    actor = session.connection().execute(
        select(_AUDIT.c.actor).where(_AUDIT.c.user_id == user_id)
        .order_by(_AUDIT.c.id.desc()).limit(1)).scalar()
    return actor or "?"


EVENTS_PAGE = 1000  # events read at a time: memory stays flat however long the log


def scope(actor: Actor) -> list[ColumnElement[bool]]:
    """A Digital Champion sees the events of their schools; events about no school (operators
    added, for instance) are for Hwb administrators only."""
    if actor.schools is None:
        return []
    in_scope = col(AuditEvent.school).in_(sorted(actor.schools))
    if actor.is_admin:
        return [or_(in_scope, col(AuditEvent.school).is_(None))]
    return [in_scope]


def visible_events(session: Session, actor: Actor, since: date | None
                   ) -> Iterator[tuple[AuditEvent, str]]:
    """Every event in scope, oldest first, with the username it concerns; keyset pages on id."""
    conds = scope(actor)
    if since is not None:
        conds.append(col(AuditEvent.at) >= datetime.combine(since, datetime.min.time(), UTC))
    last = 0
    while True:
        stmt = (
            select(AuditEvent, User.username)
            .join(User, col(AuditEvent.user_id) == col(User.id), isouter=True)
            .where(col(AuditEvent.id) > last, *conds)
            .order_by(col(AuditEvent.id))
            .limit(EVENTS_PAGE)
        )
        rows = session.exec(stmt).all()
        for event, username in rows:
            yield event, username or ""
        if len(rows) < EVENTS_PAGE:
            return
        last = rows[-1][0].id or 0
        session.expunge_all()
