"""Safety-test helpers: a demo-shaped database, a large export against it, table digests, and
the real command line run as a child process (so it can be killed, starved or cut off)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Connection, create_engine, func, select, text

from hwb_tui import demo
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.models import ACTIVE, AuditEvent, ProvisioningRun, User
from hwb_tui.core.names import make_upn
from tests import builders as b
from tests.conftest import pg_schema as shared_pg_schema

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-30"
LEFT = "23/10/2026"  # a leaving date before AS_OF: the learner is a leaver
SIMS_LEARNERS = b.SIMS_LEARNERS
DEMO_USERS = 5000  # 44 schools of ~100 accounts, as `hwb-tui demo` makes them
LOGIN = "admin"
TABLES = {"user": User, "auditevent": AuditEvent, "provisioningrun": ProvisioningRun}


# --- databases -------------------------------------------------------------------------------

def demo_store(url: str) -> Store:
    """A demo database (the one `hwb-tui demo` builds) at `url`, opened."""
    demo.build(url, DEMO_USERS, LOGIN, seed=2026)
    return open_store(url)


def _end_our_clients(conn: Connection) -> None:
    # a killed client's backend may still hold locks for a moment: end it first (only ours:
    # other test processes may be using the same server right now)
    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = ANY(:names)"), {"names": sorted(STARTED)})


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh PostgreSQL schema, dropped after our clients end."""
    with shared_pg_schema(before_drop=_end_our_clients) as url:
        yield url


@pytest.fixture
def demo_sqlite(tmp_path: Path) -> Iterator[Store]:
    store = demo_store(f"sqlite:///{tmp_path / 'hwb.db'}")
    yield store
    store.dispose()


@pytest.fixture
def demo_pg() -> Iterator[Store]:
    with pg_schema() as url:
        store = demo_store(url)
        yield store
        store.dispose()


def sqlite_path(store: Store) -> str:
    return store.url.removeprefix("sqlite:///")


