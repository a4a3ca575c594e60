"""Provisioning as the operator: a Digital Champion's console cannot take over another school.

The scenario of issue 11, as a champion would try it: Provisioning (`p`) > open an export (`o`)
> a file named after their own school (6612001-learners.csv) that holds another school's
(6702005's) learners > Preview > Apply. Nothing outside the champion's school may change in any
way: no move, no update, no deactivation, no audit row, no run record. The same on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from hwb_tui.core.access import system_actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import NotPermitted, OperatorDisabled, UsageError
from hwb_tui.core.models import AuditEvent, Operator, OperatorSchool, ProvisioningRun, User
from hwb_tui.provisioning import ProvisionOptions, provision
from hwb_tui.provisioning.apply import MOVE_OUT
from hwb_tui.tui.app import HwbApp
from tests import builders as b
from tests.tui.console import SIZE, open_export_dialog, press_apply, preview, settle, summary

MINE, THEIRS = "6612001", "6702005"
LEARNERS = 40
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


@pytest.fixture
def two_schools(any_store: Store) -> Iterator[Store]:
    """Two schools, each with learners; a champion of MINE; an admin of both."""
    with any_store.write() as s:
        b.school(s, MINE, "Ysgol Gymraeg Aberystwyth")
        b.school(s, THEIRS, "Ysgol Bro Teifi")
        b.operator(s, "admin")
        b.operator(s, "champ", role="digital-champion", schools=(MINE,))
        b.operator(s, "both", schools=(MINE, THEIRS))
        for i in range(1, LEARNERS + 1):
            b.user(s, f"Theirs{i:02d}", "Cai", kind="learner", school=THEIRS,
                   upn=b.learner_upn(THEIRS, i), year_group=9)
        for i in range(1, 4):
            b.user(s, f"Mine{i}", "Nia", kind="learner", school=MINE,
                   upn=b.learner_upn(MINE, i), year_group=9)
    yield any_store


def export_of_theirs(path: Path, leaving: str = "") -> Path:
    """A SIMS learners export listing THEIRS's learners (current, or leaving on `leaving`)."""
    return b.sims_learners(path, (
        f"{b.learner_upn(THEIRS, i)},Theirs{i:02d},Cai,{i},01/09/2020,{leaving},9,9T"
        for i in range(1, LEARNERS + 1)))


def outside_digest(store: Store, school: str = THEIRS) -> str:
    """Every row of `school`'s users, audit events and runs."""
    h = hashlib.sha256()
    with store.read() as s:
        for model, column in ((User, User.school), (AuditEvent, AuditEvent.school),
                              (ProvisioningRun, ProvisioningRun.school)):
            table = model.__table__  # type: ignore[attr-defined]
            rows = s.execute(sa_select(table).where(col(column) == school)
                             .order_by(*table.primary_key.columns)).all()
            h.update(f"{table.name}:{len(rows)}\n".encode())
            for row in rows:
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


async def _preview_and_apply(app: HwbApp, path: Path, school: str | None = None) -> str:
    """Drive the console: p, o, the file, Preview, then Apply if it is offered; the summary."""
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        previewed = await preview(app, pilot, modal, path, school)
        if not modal.query_one("#prov-apply").disabled:
            await press_apply(pilot, modal)
            await settle(app, pilot)
        return previewed + "\n" + summary(modal)


@pytest.mark.parametrize("lang,words", [("en", "at a school you do not manage"),
                                         ("cy", "mewn ysgol nad ydych yn ei rheoli")])
async def test_the_console_takeover_changes_nothing_outside_the_champions_school(
        two_schools: Store, tmp_path: Path, lang: str, words: str) -> None:
    store = two_schools
    before = outside_digest(store)
    current = export_of_theirs(tmp_path / f"{MINE}-learners.csv")
    app = HwbApp(store, b.actor(store, "champ"), lang=lang, today=TODAY, now=NOW, inbox=tmp_path)
    shown = await _preview_and_apply(app, current)
    assert words in shown, shown
    assert outside_digest(store) == before
    # nor with a second file that says they have all left
    leavers = export_of_theirs(tmp_path / f"{MINE}-leavers.csv", leaving="01/11/2026")
    app = HwbApp(store, b.actor(store, "champ"), lang=lang, today=TODAY, now=NOW, inbox=tmp_path)
    shown = await _preview_and_apply(app, leavers)
    assert words in shown, shown
    assert outside_digest(store) == before
    with store.read() as s:
        theirs = s.exec(select(User).where(col(User.school) == THEIRS)).all()
        assert len(theirs) == LEARNERS and {u.status for u in theirs} == {"active"}
        # what the champion did is on record, in their own school, under their name
        runs = s.exec(select(ProvisioningRun)).all()
        assert runs and {(r.school, r.actor) for r in runs} == {(MINE, "champ")}


