"""Housekeeping: expiry of non-MIS lifetimes, the purge window, tombstones, and the CLI job.

Store tests run on SQLite and, when HWB_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session, col, select

from hwb_tui.cli import main
from hwb_tui.core import accounts, clock, housekeeping
from hwb_tui.core.access import HOUSEKEEPING_ACTOR
from hwb_tui.core.db import Store
from hwb_tui.core.errors import AccountPurged, DatabaseUnavailable
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, School, User
from tests import builders as b

D = date(2026, 3, 10)  # the last day of a lifetime in these tests


def _seed(store: Store, build: Callable[[Session], Any]) -> Any:
    with store.write() as s:
        if s.get(School, "6612001") is None:
            b.school(s)
        return build(s)


def _user(store: Store, user_id: int) -> User:
    with store.read() as s:
        u = s.get(User, user_id)
        assert u is not None
        return u


def _audit(store: Store, user_id: int | None = None) -> list[AuditEvent]:
    with store.read() as s:
        stmt = select(AuditEvent).order_by(col(AuditEvent.id))
        if user_id is not None:
            stmt = stmt.where(AuditEvent.user_id == user_id)
        return list(s.exec(stmt).all())


def _stamp(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# --- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("as_of", "expired"), [
    (D - timedelta(days=1), False),  # the day before the lifetime ends
    (D, False),                      # the last day of the lifetime: still usable
    (D + timedelta(days=1), True),   # the day after: deactivated
])
def test_expiry_at_the_boundary(any_store: Store, as_of: date, expired: bool) -> None:
    uid = _seed(any_store, lambda s: b.user(s, "Jones", "Siân", expires_on=D).id)
    done = _run_expire(any_store, as_of)
    u = _user(any_store, uid)
    if not expired:
        assert done == [] and u.status == ACTIVE and _audit(any_store) == []
        return
    assert [a.id for a in done] == [uid]
    assert u.status == DEACTIVATED
    assert u.deactivation_reason == "expired"
    assert u.deactivated_by == HOUSEKEEPING_ACTOR
    assert u.deactivated_at is not None and u.version == 2
    [event] = _audit(any_store)
    assert (event.actor, event.action, event.reason, event.user_id, event.school) == (
        HOUSEKEEPING_ACTOR, "deactivate", "expired", uid, "6612001")
    assert json.loads(event.detail or "{}") == {"as_of": as_of.isoformat(),
                                                "expires_on": D.isoformat()}


def _run_expire(store: Store, as_of: date) -> list[housekeeping.Account]:
    with store.write() as s:
        return housekeeping.expire(s, as_of)


def test_expire_touches_only_active_non_mis_accounts_with_a_lifetime(any_store: Store) -> None:
    past = D - timedelta(days=30)

    def build(s: Session) -> dict[str, int]:
        return {
            "governor": b.user(s, "Evans", "Ann", expires_on=past).id,
            "ite": b.user(s, "Hughes", "Ifan", kind="ite", expires_on=past).id,
            "la": b.user(s, "Price", "Lowri", kind="la", expires_on=past).id,
            "no_lifetime": b.user(s, "Roberts", "Dai").id,
            "already_off": b.user(s, "Morgan", "Eli", status=DEACTIVATED, expires_on=past).id,
            "learner": b.user(s, "Owen", "Cai", kind="learner", expires_on=past,
                              upn=b.learner_upn("6612001", 1)).id,
            "staff": b.user(s, "Rees", "Non", kind="staff", staff_code="NR",
                            expires_on=past).id,
            "later": b.user(s, "Lewis", "Gwen", expires_on=D + timedelta(days=1)).id,
        }

    ids = _seed(any_store, build)
    done = _run_expire(any_store, D)
    assert sorted(a.id for a in done) == sorted([ids["governor"], ids["ite"], ids["la"]])
    for name in ("no_lifetime", "learner", "staff", "later"):
        assert _user(any_store, ids[name]).status == ACTIVE, name
    assert _user(any_store, ids["already_off"]).deactivated_by == "seed"
    assert len(_audit(any_store)) == 3


def test_expire_is_idempotent(any_store: Store) -> None:
    _seed(any_store, lambda s: [b.user(s, "Jones", f"A{i}", expires_on=D) for i in range(3)])
    assert len(_run_expire(any_store, D + timedelta(days=1))) == 3
    versions = {u.id: u.version for u in _all_users(any_store)}
    assert _run_expire(any_store, D + timedelta(days=1)) == []
    assert _run_expire(any_store, D + timedelta(days=40)) == []
    assert len(_audit(any_store)) == 3
    assert {u.id: u.version for u in _all_users(any_store)} == versions


def _all_users(store: Store) -> list[User]:
    with store.read() as s:
        return list(s.exec(select(User).order_by(col(User.id))).all())


def _fail_audit_insert_for(store: Store, user_id: int) -> None:
    """A trigger in the test database that refuses the audit event of one user."""
    with store.write() as s:
        if store.dialect == "sqlite":
            s.execute(text(
                "CREATE TRIGGER forced_failure BEFORE INSERT ON auditevent "
                f"WHEN NEW.user_id = {user_id} BEGIN SELECT RAISE(ABORT, 'forced failure'); END"))
        else:
            s.execute(text(
                "CREATE FUNCTION forced_failure() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.user_id = {user_id} THEN RAISE EXCEPTION 'forced failure'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            s.execute(text(
                "CREATE TRIGGER forced_failure BEFORE INSERT ON auditevent "
                "FOR EACH ROW EXECUTE FUNCTION forced_failure()"))


def test_expire_is_atomic(any_store: Store) -> None:
    # The failing account expires last, so the others were already changed when it fails.
    def build(s: Session) -> list[int]:
        return [b.user(s, "Jones", f"A{i}", expires_on=D - timedelta(days=3 - i)).id
                for i in range(3)]

    ids = _seed(any_store, build)
    _fail_audit_insert_for(any_store, ids[-1])
    with pytest.raises((DatabaseError, DatabaseUnavailable), match="forced failure"):
        _run_expire(any_store, D + timedelta(days=1))
    assert [u.status for u in _all_users(any_store)] == [ACTIVE] * 3
    assert [u.version for u in _all_users(any_store)] == [1] * 3
    assert _audit(any_store) == []


def _concurrent_change(monkeypatch: pytest.MonkeyPatch, reader: str, sql: str) -> None:
    """Another operator's change committed between housekeeping's read and its UPDATE.

    The change runs on housekeeping's own connection (on SQLite a second writer would simply
    wait for the first), past the ORM, so the rows housekeeping read are stale, as they are
    when another session commits in between.
    """
    real = getattr(housekeeping, reader)

    def read_then_change(session: Session, *args: Any, **kwargs: Any) -> list[User]:
        users = real(session, *args, **kwargs)
        session.connection().execute(text(sql))
        return users  # type: ignore[no-any-return]

    monkeypatch.setattr(housekeeping, reader, read_then_change)


@pytest.mark.parametrize("change", [
    "UPDATE \"user\" SET version = version + 1, expires_on = '2026-06-10'",  # Extend
    "UPDATE \"user\" SET version = version + 1, status = 'deactivated', "   # Deactivate
    "deactivated_by = 'champion', deactivation_reason = 'manual'",
])
def test_expire_leaves_an_account_an_operator_changed_meanwhile(
        any_store: Store, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    uid = _seed(any_store, lambda s: b.user(s, "Jones", "Sian", expires_on=D).id)
    _concurrent_change(monkeypatch, "expired", change)
    assert _run_expire(any_store, D + timedelta(days=1)) == []
    u = _user(any_store, uid)
    assert u.version == 2 and u.deactivated_by != HOUSEKEEPING_ACTOR
    assert _audit(any_store) == []


def test_expire_and_an_extension_committed_by_another_session_on_postgres(
        pg_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real race, two connections: on PostgreSQL reading locks nothing, so an operator's
    Extend can commit between housekeeping's read and its UPDATE. (On SQLite housekeeping
    holds the write lock from its first statement, so the race cannot happen there.)"""
    _seed(pg_store, lambda s: b.operator(s, "champion", role="digital-champion",
                                         schools=("6612001",)))
    uid = _seed(pg_store, lambda s: b.user(s, "Jones", "Sian", expires_on=D).id)
    champion = b.actor(pg_store, "champion")
    real = housekeeping.expired

    def read_then_operator_extends(session: Session, as_of: date) -> list[User]:
        users = real(session, as_of)
        with pg_store.write() as other:
            accounts.extend(other, champion, uid, "3m", today=D)
        return users

    monkeypatch.setattr(housekeeping, "expired", read_then_operator_extends)
    assert _run_expire(pg_store, D + timedelta(days=1)) == []
    u = _user(pg_store, uid)
    assert (u.status, u.expires_on, u.version) == (ACTIVE, date(2026, 6, 10), 2)
    assert [(e.actor, e.action) for e in _audit(pg_store)] == [("champion", "extend")]