@contextmanager
def held(store: Store, pg_lock: str, **params: object) -> Iterator[None]:
    """Another writer holding the database (SQLite) or `pg_lock` (PostgreSQL), uncommitted."""
    if store.dialect == "sqlite":
        con = sqlite3.connect(sqlite_path(store), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            con.execute("ROLLBACK")
            con.close()
        return
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(text(pg_lock), params)
            yield
            tx.rollback()
    finally:
        engine.dispose()


# --- what the database holds -----------------------------------------------------------------

def digest(store: Store) -> dict[str, tuple[int, str]]:
    """Per table (users, audit, runs): row count and a hash of every row's every column."""
    out: dict[str, tuple[int, str]] = {}
    with store.read() as session:
        conn = session.connection()
        for name, model in TABLES.items():
            table = model.__table__  # type: ignore[attr-defined]
            h = hashlib.sha256()
            n = 0
            for row in conn.execute(select(table).order_by(table.c.id)):
                h.update(repr(tuple(row)).encode())
                n += 1
            out[name] = (n, h.hexdigest())
    return out


def run_count(store: Store) -> int:
    with store.read() as session:
        return int(session.execute(select(func.count()).select_from(ProvisioningRun))
                   .scalar_one())


def sqlite_integrity(store: Store) -> str:
    con = sqlite3.connect(sqlite_path(store))
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


# --- a large export against the demo ---------------------------------------------------------

@dataclass
class Export:
    path: Path
    school: str
    kept: list[str]  # UPNs listed as current learners, already at the school
    leavers: list[str]  # UPNs at the school, listed with a leaving date
    movers: list[str]  # UPNs at other schools, listed here as current learners
    new: list[str]  # UPNs the database does not have

    @property
    def changes(self) -> int:
        return len(self.leavers) + len(self.movers) + len(self.new)


def school_learners(store: Store, school: str) -> list[tuple[str, str, str]]:
    """(UPN, surname, forename) of the school's active learners."""
    with store.read() as session:
        rows = session.execute(
            select(User.upn, User.surname, User.forename)
            .where(User.school == school, User.kind == "learner", User.status == ACTIVE)
            .order_by(User.upn)).all()
    return [(str(u), str(s), str(f)) for u, s, f in rows]


def big_school(store: Store) -> tuple[str, list[str]]:
    """The demo school with the most active learners, and the others (largest first)."""
    with store.read() as session:
        rows = session.execute(
            select(User.school, func.count()).where(User.kind == "learner",
                                                     User.status == ACTIVE)
            .group_by(User.school).order_by(func.count().desc(), User.school)).all()
    schools = [str(s) for s, _n in rows]
    return schools[0], schools[1:]


def write_export(store: Store, path: Path, school: str, *, new: int, leavers: int = 12,
                 movers: int = 10, seed: int = 0, year: int = 50) -> Export:
    """A SIMS learner export for `school`: its learners (some leaving), learners of other
    schools moving in, and `new` learners never seen (UPN year group `year`, onwards)."""
    rng = random.Random(seed)
    mine = school_learners(store, school)
    assert len(mine) > leavers, "the demo school has too few learners"
    chosen_leavers = {u for u, _s, _f in rng.sample(mine, leavers)}
    _, others = big_school(store)
    incoming: list[tuple[str, str, str]] = []
    for other in others:
        if other == school:
            continue
        incoming.extend(school_learners(store, other)[:3])
        if len(incoming) >= movers:
            break
    incoming = incoming[:movers]
    la, estab = int(school[:3]), int(school[3:])
    lines = [SIMS_LEARNERS]
    kept: list[str] = []
    for upn, surname, forename in mine:
        leaving = LEFT if upn in chosen_leavers else ""
        lines.append(_row(upn, surname, forename, leaving))
        if not leaving:
            kept.append(upn)
    for upn, surname, forename in incoming:
        lines.append(_row(upn, surname, forename, ""))
    fresh: list[str] = []
    for i in range(new):
        upn = make_upn(la, estab, year + i // 1000, i % 1000)
        fresh.append(upn)
        lines.append(_row(upn, f"Llywelyn{rng.randrange(10**6)}", rng.choice(FORENAMES), ""))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8", newline="")
    return Export(path, school, kept, sorted(chosen_leavers), [u for u, _s, _f in incoming],
                  fresh)


FORENAMES = ("Siân", "Dafydd", "Gwenllian", "Rhys", "Ffion", "Llŷr", "Aled", "Elin", "Iwan")


def _row(upn: str, surname: str, forename: str, leaving: str) -> str:
    return f"{upn},{surname},{forename},{upn[-6:]},01/09/2021,{leaving},9,9A"


def check_applied(store: Store, export: Export) -> None:
    """Everything the export says is in the database: new and moved learners active at the
    school, leavers deactivated, the kept ones untouched in status."""
    with store.read() as session:
        rows = session.execute(
            select(User.upn, User.school, User.status)
            .where(User.upn.in_(export.kept + export.leavers + export.movers + export.new)))
        seen = {u: (s, st) for u, s, st in rows}
    for upn in export.new + export.movers + export.kept:
        assert seen.get(upn) == (export.school, ACTIVE), upn
    for upn in export.leavers:
        assert seen.get(upn) == (export.school, "deactivated"), upn


# --- the command line as a child process -----------------------------------------------------

STARTED: set[str] = set()  # application names of the clients this process started


def cli_env(**extra: str) -> dict[str, str]:
    """The child's environment; PGAPPNAME names its PostgreSQL sessions, to find them."""
    appname = f"hwb-safety-{uuid.uuid4().hex[:12]}"
    STARTED.add(appname)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HWB_LANG": "en", "HWB_OPERATOR": LOGIN,
           "PGAPPNAME": appname}
    env.pop("HWB_DATABASE_URL", None)
    env.update(extra)
    return env


def cli(url: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """`python -m hwb_tui --db URL ARGS…` started; stdout and stderr are pipes."""
    env = popen.pop("env", None) or cli_env()
    return subprocess.Popen([sys.executable, "-m", "hwb_tui", "--db", url, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT, **popen)


def provision_args(export: Export, *extra: str) -> list[str]:
    return ["provision", str(export.path), "--as-of", AS_OF, "--force", *extra]


def wait_for(stream: IO[str] | None, needle: str) -> list[str]:
    """Lines read from `stream` up to and including the first containing `needle`."""
    assert stream is not None
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never came; got {lines!r}")


def kill(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode


def one_line_error(stderr: str) -> str:
    """The lines of stderr that are not progress lines: exactly one, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not _progress(ln)]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("hwb-tui: "), stderr
    return lines[0]


def _progress(line: str) -> bool:
    return any(w in line for w in (": reading", ": planning", ": applying", ": done ("))
