"""Applying runs: the deactivation limit, idempotency, dry runs, invalid input, many schools,
the run record; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from hwb_tui.core.access import PROVISIONING_ACTOR
from hwb_tui.core.db import Store
from hwb_tui.core.errors import UsageError
from hwb_tui.core.models import ACTIVE, DEACTIVATED
from hwb_tui.provisioning import report_as_dict
from hwb_tui.provisioning.apply import allocate_usernames
from tests.provisioning.conftest import (
    OTHER,
    SCHOOL,
    SIMS_LEARNERS,
    SIMS_STAFF,
    Writer,
    learner_row,
    run,
    runs,
    staff_row,
    table_dump,
    upn,
    users,
)

LEFT = date(2026, 10, 23)


def _school_of(store: Store, write: Writer, active: int) -> None:
    run(store, [write("seed.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, active + 1)])])


def _leavers(write: Writer, active: int, leaving: int) -> Path:
    rows = [learner_row(i, leaving=LEFT if i <= leaving else None)
            for i in range(1, active + 1)]
    return write("leavers.csv", SIMS_LEARNERS, rows)


# --- the deactivation limit ------------------------------------------------------------------

@pytest.mark.parametrize("active,leaving,held", [
    (100, 20, False),  # exactly 20%: allowed
    (100, 21, True),   # just over 20% and over 10
    (50, 10, False),   # 20% but not over 10 accounts
    (40, 10, False),   # 25% of the school, but only 10 accounts
    (40, 11, True),    # 27.5% and 11 accounts
    (10, 10, False),   # every account of a small school: 10 is not more than 10
])
def test_deactivation_limit(any_schools: Store, write: Writer, active: int, leaving: int,
                            held: bool) -> None:
    _school_of(any_schools, write, active)
    report = run(any_schools, [_leavers(write, active, leaving)])
    school = report.schools[0]
    if held:
        assert (report.exit_code, school.outcome) == (3, "held")
        got = users(any_schools)
        assert all(u.status == ACTIVE for u in got.values())  # nobody deactivated ...
        # ... though their leaving dates are stored (not yet seen by a successful run)
        assert {u.upn for u in got.values() if u.leaving_date == LEFT} == {
            upn(i) for i in range(1, leaving + 1)}
        assert all(u.leaving_seen_at is None for u in got.values())
        assert school.counts["deactivated"] == 0
        assert len(school.held) == leaving  # the report names every held leaver
        assert school.limit == {"deactivations": leaving, "announced": 0, "pending": 0,
                                "active": active, "maximum": None, "force": False,
                                "held": True}
        assert str(leaving) in (school.message or "")
        last = runs(any_schools)[-1]
        assert (last.outcome, last.deactivated, last.held_state) == ("held", 0, "held")
        assert len(json.loads(last.held or "[]")) == leaving
        assert json.loads(last.report or "{}")["held"][0]["username"]
    else:
        assert (report.exit_code, school.outcome) == (0, "applied")
        assert school.counts["deactivated"] == leaving


def test_force_overrides_the_limit(any_schools: Store, write: Writer) -> None:
    _school_of(any_schools, write, 30)
    report = run(any_schools, [_leavers(write, 30, 15)], force=True)
    assert (report.exit_code, report.schools[0].counts["deactivated"]) == (0, 15)


@pytest.mark.parametrize("maximum,held", [(15, False), (20, False), (14, True)])
def test_max_deactivations_sets_the_limit(any_schools: Store, write: Writer, maximum: int,
                                          held: bool) -> None:
    _school_of(any_schools, write, 30)
    report = run(any_schools, [_leavers(write, 30, 15)], max_deactivations=maximum)
    assert report.exit_code == (3 if held else 0)


def test_max_deactivations_also_caps_a_small_run(any_schools: Store, write: Writer) -> None:
    _school_of(any_schools, write, 100)
    report = run(any_schools, [_leavers(write, 100, 5)], max_deactivations=3)
    assert report.exit_code == 3


# --- idempotency, dry run, invalid input ----------------------------------------------------

def test_a_second_run_of_the_same_file_changes_nothing(any_schools: Store, write: Writer) -> None:
    rows = [learner_row(i, leaving=LEFT if i == 3 else None, year=11 if i == 2 else 9)
            for i in range(1, 8)]
    first_file = write("a.csv", SIMS_LEARNERS, rows)
    staff = write("s.csv", SIMS_STAFF, [staff_row("ABC"), staff_row("XYZ", leaving=LEFT)])
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 8)]),
                      write("seed-s.csv", SIMS_STAFF, [staff_row("ABC"), staff_row("XYZ")])])
    first = run(any_schools, [first_file, staff])
    assert first.schools[0].counts["deactivated"] == 2
    before = table_dump(any_schools)
    second = run(any_schools, [first_file, staff])
    assert second.exit_code == 0
    assert all(v == 0 for v in second.schools[0].counts.values())
    assert table_dump(any_schools) == before
    assert runs(any_schools)[-1].outcome == "applied"


def test_dry_run_plans_and_changes_nothing(any_schools: Store, write: Writer) -> None:
    _school_of(any_schools, write, 30)
    before, runs_before = table_dump(any_schools), len(runs(any_schools))
    report = run(any_schools, [_leavers(write, 30, 15), write("n.csv", SIMS_STAFF,
                                                             [staff_row("ABC")])],
                 dry_run=True)
    school = report.schools[0]
    assert (report.exit_code, school.outcome, school.run_id) == (0, "planned", None)
    assert (len(school.held), school.counts["created"]) == (15, 1)
    assert school.limit is not None and school.limit["held"]  # the preview warns
    assert table_dump(any_schools) == before
    assert len(runs(any_schools)) == runs_before


def test_invalid_rows_reject_the_run_and_are_recorded(any_schools: Store, write: Writer) -> None:
    _school_of(any_schools, write, 3)
    before = table_dump(any_schools)
    bad = write("bad.csv", SIMS_LEARNERS, [learner_row(1, leaving=LEFT), learner_row(4),
                                           f"{upn(5)},Jones,,1,,,9,9A"])
    report = run(any_schools, [bad])
    school = report.schools[0]
    assert (report.exit_code, school.outcome) == (1, "rejected")
    assert school.errors == [f"{bad}:4:Legal Forename: required value missing"]
    assert table_dump(any_schools) == before
    last = runs(any_schools)[-1]
    assert (last.outcome, last.invalid, last.created, last.deactivated) == ("rejected", 1, 0, 0)
    assert json.loads(last.report or "{}")["errors"] == school.errors


def test_skip_invalid_applies_the_valid_rows(any_schools: Store, write: Writer) -> None:
    _school_of(any_schools, write, 3)
    bad = write("bad.csv", SIMS_LEARNERS, [learner_row(1, leaving=LEFT), learner_row(4),
                                           f"{upn(5)},Jones,,1,,,9,9A"])
    report = run(any_schools, [bad], skip_invalid=True)
    school = report.schools[0]
    assert (report.exit_code, school.outcome) == (0, "applied")
    assert school.errors == [f"{bad}:4:Legal Forename: required value missing"]
    assert (school.counts["created"], school.counts["deactivated"], school.counts["invalid"]) == (
        1, 1, 1)
    assert upn(5) not in users(any_schools)
    assert runs(any_schools)[-1].invalid == 1


def test_unreadable_file_rejects_even_with_skip_invalid(any_schools: Store, write: Writer) -> None:
    good = write("good.csv", SIMS_LEARNERS, [learner_row(1)])
    odd = write("odd.csv", "Name,Class", ["Siân,9A"])
    report = run(any_schools, [good, odd], skip_invalid=True)
    assert report.exit_code == 1
    assert users(any_schools) == {}


def test_unknown_school_is_rejected(any_schools: Store, write: Writer) -> None:
    report = run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])],
                 school="6619999")
    school = report.schools[0]
    assert (report.exit_code, school.outcome) == (1, "rejected")
    assert school.message is not None
    assert school.message.startswith("No school with DfES number 6619999 is registered")
    assert "hwb-tui schools add 6619999" in school.message
    assert users(any_schools) == {}


def test_the_run_record(any_schools: Store, write: Writer) -> None:
    a = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1), learner_row(2)])
    s = write("6612001_staff.csv", SIMS_STAFF, [staff_row("ABC")])
    report = run(any_schools, [a, s], school=None, as_of=date(2026, 11, 30))
    (record,) = runs(any_schools)
    assert record.id == report.schools[0].run_id
    assert (record.school, record.actor, record.outcome, record.dry_run) == (
        SCHOOL, PROVISIONING_ACTOR, "applied", False)
    assert json.loads(record.files) == [str(a), str(s)]
    assert json.loads(record.sha256) == [hashlib.sha256(p.read_bytes()).hexdigest()
                                         for p in (a, s)]
    assert record.format == "sims-learners,sims-staff"
    assert (record.as_of, record.created, record.invalid) == (date(2026, 11, 30), 3, 0)
    assert record.finished_at is not None and record.started_at <= record.finished_at
    assert json.loads(record.report or "{}")["counts"]["created"] == 3


# --- many schools in one command ------------------------------------------------------------

def test_many_schools_by_file_name_one_bad_school_blocks_only_itself(
        any_schools: Store, write: Writer) -> None:
    a = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1)])
    a2 = write("6612001_staff.csv", SIMS_STAFF, [staff_row("ABC")])
    b = write("6612002-learners.csv", SIMS_LEARNERS,
              [learner_row(1, dfes=OTHER), f"{upn(2, OTHER)},,Siân,1,,,9,9A"])
    report = run(any_schools, [b, a2, a], school=None)
    assert [(s.school, s.outcome) for s in report.schools] == [(SCHOOL, "applied"),
                                                             (OTHER, "rejected")]
    assert report.exit_code == 1
    got = users(any_schools)
    assert set(got) == {upn(1), f"{SCHOOL}/ABC"}
    data = report_as_dict(report)
    assert data["exit_code"] == 1
    assert [s["school"] for s in data["schools"]] == [SCHOOL, OTHER]
    assert data["schools"][1]["errors"] == [f"{b}:3:Legal Surname: required value missing"]
    json.dumps(data)  # plain JSON types only


def test_exit_status_is_the_worst_school(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("seed.csv", SIMS_LEARNERS,
                            [learner_row(i) for i in range(1, 21)])])
    held = write("6612001-x.csv", SIMS_LEARNERS,
                 [learner_row(i, leaving=LEFT) for i in range(1, 21)])
    rejected = write("6612002-x.csv", SIMS_LEARNERS, [",Jones,Siân,1,,,9,9A"])
    report = run(any_schools, [held, rejected], school=None)
    assert [s.exit_code for s in report.schools] == [3, 1]
    assert report.exit_code == 3


def test_file_names_without_a_dfes_number_need_school(any_schools: Store, write: Writer) -> None:
    f = write("learners.csv", SIMS_LEARNERS, [learner_row(1)])
    with pytest.raises(UsageError):
        run(any_schools, [f], school=None)
    with pytest.raises(UsageError):
        run(any_schools, [f], school="66120")
    assert run(any_schools, [f], school=SCHOOL).exit_code == 0


def test_a_learner_moving_between_two_schools_in_one_run(any_schools: Store,
                                                         write: Writer) -> None:
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, [learner_row(1)])])
    left = write("6612001-l.csv", SIMS_LEARNERS, [learner_row(1, leaving=LEFT)])
    joined = write("6612002-l.csv", SIMS_LEARNERS, [learner_row(1, admitted=date(2026, 11, 2))])
    report = run(any_schools, [left, joined], school=None)
    assert report.exit_code == 0
    account = users(any_schools)[upn(1)]
    assert (account.school, account.status) == (OTHER, ACTIVE)


def test_batched_usernames_match_one_at_a_time_allocation(any_schools: Store) -> None:
    from hwb_tui.core.accounts import allocate_username
    from tests import builders as b

    with any_schools.write() as s:
        for name in ("Jones", "Jones", "Jonesy", "Jones"):
            b.user(s, name, "Sam")
        names = [("Jones", "Siân"), ("JONES", "sara"), ("Jönes", "Sam"), ("Ap Iorwerth", "Ŵ")]
        batched = allocate_usernames(s, names)
        one_by_one = []
        for surname, forename in names:
            name = allocate_username(s, surname, forename)
            one_by_one.append(name)
            b.user(s, surname, forename)
    assert batched == one_by_one == ["JonesS4@hwbcymru.net", "JONESS5@hwbcymru.net",
                                     "JonesS6@hwbcymru.net", "ApIorwerthW@hwbcymru.net"]


def test_batched_usernames_fill_gaps_like_the_core(any_schools: Store) -> None:
    from sqlalchemy import update

    from hwb_tui.core.accounts import username_key_of
    from hwb_tui.core.models import User
    from tests import builders as b

    with any_schools.write() as s:
        for name in ("JonesS@hwbcymru.net", "JonesS3@hwbcymru.net", "JonesS12@hwbcymru.net"):
            u = b.user(s, "Jones", "Sam")
            s.execute(update(User).where(User.id == u.id)
                      .values(username=name, username_key=username_key_of(name)))
        names = [("Jones", "Siân")] * 4
        assert allocate_usernames(s, names) == [
            "JonesS2@hwbcymru.net", "JonesS4@hwbcymru.net", "JonesS5@hwbcymru.net",
            "JonesS6@hwbcymru.net"]
        assert allocate_usernames(s, [("Jonesfred", "Sam"), ("Wyn", "Ŵ")]) == [
            "JonesfredS@hwbcymru.net", "WynW@hwbcymru.net"]
        from hwb_tui.core.usernames import allocate_with_keys

        for username, key in allocate_with_keys(s, names + [("Ŵyn-Prŷs", "ïolo")]):
            assert key == username_key_of(username)


def test_deactivated_status_survives_a_re_run(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])])
    f = write("b.csv", SIMS_LEARNERS, [learner_row(1, leaving=LEFT)])
    run(any_schools, [f])
    run(any_schools, [f])
    assert users(any_schools)[upn(1)].status == DEACTIVATED