# --- the purge window ---------------------------------------------------------------------------


OFF = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)  # deactivated late on 10 March 2025 (UTC)


@pytest.mark.parametrize(("as_of", "activatable", "due"), [
    (date(2026, 3, 9), True, False),
    (date(2026, 3, 10), True, False),   # 12 months to the day: activation still allowed
    (date(2026, 3, 11), False, True),   # the day after: due for purge, activation refused
])
def test_twelve_months_to_the_day(any_store: Store, as_of: date, activatable: bool,
                                  due: bool) -> None:
    uid = _seed(any_store, lambda s: b.user(s, "Jones", "Sian", status=DEACTIVATED,
                                            deactivated_at=OFF).id)
    u = _user(any_store, uid)
    assert accounts.can_activate(u, as_of) is activatable
    assert housekeeping.purge_due(u, as_of) is due
    with any_store.read() as s:
        assert [x.id for x in housekeeping.due_for_purge(s, as_of)] == ([uid] if due else [])


@pytest.mark.parametrize("as_of", [
    date(2025, 2, 28), date(2025, 3, 1), date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1),
    date(2027, 1, 31), date(2027, 5, 1), date(2026, 12, 31), date(2027, 8, 31), date(2027, 9, 1),
])
def test_purge_cutoff_agrees_with_the_rule_for_every_day(as_of: date) -> None:
    """The SQL cutoff and the per-user rule agree, incl. 29 February and month ends."""
    cutoff = housekeeping.purge_cutoff(as_of)
    day = as_of - timedelta(days=400)
    while day < as_of:
        for hour in (0, 23):
            off = datetime(day.year, day.month, day.day, hour, 59, tzinfo=UTC)
            rule = clock.add_months(day, 12) < as_of
            assert (off < cutoff) is rule, (day, hour)
            # never both activatable and due, never neither
            u = User(status=DEACTIVATED, deactivated_at=off)  # type: ignore[call-arg]
            assert accounts.can_activate(u, as_of) is not housekeeping.purge_due(u, as_of)
        day += timedelta(days=1)


