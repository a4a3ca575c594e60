"""The store: schema versions, append-only audit log, WAL on SQLite; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, IntegrityError

from hwb_tui.core import accounts
from hwb_tui.core.db import LATEST, Store, open_store
from hwb_tui.core.errors import DatabaseNewer
from tests import builders as b


def test_new_database_is_at_latest_schema(any_store: Store) -> None:
    assert any_store.migrate() == LATEST
    with any_store.read() as s:
        assert s.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar() == str(
            LATEST
        )


def test_database_newer_than_code_is_refused(any_store: Store) -> None:
    with any_store.write() as s:
        s.execute(text("UPDATE meta SET value = :v WHERE key='schema_version'"), {"v": LATEST + 1})
    with pytest.raises(DatabaseNewer):
        any_store.migrate()


def test_audit_log_is_append_only(any_store: Store) -> None:
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        u = b.user(s, "Jones", "Sian")
        accounts.audit(s, "admin", "note", u)
    for stmt in ("UPDATE auditevent SET actor = 'mallory'", "DELETE FROM auditevent"):
        with pytest.raises(DatabaseError), any_store.write() as s:
            s.execute(text(stmt))
    with any_store.read() as s:
        assert s.execute(text("SELECT actor FROM auditevent")).scalars().all() == ["admin"]


def test_upn_is_unique(any_store: Store) -> None:
    upn = b.learner_upn("6612001", 1)
    with pytest.raises(IntegrityError), any_store.write() as s:
        b.school(s)
        b.user(s, "Jones", "Sian", kind="learner", upn=upn)
        b.user(s, "Evans", "Ian", kind="learner", upn=upn)


def test_sqlite_uses_wal_and_foreign_keys(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    with store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.dispose()
