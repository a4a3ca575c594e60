"""A database locked by another writer for longer than HWB_BUSY_TIMEOUT: provisioning, a
deactivation and housekeeping each give up with exit 4 and one plain line, change nothing, and
succeed once the other writer has gone. SQLite: BEGIN IMMEDIATE held in another connection;
PostgreSQL: a table or row lock held in another session (core.db sets lock_timeout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, User
from tests.safety.conftest import (
    big_school,
    cli,
    cli_env,
    digest,
    held,
    provision_args,
    write_export,
)

BUSY = "0.4"  # seconds: HWB_BUSY_TIMEOUT for the blocked command
HOUSEKEEPING_AS_OF = "2030-01-01"  # every demo lifetime has ended by then


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue("demo_sqlite" if request.param == "sqlite" else "demo_pg")


def _run(store: Store, *args: str) -> tuple[int, str, str]:
    proc = cli(store.url, *args, env=cli_env(HWB_BUSY_TIMEOUT=BUSY))
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in out + err
    return proc.returncode, out, err


def _one_line(err: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hwb-tui: ") and "busy" in lines[0], err


def test_provisioning_gives_up_on_a_locked_database(db: Store, tmp_path: Path) -> None:
    school, _ = big_school(db)
    export = write_export(db, tmp_path / f"{school}-learners.csv", school, new=200, seed=4)
    before = digest(db)
    with held(db, 'LOCK TABLE "user" IN EXCLUSIVE MODE'):  # readers pass, writers wait
        code, out, _err = _run(db, *provision_args(export))
    assert code == 4
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith(": failed") and "busy" in lines[1], out
    assert digest(db) == before
    code, _out, _err = _run(db, *provision_args(export))
    assert code == 0
    assert digest(db) != before


def _governor(store: Store) -> str:
    with store.read() as session:
        return str(session.execute(
            select(User.username).where(User.kind == "governor", User.status == ACTIVE)
            .order_by(User.id).limit(1)).scalar_one())


def test_deactivation_gives_up_on_a_locked_database(db: Store) -> None:
    username = _governor(db)
    before = digest(db)
    with held(db, 'SELECT id FROM "user" WHERE username = :u FOR UPDATE', u=username):
        code, out, err = _run(db, "users", "deactivate", username)
    assert code == 4
    _one_line(err)
    assert out == ""
    assert digest(db) == before
    code, out, err = _run(db, "users", "deactivate", username)
    assert code == 0, err
    assert digest(db) != before


def test_housekeeping_gives_up_on_a_locked_database(db: Store) -> None:
    with db.read() as session:
        # the last account expiry would reach: everything before it is already changed when
        # the run blocks, and must be rolled back
        last = session.execute(
            select(User.id).where(User.status == ACTIVE, User.source == "non-mis",
                                  User.expires_on.is_not(None))  # type: ignore[union-attr]
            .order_by(User.expires_on.desc(), User.id.desc()).limit(1)  # type: ignore[union-attr]
        ).scalar_one()
    before = digest(db)
    with held(db, 'SELECT id FROM "user" WHERE id = :i FOR UPDATE', i=last):
        code, out, err = _run(db, "housekeeping", "--as-of", HOUSEKEEPING_AS_OF)
    assert code == 4
    _one_line(err)
    assert digest(db) == before
    code, out, err = _run(db, "housekeeping", "--as-of", HOUSEKEEPING_AS_OF)
    assert code == 0, err
    assert digest(db) != before
