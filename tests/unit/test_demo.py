"""The demo directory: realistic, valid by the core's own rules, and only ever made where safe."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hwb_tui import demo
from hwb_tui.cli import main
from hwb_tui.core import access, accounts
from hwb_tui.core.db import open_store
from hwb_tui.core.models import (
    AuditEvent,
    Meta,
    Operator,
    OperatorSchool,
    School,
    User,
    UsernameBase,
)
from hwb_tui.core.names import search_key, upn_problem, username_base, username_from
from hwb_tui.i18n import set_language
from tests import builders as b

USERS = 3000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, demo.Built]]:
    path = tmp_path_factory.mktemp("demo") / "hwb.db"
    url = f"sqlite:///{path}"
    result = demo.build(url, USERS, "alice")
    yield url, result


def _all_users(url: str) -> list[User]:
    store = open_store(url)
    try:
        with store.read() as s:
            return list(s.execute(select(User).order_by(User.id)).scalars().all())
    finally:
        store.dispose()


def test_las_are_the_22_welsh_authorities_numbered_660_to_681() -> None:
    las = demo.authorities()
    assert [la.number for la in las] == list(range(660, 682))
    assert las[0].name_cy == "Ynys Môn" and las[-1].name_en == "Wrexham"


def test_schools_have_dfes_numbers_and_names_in_both_languages(
        built: tuple[str, demo.Built]) -> None:
    url, _ = built
    store = open_store(url)
    with store.read() as s:
        schools = s.execute(select(School)).scalars().all()
    store.dispose()
    assert len({sc.la_number for sc in schools}) == 22
    for sc in schools:
        assert len(sc.dfes) == 7 and sc.dfes.isdigit()
        assert sc.dfes[:3] == str(sc.la_number) and 660 <= sc.la_number <= 681
        assert sc.name and sc.name_cy
    assert any(sc.name != sc.name_cy for sc in schools)
    assert any(sc.name_cy.startswith("Ysgol") for sc in schools)


def test_every_user_follows_the_core_rules(built: tuple[str, demo.Built]) -> None:
    url, result = built
    users = _all_users(url)
    assert len(users) == result.users == USERS
    seen_numbers: Counter[str] = Counter()
    for u in users:
        fields = accounts.name_fields(u.surname, u.forename)
        assert {k: getattr(u, k) for k in fields} == fields
        assert u.username_key == accounts.username_key_of(u.username)
        base = username_base(u.surname, u.forename)
        seen_numbers[base.lower()] += 1
        assert u.username == username_from(base, seen_numbers[base.lower()])  # in id order
        assert u.source == ("mis" if u.kind in ("learner", "staff") else "non-mis")
        if u.kind == "learner":
            assert u.upn and upn_problem(u.upn) is None
            assert u.upn[1:8] == u.school  # LA + establishment of the school
            assert u.year_group is not None and 0 <= u.year_group <= 13
        else:
            assert u.upn is None
        if u.kind == "staff":
            assert u.staff_code
    assert len({u.username.lower() for u in users}) == USERS
    staff = [(u.school, u.staff_code) for u in users if u.kind == "staff"]
    assert len(staff) == len(set(staff))


def test_demo_has_every_kind_welsh_letters_deactivations_and_expiring(
        built: tuple[str, demo.Built]) -> None:
    users = _all_users(built[0])
    kinds = Counter(u.kind for u in users)
    assert set(kinds) == {"learner", "staff", "governor", "ite", "la", "rec", "other"}
    assert kinds["learner"] > USERS * 0.7
    names = " ".join(f"{u.forename} {u.surname}" for u in users)
    for welsh in ("Siân", "Llŷr", "Gwenllïan", "Dafydd", "Ieuan", "ap Rhys", "O'Brien"):
        assert welsh in names
    assert not any(ch in names for ch in "[]\x1b")  # no hostile names in the demo
    now = datetime.now(UTC)
    gone = [u for u in users if u.status == "deactivated"]
    assert 0.03 * USERS < len(gone) < 0.07 * USERS
    ages = [now - u.deactivated_at.replace(tzinfo=UTC) for u in gone if u.deactivated_at]
    assert len(ages) == len(gone)
    assert any(age < timedelta(days=365) for age in ages)
    assert any(age > timedelta(days=366) for age in ages)
    non_mis = [u for u in users if u.source == "non-mis" and u.status == "active"]
    assert all(u.expires_on is not None for u in non_mis)
    soon = now.date() + timedelta(weeks=8)
    assert any(u.expires_on and u.expires_on <= soon for u in non_mis)
    assert any(u.expires_on and u.expires_on > soon for u in non_mis)


def test_login_is_admin_of_all_and_champion_has_one_school(
        built: tuple[str, demo.Built]) -> None:
    store = open_store(built[0])
    with store.read() as s:
        alice = s.get(Operator, "alice")
        champion = s.get(Operator, "champion")
        links = s.execute(select(OperatorSchool)).scalars().all()
        marker = s.get(Meta, demo.DEMO_MARKER)
        deactivations = s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "deactivate")).scalar_one()
        gone = s.execute(select(func.count()).select_from(User).where(
            User.status == "deactivated")).scalar_one()
    assert alice is not None and alice.role == "hwb-admin" and alice.all_schools
    assert champion is not None and champion.role == "digital-champion"
    assert [(x.login) for x in links] == ["champion"]
    assert marker is not None and json.loads(marker.value)["users"] == USERS
    assert deactivations == gone  # each deactivation has its audit event
    with store.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    store.dispose()


def test_core_writes_continue_the_demo_usernames(built: tuple[str, demo.Built],
                                                 tmp_path: Path) -> None:
    url, _ = built
    users = _all_users(url)
    common = Counter(username_base(u.surname, u.forename).lower() for u in users).most_common(1)
    base_key, n = common[0]
    sample = next(u for u in users if username_base(u.surname, u.forename).lower() == base_key)
    store = open_store(url)
    admin = b.actor(store, "alice")
    with store.read() as s:  # the demo recorded where each base's free numbers begin
        assert s.get(UsernameBase, search_key(base_key)).free_from == n + 1  # type: ignore[union-attr]
    with store.write() as s:
        added = accounts.add_user(s, admin, kind="governor", school=sample.school,
                                  surname=sample.surname, forename=sample.forename)
    store.dispose()
    assert added.username == username_from(username_base(sample.surname, sample.forename), n + 1)


def test_the_second_process_makes_exactly_the_same_rows() -> None:
    now = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    local = demo.Generator(2500, 7, now=now, raw_sqlite=True)
    here = list(local.rows())
    gen = demo.Generator(2500, 7, now=now, raw_sqlite=True)
    there = list(demo._rows_in_parallel(gen))
    assert [len(c) for c in there] == [len(c) for c in here]
    assert [tuple(r) for c in there for r in c] == [r for c in here for r in c]
    assert gen.audit == local.audit and len(gen.audit) > 0
    assert gen.username_bases() == local.username_bases() and local.username_bases()


def test_parallel_build_gives_a_sound_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    demo.build(url, 1500, "alice", parallel=True)
    users = _all_users(url)
    assert len(users) == 1500
    assert all(u.upn is None or upn_problem(u.upn) is None for u in users)
    assert demo.state(url) == "demo"


def test_state_tells_missing_empty_demo_and_foreign(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert demo.state(url) == "missing"
    open_store(url).dispose()
    assert demo.state(url) == "empty"
    store = open_store(url)
    with store.write() as s:
        b.school(s)
    store.dispose()
    assert demo.state(url) == "foreign"


def test_postgres_build_through_core_inserts(pg_url: str) -> None:
    demo.build(pg_url, 400, "alice")
    assert demo.state(pg_url) == "demo"
    store = open_store(pg_url)
    admin = b.actor(store, "alice")
    with store.read() as s:
        count = s.execute(select(func.count()).select_from(User)).scalar_one()
        school = s.execute(select(School.dfes).limit(1)).scalar_one()
    with store.write() as s:  # the id sequence was moved past the demo's ids
        added = accounts.add_user(s, admin, kind="la", school=school, surname="Newydd",
                                  forename="Ffion")
    store.dispose()
    assert count == 400 and added.id is not None and added.id > 400


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)
    monkeypatch.delenv("HWB_LANG", raising=False)
    yield
    set_language("en")


def test_demo_command_creates_then_reuses(tmp_path: Path, as_root: None,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    monkeypatch.setenv("HWB_OPERATOR", "bethan")
    assert main(["--db", url, "demo", "--users", "300", "--create-only"]) == 0
    assert "300" in capsys.readouterr().err
    monkeypatch.setenv("HWB_OPERATOR", "carys")  # someone else opens the same demo
    assert main(["--db", url, "demo", "--users", "999", "--create-only"]) == 0
    err = capsys.readouterr().err
    assert "carys" in err
    store = open_store(url)
    with store.read() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == 300
        carys = s.get(Operator, "carys")
    store.dispose()
    assert carys is not None and carys.role == "hwb-admin" and carys.all_schools


def test_demo_command_refuses_a_real_database(tmp_path: Path, as_root: None,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"
    store = open_store(url)
    with store.write() as s:
        b.school(s)
        b.user(s, "Jones", "Siân")
    store.dispose()
    monkeypatch.setenv("HWB_OPERATOR", "bethan")
    assert main(["--db", url, "demo", "--create-only"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "real.db" in err
    store = open_store(url)
    with store.read() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == 1
    store.dispose()


def test_bad_user_count_is_a_usage_error(tmp_path: Path, as_root: None) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--db", f"sqlite:///{tmp_path / 'n.db'}", "demo", "--users", "none"])
    assert exc.value.code == 2


def test_an_empty_database_keeps_its_operators_through_the_build(tmp_path: Path) -> None:
    """Its own operator may fill an empty database with demo data; the demo adds no operator
    of its own beside the real one."""
    url = f"sqlite:///{tmp_path / 'e.db'}"
    store = open_store(url)
    with store.write() as s:
        b.operator(s, "first")
    store.dispose()
    assert demo.state(url) == "empty"
    assert demo.admission(url, "first") == "member"
    demo.build(url, 200, "first")
    store = open_store(url)
    with store.read() as s:
        logins = set(s.execute(select(Operator.login)).scalars())
    store.dispose()
    assert logins == {"first"}
    assert not (tmp_path / "e.db.building").exists()


def test_demo_never_makes_a_login_administrator_where_real_operators_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: `demo` on a database with operators it did not make admits nobody."""
    from hwb_tui.cli import main
    from hwb_tui.core.errors import DemoWillNotAdmit

    url = f"sqlite:///{tmp_path / 'e.db'}"
    store = open_store(url)
    with store.write() as s:
        b.operator(s, "first")
    store.dispose()
    assert demo.admission(url, "mallory") == "refused"
    monkeypatch.setenv("HWB_OPERATOR", "mallory")
    monkeypatch.delenv("HWB_LANG", raising=False)
    code = main(["--db", url, "demo", "--users", "50", "--create-only"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "mallory" in err, err
    store = open_store(url)
    with store.read() as s:
        assert set(s.execute(select(Operator.login)).scalars()) == {"first"}
    store.dispose()
    assert demo.state(url) == "empty"  # nothing built either
    # a demo database made by someone else admits the next login; once a real operator has
    # been added by hand, it admits nobody more
    other = f"sqlite:///{tmp_path / 'd.db'}"
    demo.build(other, 100, "bob")
    assert demo.ensure_operator(other, "carol") is True
    store = open_store(other)
    with store.write() as s:
        b.operator(s, "real")
    store.dispose()
    with pytest.raises(DemoWillNotAdmit):
        demo.ensure_operator(other, "dave")


def _demo_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the demo's tables (not operators: their creation time is the build's),
    times as naive UTC as SQLite gives them back, in id or key order."""
    def plain(value: object) -> object:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    store = open_store(url)
    out: dict[str, list[tuple[object, ...]]] = {}
    try:
        with store.read() as s:
            for model, order in ((User, "id"), (AuditEvent, "id"), (School, "dfes"),
                                 (UsernameBase, "key")):
                table = model.__table__  # type: ignore[attr-defined]
                rows = s.execute(select(table).order_by(table.c[order])).all()
                out[table.name] = [tuple(plain(v) for v in row) for row in rows]
    finally:
        store.dispose()
    return out


@pytest.mark.parametrize("parallel", [False, True])
def test_postgres_build_gives_the_rows_sqlite_gets(pg_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   parallel: bool) -> None:
    """The PostgreSQL build (COPY of the packed rows, indexes after) and the SQLite build make
    the same demo from the same seed and clock, row for row and column for column."""
    now = datetime(2026, 11, 30, 4, 0, 7, tzinfo=UTC)
    monkeypatch.setattr(demo.clock, "now", lambda: now)
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    demo.build(sqlite_url, 1200, "alice", seed=7, parallel=False)
    demo.build(pg_url, 1200, "alice", seed=7, parallel=parallel)
    here, there = _demo_rows(sqlite_url), _demo_rows(pg_url)
    assert {name: len(rows) for name, rows in there.items()} == {
        name: len(rows) for name, rows in here.items()}
    assert len(here["user"]) == 1200 and here["auditevent"] and here["usernamebase"]
    for name in here:
        assert there[name] == here[name], name
    store = open_store(pg_url)  # the search and sort indexes are back
    with store.read() as s:
        names = set(s.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'user'"))
                    .scalars())
    store.dispose()
    assert {str(ix.name) for ix in User.__table__.indexes} <= names  # type: ignore[attr-defined]
