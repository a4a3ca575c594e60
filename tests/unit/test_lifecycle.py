"""The life of a non-MIS account: lifetimes, add, extend, expire, activate within 12 months, purge.

Store tests run on SQLite and, when HWB_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from hwb_tui.core import accounts, clock, housekeeping
from hwb_tui.core.access import HOUSEKEEPING_ACTOR
from hwb_tui.core.db import Store
from hwb_tui.core.errors import (
    AccountPurged,
    ActivationWindowPassed,
    AlreadyDeactivated,
    InvalidValue,
    ManagedByMIS,
    UserNotFound,
)
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, User
from tests import builders as b


@pytest.mark.parametrize(("today", "lifetime", "end"), [
    (date(2026, 3, 15), "1m", date(2026, 4, 15)),
    (date(2026, 3, 15), "3m", date(2026, 6, 15)),
    (date(2026, 3, 15), "6m", date(2026, 9, 15)),
    (date(2026, 1, 31), "1m", date(2026, 2, 28)),   # clamped to the month's end
    (date(2028, 1, 31), "1m", date(2028, 2, 29)),   # ... in a leap year
    (date(2026, 8, 31), "6m", date(2027, 2, 28)),
    (date(2026, 5, 31), "3m", date(2026, 8, 31)),
    (date(2026, 11, 30), "1m", date(2026, 12, 30)),
    (date(2026, 3, 15), "year", date(2026, 8, 31)),
    (date(2026, 8, 30), "year", date(2026, 8, 31)),
    (date(2026, 8, 31), "year", date(2026, 8, 31)),  # on the last day: this academic year
    (date(2026, 9, 1), "year", date(2027, 8, 31)),   # the day after: the next one
    (date(2026, 12, 31), "year", date(2027, 8, 31)),
])
def test_lifetime_end(today: date, lifetime: str, end: date) -> None:
    assert accounts.lifetime_end(lifetime, today) == end


@pytest.mark.parametrize("lifetime", ["2m", "12m", "", "YEAR", "forever"])
def test_unknown_lifetime_is_refused(lifetime: str) -> None:
    with pytest.raises(InvalidValue):
        accounts.lifetime_end(lifetime, date(2026, 3, 15))


def _setup(store: Store) -> None:
    with store.write() as s:
        b.school(s)
        b.school(s, "6612002", "Ysgol y Graig")
        b.operator(s, "admin")
        b.operator(s, "champion", role="digital-champion", schools=("6612001",))


def _events(session: Session, user_id: int) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.user_id == user_id)
                             .order_by(col(AuditEvent.id))).all())


@pytest.mark.parametrize("lifetime", accounts.LIFETIMES)
def test_add_user_has_a_lifetime_and_is_audited(any_store: Store, lifetime: str) -> None:
    _setup(any_store)
    champion = b.actor(any_store, "champion")
    today = date(2026, 1, 31)
    with any_store.write() as s:
        u = accounts.add_user(s, champion, kind="governor", school="6612001", surname="Ap Iorwerth",
                              forename="Siân", lifetime=lifetime, today=today)
        uid = u.id
    with any_store.read() as s:
        u = s.get(User, uid)
        assert u is not None
        assert u.expires_on == accounts.lifetime_end(lifetime, today)
        assert (u.username, u.status, u.source) == ("ApIorwerthS@hwbcymru.net", ACTIVE, "non-mis")
        [event] = _events(s, uid)
    assert (event.actor, event.action, event.school) == ("champion", "add", "6612001")
    assert json.loads(event.detail or "{}") == {"kind": "governor", "lifetime": lifetime}


def test_add_user_refuses_bad_lifetime_and_mis_kinds(any_store: Store) -> None:
    _setup(any_store)
    admin = b.actor(any_store, "admin")
    for kind, lifetime in (("governor", "2y"), ("learner", "1m"), ("staff", "year")):
        with pytest.raises(InvalidValue), any_store.write() as s:
            accounts.add_user(s, admin, kind=kind, school="6612001", surname="Jones",
                              forename="Sian", lifetime=lifetime)
    with any_store.read() as s:
        assert s.exec(select(User)).all() == [] and s.exec(select(AuditEvent)).all() == []


def test_extend_gives_a_new_lifetime_from_today_audited(any_store: Store) -> None:
    _setup(any_store)
    with any_store.write() as s:
        uid = b.user(s, "Jones", "Sian", expires_on=date(2026, 3, 10)).id
    champion = b.actor(any_store, "champion")
    with any_store.write() as s:
        change = accounts.extend(s, champion, uid, "6m", today=date(2026, 3, 10))
    assert change.action == "extend" and change.user.expires_on == date(2026, 9, 10)
    with any_store.read() as s:
        u = s.get(User, uid)
        assert u is not None and u.version == 2 and u.expires_on == date(2026, 9, 10)
        [event] = _events(s, uid)
    assert (event.actor, event.action) == ("champion", "extend")
    assert json.loads(event.detail or "{}") == {"lifetime": "6m", "expires_on": "2026-09-10"}
    # Extended on its last day, it is not expired the day after.
    with any_store.write() as s:
        assert housekeeping.expire(s, date(2026, 3, 11)) == []


def test_extend_refuses_deactivated_mis_and_out_of_scope(any_store: Store) -> None:
    _setup(any_store)
    with any_store.write() as s:
        off = b.user(s, "Evans", "Ann", status=DEACTIVATED).id
        learner = b.user(s, "Owen", "Cai", kind="learner", upn=b.learner_upn("6612001", 1)).id
        elsewhere = b.user(s, "Rees", "Non", school="6612002", expires_on=date(2026, 3, 1)).id
    champion = b.actor(any_store, "champion")
    for uid, error in ((off, AlreadyDeactivated), (learner, ManagedByMIS)):
        with pytest.raises(error), any_store.write() as s:
            accounts.extend(s, champion, uid, "1m")
    with pytest.raises(UserNotFound), any_store.write() as s:  # outside scope: not seen at all
        accounts.extend(s, champion, elsewhere, "1m")
    with any_store.read() as s:
        assert s.exec(select(AuditEvent)).all() == []


@pytest.mark.parametrize(("deactivated", "last_day"), [
    (datetime(2025, 3, 10, 0, 5, tzinfo=UTC), date(2026, 3, 10)),
    (datetime(2024, 2, 29, 23, 55, tzinfo=UTC), date(2025, 2, 28)),  # 29 Feb: clamped
    (datetime(2025, 8, 31, 12, tzinfo=UTC), date(2026, 8, 31)),
])
def test_activation_allowed_through_twelve_months_to_the_day(
        any_store: Store, deactivated: datetime, last_day: date) -> None:
    _setup(any_store)
    with any_store.write() as s:
        on_time = b.user(s, "Jones", "Sian", status=DEACTIVATED, deactivated_at=deactivated).id
        late = b.user(s, "Evans", "Ann", status=DEACTIVATED, deactivated_at=deactivated).id
    admin = b.actor(any_store, "admin")
    with any_store.write() as s:
        assert accounts.activate(s, admin, on_time, today=last_day).user.status == ACTIVE
    with pytest.raises(ActivationWindowPassed), any_store.write() as s:
        accounts.activate(s, admin, late, today=last_day + timedelta(days=1))
    with any_store.read() as s:
        # the one refused is due for purge from that same day, not before
        assert housekeeping.due_for_purge(s, last_day) == []
        due = housekeeping.due_for_purge(s, last_day + timedelta(days=1))
        assert [u.id for u in due] == [late]


def test_activating_an_expired_account_gives_it_a_lifetime_again(any_store: Store) -> None:
    _setup(any_store)
    with any_store.write() as s:
        uid = b.user(s, "Jones", "Sian", expires_on=date(2026, 3, 10)).id
    with any_store.write() as s:
        housekeeping.expire(s, date(2026, 3, 11))
    with any_store.write() as s:
        change = accounts.activate(s, b.actor(any_store, "admin"), uid, today=date(2026, 3, 12))
    # without a new lifetime the next run would end it again at once
    assert change.user.expires_on == date(2026, 8, 31)
    with any_store.write() as s:
        assert housekeeping.expire(s, date(2026, 3, 13)) == []


def test_a_governor_from_add_to_purge(any_store: Store) -> None:
    """SPEC issue 7's 'done when': added, extended, expired, activated, deactivated, purged,
    every step audited, and the trail still joins the tombstone."""
    _setup(any_store)
    champion = b.actor(any_store, "champion")
    today = clock.now().date()
    with any_store.write() as s:
        uid = accounts.add_user(s, champion, kind="governor", school="6612001",
                                surname="Llewelyn", forename="Gwenllian", lifetime="1m",
                                today=today).id
    with any_store.write() as s:
        end = accounts.extend(s, champion, uid, "3m", today=today).user.expires_on
    assert end == clock.add_months(today, 3)
    with any_store.write() as s:
        assert housekeeping.expire(s, end) == []
        assert [a.id for a in housekeeping.expire(s, end + timedelta(days=1))] == [uid]
    with any_store.write() as s:
        accounts.activate(s, champion, uid, today=end + timedelta(days=2))
    with any_store.write() as s:
        accounts.deactivate(s, champion, uid)
    due_day = clock.add_months(clock.now().date(), 12) + timedelta(days=1)
    with any_store.write() as s:
        assert housekeeping.purge(s, due_day - timedelta(days=1)) == []
        assert [a.id for a in housekeeping.purge(s, due_day)] == [uid]
    with pytest.raises(AccountPurged), any_store.write() as s:
        accounts.activate(s, champion, uid, today=due_day)
    with any_store.read() as s:
        u = s.get(User, uid)
        assert u is not None and u.username == f"purged-{uid}@hwbcymru.net" and u.surname == ""
        trail = [(e.actor, e.action, e.reason) for e in _events(s, uid)]
    assert trail == [
        ("champion", "add", None),
        ("champion", "extend", None),
        (HOUSEKEEPING_ACTOR, "deactivate", "expired"),
        ("champion", "activate", None),
        ("champion", "deactivate", "manual"),
        (HOUSEKEEPING_ACTOR, "purge", None),
    ]


def test_extend_headlessly(store: Store, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """`users extend` gives a governor a new lifetime from today, audited, like Manage User."""
    from hwb_tui.cli import main

    with store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        governor = b.user(s, "Jones", "Siân", expires_on=date(2026, 12, 1))
        gid = governor.id
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    assert main(["--db", store.url, "users", "extend", "JonesS@hwbcymru.net",
                 "--lifetime", "3m"]) == 0
    today = clock.now().date()
    with store.read() as s:
        user = s.get(User, gid)
        assert user is not None and user.expires_on == clock.add_months(today, 3)
        actions = list(s.exec(select(AuditEvent.action).where(col(AuditEvent.user_id) == gid)))
    assert actions == ["extend"]
    assert clock.add_months(today, 3).isoformat() in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:  # a lifetime must be named
        main(["--db", store.url, "users", "extend", "JonesS@hwbcymru.net"])
    assert usage.value.code == 2