def test_due_for_purge_covers_every_kind_but_not_active_or_purged(any_store: Store) -> None:
    old = datetime(2024, 1, 5, 9, tzinfo=UTC)

    def build(s: Session) -> dict[str, int]:
        return {
            "governor": b.user(s, "Evans", "Ann", status=DEACTIVATED, deactivated_at=old).id,
            "learner": b.user(s, "Owen", "Cai", kind="learner", status=DEACTIVATED,
                              deactivated_at=old, upn=b.learner_upn("6612001", 1)).id,
            "staff": b.user(s, "Rees", "Non", kind="staff", staff_code="NR",
                            status=DEACTIVATED, deactivated_at=old).id,
            "recent": b.user(s, "Lewis", "Gwen", status=DEACTIVATED,
                             deactivated_at=datetime(2025, 6, 1, tzinfo=UTC)).id,
            "active": b.user(s, "Price", "Lowri").id,
        }

    ids = _seed(any_store, build)
    with any_store.read() as s:
        due = {u.id for u in housekeeping.due_for_purge(s, date(2026, 1, 1))}
    assert due == {ids["governor"], ids["learner"], ids["staff"]}
    with any_store.write() as s:
        assert len(housekeeping.purge(s, date(2026, 1, 1))) == 3
    with any_store.read() as s:
        assert housekeeping.due_for_purge(s, date(2027, 1, 1)) == [
            s.get(User, ids["recent"])]


