"""Provisioning writes a batch in one statement (COPY and UPDATE … FROM (VALUES …) on
PostgreSQL, executemany on SQLite) and still checks every row's version: an account another
writer changed after the plan makes the whole school roll back, naming that account, on both
databases and whichever chunk of the batch it falls in."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, insert, select, update

from hwb_tui.core import clock, versioned
from hwb_tui.core.access import PROVISIONING_ACTOR, system_actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import ChangedMeanwhile
from hwb_tui.core.models import AuditEvent, ProvisioningRun, User
from hwb_tui.provisioning import apply
from hwb_tui.provisioning.plan import make_plan
from hwb_tui.provisioning.service import read_roster
from tests.provisioning.conftest import (
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    run,
    table_dump,
    upn,
)

AS_OF = clock.now().date()
LEARNERS = 60


def _run_row(conn: Connection) -> int:
    """The run record the audit rows point at, as the service makes it."""
    values = {"started_at": clock.now(), "school": SCHOOL, "actor": PROVISIONING_ACTOR,
              "files": "[]", "sha256": "[]", "format": "sims-learners", "as_of": AS_OF,
              "outcome": "applying"}
    runs = ProvisioningRun.__table__  # type: ignore[attr-defined]
    inserted = conn.execute(insert(runs).values(**values)).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


@pytest.mark.parametrize("changed", [1, 37])  # in the first chunk, in a later one (PostgreSQL)
def test_an_account_changed_after_the_plan_rolls_the_school_back(
        any_schools: Store, write: Writer, monkeypatch: pytest.MonkeyPatch, changed: int) -> None:
    # PostgreSQL: chunks of 10 rows (4 parameters a row), so the batch is several statements
    monkeypatch.setattr(versioned, "_PG_PARAMETERS", 40)
    run(any_schools, [write("seed.csv", SIMS_LEARNERS,
                            [learner_row(i) for i in range(1, LEARNERS + 1)])])
    # every learner changes class, and five new ones arrive
    export = write("next.csv", SIMS_LEARNERS,
                   [learner_row(i, reg="9B") for i in range(1, LEARNERS + 6)])
    before = table_dump(any_schools)
    with any_schools.read() as s:
        victim = s.execute(select(User.username).where(User.upn == upn(changed))).scalar_one()
    roster = read_roster([export])
    with pytest.raises(ChangedMeanwhile) as raised, any_schools.write() as s:
        plan = make_plan(s, SCHOOL, roster, AS_OF, system_actor(PROVISIONING_ACTOR))
        assert sum(c.action == "update" for c in plan.changes) == LEARNERS
        # another writer's change to one of the planned accounts, after the plan
        s.execute(update(User).where(User.upn == upn(changed))
                  .values(reg_group="7C", version=User.version + 1))
        s.add(AuditEvent(at=clock.now(), actor="bryn", action="update", school=SCHOOL,
                         user_id=s.execute(select(User.id).where(User.upn == upn(changed)))
                         .scalar_one()))
        s.flush()
        apply.apply_plan(s, plan, run_id=_run_row(s.connection()), actor=PROVISIONING_ACTOR,
                         stamp=clock.now())
    assert raised.value.params == {"username": victim, "by": "bryn"}
    # nothing of the school's run stayed: no new account, no class changed, no audit
    assert table_dump(any_schools) == before
    # and the run, made again from what the store now holds, applies
    assert run(any_schools, [export]).exit_code == 0
    with any_schools.read() as s:
        classes = set(s.execute(select(User.reg_group).where(User.school == SCHOOL)).scalars())
    assert classes == {"9B"}


def test_a_batch_sets_and_clears_values_of_every_type(any_schools: Store, write: Writer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Dates, numbers and text set and set back to empty, across chunks: the VALUES casts."""
    monkeypatch.setattr(versioned, "_PG_PARAMETERS", 40)
    left = clock.now().date().replace(day=1)
    rows = [learner_row(i, leaving=left if i % 2 else None, year=10, reg="10A")
            for i in range(1, 31)]
    run(any_schools, [write("a.csv", SIMS_LEARNERS, rows)], as_of=AS_OF, force=True)
    rows = [learner_row(i, admitted=None, year=11, reg="11Z") for i in range(1, 31)]
    assert run(any_schools, [write("b.csv", SIMS_LEARNERS, rows)], as_of=AS_OF,
               force=True).exit_code == 0
    with any_schools.read() as s:
        got = s.execute(select(User.year_group, User.reg_group, User.admission_date,
                               User.version).where(User.school == SCHOOL)).all()
    assert len(got) == 30
    assert {(y, r, a) for y, r, a, _v in got} == {(11, "11Z", None)}
