"""SIGKILL at seeded random moments while `hwb-tui provision` applies a large export to a demo
database: after every kill the users, audit and run tables are exactly as before (and SQLite's
file passes integrity_check); then a run left alone applies everything."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hwb_tui.core.db import Store
from tests.conftest import PG_URL
from tests.safety.conftest import (
    Export,
    big_school,
    check_applied,
    cli,
    cli_env,
    demo_store,
    digest,
    kill,
    pg_schema,
    provision_args,
    run_count,
    sqlite_integrity,
    wait_for,
    write_export,
)

NEW_LEARNERS = 4000  # with ~260 updates, 12 leavers and 10 moves: about a second of applying
SQLITE_KILLS = 20
PG_KILLS = 5


def _apply_span(url: str, export: Export) -> float:
    """Seconds from "applying" to "done" (the commit) on a twin database: the kill window."""
    proc = cli(url, *provision_args(export))
    wait_for(proc.stderr, ": applying")
    started = time.perf_counter()
    wait_for(proc.stderr, ": done (")
    span = time.perf_counter() - started
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    return span


@contextmanager
def _backend_gone(store: Store, appname: str) -> Iterator[None]:
    """On PostgreSQL, wait until the killed client's backend has ended (rolled back), so that
    what we read next is the settled state, not a transaction still finishing."""
    yield
    if store.dialect != "postgresql" or not PG_URL:
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for _ in range(600):
                n = conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE application_name = :a"), {"a": appname}).scalar()
                if not n:
                    return
                time.sleep(0.05)
        raise AssertionError("the killed client's backend never ended")
    finally:
        admin.dispose()


def _kill_loop(store: Store, export: Export, kills: int, span: float, seed: int,
               tmp_path: Path, integrity: Callable[[Store], None]) -> Export:
    """Kill `kills` runs inside their write transaction; returns the export still to apply."""
    rng = random.Random(seed)
    before = digest(store)
    mid = after = 0
    attempts = 0
    while mid < kills:
        attempts += 1
        assert attempts <= 2 * kills + 5, f"only {mid} of {attempts} kills landed mid-apply"
        runs_before = run_count(store)
        env = cli_env()
        with _backend_gone(store, env["PGAPPNAME"]):
            proc = cli(store.url, *provision_args(export), env=env)
            wait_for(proc.stderr, ": applying")  # the write transaction is open
            time.sleep(rng.uniform(0.0, span))
            code = kill(proc)
        integrity(store)
        if run_count(store) == runs_before:
            # killed before the commit: not one row of the run may be left behind
            assert code == -signal.SIGKILL
            assert digest(store) == before, f"kill {mid + 1} changed the database"
            mid += 1
            continue
        # the kill came after the commit: then all of it is there, and the next kills need
        # an export with work still to do
        check_applied(store, export)
        after += 1
        export = write_export(store, tmp_path / f"{export.school}-learners.csv", export.school,
                              new=NEW_LEARNERS, seed=seed + after, year=50 + 10 * after)
        before = digest(store)
    print(f"{store.dialect}: {mid} kills mid-apply, {after} after the commit")
    return export


def _final_run_applies_everything(store: Store, export: Export) -> None:
    proc = cli(store.url, *provision_args(export, "--json"))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    counts = json.loads(out)["schools"][0]["counts"]
    assert counts["created"] == len(export.new)
    assert counts["moved"] == len(export.movers)
    assert counts["deactivated"] == len(export.leavers)
    check_applied(store, export)


def _sqlite_ok(store: Store) -> None:
    assert sqlite_integrity(store) == "ok"


@pytest.mark.slow
def test_sigkill_mid_apply_sqlite(tmp_path: Path) -> None:
    store = demo_store(f"sqlite:///{tmp_path / 'hwb.db'}")
    try:
        school, _ = big_school(store)
        export = write_export(store, tmp_path / f"{school}-learners.csv", school,
                              new=NEW_LEARNERS, seed=1)
        twin = tmp_path / "twin.db"
        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as src, \
                sqlite3.connect(twin) as dst:
            src.backup(dst)
        span = _apply_span(f"sqlite:///{twin}", export)
        export = _kill_loop(store, export, SQLITE_KILLS, span, 2026, tmp_path, _sqlite_ok)
        _final_run_applies_everything(store, export)
        _sqlite_ok(store)
    finally:
        store.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_mid_apply_postgres(tmp_path: Path) -> None:
    with pg_schema() as twin_url, pg_schema() as url:
        twin = demo_store(twin_url)
        store = demo_store(url)
        try:
            school, _ = big_school(store)
            export = write_export(store, tmp_path / f"{school}-learners.csv", school,
                                  new=NEW_LEARNERS, seed=1)
            span = _apply_span(twin_url, export)
            twin.dispose()
            export = _kill_loop(store, export, PG_KILLS, span, 2027, tmp_path,
                                lambda _s: None)
            _final_run_applies_everything(store, export)
        finally:
            twin.dispose()
            store.dispose()
