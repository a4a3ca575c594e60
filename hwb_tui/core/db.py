"""Engine, sessions and schema versions of the store (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, SQLModel

from hwb_tui.core import models  # noqa: F401  (registers the tables)
from hwb_tui.core.errors import DatabaseNewer, DatabaseUnavailable, DiskFull

# Migrations: version N's step brings a database at N-1 to N. A new database gets the whole
# current schema from the models and starts at LATEST. Steps use SQLAlchemy so that one step
# serves SQLite and PostgreSQL; no Alembic: one ordered list is all this product needs, and
# the upgrade runs inside one transaction.
Migration = Callable[[Connection], None]


def _school_closing(conn: Connection) -> None:
    """2: a school can be closed (`schools close`): no more runs or new users there."""
    conn.execute(text("ALTER TABLE school ADD COLUMN closed_at TIMESTAMP"))
    conn.execute(text("ALTER TABLE school ADD COLUMN closed_by VARCHAR"))


def _held_runs_and_undo(conn: Connection) -> None:
    """3: leaving dates remember when a successful run first saw them; runs keep a held plan
    and what they changed (issue 14). Leaving dates already stored were stored by applied runs
    (a blocked run changed nothing), so they count as seen then."""
    added = {"user": [("leaving_seen_at", "TIMESTAMP")],
             "provisioningrun": [("held", "TEXT"), ("held_state", "VARCHAR"),
                                 ("held_until", "TIMESTAMP"), ("decided_by", "VARCHAR"),
                                 ("decided_at", "TIMESTAMP"), ("superseded_by", "INTEGER"),
                                 ("undo", "TEXT"), ("revert_of", "INTEGER")]}
    for table, columns in added.items():
        # a database rebuilt from a step's earlier schema may already have them
        have = {c["name"] for c in inspect(conn).get_columns(table)}
        for name, kind in columns:
            if name not in have:
                if kind == "TIMESTAMP" and conn.dialect.name == "postgresql":
                    kind = "TIMESTAMP WITH TIME ZONE"  # as the models make them
                conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD COLUMN {name} {kind}')
        if table == "user" and "leaving_seen_at" not in have:
            conn.exec_driver_sql('UPDATE "user" SET leaving_seen_at = updated_at '
                                 "WHERE leaving_date IS NOT NULL")


def _upn_bytewise(conn: Connection) -> None:
    """4: UPNs compare byte-wise on PostgreSQL, as the search keys do, so that a UPN prefix is
    one range of the UPN index whatever the database's collation (under a linguistic one,
    'A66' + U+FFFF need not sort after every 'A66…'). SQLite compares byte-wise already."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql('ALTER TABLE "user" ALTER COLUMN upn TYPE VARCHAR COLLATE "C"')


def _audit_refuses_truncate(conn: Connection) -> None:
    """5: on PostgreSQL the audit log refuses TRUNCATE too (a row trigger never sees one)."""
    if conn.dialect.name == "postgresql":
        for stmt in _PG_NO_TRUNCATE:
            conn.exec_driver_sql(stmt)


def _username_bases(conn: Connection) -> None:
    """6: where each username base's free numbers begin (models.UsernameBase), kept right by a
    trigger on user. It starts empty: a base with no row is looked for from 1, and gets its
    row when it next issues a username."""
    models.UsernameBase.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    for stmt in _USERNAME_TRIGGERS[conn.dialect.name]:
        conn.exec_driver_sql(stmt)


MIGRATIONS: dict[int, Migration] = {2: _school_closing, 3: _held_runs_and_undo,
                                    4: _upn_bytewise, 5: _audit_refuses_truncate,
                                    6: _username_bases}
LATEST = 6

# TRUNCATE empties a table without firing its row triggers: a statement trigger refuses it.
_PG_NO_TRUNCATE = [
    "DROP TRIGGER IF EXISTS audit_no_truncate ON auditevent",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON auditevent "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]

_AUDIT_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON auditevent "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON auditevent "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql",
        "DROP TRIGGER IF EXISTS audit_no_change ON auditevent",
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON auditevent "
        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        *_PG_NO_TRUNCATE,
    ],
}