# --- purge ---------------------------------------------------------------------------------------


def test_purge_tombstones_personal_data_and_keeps_the_audit_trail(any_store: Store) -> None:
    upn = b.learner_upn("6612001", 7)

    def build(s: Session) -> dict[str, int]:
        b.operator(s, "admin")
        learner = b.user(s, "Ap Siôn", "Ffion", kind="learner", upn=upn, year_group=11)
        learner.admission_number = "001234"
        learner.admission_date = date(2019, 9, 1)
        learner.leaving_date = date(2024, 7, 19)
        learner.reg_group = "11F"
        staff = b.user(s, "Prydderch", "Gwilym", kind="staff", staff_code="GPR")
        staff.role = "Teacher"
        governor = b.user(s, "Llywelyn", "Mair", expires_on=date(2024, 12, 31))
        return {"learner": learner.id, "staff": staff.id, "governor": governor.id}

    ids = _seed(any_store, build)
    admin = b.actor(any_store, "admin")
    with any_store.write() as s:
        accounts.deactivate(s, admin, ids["governor"])
        # MIS accounts are ended by provisioning; here straight in the table, as a run would.
        s.execute(text("UPDATE \"user\" SET status = 'deactivated', deactivated_by = "
                       "'provisioning-client', deactivated_at = :at WHERE kind IN "
                       "('learner', 'staff')"), {"at": clock.now()})
    as_of = clock.add_months(clock.now().date(), 12) + timedelta(days=1)
    with any_store.write() as s:
        purged = housekeeping.purge(s, as_of)
    assert sorted(a.id for a in purged) == sorted(ids.values())
    assert all(a.username == f"purged-{a.id}@hwbcymru.net" for a in purged)
    names = ("Siôn", "Ffion", "Prydderch", "Gwilym", "Llywelyn", "Mair", "apsion", "ffion",
             "prydderch", "gwilym", "llywelyn", "mair", upn, "001234", "GPR", "11F")
    for u in _all_users(any_store):
        assert u.purged_at is not None and u.status == DEACTIVATED
        assert u.username == f"purged-{u.id}@hwbcymru.net"
        assert u.username_key == f"purged{u.id}"
        assert (u.surname, u.forename, u.surname_key, u.forename_key) == ("", "", "", "")
        assert (u.upn, u.staff_code, u.admission_number, u.admission_date, u.leaving_date,
                u.reg_group, u.year_group, u.role) == (None,) * 8
        assert u.kind in ("learner", "staff", "governor") and u.school == "6612001"
        row = " ".join(str(v) for v in u.model_dump().values()).lower()
        assert not [n for n in names if n.lower() in row], row
    # The audit trail still joins, and no event names anyone.
    with any_store.read() as s:
        joined = s.exec(select(AuditEvent.action, User.username)
                        .join(User, col(User.id) == col(AuditEvent.user_id))
                        .where(AuditEvent.user_id == ids["governor"])
                        .order_by(col(AuditEvent.id))).all()
    assert [a for a, _ in joined] == ["deactivate", "purge"]
    assert {u for _, u in joined} == {f"purged-{ids['governor']}@hwbcymru.net"}
    events = _audit(any_store)
    assert [e.action for e in events if e.action == "purge"] == ["purge"] * 3
    assert all(e.actor == HOUSEKEEPING_ACTOR for e in events if e.action == "purge")
    for e in events:
        text_of = f"{e.reason} {e.detail}".lower()
        assert not [n for n in names if n.lower() in text_of], text_of
    # Idempotent, and a purged account is never activated again.
    with any_store.write() as s:
        assert housekeeping.purge(s, as_of) == []
    with pytest.raises(AccountPurged), any_store.write() as s:
        accounts.activate(s, admin, ids["governor"], today=as_of)
    # Its identifiers are free again: a new learner may bring the same UPN.
    _seed(any_store, lambda s: b.user(s, "Ap Siôn", "Ffion", kind="learner", upn=upn))


