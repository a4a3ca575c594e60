"""Announced leavers, held runs, approve / discard / expiry / supersede (issue 14), on SQLite and
PostgreSQL, through the service and the `runs` command."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from hwb_tui.core import access, clock
from hwb_tui.core.db import Store
from hwb_tui.core.errors import NotPermitted
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent
from hwb_tui.core.runs import HeldState, RunNotFound, RunNotHeld, held_state, pending_leavers
from hwb_tui.i18n import set_language
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

CliAs = Callable[..., tuple[int, str, str]]
JUNE, AUGUST = date(2026, 6, 25), date(2026, 8, 29)
LEFT = date(2026, 10, 23)


def _summer_rows(leaving: date | None) -> list[str]:
    """100 learners: 70 in Years 9 and 10, 30 in Year 11 (serials 71–100) leaving on `leaving`."""
    rows = [learner_row(i, year=9 + i % 2) for i in range(1, 71)]
    rows += [learner_row(i, year=11, reg="11A", leaving=leaving) for i in range(71, 101)]
    return rows


def test_the_august_rollover_applies_all_thirty_leavers(any_schools: Store,
                                                       write: Writer) -> None:
    """June: 30 Year 11 leavers dated 20/06 are deferred. 29 August: the same export deactivates
    all 30 with exit 0 — announced leavers do not count towards the limit."""
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, _summer_rows(None))],
        as_of=date(2026, 5, 1))
    export = write("summer.csv", SIMS_LEARNERS, _summer_rows(date(2026, 6, 20)))
    june = run(any_schools, [export], as_of=JUNE)
    assert (june.exit_code, june.schools[0].counts["deferred"]) == (0, 30)
    august = run(any_schools, [export], as_of=AUGUST)
    school = august.schools[0]
    assert (august.exit_code, school.outcome) == (0, "applied")
    assert school.counts["deactivated"] == 30
    assert school.limit is not None
    assert (school.limit["deactivations"], school.limit["announced"]) == (0, 30)
    got = users(any_schools)
    assert {u.upn for u in got.values() if u.status == DEACTIVATED} == {
        upn(i) for i in range(71, 101)}


def test_a_leaving_date_an_earlier_run_saw_is_announced(any_schools: Store,
                                                       write: Writer) -> None:
    """Leaving dates sent ahead (in the future when first seen) fall due without a hold; the
    same number of leavers nobody announced are held."""
    ahead = date(2026, 12, 18)
    rows = [learner_row(i, leaving=ahead if i <= 30 else None) for i in range(1, 101)]
    run(any_schools, [write("ahead.csv", SIMS_LEARNERS, rows)], as_of=date(2026, 11, 1))
    report = run(any_schools, [write("due.csv", SIMS_LEARNERS, rows)], as_of=date(2026, 12, 19))
    assert (report.exit_code, report.schools[0].counts["deactivated"]) == (0, 30)
    # a changed leaving date is news again: unannounced
    moved_on = [learner_row(i, leaving=date(2026, 12, 20) if 31 <= i <= 60 else None)
                for i in range(1, 101)]
    report = run(any_schools, [write("new.csv", SIMS_LEARNERS, moved_on)],
                 as_of=date(2026, 12, 21))
    assert (report.exit_code, report.schools[0].outcome, len(report.schools[0].held)) == (
        3, "held", 30)


# --- a broken export: held, approved, discarded, expired, superseded -------------------------

def _broken(write: Writer, name: str = "broken.csv", *, fixed: int | None = None,
            extra_leavers: int = 0) -> Path:
    """100 learners of whom 1–60 are leaving at once (unannounced), and 5 new ones (101–105).
    `fixed`: that learner's leaving date corrected away; `extra_leavers`: 61.. also leaving."""
    rows = []
    for i in range(1, 106):
        leaving = LEFT if (i <= 60 and i != fixed) or 60 < i <= 60 + extra_leavers else None
        rows.append(learner_row(i, leaving=leaving))
    return write(name, SIMS_LEARNERS, rows)


@pytest.fixture
def school100(any_schools: Store, write: Writer) -> Store:
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 101)])])
    with any_schools.write() as s:
        b.operator(s, "champion", role="digital-champion", schools=(SCHOOL,))
        b.operator(s, "other", role="digital-champion", schools=(OTHER,))
        b.operator(s, "admin")
    return any_schools


def _held_run(store: Store, write: Writer) -> int:
    report = run(store, [_broken(write)])
    school = report.schools[0]
    assert (report.exit_code, school.outcome) == (3, "held")
    assert school.run_id is not None
    return school.run_id


def test_a_broken_export_is_held_and_applies_everything_else(school100: Store,
                                                            write: Writer) -> None:
    report = run(school100, [_broken(write)])
    school = report.schools[0]
    assert (report.exit_code, school.outcome) == (3, "held")
    assert school.counts["created"] == 5  # the new learners do not wait for the leavers
    assert school.counts["deactivated"] == 0
    assert sorted(h["username"] for h in school.held) == sorted(
        u.username for u in users(school100).values() if u.leaving_date == LEFT)
    assert len(school.held) == 60
    got = users(school100)
    assert all(u.status == ACTIVE for u in got.values()) and len(got) == 105
    last = runs(school100)[-1]
    assert last.held_state == "held" and last.sha256 == json.dumps(
        [f.sha256 for f in school.files])
    assert last.held_until is not None
    with school100.read() as s:
        assert len(pending_leavers(s, SCHOOL)) == 60


