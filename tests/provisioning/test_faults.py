"""Faults: a run killed with SIGKILL mid-apply leaves the store as before; the console reading
while a run writes (one SQLite file) is not disturbed and does not block the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hwb_tui.core.db import Store
from hwb_tui.core.models import ProvisioningRun, User
from tests.provisioning.conftest import (
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    run,
    runs,
    table_dump,
    upn,
    users,
)

ROOT = Path(__file__).resolve().parents[2]


def _big_export(path: Path, rows: int, leavers: int = 3) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(SIMS_LEARNERS + "\r\n")
        for i in range(rows):
            # serials 0..999 per year, years 10..99: distinct valid UPNs
            year, serial = 10 + i // 1000, i % 1000
            u = upn(serial, SCHOOL, year)
            leaving = "23/10/2026" if i < leavers else ""
            fh.write(f"{u},Llywelyn{i},Siân,{i},01/09/2020,{leaving},9,9A\r\n")


@pytest.mark.slow
def test_sigkill_while_applying_leaves_the_store_as_before(schools: Store, write: Writer,
                                                           tmp_path: Path) -> None:
    # existing accounts the killed run would have changed (three of them are leavers in it)
    big = tmp_path / "6612001-learners.csv"
    _big_export(big, 5, leavers=0)
    assert run(schools, [big]).exit_code == 0
    before = table_dump(schools)
    runs_before = len(runs(schools))
    _big_export(big, 90_000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwb_tui", "--db", schools.url, "provision", str(big),
         "--as-of", "2026-11-30", "--force"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "applying" in line:
            break
    time.sleep(0.3)  # well inside the batched writes of 90,000 new accounts
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert table_dump(schools) == before  # users and audit exactly as before
    assert len(runs(schools)) == runs_before
    # the next run succeeds and applies everything
    report = run(schools, [big], force=True)
    assert report.exit_code == 0
    assert report.schools[0].counts["created"] == 90_000 - 5
    assert report.schools[0].counts["deactivated"] == 3


def test_a_console_reading_during_a_run(schools: Store, write: Writer) -> None:
    run(schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])])
    with schools.read() as console:
        # the console is mid-read (an open read transaction on the same SQLite file)
        seen = console.execute(select(func.count()).select_from(User)).scalar_one()
        report = run(schools, [write("b.csv", SIMS_LEARNERS,
                                     [learner_row(1), learner_row(2), learner_row(3)])])
        assert report.exit_code == 0
        # its snapshot is consistent: not half a run
        assert console.execute(select(func.count()).select_from(User)).scalar_one() == seen == 1
    with schools.read() as console:
        assert console.execute(select(func.count()).select_from(User)).scalar_one() == 3
        assert console.execute(select(func.count()).select_from(ProvisioningRun)).scalar_one() == 2


def test_the_run_is_not_half_visible_to_a_reader(schools: Store, tmp_path: Path) -> None:
    """A reader polling while a subprocess applies sees either none or all of the new accounts."""
    big = tmp_path / "6612001-learners.csv"
    _big_export(big, 3000, leavers=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwb_tui", "--db", schools.url, "provision", str(big)],
        stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    counts = set()
    while proc.poll() is None:
        with schools.read() as console:
            counts.add(console.execute(select(func.count()).select_from(User)).scalar_one())
        time.sleep(0.005)
    assert proc.returncode == 0
    counts.add(len(users(schools)))
    assert counts <= {0, 3000}
    assert users(schools)[upn(999, SCHOOL, 12)].status == "active"
