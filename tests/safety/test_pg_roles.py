"""deploy/postgresql/roles.sql: the application's role may only SELECT and INSERT the audit log;
the schema's owner runs migrations; the audit log's triggers refuse TRUNCATE even to the owner.

Run against the test server in a database of its own (roles are server-wide: the script's two
roles are dropped afterwards)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DatabaseError

from hwb_tui.core import accounts
from hwb_tui.core.db import open_store
from tests import builders as b
from tests.conftest import PG_SKIP, PG_URL

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgresql" / "roles.sql"


@pytest.fixture
def database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    name = f"hwb_roles_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in ("hwb_app", "hwb_owner"):
                conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _psql(database: str) -> None:
    url = make_url(PG_URL or "")
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "app_password='app-secret'",
         "-v", "owner_password='owner-secret'", "-h", url.host or "localhost",
         "-p", str(url.port or 5432), "-U", url.username or "postgres", "-d", database,
         "-f", str(SCRIPT)], check=True, capture_output=True, text=True)


def _as(role: str, password: str, database: str) -> str:
    url = make_url(PG_URL or "").set(username=role, password=password, database=database)
    return url.render_as_string(hide_password=False)


def test_the_application_role_may_only_select_and_insert_the_audit_log(database: str) -> None:
    _psql(database)
    owner = open_store(_as("hwb_owner", "owner-secret", database))  # makes the schema
    with owner.write() as s:
        b.school(s)
        b.operator(s, "admin")
    owner.dispose()
    _psql(database)  # again, now that the tables exist
    app = open_store(_as("hwb_app", "app-secret", database))
    try:
        with app.write() as s:
            user = b.user(s, "Jones", "Sian")
            accounts.audit(s, "admin", "note", user)  # INSERT: allowed
        with app.read() as s:
            assert s.execute(text("SELECT count(*) FROM auditevent")).scalar() == 1
        for stmt in ("UPDATE auditevent SET actor = 'mallory'", "DELETE FROM auditevent",
                     "TRUNCATE auditevent CASCADE", "DROP TRIGGER audit_no_change ON auditevent",
                     "ALTER TABLE auditevent DISABLE TRIGGER ALL"):
            with pytest.raises(DatabaseError), app.write() as s:
                s.execute(text(stmt))
        with app.write() as s:  # granting itself more is a no-op (a warning, not a grant)
            s.execute(text("GRANT UPDATE, DELETE, TRUNCATE ON auditevent TO hwb_app"))
        with app.read() as s:
            rights = s.execute(text(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'hwb_app' AND table_name = 'auditevent'")).scalars().all()
        assert sorted(rights) == ["INSERT", "SELECT"]
        with app.write() as s:  # the rest of the application's work still works
            s.execute(text("UPDATE \"user\" SET reg_group = '9Z'"))
    finally:
        app.dispose()
    owner = open_store(_as("hwb_owner", "owner-secret", database))
    try:
        with pytest.raises(DatabaseError, match="append-only"), owner.write() as s:
            s.execute(text("TRUNCATE auditevent CASCADE"))
        with owner.read() as s:
            assert s.execute(text("SELECT count(*) FROM auditevent")).scalar() == 1
    finally:
        owner.dispose()
