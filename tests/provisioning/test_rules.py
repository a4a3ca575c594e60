"""The planner's rules of SPEC §1 and §3, applied end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from hwb_tui.core.access import PROVISIONING_ACTOR
from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent
from hwb_tui.provisioning.plan import rollover_until, standing
from hwb_tui.provisioning.readers import Record
from tests.provisioning.conftest import (
    OTHER,
    SCHOOL,
    SIMS_LEARNERS,
    SIMS_STAFF,
    TC_STAFF,
    Writer,
    learner_row,
    run,
    staff_row,
    upn,
    users,
)

TODAY = date(2026, 11, 30)


def test_create_gives_usernames_by_the_core_rule(any_schools: Store, write: Writer) -> None:
    f = write("l.csv", SIMS_LEARNERS, [learner_row(1, "Ŵyn", "Siân"),
                                       learner_row(2, "Wyn", "Sara"),
                                       learner_row(3, "O'Brien-Jones", "ïolo")])
    report = run(any_schools, [f])
    assert report.exit_code == 0
    assert report.schools[0].counts["created"] == 3
    got = users(any_schools)
    assert got[upn(1)].username == "WynS@hwbcymru.net"
    assert got[upn(2)].username == "WynS2@hwbcymru.net"
    assert got[upn(3)].username == "OBrienJonesI@hwbcymru.net"
    siân = got[upn(1)]
    assert (siân.kind, siân.source, siân.school, siân.status) == ("learner", "mis", SCHOOL, ACTIVE)
    assert (siân.surname, siân.forename, siân.surname_key) == ("Ŵyn", "Siân", "wyn")


def test_usernames_continue_after_existing_ones(any_schools: Store, write: Writer) -> None:
    from tests import builders as b

    with any_schools.write() as s:
        b.user(s, "Jones", "Sam")  # JonesS
        b.user(s, "Jones", "Sue")  # JonesS2
    f = write("l.csv", SIMS_LEARNERS, [learner_row(1, "Jones", "Siân"),
                                       learner_row(2, "Jones", "Sion")])
    run(any_schools, [f])
    got = users(any_schools)
    assert {got[upn(1)].username, got[upn(2)].username} == {"JonesS3@hwbcymru.net",
                                                            "JonesS4@hwbcymru.net"}


def test_update_changes_name_year_and_reg_but_never_the_username(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1, "Jones", "Siân")])])
    before = users(any_schools)[upn(1)]
    row = learner_row(1, "Prys", "Siân", year=10, reg="10P")
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, [row])])
    assert report.schools[0].counts["updated"] == 1
    after = users(any_schools)[upn(1)]
    assert after.username == before.username == "JonesS@hwbcymru.net"
    assert (after.surname, after.surname_key, after.year_group, after.reg_group) == (
        "Prys", "prys", 10, "10P")
    assert after.version == before.version + 1


@pytest.mark.parametrize("leaving,leaver", [(date(2026, 11, 29), True), (TODAY, True),
                                            (date(2026, 12, 1), False), (None, False)])
def test_leaver_is_a_leaving_date_on_or_before_the_run_date(
        any_schools: Store, write: Writer, leaving: date | None, leaver: bool) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])])
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1, leaving=leaving)])])
    account = users(any_schools)[upn(1)]
    assert account.status == (DEACTIVATED if leaver else ACTIVE)
    assert account.leaving_date == leaving
    if leaver:
        assert report.schools[0].counts["deactivated"] == 1
        assert account.deactivated_by == PROVISIONING_ACTOR
        assert account.deactivation_reason == "leaver"
        assert report.schools[0].deactivations[0]["username"] == account.username


def test_staff_leaver_and_staff_identity_is_school_and_code(
        any_schools: Store, write: Writer) -> None:
    a = write("6612001-staff.csv", SIMS_STAFF, [staff_row("ABC", "Jones", "Carys")])
    b = write("6612002-staff.csv", TC_STAFF, ["ABC,Evans,Huw,2015-09-01,,Teacher"])
    assert run(any_schools, [a, b], school=None).exit_code == 0
    got = users(any_schools)
    assert got[f"{SCHOOL}/ABC"].surname == "Jones"
    assert got[f"{OTHER}/ABC"].surname == "Evans"  # same code, other school: another person
    leave = write("6612001-staff2.csv", SIMS_STAFF,
                  [staff_row("ABC", "Jones", "Carys", leaving=date(2026, 8, 31))])
    run(any_schools, [leave], school=None)
    got = users(any_schools)
    assert got[f"{SCHOOL}/ABC"].status == DEACTIVATED
    assert got[f"{OTHER}/ABC"].status == ACTIVE


def test_absent_from_export_is_reported_never_deactivated(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1), learner_row(2)]),
                      write("s.csv", SIMS_STAFF, [staff_row("ABC")])])
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1)])])
    school = report.schools[0]
    assert school.counts["not_in_export"] == 1  # staff are not judged by a learners-only file
    assert school.not_in_export == [users(any_schools)[upn(2)].username]
    assert school.counts["deactivated"] == 0
    assert users(any_schools)[upn(2)].status == ACTIVE


def test_move_keeps_the_account_and_reactivates_it(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1, "Jones", "Siân")])])
    original = users(any_schools)[upn(1)]
    # school A records the leaving date: deactivated
    run(any_schools, [write("b.csv", SIMS_LEARNERS,
                            [learner_row(1, "Jones", "Siân", leaving=date(2026, 10, 23))])])
    assert users(any_schools)[upn(1)].status == DEACTIVATED
    # school B admits the learner: the same account moves and is active again
    row = learner_row(1, "Jones", "Siân", admitted=date(2026, 11, 2), year=10, reg="10B")
    report = run(any_schools, [write("c.csv", SIMS_LEARNERS, [row])], school=OTHER)
    assert report.schools[0].counts["moved"] == 1
    moved = users(any_schools)[upn(1)]
    assert (moved.id, moved.username) == (original.id, original.username)
    assert (moved.school, moved.status, moved.deactivated_at) == (OTHER, ACTIVE, None)
    assert moved.leaving_date is None and moved.reg_group == "10B"
    with any_schools.read() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "move")).scalar_one()
    assert event.school == OTHER
    assert json.loads(event.detail or "{}")["from_school"] == SCHOOL
    assert json.loads(event.detail or "{}")["activated"] is True


def test_move_of_an_active_learner(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])])
    row = learner_row(1, admitted=date(2026, 11, 2))
    run(any_schools, [write("c.csv", SIMS_LEARNERS, [row])], school=OTHER)
    assert users(any_schools)[upn(1)].school == OTHER


def test_late_leaving_record_does_not_touch_a_moved_account(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1)])])
    run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1, admitted=date(2026, 11, 2))])],
        school=OTHER)
    moved = users(any_schools)[upn(1)]
    late = write("late.csv", SIMS_LEARNERS, [learner_row(1, leaving=date(2026, 10, 30))])
    report = run(any_schools, [late])
    after = users(any_schools)[upn(1)]
    assert (after.school, after.status, after.version) == (OTHER, ACTIVE, moved.version)
    school = report.schools[0]
    assert school.counts["deactivated"] == 0
    assert school.notices == [{"what": "moved_away", "username": after.username,
                               "where": f"{late}:2", "other_school": OTHER}]


def test_stale_current_record_at_the_old_school_does_not_move_it_back(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1, admitted=date(2020, 9, 1))])])
    run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1, admitted=date(2026, 11, 2))])],
        school=OTHER)
    report = run(any_schools, [write("c.csv", SIMS_LEARNERS,
                                     [learner_row(1, admitted=date(2020, 9, 1))])])
    assert users(any_schools)[upn(1)].school == OTHER
    assert report.schools[0].notices[0]["what"] == "stale_move"


def test_activate_when_the_leaving_date_is_withdrawn(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1, leaving=date(2026, 12, 1))])])
    run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1, leaving=date(2026, 12, 1))])],
        as_of=date(2026, 12, 2))
    assert users(any_schools)[upn(1)].status == DEACTIVATED
    report = run(any_schools, [write("c.csv", SIMS_LEARNERS, [learner_row(1)])],
                 as_of=date(2026, 12, 3))
    assert report.schools[0].counts["activated"] == 1
    account = users(any_schools)[upn(1)]
    assert (account.status, account.deactivated_at, account.deactivation_reason) == (
        ACTIVE, None, None)


def test_a_leaver_without_an_account_gets_none(any_schools: Store, write: Writer) -> None:
    report = run(any_schools, [write("a.csv", SIMS_LEARNERS,
                                     [learner_row(1, leaving=date(2026, 7, 1))])])
    assert users(any_schools) == {}
    assert report.schools[0].notices[0]["what"] == "leaver_no_account"


# --- summer rollover -------------------------------------------------------------------------

def _record(year: int, leaving: date | None) -> Record:
    return Record("learner", upn(1), "Jones", "Siân", "f.csv", 2, leaving_date=leaving,
                  year_group=year)


@pytest.mark.parametrize("year,leaving,as_of,expected", [
    (11, date(2026, 7, 17), date(2026, 7, 20), ("deferred", date(2026, 8, 29))),
    (11, date(2026, 7, 17), date(2026, 8, 28), ("deferred", date(2026, 8, 29))),
    (11, date(2026, 7, 17), date(2026, 8, 29), ("leaver", None)),
    (11, date(2026, 7, 17), date(2026, 9, 3), ("leaver", None)),
    (12, date(2026, 6, 1), date(2026, 6, 1), ("deferred", date(2026, 8, 29))),
    (13, date(2026, 6, 30), date(2026, 7, 1), ("deferred", date(2026, 8, 29))),
    (11, date(2026, 5, 31), date(2026, 6, 2), ("leaver", None)),  # left before 1 June
    (10, date(2026, 7, 17), date(2026, 7, 20), ("leaver", None)),  # Year 10: no rollover
    (14, date(2026, 7, 17), date(2026, 7, 20), ("leaver", None)),
    (11, date(2026, 7, 17), date(2026, 7, 16), ("current", None)),  # not yet left
])
def test_rollover_table(year: int, leaving: date, as_of: date,
                        expected: tuple[str, date | None]) -> None:
    assert standing(_record(year, leaving), as_of) == expected


def test_rollover_needs_a_learner() -> None:
    record = _record(11, date(2026, 7, 17))
    record.kind = "staff"
    assert rollover_until(record) is None


def test_rollover_defers_then_applies_on_29_august(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS,
                            [learner_row(1, year=11), learner_row(2, year=10)])],
        as_of=date(2026, 7, 1))
    leavers = [learner_row(1, year=11, leaving=date(2026, 7, 17)),
               learner_row(2, year=10, leaving=date(2026, 7, 17))]
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, leavers)], as_of=date(2026, 7, 20))
    counts = report.schools[0].counts
    assert (counts["deferred"], counts["deactivated"]) == (1, 1)
    got = users(any_schools)
    assert (got[upn(1)].status, got[upn(1)].deferred_until) == (ACTIVE, date(2026, 8, 29))
    assert got[upn(2)].status == DEACTIVATED
    # the same file again on 28 August: nothing to do
    again = run(any_schools, [write("c.csv", SIMS_LEARNERS, leavers)], as_of=date(2026, 8, 28))
    assert sum(v for k, v in again.schools[0].counts.items() if k != "not_in_export") == 0
    # on 29 August the deferred deactivation applies
    final = run(any_schools, [write("d.csv", SIMS_LEARNERS, leavers)], as_of=date(2026, 8, 29))
    assert final.schools[0].counts["deactivated"] == 1
    assert users(any_schools)[upn(1)].status == DEACTIVATED


def test_deferred_deactivation_applies_even_when_the_export_drops_the_leaver(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS,
                            [learner_row(1, year=11, leaving=date(2026, 7, 17)),
                             learner_row(2)])], as_of=date(2026, 7, 20))
    assert users(any_schools)[upn(1)].deferred_until == date(2026, 8, 29)
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(2)])],
                 as_of=date(2026, 9, 2))
    assert report.schools[0].deactivations[0]["reason"] == "leaver-deferred"
    assert users(any_schools)[upn(1)].status == DEACTIVATED


def test_a_withdrawn_leaving_date_cancels_the_deferral(any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS,
                            [learner_row(1, year=12, leaving=date(2026, 7, 17))])],
        as_of=date(2026, 7, 20))
    run(any_schools, [write("b.csv", SIMS_LEARNERS, [learner_row(1, year=13)])],
        as_of=date(2026, 9, 2))
    account = users(any_schools)[upn(1)]
    assert (account.status, account.deferred_until, account.leaving_date) == (ACTIVE, None, None)


def test_every_change_is_audited_under_the_run_without_personal_data(
        any_schools: Store, write: Writer) -> None:
    run(any_schools, [write("a.csv", SIMS_LEARNERS, [learner_row(1, "Jones", "Siân"),
                                                     learner_row(2, "Prys", "Iolo")])])
    report = run(any_schools, [write("b.csv", SIMS_LEARNERS, [
        learner_row(1, "Llwyd", "Siân"), learner_row(2, "Prys", "Iolo", leaving=TODAY),
        learner_row(3, "Hughes", "Bethan")])])
    run_id = report.schools[0].run_id
    with any_schools.read() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.run_id == run_id)
                           .order_by(AuditEvent.id)).scalars().all()
    assert sorted(e.action for e in events) == ["create", "deactivate", "update"]
    assert {e.actor for e in events} == {PROVISIONING_ACTOR}
    assert {e.school for e in events} == {SCHOOL}
    assert all(e.user_id for e in events)
    text = " ".join(f"{e.detail} {e.reason}" for e in events)
    for personal in ("Llwyd", "Jones", "Prys", "Iolo", "Bethan", "Siân", upn(1)):
        assert personal not in text
    update = next(e for e in events if e.action == "update")
    assert json.loads(update.detail or "{}") == {"fields": ["surname"]}