# A username leaving its base frees its number: the base's free_from comes down to it. That is
# a purge's tombstone replacing the username, or a row deleted (never by the product: a revert
# deactivates; by hand perhaps). A number of more than nine digits is none the product issues.
# 'jonesf12' is base 'jonesf', number 12; 'jonesf' is number 1.
_SQLITE_FREED = (
    "BEGIN UPDATE usernamebase SET free_from = MIN(free_from, CASE "
    "WHEN rtrim(OLD.username_key, '0123456789') = OLD.username_key THEN 1 "
    "ELSE CAST(substr(OLD.username_key, length(rtrim(OLD.username_key, '0123456789')) + 1) "
    "AS INTEGER) END) WHERE key = rtrim(OLD.username_key, '0123456789') "
    "AND length(OLD.username_key) - length(rtrim(OLD.username_key, '0123456789')) <= 9; END")
_USERNAME_TRIGGERS = {
    "sqlite": [
        f'CREATE TRIGGER IF NOT EXISTS username_freed_by_delete AFTER DELETE ON "user" '
        f"{_SQLITE_FREED}",
        f'CREATE TRIGGER IF NOT EXISTS username_freed_by_update AFTER UPDATE OF username_key '
        f'ON "user" WHEN OLD.username_key IS NOT NEW.username_key {_SQLITE_FREED}',
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION username_freed() RETURNS trigger AS $$ "
        "DECLARE base text; digits text; BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.username_key IS NOT DISTINCT FROM OLD.username_key THEN "
        "RETURN NULL; END IF; "
        "base := rtrim(OLD.username_key, '0123456789'); "
        "digits := substr(OLD.username_key, length(base) + 1); "
        "IF length(digits) <= 9 THEN "
        "UPDATE usernamebase SET free_from = LEAST(free_from, "
        "CASE WHEN digits = '' THEN 1 ELSE digits::integer END) WHERE key = base; "
        "END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
        'DROP TRIGGER IF EXISTS username_freed ON "user"',
        'CREATE TRIGGER username_freed AFTER DELETE OR UPDATE OF username_key ON "user" '
        "FOR EACH ROW EXECUTE FUNCTION username_freed()",
    ],
}


def make_engine(url: str, busy_timeout: float = 5.0) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout, "check_same_thread": False}
        )
        _sqlite_setup(engine, busy_timeout)
        return engine
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": max(1, int(busy_timeout))}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _on_pg_connect(dbapi_conn: Any, _record: Any) -> None:
            # A writer blocked by another gives up (exit 4) instead of waiting forever.
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
                # psycopg prepares a statement run five times, and PostgreSQL may then plan it
                # once for any parameters: a search's prefix ranges would get a plan guessed
                # without their values (a walk of the whole sort index for "jones", 250 ms).
                # Plans cost a fraction of a millisecond: make each for its own values.
                cur.execute("SET plan_cache_mode = force_custom_plan")
            dbapi_conn.commit()

    return engine


_WAL_CHECKPOINT_PAGES = 16_384  # of 4 KiB: 64 MiB
_WRITER_CACHE_KIB = 131_072  # 128 MiB, a writer's page cache while its transaction lasts
_DEFAULT_CACHE = -2000  # SQLite's own default (2 MB)


