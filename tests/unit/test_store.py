"""The store: schema versions, append-only audit log, WAL on SQLite; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlmodel import select

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


def test_sqlite_writers_get_a_large_page_cache_and_give_it_back(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    with store.write() as s:
        assert s.execute(text("PRAGMA cache_size")).scalar() == -131_072
    with store.read() as s:  # the same pooled connection, back to SQLite's default
        assert s.execute(text("PRAGMA cache_size")).scalar() == -2000
        assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 16_384
    store.dispose()


def test_an_old_database_is_upgraded_to_remember_seen_leaving_dates(any_store: Store) -> None:
    """A version-2 database (no held plans, no undo, no leaving_seen_at) is upgraded in place;
    leaving dates it already holds were stored by applied runs, so they count as seen."""
    from datetime import date

    from hwb_tui.core.models import User

    with any_store.write() as s:
        b.school(s)
        left = b.user(s, "Jones", "Sian", kind="learner", upn=b.learner_upn("6612001", 1))
        left.leaving_date = date(2026, 7, 20)
        b.user(s, "Evans", "Ian", kind="learner", upn=b.learner_upn("6612001", 2))
    added = {"user": ["leaving_seen_at"],
             "provisioningrun": ["held", "held_state", "held_until", "decided_by", "decided_at",
                                 "superseded_by", "undo", "revert_of"]}
    with any_store.write() as s:
        for table, columns in added.items():
            for column in columns:
                s.execute(text(f'ALTER TABLE "{table}" DROP COLUMN {column}'))
        s.execute(text("UPDATE meta SET value = '2' WHERE key='schema_version'"))
    assert any_store.migrate() == LATEST
    with any_store.read() as s:
        rows = {u.upn: u for u in s.exec(select(User))}
    seen = rows[b.learner_upn("6612001", 1)]
    assert seen.leaving_seen_at is not None and seen.leaving_seen_at == seen.updated_at
    assert rows[b.learner_upn("6612001", 2)].leaving_seen_at is None


def test_version_3_database_gets_bytewise_upns(any_store: Store) -> None:
    """Step 4 on a database made before it: UPNs compare byte-wise (PostgreSQL's column gets
    COLLATE "C"), existing UPNs are kept, and a UPN prefix search still finds its learner."""
    upn = b.learner_upn("6612001", 7)
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        b.user(s, "Jones", "Sian", kind="learner", upn=upn)
        if any_store.dialect == "postgresql":  # as versions 1-3 made it: the database's collation
            s.execute(text('ALTER TABLE "user" ALTER COLUMN upn TYPE VARCHAR COLLATE "default"'))
        s.execute(text("UPDATE meta SET value = '3' WHERE key='schema_version'"))
    assert any_store.migrate() == LATEST
    with any_store.read() as s:
        if any_store.dialect == "postgresql":
            collation = s.execute(text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'user' "
                "AND column_name = 'upn'")).scalar()
            assert collation == "C"
    from hwb_tui.core import directory

    admin = b.actor(any_store, "admin")
    with any_store.read() as s:
        found = directory.page(s, admin, directory.Query(search=upn[:6].lower()))
    assert [u.upn for u in found] == [upn]


def test_postgresql_audit_log_refuses_truncate(pg_store: Store) -> None:
    with pg_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        accounts.audit(s, "admin", "note", b.user(s, "Jones", "Sian"))
    with pytest.raises(DatabaseError, match="append-only"), pg_store.write() as s:
        s.execute(text("TRUNCATE auditevent CASCADE"))
    with pg_store.read() as s:
        assert s.execute(text("SELECT actor FROM auditevent")).scalars().all() == ["admin"]


def test_an_older_postgresql_database_gains_the_truncate_guard(pg_url: str) -> None:
    """A database made before step 5 (no TRUNCATE trigger) is upgraded by the step."""
    store = open_store(pg_url)
    with store.write() as s:
        s.execute(text("DROP TRIGGER audit_no_truncate ON auditevent"))
        s.execute(text("UPDATE meta SET value = '4' WHERE key = 'schema_version'"))
    store.dispose()
    store = open_store(pg_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"), store.write() as s:
            s.execute(text("TRUNCATE auditevent CASCADE"))
        with store.read() as s:
            version = s.execute(text("SELECT value FROM meta WHERE key = 'schema_version'"))
            assert version.scalar() == str(LATEST)
    finally:
        store.dispose()
