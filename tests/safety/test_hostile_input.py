"""Hostile input, generated: readers and planner never crash, never half-apply, say where."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from hwb_tui.core.db import Store
from hwb_tui.core.models import AuditEvent, Operator, OperatorSchool, School, User

DIGESTED = (School, User, Operator, OperatorSchool, AuditEvent)


def db_digest(store: Store) -> str:
    """SHA-256 of every row of the accounts, operators and audit tables (runs are not in it:
    a rejected or blocked run is recorded there on purpose)."""
    h = hashlib.sha256()
    with store.read() as s:
        for model in DIGESTED:
            table = model.__table__  # type: ignore[attr-defined]
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            h.update(f"{table.name}:{len(rows)}\n".encode())
            for row in rows:
                h.update(repr(tuple(row)).encode())
                h.update(b"\n")
    return h.hexdigest()
