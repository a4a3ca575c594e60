"""Shared fixtures: a real SQLite file per test, and a real PostgreSQL schema when available."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from hwb_tui.core.db import Store, open_store
from hwb_tui.i18n import DEFAULT_LANGUAGE, set_language

PG_URL = os.environ.get("HWB_TEST_POSTGRES_URL")
PG_SKIP = "HWB_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against"


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in English: a command run with --lang cy sets the process's language,
    which must not leak into the next test (it made test order matter)."""
    set_language(DEFAULT_LANGUAGE)
    yield
    set_language(DEFAULT_LANGUAGE)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hwb.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    """A migrated store on a real SQLite file."""
    s = open_store(sqlite_url)
    yield s
    s.dispose()


@contextmanager
def pg_schema(before_drop: Callable[[Connection], None] | None = None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards (skips the test
    without a server). `before_drop` runs first on the admin connection, e.g. to end clients."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            if before_drop is not None:
                before_drop(conn)
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    with pg_schema() as url:
        yield url


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    yield s
    s.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same store test on SQLite and on PostgreSQL (skipped without a server)."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'hwb.db'}")
        yield s
        s.dispose()
    else:
        yield request.getfixturevalue("pg_store")
