"""The append-only audit log: one function appends an event, one reads what an operator may see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.models import AuditEvent, User


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
    event = AuditEvent(
        at=at or clock.now(),
        actor=actor,
        action=action,
        user_id=user.id if user else None,
        school=user.school if user else school,
        reason=reason,
        run_id=run_id,
        detail=json.dumps(detail, sort_keys=True) if detail else None,
    )
    session.add(event)
    return event


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
