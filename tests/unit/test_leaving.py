"""Leaving soon: every account in scope whose access ends within N days, with the date and why."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from hwb_tui.core import access, directory, leaving
from hwb_tui.core.db import Store
from hwb_tui.core.leaving import Ending, LeavingReason
from hwb_tui.core.models import DEACTIVATED, User
from hwb_tui.provisioning import ProvisionOptions, provision
from tests import builders as b
from tests.provisioning.conftest import SIMS_LEARNERS, csv_bytes, learner_row

HOME, AWAY = "6612001", "6612002"
TODAY = date(2027, 5, 10)


def _seed(store: Store) -> dict[str, int]:
    """One account for each way access ends (and some that do not end soon)."""
    ids: dict[str, int] = {}
    with store.write() as s:
        b.two_schools(s, HOME, AWAY)

        def add(key: str, surname: str, school: str = HOME, **kw: object) -> User:
            extra = {k: kw.pop(k) for k in ("leaving_date", "deferred_until") if k in kw}
            u = b.user(s, surname, "Ann", school=school, **kw)  # type: ignore[arg-type]
            for name, value in extra.items():
                setattr(u, name, value)
            assert u.id is not None
            ids[key] = u.id
            return u

        # summer rollover, deferred by a run: ends on 29 August (already recorded)
        add("deferred", "Deferred", kind="learner", upn=b.learner_upn(HOME, 1), year_group=11,
            leaving_date=date(2026, 7, 20), deferred_until=date(2026, 8, 29))
        # a leaving date still to come, seen in an export
        add("leaving", "Leaving", kind="staff", staff_code="LVG",
            leaving_date=TODAY + timedelta(days=20))
        # a non-MIS lifetime ending
        add("lifetime", "Lifetime", kind="ite", expires_on=TODAY + timedelta(days=30))
        # not soon: a lifetime a year away, a leaving date a year away, no end at all
        add("later", "Later", kind="governor", expires_on=TODAY + timedelta(days=365))
        add("far", "Far", kind="learner", upn=b.learner_upn(HOME, 2), year_group=9,
            leaving_date=TODAY + timedelta(days=365))
        add("current", "Current", kind="learner", upn=b.learner_upn(HOME, 3), year_group=9)
        # a Year 13 leaver on 1 July: within 60 days, but the rollover keeps access until 29 Aug
        add("rolled", "Rolled", kind="learner", upn=b.learner_upn(HOME, 4), year_group=13,
            leaving_date=date(2027, 7, 1))
        # already deactivated: nothing left to end
        add("gone", "Gone", kind="ite", expires_on=TODAY, status=DEACTIVATED)
        # another school's ending lifetime: outside a champion's scope
        add("away", "Away", school=AWAY, kind="governor", expires_on=TODAY + timedelta(days=3))
    return ids


def _leaving(store: Store, login: str, days: int, today: date = TODAY) -> dict[str, Ending]:
    with store.read() as s:
        actor = access.load_actor(s, login)
        q = directory.Query(view="all", status="leaving", today=today, within_days=days)
        users = directory.page(s, actor, q, limit=1000)
        assert directory.count(s, actor, q) == len(users)
    found: dict[str, Ending] = {}
    for u in users:
        ending = leaving.ends(u)
        assert ending is not None and ending.on <= today + timedelta(days=days), u.username
        found[u.surname] = ending
    return found


def test_each_of_the_three_reasons_with_its_date(any_store: Store) -> None:
    _seed(any_store)
    found = _leaving(any_store, "admin", 60)
    assert found == {
        "Deferred": Ending(date(2026, 8, 29), LeavingReason.ROLLOVER),
        "Leaving": Ending(TODAY + timedelta(days=20), LeavingReason.LEAVING_DATE),
        "Lifetime": Ending(TODAY + timedelta(days=30), LeavingReason.LIFETIME),
        "Away": Ending(TODAY + timedelta(days=3), LeavingReason.LIFETIME),
    }
    # the days bound the list: within 25 days the lifetime (30) is not yet soon
    assert set(_leaving(any_store, "admin", 25)) == {"Deferred", "Leaving", "Away"}
    # a champion sees their own school's only
    assert set(_leaving(any_store, "champion", 60)) == {"Deferred", "Leaving", "Lifetime"}


def test_a_future_leaving_date_in_the_rollover_ends_on_29_august(any_store: Store) -> None:
    _seed(any_store)
    # 1 July is 52 days away, but a Year 13 leaver keeps access until 29 August (111 days)
    assert "Rolled" not in _leaving(any_store, "admin", 60)
    assert _leaving(any_store, "admin", 111)["Rolled"] == Ending(date(2027, 8, 29),
                                                                LeavingReason.ROLLOVER)
    assert "Rolled" not in _leaving(any_store, "admin", 110)


def test_sql_and_the_rule_agree_for_every_window(any_store: Store) -> None:
    """`leaving.clause` (the SQL) and `leaving.ends` (one account) are the same rule: for each
    window around the rollover's edges, the accounts listed are exactly those `ends` places in
    it."""
    _seed(any_store)
    with any_store.write() as s:
        for i, (year, leave) in enumerate([(11, date(2027, 6, 1)), (12, date(2027, 5, 31)),
                                           (13, date(2027, 8, 28)), (11, date(2027, 8, 29)),
                                           (None, date(2027, 7, 1)), (10, date(2027, 7, 1))]):
            u = b.user(s, f"Edge{i}", "Cai", kind="learner", upn=b.learner_upn(HOME, 20 + i),
                       year_group=year)
            u.leaving_date = leave
    with any_store.read() as s:
        everyone = list(s.exec(select(User)).all())
    for days in (0, 21, 22, 60, 110, 111, 112, 200, 400):
        last = TODAY + timedelta(days=days)
        expected = {u.surname for u in everyone
                    if (e := leaving.ends(u)) is not None and e.on <= last}
        assert set(_leaving(any_store, "admin", days)) == expected, days


def test_a_run_records_a_future_leaving_date_and_the_list_shows_it(store: Store,
                                                                   tmp_path: Path) -> None:
    with store.write() as s:
        b.school(s, HOME)
        b.operator(s, "admin")
    export = tmp_path / f"{HOME}-learners.csv"
    export.write_bytes(csv_bytes(SIMS_LEARNERS, [
        learner_row(1, "Prys", leaving=TODAY + timedelta(days=10), year=9),
        learner_row(2, "Rhys", leaving=date(2027, 7, 1), year=11),
        learner_row(3, "Wyn"),
    ]))
    provision(store, [export], HOME, ProvisionOptions(as_of=TODAY))
    found = _leaving(store, "admin", 120)
    assert found == {"Prys": Ending(TODAY + timedelta(days=10), LeavingReason.LEAVING_DATE),
                     "Rhys": Ending(date(2027, 8, 29), LeavingReason.ROLLOVER)}
    # in July the same export defers Rhys's deactivation (recorded by the run) and ends Prys
    summer = date(2027, 7, 25)
    provision(store, [export], HOME, ProvisionOptions(as_of=summer))
    with store.read() as s:
        rhys = s.exec(select(User).where(User.surname == "Rhys")).one()
    assert rhys.deferred_until == date(2027, 8, 29)
    assert _leaving(store, "admin", 35, today=summer) == {
        "Rhys": Ending(date(2027, 8, 29), LeavingReason.ROLLOVER)}
    assert _leaving(store, "admin", 34, today=summer) == {}


# ---- the CLI -----------------------------------------------------------------------------------

def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], login: str,
         *args: str) -> tuple[int, str, str]:
    return b.run_cli(capsys, *args, login=login, monkeypatch=monkeypatch)


def _today_is(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    from datetime import UTC, datetime

    from hwb_tui.core import clock

    monkeypatch.setattr(clock, "now", lambda: datetime(day.year, day.month, day.day, 9,
                                                       tzinfo=UTC))


def test_cli_leaving_within_json_csv_and_table(cli_store: Store, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _seed(cli_store)
    _today_is(monkeypatch, TODAY)
    code, out, err = _cli(monkeypatch, capsys, "champion", "users", "list",
                          "--leaving-within", "60", "--json")
    assert code == 0, err
    rows = {r["surname"]: r for r in json.loads(out)}
    assert set(rows) == {"Deferred", "Leaving", "Lifetime"}
    assert rows["Deferred"]["access_ends_on"] == "2026-08-29"
    assert rows["Deferred"]["leaving_reason"] == "rollover"
    assert rows["Leaving"]["leaving_reason"] == "leaving-date"
    assert rows["Lifetime"]["leaving_reason"] == "lifetime"
    assert rows["Lifetime"]["access_ends_on"] == (TODAY + timedelta(days=30)).isoformat()

    code, out, err = _cli(monkeypatch, capsys, "champion", "users", "list",
                          "--leaving-within", "60", "--csv")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["surname"]: r["leaving_reason"] for r in table} == {
        "Deferred": "rollover", "Leaving": "leaving-date", "Lifetime": "lifetime"}

    code, out, err = _cli(monkeypatch, capsys, "champion", "--lang", "cy", "users", "list",
                          "--leaving-within", "60")
    assert code == 0, err
    assert "29 Awst" in out and "diwedd oes y cyfrif" in out and "2026-08-29" in out


def test_cli_leaving_within_refuses_bad_days_and_a_disabled_operator(
        cli_store: Store, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed(cli_store)
    for bad in ("-1", "soon", "99999"):
        code, out, err = _cli(monkeypatch, capsys, "admin", "users", "list",
                              "--leaving-within", bad)
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and bad in err, err
    code, out, err = _cli(monkeypatch, capsys, "admin", "users", "list", "--leaving-within",
                          "5", "--status", "active")
    assert code == 2, err