async def test_a_file_named_for_another_school_is_refused_in_one_line(
        two_schools: Store, tmp_path: Path) -> None:
    store = two_schools
    before = outside_digest(store), outside_digest(store, MINE)
    path = export_of_theirs(tmp_path / f"{THEIRS}-learners.csv")
    app = HwbApp(store, b.actor(store, "champ"), today=TODAY, now=NOW, inbox=tmp_path)
    shown = await _preview_and_apply(app, path, school=MINE)
    assert f"named for school {THEIRS}, not for school {MINE}" in shown, shown
    assert (outside_digest(store), outside_digest(store, MINE)) == before


def test_a_champion_may_not_provision_another_school_headlessly_through_the_api(
        two_schools: Store, tmp_path: Path) -> None:
    store = two_schools
    before = outside_digest(store)
    path = export_of_theirs(tmp_path / f"{THEIRS}-learners.csv")
    with pytest.raises(NotPermitted):
        provision(store, [path], None, ProvisionOptions(), actor=b.actor(store, "champ"))
    assert outside_digest(store) == before


def test_a_file_named_for_another_school_is_refused_headlessly_too(
        two_schools: Store, tmp_path: Path) -> None:
    path = export_of_theirs(tmp_path / f"{THEIRS}-learners.csv")
    with pytest.raises(UsageError) as refused:
        provision(two_schools, [path], MINE, ProvisionOptions())
    assert f"named for school {THEIRS}" in refused.value.message()


@pytest.mark.parametrize("login", ["both", None])
def test_a_move_is_audited_at_both_schools_under_whoever_made_it(
        two_schools: Store, tmp_path: Path, login: str | None) -> None:
    """An operator of both schools (or the provisioning client) may move the learners: the run
    and both schools' audit name who did it, in the run's transaction."""
    store = two_schools
    path = export_of_theirs(tmp_path / f"{MINE}-learners.csv")
    who = b.actor(store, login) if login else None
    report = provision(store, [path], None, ProvisionOptions(as_of=TODAY), actor=who)
    school = report.schools[0]
    assert school.outcome == "applied" and school.counts["moved"] == LEARNERS
    name = login or system_actor("provisioning-client").login
    with store.read() as s:
        run = s.get(ProvisioningRun, school.run_id)
        assert run is not None and run.actor == name
        events = s.exec(select(AuditEvent).where(col(AuditEvent.run_id) == run.id)).all()
    assert {e.actor for e in events} == {name}
    gained = [e for e in events if e.school == MINE and e.action == "move"]
    lost = [e for e in events if e.school == THEIRS and e.action == MOVE_OUT]
    assert len(gained) == len(lost) == LEARNERS
    assert {e.user_id for e in gained} == {e.user_id for e in lost}


def test_an_operator_disabled_before_apply_changes_nothing(two_schools: Store,
                                                           tmp_path: Path) -> None:
    store = two_schools
    path = b.sims_learners(tmp_path / f"{MINE}-learners.csv",
                           [f"{b.learner_upn(MINE, 9)},Newydd,Nia,9,01/09/2020,,9,9T"])
    champ = b.actor(store, "champ")  # the console opened with this
    with store.write() as s:
        op = s.get(Operator, "champ")
        assert op is not None
        op.disabled = True
    before = outside_digest(store, MINE)
    with pytest.raises(OperatorDisabled):
        provision(store, [path], None, ProvisionOptions(), actor=champ)
    assert outside_digest(store, MINE) == before


def test_an_operator_whose_school_is_withdrawn_changes_nothing(two_schools: Store,
                                                               tmp_path: Path) -> None:
    store = two_schools
    path = b.sims_learners(tmp_path / f"{MINE}-learners.csv",
                           [f"{b.learner_upn(MINE, 9)},Newydd,Nia,9,01/09/2020,,9,9T"])
    champ = b.actor(store, "champ")
    with store.write() as s:
        link = s.get(OperatorSchool, ("champ", MINE))
        assert link is not None
        s.delete(link)
    before = outside_digest(store, MINE)
    with pytest.raises(NotPermitted):
        provision(store, [path], None, ProvisionOptions(dry_run=True), actor=champ)
    assert outside_digest(store, MINE) == before
