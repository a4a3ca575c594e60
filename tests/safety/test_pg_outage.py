"""PostgreSQL going away mid-run: the provisioning run's server session is terminated while it
applies; the run exits 4 with one plain line, the database is as before, the next run succeeds."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hwb_tui.core.db import Store
from tests.conftest import PG_URL
from tests.safety.conftest import (
    big_school,
    check_applied,
    cli,
    cli_env,
    digest,
    provision_args,
    wait_for,
    write_export,
)

pytestmark = pytest.mark.postgres
OUTAGES = 3


def _terminate(appname: str) -> int:
    """End every server session of the client named `appname`; how many there were."""
    assert PG_URL is not None
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :a AND pid <> pg_backend_pid()"), {"a": appname}).all())
    finally:
        admin.dispose()


@pytest.mark.slow
def test_the_server_session_ending_mid_apply_changes_nothing(demo_pg: Store,
                                                             tmp_path: Path) -> None:
    store = demo_pg
    school, _ = big_school(store)
    export = write_export(store, tmp_path / f"{school}-learners.csv", school, new=4000, seed=5)
    before = digest(store)
    rng = random.Random(2028)
    for _ in range(OUTAGES):
        env = cli_env()
        proc = cli(store.url, *provision_args(export), env=env)
        wait_for(proc.stderr, ": applying")  # inside the school's write transaction
        time.sleep(rng.uniform(0.0, 0.5))
        assert _terminate(env["PGAPPNAME"]) >= 1
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 4, (out, err)
        assert "Traceback" not in out + err
        lines = out.splitlines()
        assert len(lines) == 2 and lines[0].endswith(": failed"), out
        assert "unavailable" in lines[1], out
        assert digest(store) == before
    proc = cli(store.url, *provision_args(export))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    check_applied(store, export)
