"""The append-only audit log: one function appends an event to the current transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from hwb_tui.core import clock
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