def test_approve_applies_the_held_leavers_rechecked_against_a_newer_export(
        school100: Store, write: Writer, cli_as: CliAs) -> None:
    held = _held_run(school100, write)
    # the MIS corrects one learner; the held leavers wait for their decision meanwhile
    newer = run(school100, [_broken(write, "newer.csv", fixed=1)])
    school = newer.schools[0]
    assert (newer.exit_code, school.outcome, school.counts["deactivated"]) == (0, "applied", 0)
    assert sum(1 for n in school.notices if n["what"] == "awaiting_decision") == 59
    code, out, err = cli_as("champion", "runs", "approve", str(held), "--json")
    assert code == 0, err
    decision = json.loads(out)
    assert len(decision["deactivated"]) == 59
    assert [(s["username"], s["why"]) for s in decision["skipped"]] == [
        (users(school100)[upn(1)].username, "no_longer_leaver")]
    assert decision["decided_by"] == "champion"
    got = users(school100)
    assert got[upn(1)].status == ACTIVE
    assert all(got[upn(i)].status == DEACTIVATED for i in range(2, 61))
    assert all(got[upn(i)].deactivated_by == "champion" for i in range(2, 61))
    # audited: one event per leaver and one for the decision, under the operator
    with school100.read() as s:
        events = list(s.exec(select(AuditEvent).where(col(AuditEvent.actor) == "champion")))
    assert sorted(e.action for e in events).count("deactivate") == 59
    assert [e.run_id for e in events if e.action == "run_approve"] == [held]
    # `runs show` names who decided; a second decision is refused
    code, out, err = cli_as("champion", "runs", "show", str(held), "--json")
    shown = json.loads(out)
    assert (shown["held_state"], shown["decided_by"], shown["deactivated"]) == (
        "approved", "champion", 59)
    assert len(shown["held_leavers"]) == 60
    code, out, err = cli_as("admin", "runs", "discard", str(held))
    assert code == 1 and "approved" in err
    # the approved leaving dates are announced now: the next run of that export is not held
    again = run(school100, [_broken(write, "again.csv", fixed=1)])
    assert again.exit_code == 0


def test_discard_keeps_the_held_leavers_active(school100: Store, write: Writer,
                                               cli_as: CliAs) -> None:
    held = _held_run(school100, write)
    code, out, err = cli_as("admin", "runs", "discard", str(held))
    assert code == 0, err
    assert "admin" in out
    assert all(u.status == ACTIVE for u in users(school100).values())
    last = runs(school100)[-1]
    assert (last.held_state, last.decided_by) == ("discarded", "admin")
    code, _, err = cli_as("champion", "runs", "approve", str(held))
    assert code == 1 and "discarded" in err
    with school100.read() as s:
        assert pending_leavers(s, SCHOOL) == frozenset()
    # the export still says they leave: the next run asks again
    assert run(school100, [_broken(write, "again.csv")]).exit_code == 3


def test_a_held_plan_expires_after_14_days(school100: Store, write: Writer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    held = _held_run(school100, write)
    later = clock.now() + timedelta(days=14, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    actor = b.actor(school100, "champion")
    with pytest.raises(RunNotHeld), school100.write() as s:
        decide.approve(s, actor, held)
    with school100.read() as s:
        assert held_state(runs(school100)[-1]) is HeldState.EXPIRED
        assert pending_leavers(s, SCHOOL) == frozenset()
    assert all(u.status == ACTIVE for u in users(school100).values())


@pytest.mark.parametrize("how", ["held", "forced"])
def test_a_later_run_that_decides_the_leavers_supersedes_the_held_plan(
        school100: Store, write: Writer, how: str) -> None:
    held = _held_run(school100, write)
    if how == "held":
        # 25 more unannounced leavers: held again, and this plan takes over the first's
        report = run(school100, [_broken(write, "worse.csv", extra_leavers=25)])
        assert (report.exit_code, len(report.schools[0].held)) == (3, 85)
    else:
        report = run(school100, [_broken(write, "forced.csv")], force=True)
        assert (report.exit_code, report.schools[0].counts["deactivated"]) == (0, 60)
    first = next(r for r in runs(school100) if r.id == held)
    assert (first.held_state, first.superseded_by) == ("superseded", report.schools[0].run_id)
    with pytest.raises(RunNotHeld), school100.write() as s:
        decide.approve(s, b.actor(school100, "admin"), held)


def test_only_an_operator_of_the_school_decides(school100: Store, write: Writer) -> None:
    held = _held_run(school100, write)
    with pytest.raises(RunNotFound), school100.write() as s:
        decide.approve(s, b.actor(school100, "other"), held)
    with pytest.raises(NotPermitted), school100.write() as s:
        decide.approve(s, access.system_actor(access.PROVISIONING_ACTOR), held)
    assert runs(school100)[-1].held_state == "held"


# --- the command line --------------------------------------------------------------------

@pytest.fixture
def cli_as(school100: Store, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[CliAs]:
    """`hwb-tui ARGS...` on the test's database as the operator `login`."""
    b.cli_env(monkeypatch, school100.url)

    def _run(login: str, *args: str) -> tuple[int, str, str]:
        return b.run_cli(capsys, *args, login=login, monkeypatch=monkeypatch)

    yield _run
    set_language("en")


def test_runs_show_names_every_held_leaver(school100: Store, write: Writer,
                                          cli_as: CliAs) -> None:
    held = _held_run(school100, write)
    code, out, err = cli_as("champion", "runs", "show", str(held))
    assert code == 0, err
    names = {u.username for u in users(school100).values() if u.leaving_date == LEFT}
    assert len(names) == 60 and all(n in out for n in names)
    assert "sha256:" in out
    code, out, err = cli_as("champion", "runs", "--json")
    listed = {r["id"]: r for r in json.loads(out)}
    assert (listed[held]["outcome"], listed[held]["held_state"], listed[held]["held"]) == (
        "held", "held", 60)