def test_purged_account_cannot_be_activated_even_inside_the_window(any_store: Store) -> None:
    # A purged row that still looked activatable by date is refused by its purged_at alone.
    def build(s: Session) -> int:
        b.operator(s, "admin")
        u = b.user(s, "Jones", "Sian", status=DEACTIVATED)
        u.purged_at = clock.now()
        return u.id

    uid = _seed(any_store, build)
    assert accounts.can_activate(_user(any_store, uid), clock.now().date()) is False
    with pytest.raises(AccountPurged), any_store.write() as s:
        accounts.activate(s, b.actor(any_store, "admin"), uid)


def test_purge_in_batches(any_store: Store) -> None:
    old = datetime(2024, 1, 5, 9, tzinfo=UTC)
    _seed(any_store, lambda s: [b.user(s, "Jones", f"A{i}", status=DEACTIVATED,
                                       deactivated_at=old + timedelta(hours=i))
                                for i in range(5)])
    sizes = []
    while True:
        with any_store.write() as s:
            batch = housekeeping.purge(s, date(2026, 1, 1), limit=2)
        sizes.append(len(batch))
        if not batch:
            break
    assert sizes == [2, 2, 1, 0]
    assert all(u.purged_at is not None for u in _all_users(any_store))


def test_purge_leaves_an_account_activated_meanwhile(any_store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    uid = _seed(any_store, lambda s: b.user(s, "Jones", "Sian", status=DEACTIVATED,
                                            deactivated_at=datetime(2024, 1, 5, tzinfo=UTC)).id)
    _concurrent_change(monkeypatch, "due_for_purge",
                       "UPDATE \"user\" SET version = version + 1, status = 'active', "
                       "deactivated_at = NULL")
    with any_store.write() as s:
        assert housekeeping.purge(s, date(2026, 1, 1)) == []
    u = _user(any_store, uid)
    assert u.status == ACTIVE and u.purged_at is None and u.surname == "Jones"
    assert _audit(any_store) == []


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HWB_LANG", raising=False)
    monkeypatch.delenv("HWB_DATABASE_URL", raising=False)


def _seed_cli(store: Store) -> dict[str, int]:
    def build(s: Session) -> dict[str, int]:
        return {
            "expiring": b.user(s, "Jones", "Sian", expires_on=D).id,
            "old": b.user(s, "Evans", "Ann", kind="ite", status=DEACTIVATED,
                          deactivated_at=datetime(2025, 1, 2, 8, tzinfo=UTC)).id,
            "keep": b.user(s, "Lewis", "Gwen", expires_on=D + timedelta(days=1)).id,
        }

    return _seed(store, build)  # type: ignore[no-any-return]


def test_cli_expires_and_lists_due_without_an_operator_record(
        any_store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(any_store)
    code = main(["--db", any_store.url, "housekeeping", "--as-of", "2026-03-11"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Housekeeping as of 2026-03-11" in out
    assert "Expired accounts deactivated: 1" in out and "JonesS@hwbcymru.net" in out
    assert "lifetime ended 2026-03-10" in out
    assert "due for purge: 1" in out and "EvansA@hwbcymru.net" in out
    assert "ITE student" in out and "deactivated 2025-01-02" in out and "--purge" in out
    assert "LewisG" not in out
    assert _user(any_store, ids["expiring"]).status == DEACTIVATED
    assert _user(any_store, ids["old"]).purged_at is None  # listed, not purged
    assert {e.actor for e in _audit(any_store)} == {HOUSEKEEPING_ACTOR}


def test_cli_json_report(any_store: Store, cli_env: None,
                         capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(any_store)
    assert main(["--db", any_store.url, "housekeeping", "--as-of", "2026-03-11", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["as_of"] == "2026-03-11"
    assert [(r["id"], r["username"], r["kind"], r["school"], r["expires_on"])
            for r in report["expired"]] == [
        (ids["expiring"], "JonesS@hwbcymru.net", "governor", "6612001", "2026-03-10")]
    [due] = report["due_for_purge"]
    assert (due["username"], due["kind"], due["deactivated_at"]) == (
        "EvansA@hwbcymru.net", "ite", "2025-01-02T08:00:00+00:00")
    assert "purged" not in report
    # a second run the same day: nothing more to expire
    assert main(["--db", any_store.url, "housekeeping", "--as-of", "2026-03-11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["expired"] == []


def test_cli_purge_reports_tombstones_only(any_store: Store, cli_env: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(any_store)
    assert main(["--db", any_store.url, "housekeeping", "--as-of", "2026-03-11", "--purge",
                 "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert [r["username"] for r in report["purged"]] == [f"purged-{ids['old']}@hwbcymru.net"]
    assert "Evans" not in out and "due_for_purge" not in report
    assert _user(any_store, ids["old"]).purged_at is not None
    assert main(["--db", any_store.url, "housekeeping", "--as-of", "2026-03-11", "--purge"]) == 0
    assert "Accounts whose personal data was removed: 0" in capsys.readouterr().out


def test_cli_in_welsh(store: Store, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    _seed_cli(store)
    assert main(["--db", store.url, "--lang", "cy", "housekeeping", "--as-of", "2026-03-11"]) == 0
    out = capsys.readouterr().out
    assert "Cynnal a chadw ar 2026-03-11" in out and "dadactifadwyd 2025-01-02" in out


def test_cli_bad_date_is_a_usage_error(store: Store, cli_env: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(store)
    with pytest.raises(SystemExit) as usage:  # refused as the arguments are read, like --since
        main(["--db", store.url, "housekeeping", "--as-of", "11/03/2026"])
    assert usage.value.code == 2
    assert "'11/03/2026' is not a date" in capsys.readouterr().err
    assert _user(store, ids["expiring"]).status == ACTIVE


def test_cli_never_purges_ahead_of_time(store: Store, cli_env: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(store)
    tomorrow = (clock.now().date() + timedelta(days=1)).isoformat()
    assert main(["--db", store.url, "housekeeping", "--as-of", tomorrow, "--purge"]) == 2
    assert "a purge cannot be undone" in capsys.readouterr().err
    assert _user(store, ids["old"]).purged_at is None
    assert _user(store, ids["expiring"]).status == ACTIVE  # nothing ran, expiry included


def test_cli_database_unavailable(tmp_path: Path, cli_env: None,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'hwb.db'}"
    assert main(["--db", url, "housekeeping"]) == 4
    assert "unavailable" in capsys.readouterr().err


def test_cli_database_busy_changes_nothing(store: Store, tmp_path: Path, cli_env: None,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ids = _seed_cli(store)
    monkeypatch.setenv("HWB_BUSY_TIMEOUT", "0.2")
    blocker = sqlite3.connect(tmp_path / "hwb.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        assert main(["--db", store.url, "housekeeping", "--as-of", "2026-03-11"]) == 4
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "busy" in capsys.readouterr().err
    assert _user(store, ids["expiring"]).status == ACTIVE


def test_cli_output_is_display_safe(store: Store, cli_env: None,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    # A username edited outside hwb-tui with a terminal escape in it.
    uid = _seed(store, lambda s: b.user(s, "Jones", "Sian", expires_on=D).id)
    with store.write() as s:
        s.execute(text("UPDATE \"user\" SET username = :u WHERE id = :id"),
                  {"u": "Jones\x1b[2JS@hwbcymru.net", "id": uid})
    assert main(["--db", store.url, "housekeeping", "--as-of", "2026-03-11"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "Jones[2JS@hwbcymru.net" in out