def _sqlite_setup(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the log every 64 MB, not every 4 MB: a provisioning run commits a school
        # at a time, each touching thousands of index pages, and one checkpoint then writes a
        # page the schools share once, not once per school (a national load: 30% less CPU).
        cur.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: no deadlock on upgrade, the busy timeout applies.
        write = conn.get_execution_options().get("hwb_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        if write:
            # A writer's index pages stay in memory until it commits (SQLite's 2 MB default
            # spills a school's changes to the log several times over); back to the default
            # when the connection returns to the pool, so a console's reads never hold more.
            conn.exec_driver_sql(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}")
            conn.connection.info["hwb_big_cache"] = True

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record.info.pop("hwb_big_cache", False):
            dbapi_conn.execute(f"PRAGMA cache_size={_DEFAULT_CACHE}")


class Store:
    """The database: an engine plus read and write sessions, each one transaction."""

    def __init__(self, url: str, busy_timeout: float = 5.0) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version now in force."""
        with translate_errors(), self.engine.connect() as conn:
            with conn.begin():
                if self.dialect == "postgresql":
                    # one migrator at a time across hosts
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7283001)")
                version = _schema_version(conn)
                if version is None:
                    SQLModel.metadata.create_all(conn)
                    for stmt in [*_AUDIT_TRIGGERS.get(self.dialect, []),
                                 *_USERNAME_TRIGGERS.get(self.dialect, [])]:
                        conn.exec_driver_sql(stmt)
                    _set_version(conn, LATEST)
                    return LATEST
                if version > LATEST:
                    raise DatabaseNewer(found=version, supported=LATEST)
                for step in range(version + 1, LATEST + 1):
                    MIGRATIONS[step](conn)
                    _set_version(conn, step)
                return LATEST

    @contextmanager
    def read(self) -> Iterator[Session]:
        with translate_errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with translate_errors(), Session(self.engine, expire_on_commit=False) as session:
            session.connection(execution_options={"hwb_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Database outages and lock timeouts become DatabaseUnavailable (exit 4)."""
    try:
        yield
    except (OperationalError, PoolTimeout) as exc:
        # PostgreSQL adds CONTEXT:/HINT: lines; the operator gets one line, its first.
        detail = str(exc.orig if hasattr(exc, "orig") else exc).strip()
        first = detail.splitlines()[0] if detail else ""
        if "disk is full" in first or "No space left" in first or "disk full" in first:
            raise DiskFull(detail=first) from exc
        raise DatabaseUnavailable(detail=first) from exc


def next_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids of `table` (integer key `id`), taken before its rows are written so that
    rows can go in one batch with no ids to read back. PostgreSQL: from the table's sequence, in
    one query. SQLite: after the highest id, as SQLite itself would number them (its writers
    hold the write lock from BEGIN IMMEDIATE, so no one else takes these meanwhile)."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        stmt = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)")
        quoted = conn.dialect.identifier_preparer.format_table(table)
        return sorted(int(i) for (i,) in conn.execute(stmt, {"table": quoted, "n": count}))
    highest = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    return list(range(highest + 1, highest + 1 + count))


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Rows (values in `columns` order) into `table`, in one statement for the batch: COPY on
    PostgreSQL (an executemany there costs a round trip per row), one executemany elsewhere
    (SQLite steps it in-process). COPY runs in the caller's transaction, under the session's
    lock_timeout like any statement, and fails as a statement does (see driver_errors)."""
    if conn.dialect.name != "postgresql":
        params = [dict(zip(columns, row, strict=True)) for row in rows]
        if params:
            conn.execute(insert(table), params)
        return
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"COPY {conn.dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(quote(c) for c in columns)}) FROM STDIN")
    with driver_errors(conn, statement):
        driver = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


@contextmanager
def driver_errors(conn: Connection, statement: str) -> Iterator[None]:
    """A call made on the driver's own connection (COPY, which SQLAlchemy cannot run) failing
    as SQLAlchemy's statements fail: the error wrapped in SQLAlchemy's class for it, so that
    translate_errors sees a lock timeout or an outage, and a connection the server ended
    invalidated, so that the pool never hands it out again."""
    try:
        yield
    except psycopg.Error as exc:
        dead = conn.dialect.is_disconnect(cast(Any, exc), conn.connection.dbapi_connection, None)
        if dead:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error,
                                  connection_invalidated=dead, dialect=conn.dialect) from exc


def _schema_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("meta"):
        return None
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
    return int(row[0]) if row else None


def _set_version(conn: Connection, version: int) -> None:
    conn.execute(text("DELETE FROM meta WHERE key = 'schema_version'"))
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(version)}
    )


def open_store(url: str, busy_timeout: float = 5.0) -> Store:
    store = Store(url, busy_timeout)
    store.migrate()
    return store


def shown_url(url: str) -> str:
    """The database as a person would name it: the file for SQLite, the URL without password."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)
