"""Undoing a run (`runs revert`): a normal run, a held-then-approved run, a run with one user
changed later; a revert reverted; on SQLite and PostgreSQL (issue 14)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from hwb_tui.core import clock
from hwb_tui.core.db import Store
from hwb_tui.core.errors import NotPermitted
from hwb_tui.core.models import ACTIVE, DEACTIVATED, ProvisioningRun
from hwb_tui.core.runs import RunNotFound, RunTooOld
from hwb_tui.provisioning import decide
from tests import builders as b
from tests.provisioning.conftest import (
    OTHER,
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    run,
    runs,
    upn,
    users,
)

LEFT = date(2026, 10, 23)
_FIELDS = ("school", "status", "surname", "surname_key", "sort_en", "leaving_date",
           "deactivated_at", "deactivation_reason", "leaving_seen_at")


def _state(store: Store) -> dict[str, tuple[object, ...]]:
    return {key: tuple(getattr(u, f) for f in _FIELDS) for key, u in users(store).items()}


@pytest.fixture
def seeded(any_schools: Store, write: Writer) -> Store:
    """School A: learners 1–10; school B: learner 50 (who will move to A)."""
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 11)])])
    run(any_schools, [write("seed-b.csv", SIMS_LEARNERS,
                            [learner_row(50, dfes=OTHER, admitted=date(2022, 9, 1))])],
        school=OTHER)
    with any_schools.write() as s:
        b.operator(s, "admin")
        b.operator(s, "admin-b", schools=(OTHER,))
        b.operator(s, "champion", role="digital-champion", schools=(SCHOOL,))
    return any_schools


def _busy_run(store: Store, write: Writer) -> int:
    """Two leavers, one surname changed, learner 50 moving in, two new learners."""
    rows = [learner_row(i, leaving=LEFT if i in (1, 2) else None,
                        surname="Newname" if i == 3 else "") for i in range(1, 11)]
    rows += [learner_row(50, dfes=OTHER, admitted=date(2026, 11, 2)),
             learner_row(11), learner_row(12)]
    report = run(store, [write("busy.csv", SIMS_LEARNERS, rows)])
    counts = report.schools[0].counts
    assert (counts["deactivated"], counts["updated"], counts["moved"], counts["created"]) == (
        2, 1, 1, 2)
    assert report.schools[0].run_id is not None
    return report.schools[0].run_id


def test_revert_puts_back_everything_a_run_did_and_can_itself_be_reverted(
        seeded: Store, write: Writer) -> None:
    before = _state(seeded)
    busy = _busy_run(seeded, write)
    after = _state(seeded)
    admin = b.actor(seeded, "admin")
    with seeded.read() as s:
        planned = decide.revert(s, admin, busy, dry_run=True)
    assert _state(seeded) == after  # a dry run changes nothing
    assert len(planned.put_back) == 6 and planned.left == []
    with seeded.write() as s:
        done = decide.revert(s, admin, busy)
    assert {p["what"] for p in done.put_back} == {"activated", "restored", "moved_back",
                                                  "deactivated"}
    now = _state(seeded)
    for key, values in before.items():
        assert now[key] == values, key  # every account as it was before the run
    got = users(seeded)
    # the accounts the run created are deactivated, never deleted
    assert {got[upn(i)].status for i in (11, 12)} == {DEACTIVATED}
    revert_run = runs(seeded)[-1]
    assert (revert_run.revert_of, revert_run.actor, revert_run.format) == (busy, "admin",
                                                                          "revert")
    # a revert is a run: reverting it puts the busy run's changes back
    with seeded.write() as s:
        again = decide.revert(s, admin, revert_run.id or 0)
    assert again.left == [] and len(again.put_back) == 6
    now = _state(seeded)
    for key in before:
        if key not in (upn(11), upn(12)):
            assert now[key][:3] == after[key][:3], key
    assert {users(seeded)[upn(i)].status for i in (11, 12)} == {ACTIVE}


def test_revert_of_a_held_then_approved_run(seeded: Store, write: Writer) -> None:
    rows = [learner_row(i, leaving=LEFT) for i in range(1, 11)]  # all ten leaving
    rows += [learner_row(i) for i in range(11, 21)]  # ten new
    before = _state(seeded)
    report = run(seeded, [write("mass.csv", SIMS_LEARNERS, rows)], max_deactivations=5)
    held = report.schools[0].run_id
    assert report.exit_code == 3 and held is not None
    with seeded.write() as s:
        decision = decide.approve(s, b.actor(seeded, "champion"), held)
    assert len(decision.deactivated) == 10
    with seeded.write() as s:
        done = decide.revert(s, b.actor(seeded, "admin"), held)
    assert done.left == []
    now = _state(seeded)
    for key, values in before.items():
        assert now[key] == values, key  # active again, leaving date unset, unseen
    assert all(users(seeded)[upn(i)].status == DEACTIVATED for i in range(11, 21))


def test_revert_leaves_a_user_changed_later_and_names_the_change(seeded: Store,
                                                                write: Writer) -> None:
    busy = _busy_run(seeded, write)
    # the next export corrects learner 3's surname again: a later change to that user
    rows = [learner_row(i, leaving=LEFT if i in (1, 2) else None,
                        surname="Other" if i == 3 else "") for i in range(1, 11)]
    rows += [learner_row(50, dfes=OTHER, admitted=date(2026, 11, 2)),
             learner_row(11), learner_row(12)]
    later = run(seeded, [write("later.csv", SIMS_LEARNERS, rows)]).schools[0].run_id
    with seeded.write() as s:
        done = decide.revert(s, b.actor(seeded, "admin"), busy)
    assert [(x["username"], x["why"], x["by"], x["action"], x["later_run"])
            for x in done.left] == [(users(seeded)[upn(3)].username, "changed_later",
                                     "provisioning-client", "update", later)]
    assert len(done.put_back) == 5
    got = users(seeded)
    assert got[upn(3)].surname == "Other"  # left as the later change made it
    assert got[upn(1)].status == ACTIVE and got[upn(50, OTHER)].school == OTHER


def test_only_a_hwb_administrator_of_the_school_reverts_within_12_months(
        seeded: Store, write: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    busy = _busy_run(seeded, write)
    after = _state(seeded)
    with pytest.raises(NotPermitted), seeded.write() as s:
        decide.revert(s, b.actor(seeded, "champion"), busy)
    with pytest.raises(RunNotFound), seeded.write() as s:
        decide.revert(s, b.actor(seeded, "admin-b"), busy)
    with seeded.write() as s:
        s.execute(update(ProvisioningRun).where(ProvisioningRun.id == busy)  # type: ignore[arg-type]
                  .values(started_at=clock.now() - timedelta(days=367)))
    with pytest.raises(RunTooOld), seeded.write() as s:
        decide.revert(s, b.actor(seeded, "admin"), busy)
    assert _state(seeded) == after


def test_the_run_stores_each_changed_users_values_before(seeded: Store, write: Writer) -> None:
    busy = _busy_run(seeded, write)
    record = next(r for r in runs(seeded) if r.id == busy)
    undo = json.loads(record.undo or "{}")
    got = users(seeded)
    assert sorted(undo["created"]) == sorted(got[upn(i)].id for i in (11, 12))
    mover = undo["before"][str(got[upn(50, OTHER)].id)]
    assert mover["school"] == OTHER
    assert undo["before"][str(got[upn(1)].id)]["status"] == ACTIVE
