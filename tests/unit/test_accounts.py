"""Deactivate, activate and the ITE rule: permissions, one transaction with its audit event, and
two operators racing on one user. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from hwb_tui.core import accounts
from hwb_tui.core.db import Store
from hwb_tui.core.errors import (
    ActivationWindowPassed,
    AlreadyActive,
    AlreadyDeactivated,
    HwbError,
    ITEMustBeInformed,
    ManagedByMIS,
    UserNotFound,
)
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, User
from tests import builders as b

HERE, THERE = "6612001", "6612002"


@pytest.fixture
def db(any_store: Store) -> Store:
    with any_store.write() as s:
        b.school(s, HERE)
        b.school(s, THERE, "Ysgol y Graig")
        b.operator(s, "admin")
        b.operator(s, "admin2")
        b.operator(s, "champion", role="digital-champion", schools=(HERE,))
    return any_store


def _add(store: Store, surname: str, forename: str, **kw: object) -> int:
    with store.write() as s:
        u = b.user(s, surname, forename, **kw)  # type: ignore[arg-type]
        assert u.id is not None
        return u.id


def _user(store: Store, user_id: int) -> User:
    with store.read() as s:
        u = s.get(User, user_id)
        assert u is not None
        return u


def _events(store: Store, user_id: int) -> list[AuditEvent]:
    with store.read() as s:
        return list(s.exec(select(AuditEvent).where(col(AuditEvent.user_id) == user_id)
                           .order_by(col(AuditEvent.id))).all())


def test_deactivate_a_governor_records_who_when_and_why_with_an_audit_event(db: Store) -> None:
    uid = _add(db, "Jones", "Siân")
    admin = b.actor(db, "admin")
    with db.write() as s:
        change = accounts.deactivate(s, admin, uid)
    assert change.action == "deactivate"
    u = _user(db, uid)
    assert u.status == DEACTIVATED
    assert u.deactivated_by == "admin" and u.deactivated_at is not None
    assert u.deactivation_reason == "manual"
    assert u.version == 2
    events = _events(db, uid)
    assert [(e.actor, e.action, e.reason) for e in events] == [("admin", "deactivate", "manual")]
    assert events[0].school == HERE


@pytest.mark.parametrize("kind", ["learner", "staff"])
def test_mis_accounts_are_never_deactivated_or_activated_by_hand(db: Store, kind: str) -> None:
    extra = {"upn": b.learner_upn(HERE, 1)} if kind == "learner" else {"staff_code": "JON"}
    active = _add(db, "Jones", "Siân", kind=kind, **extra)
    extra2 = {"upn": b.learner_upn(HERE, 2)} if kind == "learner" else {"staff_code": "EVA"}
    gone = _add(db, "Evans", "Aled", kind=kind, status=DEACTIVATED, **extra2)
    admin = b.actor(db, "admin")
    with pytest.raises(ManagedByMIS), db.write() as s:
        accounts.deactivate(s, admin, active)
    with pytest.raises(ManagedByMIS), db.write() as s:
        accounts.activate(s, admin, gone)
    assert _user(db, active).status == ACTIVE
    assert _user(db, gone).status == DEACTIVATED
    assert _events(db, active) == [] and _events(db, gone) == []


def test_managed_by_mis_message_says_to_use_the_mis() -> None:
    assert "MIS" in ManagedByMIS().message("en")
    assert "MIS" in ManagedByMIS().message("cy")


def test_ite_student_needs_to_be_informed_first(db: Store) -> None:
    uid = _add(db, "Price", "Gwenllïan", kind="ite")
    admin = b.actor(db, "admin")
    with pytest.raises(ITEMustBeInformed), db.write() as s:
        accounts.deactivate(s, admin, uid)
    assert _user(db, uid).status == ACTIVE
    assert _events(db, uid) == []
    before = datetime.now(UTC).replace(microsecond=0)
    with db.write() as s:
        accounts.deactivate(s, admin, uid, ite_informed=True)
    u = _user(db, uid)
    assert u.status == DEACTIVATED
    assert u.ite_informed_by == "admin"
    assert u.ite_informed_at is not None
    assert u.ite_informed_at.replace(tzinfo=UTC) >= before
    assert [(e.action, e.actor) for e in _events(db, uid)] == [
        ("ite_informed", "admin"), ("deactivate", "admin")]


def test_a_champion_acts_only_on_their_schools(db: Store) -> None:
    mine = _add(db, "Jones", "Siân", school=HERE)
    theirs = _add(db, "Jones", "Sian", school=THERE)
    champion = b.actor(db, "champion")
    with pytest.raises(UserNotFound), db.write() as s:
        accounts.deactivate(s, champion, theirs)
    with db.write() as s:
        accounts.deactivate(s, champion, mine)
    assert _user(db, theirs).status == ACTIVE
    assert _user(db, mine).deactivated_by == "champion"


def _deactivated_on(db: Store, day: date) -> int:
    return _add(db, "Owen", "Huw", status=DEACTIVATED,
                deactivated_at=datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC))


def test_activation_is_allowed_up_to_twelve_months_to_the_day(db: Store) -> None:
    uid = _deactivated_on(db, date(2025, 3, 15))
    admin = b.actor(db, "admin")
    with db.write() as s:
        accounts.activate(s, admin, uid, today=date(2026, 3, 15))
    u = _user(db, uid)
    assert u.status == ACTIVE and u.deactivated_at is None and u.deactivated_by is None
    assert [e.action for e in _events(db, uid)] == ["activate"]


def test_activation_is_refused_the_day_after_twelve_months(db: Store) -> None:
    uid = _deactivated_on(db, date(2025, 3, 15))
    admin = b.actor(db, "admin")
    with pytest.raises(ActivationWindowPassed), db.write() as s:
        accounts.activate(s, admin, uid, today=date(2026, 3, 16))
    assert _user(db, uid).status == DEACTIVATED
    assert _events(db, uid) == []


def test_activating_an_active_user_is_refused(db: Store) -> None:
    uid = _add(db, "Jones", "Siân")
    with pytest.raises(AlreadyActive), db.write() as s:
        accounts.activate(s, b.actor(db, "admin"), uid)


def test_a_failure_after_the_update_rolls_back_change_and_audit_together(db: Store) -> None:
    uid = _add(db, "Jones", "Siân")
    admin = b.actor(db, "admin")
    with pytest.raises(RuntimeError), db.write() as s:
        accounts.deactivate(s, admin, uid)
        s.flush()
        raise RuntimeError("the disk filled up")
    u = _user(db, uid)
    assert u.status == ACTIVE and u.version == 1 and u.deactivated_by is None
    assert _events(db, uid) == []


def test_stale_view_loses_to_the_change_already_made(db: Store) -> None:
    """The guard itself: an operator acting on what they saw, after another changed it."""
    uid = _add(db, "Jones", "Siân")
    admin = b.actor(db, "admin")
    with pytest.raises(AlreadyDeactivated) as lost, db.write() as s:
        seen = s.get(User, uid)  # what this operator's screen shows: active, version 1
        assert seen is not None and seen.status == ACTIVE
        # meanwhile another operator's change lands (without this session noticing)
        s.execute(update(User).where(col(User.id) == uid).values(
            status=DEACTIVATED, deactivated_by="admin2", version=2,
            deactivated_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        ).execution_options(synchronize_session=False))
        assert seen.status == ACTIVE  # still the stale view
        accounts.deactivate(s, admin, uid)
    assert "admin2" in lost.value.message("en")
    assert [e.action for e in _events(db, uid)] == []


@pytest.mark.parametrize("round_", range(3))
def test_two_operators_deactivating_at_once_one_wins_nothing_twice(db: Store,
                                                                     round_: int) -> None:
    uid = _add(db, "Jones", f"Siân{round_}")
    actors = [b.actor(db, "admin"), b.actor(db, "admin2")]
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(i: int) -> None:
        actor = actors[i]
        start.wait()
        try:
            with db.write() as s:
                accounts.deactivate(s, actor, uid)
            outcomes[actor.login] = "won"
        except HwbError as exc:
            outcomes[actor.login] = exc

    threads = [threading.Thread(target=act, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    winners = [login for login, result in outcomes.items() if result == "won"]
    losers = [result for result in outcomes.values() if result != "won"]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    loser = losers[0]
    assert isinstance(loser, AlreadyDeactivated), loser
    assert winners[0] in loser.message("en")  # "already deactivated by <winner>"
    assert _user(db, uid).deactivated_by == winners[0]
    events = _events(db, uid)
    assert [(e.action, e.actor) for e in events] == [("deactivate", winners[0])]


def test_usernames_get_collision_numbers_case_insensitively(db: Store) -> None:
    admin = b.actor(db, "admin")
    made = []
    with db.write() as s:
        for surname, forename in [("Jones", "Ffion"), ("Jones", "Fflur"), ("JONES", "fred"),
                                  ("jones", "Ffion"), ("Jônes", "Ffion"), ("Jones", "Siân")]:
            made.append(accounts.add_user(s, admin, kind="governor", school=HERE,
                                          surname=surname, forename=forename).username)
    assert made == ["JonesF@hwbcymru.net", "JonesF2@hwbcymru.net", "JONESF3@hwbcymru.net",
                    "JonesF4@hwbcymru.net", "JonesF5@hwbcymru.net", "JonesS@hwbcymru.net"]

