"""Who may do what, where: operator role × school × action, against the core and the CLI.

The expected outcome of every cell is written out below as a table; a test per cell checks it
through the core's functions (on SQLite and PostgreSQL) and through `hwb_tui.cli.main` as a shell
would run it. A refusal changes nothing (the database digest is the same before and after).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from hwb_tui.core import access, accounts, directory, operators
from hwb_tui.core.access import Actor, load_actor
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.errors import (
    ManagedByMIS,
    NotPermitted,
    OperatorDisabled,
    UnknownOperator,
    UserNotFound,
)
from hwb_tui.core.models import (
    DEACTIVATED,
    AuditEvent,
    Operator,
    OperatorSchool,
    ProvisioningRun,
    User,
)
from hwb_tui.i18n import set_language
from hwb_tui.tui.screens.withdrawn import WithdrawnScreen
from tests import builders as b
from tests.safety.test_hostile_input import db_digest

HOME, AWAY = "6612001", "6612002"  # every scoped operator below has HOME and not AWAY
SCHOOL = {"home": HOME, "away": AWAY}
LOGINS = {
    "admin-all": "adminall",  # Hwb administrator of every school
    "admin-listed": "adminlisted",  # Hwb administrator of the schools listed: HOME
    "champion": "champion",  # Digital Champion of HOME
    "unknown": "nobody",  # no operator record
    "disabled": "retired",  # a Hwb administrator of every school, disabled
}
ROLES = tuple(LOGINS)

# ok: done, and audited under the operator's login.
# scope: refused as outside the operator's schools (the user is "not found", the school "not
#        yours"); refused: the login itself is refused (unknown or disabled operator).
ACTIONS = ("read", "deactivate", "activate", "add", "extend")
MATRIX: dict[tuple[str, str], tuple[str, ...]] = {
    # (role, school)            read       deactivate  activate   add        extend
    ("admin-all", "home"):     ("ok",      "ok",       "ok",      "ok",      "ok"),
    ("admin-all", "away"):     ("ok",      "ok",       "ok",      "ok",      "ok"),
    ("admin-listed", "home"):  ("ok",      "ok",       "ok",      "ok",      "ok"),
    ("admin-listed", "away"):  ("scope",   "scope",    "scope",   "scope",   "scope"),
    ("champion", "home"):      ("ok",      "ok",       "ok",      "ok",      "ok"),
    ("champion", "away"):      ("scope",   "scope",    "scope",   "scope",   "scope"),
    ("unknown", "home"):       ("refused", "refused",  "refused", "refused", "refused"),
    ("unknown", "away"):       ("refused", "refused",  "refused", "refused", "refused"),
    ("disabled", "home"):      ("refused", "refused",  "refused", "refused", "refused"),
    ("disabled", "away"):      ("refused", "refused",  "refused", "refused", "refused"),
}

# operators add: who may add which operator.
TARGETS = {
    "champion-home": ("digital-champion", [HOME]),
    "champion-away": ("digital-champion", [AWAY]),
    "admin-home": ("hwb-admin", [HOME]),
    "admin-all-schools": ("hwb-admin", []),
}
OPERATORS_ADD: dict[str, tuple[str, ...]] = {
    # role           champion-home  champion-away  admin-home  admin-all-schools
    "admin-all":    ("ok",          "ok",          "ok",       "ok"),
    "admin-listed": ("ok",          "scope",       "ok",       "scope"),
    "champion":     ("admin",       "admin",       "admin",    "admin"),
    "unknown":      ("refused",     "refused",     "refused",  "refused"),
    "disabled":     ("refused",     "refused",     "refused",  "refused"),
}

CELLS = [(role, where, action, MATRIX[(role, where)][i])
         for (role, where) in MATRIX for i, action in enumerate(ACTIONS)]
OP_CELLS = [(role, target, expected[i]) for role, expected in OPERATORS_ADD.items()
            for i, target in enumerate(TARGETS)]


@dataclass
class Directory:
    """The seeded users of each school, by name: governor, deactivated governor, MIS accounts."""

    store: Store
    ids: dict[str, int]
    usernames: dict[str, str]


def seed(store: Store) -> Directory:
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    with store.write() as s:
        b.school(s, HOME, "Ysgol Gymraeg Aberystwyth")
        b.school(s, AWAY, "Ysgol y Graig")
        b.operator(s, LOGINS["admin-all"])
        b.operator(s, LOGINS["admin-listed"], schools=(HOME,))
        b.operator(s, LOGINS["champion"], role="digital-champion", schools=(HOME,))
        b.operator(s, LOGINS["disabled"]).disabled = True
        for where, dfes in SCHOOL.items():
            for key, user in {
                "governor": b.user(s, "Gov" + where.title(), "Ann", school=dfes),
                "keeper": b.user(s, "Keeper" + where.title(), "Gwyn", school=dfes),
                "former": b.user(s, "Former" + where.title(), "Ben", school=dfes,
                                 status=DEACTIVATED,
                                 deactivated_at=datetime.now(UTC).replace(microsecond=0)),
                "learner": b.user(s, "Learner" + where.title(), "Cai", school=dfes,
                                  kind="learner", upn=b.learner_upn(dfes, 1), year_group=9),
                "leaver": b.user(s, "Leaver" + where.title(), "Dai", school=dfes,
                                 kind="learner", upn=b.learner_upn(dfes, 2), year_group=9,
                                 status=DEACTIVATED),
                "staff": b.user(s, "Staff" + where.title(), "Eve", school=dfes, kind="staff",
                                staff_code="EVE"),
            }.items():
                assert user.id is not None
                ids[f"{key}-{where}"] = user.id
                names[f"{key}-{where}"] = user.username
            # each school has a history: an audit event and a provisioning run
            accounts.audit(s, "seed", "deactivate", s.get(User, ids[f"former-{where}"]))
            now = datetime.now(UTC)
            s.add(ProvisioningRun(started_at=now, finished_at=now, school=dfes, actor="seed",
                                  files="[]", sha256="[]", format="sims-learners",
                                  as_of=now.date(), outcome="applied"))
    return Directory(store, ids, names)


def events_by(store: Store, login: str) -> list[AuditEvent]:
    with store.read() as s:
        return list(s.exec(select(AuditEvent).where(col(AuditEvent.actor) == login)
                           .order_by(col(AuditEvent.id))).all())


def status_of(store: Store, user_id: int) -> User:
    with store.read() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


# ---- the core ----------------------------------------------------------------------------------

@pytest.fixture
def core_dir(any_store: Store) -> Directory:
    return seed(any_store)


def _actor(d: Directory, role: str) -> Actor:
    with d.store.read() as s:
        return load_actor(s, LOGINS[role])


def _core_action(d: Directory, session: Session, actor: Actor, action: str, where: str) -> None:
    dfes = SCHOOL[where]
    if action == "read":
        directory.get_user(session, actor, d.ids[f"governor-{where}"])
        directory.find_username(session, actor, d.usernames[f"governor-{where}"])
    elif action == "deactivate":
        accounts.deactivate(session, actor, d.ids[f"governor-{where}"])
    elif action == "activate":
        accounts.activate(session, actor, d.ids[f"former-{where}"])
    elif action == "add":
        accounts.add_user(session, actor, kind="governor", school=dfes, surname="Newydd",
                          forename="Nia")
    else:
        accounts.extend(session, actor, d.ids[f"keeper-{where}"], "3m")


@pytest.mark.parametrize("role,where", list(MATRIX))
def test_core_access_matrix(core_dir: Directory, role: str, where: str) -> None:
    """One row of MATRIX: each action in turn, on one database (each touches its own user)."""
    for action, expected in zip(ACTIONS, MATRIX[(role, where)], strict=True):
        _check_core_cell(core_dir, role, where, action, expected)


def _check_core_cell(d: Directory, role: str, where: str, action: str, expected: str) -> None:
    cell = f"{role} × {where} × {action}: expected {expected}"
    before = db_digest(d.store)
    if expected == "refused":
        with pytest.raises(UnknownOperator if role == "unknown" else OperatorDisabled):
            _actor(d, role)
        assert db_digest(d.store) == before, cell
        return
    actor = _actor(d, role)
    done = len(events_by(d.store, actor.login))
    if expected == "scope":
        with pytest.raises((UserNotFound, NotPermitted)), d.store.write() as s:
            _core_action(d, s, actor, action, where)
        assert db_digest(d.store) == before, cell
        # nor can the operator see the school's users by listing it
        with d.store.read() as s:
            q = directory.Query(view="all", status="all", school=SCHOOL[where])
            assert directory.page(s, actor, q) == [], cell
            assert directory.count(s, actor, q) == 0, cell
            everyone = directory.page(s, actor, q.with_(school=None), limit=1000)
            assert {u.school for u in everyone} <= {HOME}, cell
        return
    assert expected == "ok"
    with d.store.write() as s:
        _core_action(d, s, actor, action, where)
    if action == "read":
        assert db_digest(d.store) == before, cell
        with d.store.read() as s:
            q = directory.Query(view="all", status="all", school=SCHOOL[where])
            assert {u.school for u in directory.page(s, actor, q)} == {SCHOOL[where]}, cell
        return
    events = events_by(d.store, actor.login)[done:]
    assert [(e.action, e.school) for e in events] == [(action, SCHOOL[where])], cell


@pytest.mark.parametrize("role", ["admin-all", "admin-listed", "champion"])
def test_core_mis_accounts_are_never_changed_by_hand(core_dir: Directory, role: str) -> None:
    d = core_dir
    actor = _actor(d, role)
    before = db_digest(d.store)
    for who in ("learner", "leaver", "staff"):
        user_id = d.ids[f"{who}-home"]
        for action in ("deactivate", "activate", "extend"):
            with pytest.raises(ManagedByMIS), d.store.write() as s:
                if action == "deactivate":
                    accounts.deactivate(s, actor, user_id, ite_informed=True)
                elif action == "activate":
                    accounts.activate(s, actor, user_id)
                else:
                    accounts.extend(s, actor, user_id, "year")
    assert db_digest(d.store) == before


def _add_operator(d: Directory, role: str, target: str) -> None:
    new_role, schools = TARGETS[target]
    with d.store.write() as s:
        actor = load_actor(s, LOGINS[role])
        operators.add_operator(s, actor, f"new-{target}", new_role, schools)


@pytest.mark.parametrize("role", list(OPERATORS_ADD))
def test_core_operators_add_matrix(core_dir: Directory, role: str) -> None:
    """One row of OPERATORS_ADD: each new operator in turn, on one database."""
    d = core_dir
    errors: dict[str, type[Exception] | tuple[type[Exception], ...]] = {
        "refused": (UnknownOperator, OperatorDisabled), "admin": NotPermitted,
        "scope": NotPermitted}
    for target, expected in zip(TARGETS, OPERATORS_ADD[role], strict=True):
        before = db_digest(d.store)
        if expected != "ok":
            with pytest.raises(errors[expected]):
                _add_operator(d, role, target)
            assert db_digest(d.store) == before, (role, target)
            continue
        _add_operator(d, role, target)
        with d.store.read() as s:
            new = load_actor(s, f"new-{target}")
        new_role, schools = TARGETS[target]
        assert new.role == new_role
        assert new.schools == (frozenset(schools) if schools else None)
    granted = [e for e in events_by(d.store, LOGINS[role]) if e.action == "operator_add"]
    assert len(granted) == OPERATORS_ADD[role].count("ok")


# ---- the CLI -----------------------------------------------------------------------------------

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Directory]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    b.cli_env(monkeypatch, url)
    store = open_store(url)
    yield seed(store)
    store.dispose()
    set_language("en")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """`hwb-tui ARGS...` as the operator `role`: (exit status, stdout, stderr)."""

    def _run(role: str, *args: str) -> tuple[int, str, str]:
        return b.run_cli(capsys, *args, login=LOGINS[role], monkeypatch=monkeypatch)

    return _run


def _cli_args(d: Directory, action: str, where: str) -> list[list[str]]:
    """The commands of one action; read is three (list a school, list all, show a user)."""
    if action == "read":
        return [["users", "list", "--school", SCHOOL[where], "--json"],
                ["users", "show", d.usernames[f"governor-{where}"], "--json"]]
    if action == "deactivate":
        return [["users", "deactivate", d.usernames[f"governor-{where}"]]]
    if action == "activate":
        return [["users", "activate", d.usernames[f"former-{where}"]]]
    return [["users", "add", "--kind", "governor", "--school", SCHOOL[where],
             "--surname", "Newydd", "--forename", "Nia"]]


def _one_line_refusal(code: int, out: str, err: str) -> None:
    assert code == 1, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwb-tui: "), err


# The CLI has no `extend` (SPEC §3): that action is checked through the core only.
@pytest.mark.parametrize("role,where,action,expected",
                         [c for c in CELLS if c[2] != "extend"])
def test_cli_access_matrix(cli_dir: Directory, run: Run, role: str, where: str, action: str,
                           expected: str) -> None:
    import json

    d = cli_dir
    before = db_digest(d.store)
    for args in _cli_args(d, action, where):
        code, out, err = run(role, *args)
        if expected in ("refused", "scope"):
            _one_line_refusal(code, out, err)
            if expected == "refused":
                assert LOGINS[role] in err
            assert db_digest(d.store) == before
            continue
        assert code == 0, err
        if args[:2] == ["users", "list"]:
            assert {r["school"] for r in json.loads(out)} == {SCHOOL[where]}
    if expected == "ok" and action != "read":
        assert [e.action for e in events_by(d.store, LOGINS[role])] == [action]
    if expected == "ok" and action == "read":
        assert db_digest(d.store) == before
    if expected == "scope" and action == "read":
        # listing every school the operator may see shows none of the other school's users
        code, out, err = run(role, "users", "list", "--json", "--status", "all")
        assert code == 0, err
        assert {r["school"] for r in json.loads(out)} == {HOME}


@pytest.mark.parametrize("role", ["admin-all", "admin-listed", "champion"])
def test_cli_audit_and_runs_show_only_schools_in_scope(cli_dir: Directory, run: Run,
                                                       role: str) -> None:
    import json

    scope = {HOME, AWAY} if role == "admin-all" else {HOME}
    code, out, err = run(role, "audit", "--json")
    assert code == 0, err
    assert {e["school"] for e in json.loads(out)} - {None} == scope
    code, out, err = run(role, "runs", "--json")
    assert code == 0, err
    assert {r["school"] for r in json.loads(out)} == scope


@pytest.mark.parametrize("role", ["admin-all", "admin-listed", "champion"])
def test_cli_mis_accounts_are_never_changed_by_hand(cli_dir: Directory, run: Run,
                                                    role: str) -> None:
    d = cli_dir
    before = db_digest(d.store)
    for command, who in (("deactivate", "learner"), ("deactivate", "staff"),
                         ("activate", "leaver")):
        extra = ["--informed"] if command == "deactivate" else []
        code, out, err = run(role, "users", command, d.usernames[f"{who}-home"], *extra)
        _one_line_refusal(code, out, err)
        assert "MIS" in err
    assert db_digest(d.store) == before


@pytest.mark.parametrize("role,target,expected", OP_CELLS)
def test_cli_operators_add_matrix(cli_dir: Directory, run: Run, role: str, target: str,
                                  expected: str) -> None:
    d = cli_dir
    before = db_digest(d.store)
    new_role, schools = TARGETS[target]
    args = ["operators", "add", "newop", "--role", new_role]
    for dfes in schools:
        args += ["--school", dfes]
    code, out, err = run(role, *args)
    if expected != "ok":
        _one_line_refusal(code, out, err)
        assert db_digest(d.store) == before
        return
    assert code == 0, err
    with d.store.read() as s:
        assert s.get(Operator, "newop") is not None


@pytest.mark.parametrize("role", ["unknown", "disabled"])
def test_cli_unknown_and_disabled_logins_are_refused_everywhere(
        cli_dir: Directory, run: Run, role: str) -> None:
    before = db_digest(cli_dir.store)
    # no command at all is the console: refused before anything is drawn
    for args in ([], ["users", "list"], ["audit"], ["runs"], ["operators", "list"]):
        code, out, err = run(role, *args)
        _one_line_refusal(code, out, err)
        assert LOGINS[role] in err
    assert db_digest(cli_dir.store) == before


# The school register: only a Hwb administrator of every school changes it; any operator reads
# the schools in their scope. admin: refused as not an all-schools administrator.
REGISTER_ACTIONS = ("add", "import", "close", "show-home", "show-away", "list")
REGISTER: dict[str, tuple[str, ...]] = {
    # role          add        import     close      show-home  show-away  list
    "admin-all":    ("ok",     "ok",      "ok",      "ok",      "ok",      "ok"),
    "admin-listed": ("admin",  "admin",   "admin",   "ok",      "scope",   "ok"),
    "champion":     ("admin",  "admin",   "admin",   "ok",      "scope",   "ok"),
    "unknown":      ("refused", "refused", "refused", "refused", "refused", "refused"),
    "disabled":     ("refused", "refused", "refused", "refused", "refused", "refused"),
}


def _register_args(action: str, tmp_path: Path) -> list[str]:
    if action == "add":
        return ["schools", "add", "6612003", "--name", "Penglais School",
                "--name-cy", "Ysgol Penglais", "--json"]
    if action == "import":
        path = tmp_path / "register.csv"
        path.write_text("dfes,name_en,name_cy\n6612004,Ysgol Bro Hyddgen,Ysgol Bro Hyddgen\n")
        return ["schools", "import", str(path), "--json"]
    if action == "close":
        return ["schools", "close", AWAY, "--json"]
    if action == "list":
        return ["schools", "list", "--json"]
    return ["schools", "show", SCHOOL[action.split("-")[1]], "--json"]


@pytest.mark.parametrize("role", list(REGISTER))
def test_cli_school_register_matrix(cli_dir: Directory, run: Run, role: str,
                                    tmp_path: Path) -> None:
    import json

    d = cli_dir
    for action, expected in zip(REGISTER_ACTIONS, REGISTER[role], strict=True):
        before = db_digest(d.store)
        done = len(events_by(d.store, LOGINS[role]))
        code, out, err = run(role, *_register_args(action, tmp_path))
        cell = f"{role} × {action}: expected {expected}: {err}"
        if expected != "ok":
            _one_line_refusal(code, out, err)
            assert db_digest(d.store) == before, cell
            if expected == "refused":
                assert LOGINS[role] in err, cell
            continue
        assert code == 0, cell
        json.loads(out)
        made = [e.action for e in events_by(d.store, LOGINS[role])[done:]]
        if action in ("add", "import", "close"):
            assert made == [f"school_{'add' if action == 'import' else action}"], cell
        else:
            assert made == [] and db_digest(d.store) == before, cell
            if action == "list":
                listed = {s["dfes"] for s in json.loads(out)}
                assert AWAY not in listed or role == "admin-all", cell


def test_the_matrix_covers_every_role_and_both_schools() -> None:
    assert {r for r, _ in MATRIX} == set(ROLES) == set(OPERATORS_ADD)
    assert {w for _, w in MATRIX} == set(SCHOOL)
    assert all(len(v) == len(ACTIONS) for v in MATRIX.values())
    assert set(REGISTER) == set(ROLES)
    assert all(len(v) == len(REGISTER_ACTIONS) for v in REGISTER.values())


# ---- an operator changed while their console is open ----------------------------------------

def _disable(store: Store, login: str) -> None:
    with store.write() as s:
        op = s.get(Operator, login)
        assert op is not None
        op.disabled = True


def _withdraw(store: Store, login: str, dfes: str) -> None:
    with store.write() as s:
        link = s.get(OperatorSchool, (login, dfes))
        assert link is not None
        s.delete(link)


@pytest.mark.parametrize("change", ["disabled", "school withdrawn"])
@pytest.mark.parametrize("action", ["deactivate", "activate", "add", "extend"])
def test_core_holds_an_open_session_to_the_operator_as_they_are_now(
        core_dir: Directory, change: str, action: str) -> None:
    """An Actor loaded when a console opened is checked again in each change's transaction."""
    d = core_dir
    actor = _actor(d, "champion")  # the console opened with this
    if change == "disabled":
        _disable(d.store, actor.login)
    else:
        _withdraw(d.store, actor.login, HOME)
    before = db_digest(d.store)
    expected = OperatorDisabled if change == "disabled" else (UserNotFound, NotPermitted)
    with pytest.raises(expected), d.store.write() as s:
        _core_action(d, s, actor, action, "home")
    assert db_digest(d.store) == before


async def test_console_of_an_operator_disabled_meanwhile_changes_nothing(
        cli_dir: Directory) -> None:
    """The console stays open; its operator is disabled; Yes in the dialog is then refused,
    plainly, and nothing changes."""
    from datetime import date

    from hwb_tui.tui.app import HwbApp
    from hwb_tui.tui.screens.confirm import ConfirmModal

    d = cli_dir
    app = HwbApp(d.store, _actor(d, "champion"), today=date.today())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("g", "slash", *"govhome", "enter")
        await pilot.pause(0.1)
        await app.workers.wait_for_complete()
        await pilot.press("m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert app.screen.user.id == d.ids["governor-home"]
        _disable(d.store, LOGINS["champion"])
        before = db_digest(d.store)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert db_digest(d.store) == before
        # the console says so in one line, and shows no user any more
        assert isinstance(app.screen, WithdrawnScreen)
        assert LOGINS["champion"] in app.screen.message and "disabled" in app.screen.message
    assert status_of(d.store, d.ids["governor-home"]).status == "active"


@pytest.mark.parametrize("change", ["disabled", "school withdrawn"])
def test_core_reads_hold_an_open_session_to_the_operator_as_they_are_now(
        core_dir: Directory, change: str) -> None:
    """Every read of users checks the operator again: page, count, one user, a username."""
    d = core_dir
    actor = _actor(d, "champion")
    if change == "disabled":
        _disable(d.store, actor.login)
    else:
        _withdraw(d.store, actor.login, HOME)
    q = directory.Query(view="all", status="all")
    reads: list[Callable[[Session], object]] = [
        lambda s: directory.page(s, actor, q),
        lambda s: directory.page(s, actor, q.with_(search="gov")),
        lambda s: directory.count(s, actor, q),
        lambda s: directory.get_user(s, actor, d.ids["governor-home"]),
        lambda s: directory.find_username(s, actor, d.usernames["governor-home"]),
    ]
    for read in reads:
        with d.store.read() as s:
            if change == "disabled":
                with pytest.raises(OperatorDisabled):
                    read(s)
                continue
            try:
                found = read(s)
            except UserNotFound:
                continue
            assert found in ([], 0), found


async def test_console_of_an_operator_disabled_meanwhile_reads_nothing(
        cli_dir: Directory) -> None:
    """The console is open on the champion's users; the champion is disabled; the next look
    (a search) is refused: one line, no user on screen, and no key but q does anything."""
    from datetime import date

    from hwb_tui.tui.app import HwbApp
    from hwb_tui.tui.screens.main import MainScreen

    d = cli_dir
    app = HwbApp(d.store, _actor(d, "champion"), today=date.today())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        main_screen = app.screen
        assert isinstance(main_screen, MainScreen)
        assert main_screen.table.window.rows  # the champion's governors are shown
        _disable(d.store, LOGINS["champion"])
        await pilot.press("slash", *"gov")
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, WithdrawnScreen)
        assert "disabled" in app.screen.message
        assert main_screen.table.window.rows == []
        shown = "\n".join(strip.text for strip in app.screen.query_one("#withdrawn")
                          .render_lines(app.screen.query_one("#withdrawn").region
                                        .reset_offset))
        assert "disabled" in shown and "Gov" not in shown
        for key in ("escape", "g", "p", "c", "slash"):
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running is False or isinstance(app.screen, WithdrawnScreen)



# ---- provisioning as an operator (the console's Provisioning view) ------------------------------

# (role, school): the outcome of provisioning that school's export as the operator.
PROVISION: dict[tuple[str, str], str] = {
    ("admin-all", "home"): "ok", ("admin-all", "away"): "ok",
    ("admin-listed", "home"): "ok", ("admin-listed", "away"): "scope",
    ("champion", "home"): "ok", ("champion", "away"): "scope",
    ("disabled", "home"): "refused", ("disabled", "away"): "refused",
}


def _export(path: Path, dfes: str) -> Path:
    path.write_text(
        "UPN,Legal Surname,Legal Forename,Admission Number,Date of Admission,Date of Leaving,"
        f"Year,Reg\n{b.learner_upn(dfes, 50)},Newydd,Nia,50,01/09/2021,,9,9N\n",
        encoding="utf-8")
    return path


@pytest.mark.parametrize("dry_run", [True, False], ids=["preview", "apply"])
@pytest.mark.parametrize("role,where", list(PROVISION))
def test_core_provisioning_as_the_operator(core_dir: Directory, tmp_path: Path, role: str,
                                           where: str, dry_run: bool) -> None:
    from hwb_tui.provisioning import ProvisionOptions, provision

    d = core_dir
    dfes = SCHOOL[where]
    path = _export(tmp_path / f"{dfes}-learners.csv", dfes)
    if role == "disabled":
        # a console opened before the operator was disabled
        operator = Actor(login=LOGINS[role], role="hwb-admin", schools=None)
    else:
        operator = _actor(d, role)
    before = db_digest(d.store)
    with d.store.read() as s:
        runs_before = len(s.exec(select(ProvisioningRun)).all())
    expected = PROVISION[(role, where)]
    if expected != "ok":
        with pytest.raises(OperatorDisabled if expected == "refused" else NotPermitted):
            provision(d.store, [path], None, ProvisionOptions(dry_run=dry_run), actor=operator)
        assert db_digest(d.store) == before
        with d.store.read() as s:
            assert len(s.exec(select(ProvisioningRun)).all()) == runs_before
        return
    report = provision(d.store, [path], None, ProvisionOptions(dry_run=dry_run), actor=operator)
    assert report.schools[0].outcome == ("planned" if dry_run else "applied")
    if dry_run:
        assert db_digest(d.store) == before
        return
    with d.store.read() as s:
        run = s.get(ProvisioningRun, report.schools[0].run_id)
        assert run is not None and run.actor == operator.login
    assert [(e.action, e.school) for e in events_by(d.store, operator.login)] == [("create", dfes)]


def _standard_export(tmp_path: Path, dfes: str, fmt: str) -> Path:
    """The same one-learner export as a OneRoster set (zip) or a CTF."""
    from tests.provisioning.standard import OneRoster, Pupil, ctf

    upn = b.learner_upn(dfes, 50)
    if fmt == "oneroster":
        s = OneRoster().school(dfes)
        s.student("u50", upn, "Newydd", "Nia", dfes)
        return s.zip(tmp_path / "la-export.zip")
    path = tmp_path / "transfer.xml"
    path.write_bytes(ctf(dfes, [Pupil(upn, "Newydd", "Nia", "9",
                                      [(dfes[:3], dfes[3:], "2021-09-01", "")])]))
    return path


@pytest.mark.parametrize("fmt", ["oneroster", "ctf"])
@pytest.mark.parametrize("role,where", list(PROVISION))
def test_core_provisioning_standard_formats_as_the_operator(
        core_dir: Directory, tmp_path: Path, role: str, where: str, fmt: str) -> None:
    """A OneRoster set or a CTF names its school inside, not in its file name: the operator's
    scope is checked on the school the file says, before anything changes."""
    from hwb_tui.provisioning import ProvisionOptions, provision

    d = core_dir
    dfes = SCHOOL[where]
    path = _standard_export(tmp_path, dfes, fmt)
    if role == "disabled":
        operator = Actor(login=LOGINS[role], role="hwb-admin", schools=None)
    else:
        operator = _actor(d, role)
    before = db_digest(d.store)
    expected = PROVISION[(role, where)]
    if expected != "ok":
        with pytest.raises(OperatorDisabled if expected == "refused" else NotPermitted):
            provision(d.store, [path], None, ProvisionOptions(), actor=operator)
        assert db_digest(d.store) == before
        return
    report = provision(d.store, [path], None, ProvisionOptions(), actor=operator)
    assert [(r.school, r.outcome) for r in report.schools] == [(dfes, "applied")]
    assert [(e.action, e.school) for e in events_by(d.store, operator.login)] == [("create", dfes)]


# ---- bulk changes from a file, and who is leaving soon ----------------------------------------

BULK = {"deactivate": "governor", "activate": "former", "extend": "keeper"}


@pytest.mark.parametrize("role,where", list(MATRIX))
@pytest.mark.parametrize("action", list(BULK))
def test_cli_bulk_from_file_access_matrix(cli_dir: Directory, run: Run, tmp_path: Path,
                                          role: str, where: str, action: str) -> None:
    """`users ACTION --from-file`: the same cell as one by one. Out of scope is a row "not
    found" (exit 1, nothing changed), a refused login one line; ok changes and audits."""
    import csv
    import io

    d = cli_dir
    path = tmp_path / "users.csv"
    path.write_text(f"username\n{d.usernames[f'{BULK[action]}-{where}']}\n", encoding="utf-8")
    extra = ["--lifetime", "3m"] if action == "extend" else []
    before = db_digest(d.store)
    code, out, err = run(role, "users", action, "--from-file", str(path), *extra)
    expected = MATRIX[(role, where)][ACTIONS.index(action)]
    if expected == "refused":
        _one_line_refusal(code, out, err)
        assert LOGINS[role] in err
        assert db_digest(d.store) == before
        return
    rows = list(csv.DictReader(io.StringIO(out)))
    if expected == "scope":
        assert code == 1, err
        assert [(r["outcome"], r["reason"]) for r in rows] == [("not-changed", "not-found")]
        assert db_digest(d.store) == before
        return
    assert code == 0, err
    assert [r["outcome"] for r in rows] == ["changed"]
    assert [(e.action, e.school) for e in events_by(d.store, LOGINS[role])] == [
        (action, SCHOOL[where])]


@pytest.mark.parametrize("role", ["admin-all", "admin-listed", "champion"])
def test_cli_bulk_from_file_never_changes_mis_accounts(cli_dir: Directory, run: Run,
                                                      tmp_path: Path, role: str) -> None:
    import json

    d = cli_dir
    path = tmp_path / "users.csv"
    path.write_text("username\n" + "\n".join(d.usernames[f"{who}-home"] for who in
                                             ("learner", "staff", "leaver")) + "\n")
    before = db_digest(d.store)
    for action, extra in (("deactivate", ["--informed"]), ("activate", []),
                          ("extend", ["--lifetime", "year"])):
        code, out, err = run(role, "users", action, "--from-file", str(path), "--json",
                             *extra)
        assert code == 1, err
        assert {r["reason"] for r in json.loads(out)} == {"managed-by-mis"}
    assert db_digest(d.store) == before


@pytest.mark.parametrize("role", ROLES)
def test_cli_leaving_soon_shows_only_schools_in_scope(cli_dir: Directory, run: Run,
                                                     role: str) -> None:
    import json
    from datetime import date, timedelta

    d = cli_dir
    with d.store.write() as s:
        for where in SCHOOL:
            user = s.get(User, d.ids[f"governor-{where}"])
            assert user is not None
            user.expires_on = date.today() + timedelta(days=10)
    code, out, err = run(role, "users", "list", "--leaving-within", "30", "--json")
    if role in ("unknown", "disabled"):
        _one_line_refusal(code, out, err)
        return
    assert code == 0, err
    expected = {HOME, AWAY} if role == "admin-all" else {HOME}
    assert {r["school"] for r in json.loads(out)} == expected


# ---- provisioning runs: show, approve, discard, revert (issue 14) ---------------------------

RUN_ACTIONS = ("show", "approve", "discard", "revert")
# admin: refused as not a Hwb administrator (revert needs one; a Digital Champion decides held
# runs of their school but does not undo runs).
RUNS_MATRIX: dict[tuple[str, str], tuple[str, ...]] = {
    # (role, school)            show       approve    discard    revert
    ("admin-all", "home"):     ("ok",      "ok",      "ok",      "ok"),
    ("admin-all", "away"):     ("ok",      "ok",      "ok",      "ok"),
    ("admin-listed", "home"):  ("ok",      "ok",      "ok",      "ok"),
    ("admin-listed", "away"):  ("scope",   "scope",   "scope",   "scope"),
    ("champion", "home"):      ("ok",      "ok",      "ok",      "admin"),
    ("champion", "away"):      ("scope",   "scope",   "scope",   "admin"),
    ("unknown", "home"):       ("refused", "refused", "refused", "refused"),
    ("unknown", "away"):       ("refused", "refused", "refused", "refused"),
    ("disabled", "home"):      ("refused", "refused", "refused", "refused"),
    ("disabled", "away"):      ("refused", "refused", "refused", "refused"),
}


def seed_runs(d: Directory) -> dict[str, int]:
    """Per school: a held run to approve, one to discard, and an applied run to revert (it
    set the learner's registration group)."""
    from hwb_tui.core import clock
    from hwb_tui.core.runs import held_until

    ids: dict[str, int] = {}
    now = clock.now()
    with d.store.write() as s:
        for where, dfes in SCHOOL.items():
            learner = s.get(User, d.ids[f"learner-{where}"])
            assert learner is not None
            held = json.dumps([{"user_id": learner.id, "username": learner.username,
                                "leaving_date": "2026-07-20", "reason": "leaver",
                                "where": "x.csv:2"}])
            for name in ("approve", "discard", "revert"):
                r = ProvisioningRun(
                    started_at=now, finished_at=now, school=dfes, actor="provisioning-client",
                    files="[]", sha256="[]", format="sims-learners", as_of=now.date(),
                    outcome="applied" if name == "revert" else "held",
                    held=None if name == "revert" else held,
                    held_state=None if name == "revert" else "held",
                    held_until=None if name == "revert" else held_until(now),
                    undo=json.dumps({"created": [], "before": {
                        str(learner.id): {"reg_group": "9Z"}}, "after": {
                        str(learner.id): learner.version}}) if name == "revert" else None)
                s.add(r)
                s.flush()
                assert r.id is not None
                ids[f"{name}-{where}"] = r.id
    return ids


def _runs_digest(store: Store) -> list[tuple[object, ...]]:
    with store.read() as s:
        return [(r.id, r.held_state, r.decided_by, r.deactivated) for r in
                s.exec(select(ProvisioningRun).order_by(col(ProvisioningRun.id)))]


def _core_run_action(session: Session, actor: Actor, action: str, run_id: int) -> None:
    from hwb_tui.core.runs import get_run
    from hwb_tui.provisioning import decide

    if action == "show":
        access.recheck(session, actor)
        get_run(session, actor, run_id)
    elif action == "approve":
        decide.approve(session, actor, run_id)
    elif action == "discard":
        decide.discard(session, actor, run_id)
    else:
        decide.revert(session, actor, run_id)


@pytest.mark.parametrize("role,where", list(RUNS_MATRIX))
def test_core_runs_matrix(core_dir: Directory, role: str, where: str) -> None:
    from hwb_tui.core.runs import RunNotFound

    d = core_dir
    runs = seed_runs(d)
    for action, expected in zip(RUN_ACTIONS, RUNS_MATRIX[(role, where)], strict=True):
        cell = f"{role} × {where} × runs {action}: expected {expected}"
        run_id = runs[f"{'approve' if action == 'show' else action}-{where}"]
        before, runs_before = db_digest(d.store), _runs_digest(d.store)
        if expected == "refused":
            with pytest.raises(UnknownOperator if role == "unknown" else OperatorDisabled):
                _actor(d, role)
            continue
        actor = _actor(d, role)
        errors = {"scope": RunNotFound, "admin": NotPermitted}
        if expected in errors:
            with pytest.raises(errors[expected]), d.store.write() as s:
                _core_run_action(s, actor, action, run_id)
            assert (db_digest(d.store), _runs_digest(d.store)) == (before, runs_before), cell
            continue
        with d.store.write() as s:
            _core_run_action(s, actor, action, run_id)
        if action == "show":
            assert db_digest(d.store) == before, cell
            continue
        audit_action = {"approve": "run_approve", "discard": "run_discard",
                        "revert": "revert"}[action]
        mine = [e for e in events_by(d.store, actor.login) if e.action == audit_action]
        assert [e.school for e in mine][-1:] == [SCHOOL[where]], cell


@pytest.mark.parametrize("role,where", list(RUNS_MATRIX))
def test_cli_runs_matrix(cli_dir: Directory, run: Run, role: str, where: str) -> None:
    d = cli_dir
    runs = seed_runs(d)
    for action, expected in zip(RUN_ACTIONS, RUNS_MATRIX[(role, where)], strict=True):
        run_id = runs[f"{'approve' if action == 'show' else action}-{where}"]
        before, runs_before = db_digest(d.store), _runs_digest(d.store)
        code, out, err = run(role, "runs", action, str(run_id), "--json")
        if expected != "ok":
            _one_line_refusal(code, out, err)
            if expected == "refused":
                assert LOGINS[role] in err
            assert (db_digest(d.store), _runs_digest(d.store)) == (before, runs_before)
            continue
        assert code == 0, err
        data = json.loads(out)
        if action == "show":
            assert data["school"] == SCHOOL[where]
        elif action in ("approve", "discard"):
            assert data["decided_by"] == LOGINS[role]
        else:
            assert data["school"] == SCHOOL[where] and len(data["put_back"]) == 1


# health reads runs of the operator's schools only; a refused login learns nothing (UNKNOWN)
HEALTH_HELD = {"admin-all": 4, "admin-listed": 2, "champion": 2}


@pytest.mark.parametrize("role", ROLES)
def test_core_health_is_scoped(core_dir: Directory, role: str) -> None:
    from hwb_tui.core import clock, health

    seed_runs(core_dir)
    if role not in HEALTH_HELD:
        with pytest.raises((UnknownOperator, OperatorDisabled)):
            _actor(core_dir, role)
        return
    with core_dir.store.read() as s:
        result = health.check(s, _actor(core_dir, role), clock.now())
    held = next(c for c in result.checks if c.name == "held_runs")
    assert held.value == HEALTH_HELD[role]
    assert all(d.endswith(HOME) for d in held.detail) or role == "admin-all"


@pytest.mark.parametrize("role", ROLES)
def test_cli_health_is_scoped(cli_dir: Directory, run: Run, role: str) -> None:
    seed_runs(cli_dir)
    before, runs_before = db_digest(cli_dir.store), _runs_digest(cli_dir.store)
    code, out, err = run(role, "health", "--json")
    data = json.loads(out)
    if role not in HEALTH_HELD:
        assert (code, data["status"]) == (3, "UNKNOWN") and LOGINS[role] in data["reason"]
    else:
        held = next(c for c in data["checks"] if c["name"] == "held_runs")
        assert (code, held["value"]) == (1, HEALTH_HELD[role])
        assert all(d.endswith(HOME) for d in held["detail"]) or role == "admin-all"
    assert (db_digest(cli_dir.store), _runs_digest(cli_dir.store)) == (before, runs_before)


async def test_console_bulk_change_of_an_operator_disabled_meanwhile_changes_nothing(
        cli_dir: Directory) -> None:
    """Marked users, then the operator is disabled: Yes on the marked set is refused plainly."""
    from datetime import date

    from hwb_tui.tui.app import HwbApp
    from hwb_tui.tui.screens.bulk import BulkConfirmModal

    d = cli_dir
    app = HwbApp(d.store, _actor(d, "champion"), today=date.today())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("g", "slash", *"govhome", "enter")
        await pilot.pause(0.1)
        await app.workers.wait_for_complete()
        await pilot.press("space", "m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, BulkConfirmModal)
        _disable(d.store, LOGINS["champion"])
        before = db_digest(d.store)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert db_digest(d.store) == before
        shown = [n.message for n in app._notifications]
        assert any(LOGINS["champion"] in m and "disabled" in m for m in shown), shown
    assert status_of(d.store, d.ids["governor-home"]).status == "active"


def test_only_users_in_scope_and_not_mis_can_be_marked(core_dir: Directory) -> None:
    from hwb_tui.core import bulk

    d = core_dir
    with d.store.read() as s:
        users = {key: s.get(User, ident) for key, ident in d.ids.items()}
    for role in ("admin-all", "admin-listed", "champion"):
        actor = _actor(d, role)
        marked = {k for k, u in users.items() if u is not None and bulk.markable(actor, u)}
        schools = ("home", "away") if role == "admin-all" else ("home",)
        assert marked == {f"{who}-{w}" for who in ("governor", "keeper", "former")
                          for w in schools}, role


# ---- operators disable | enable | schools ------------------------------------------------------

# The operators changed: a champion of HOME, of AWAY, of both, and an administrator of every
# school. A Hwb administrator may change only an operator wholly within their own schools.
OP_TARGETS = {"t-home": ("digital-champion", [HOME]), "t-away": ("digital-champion", [AWAY]),
              "t-both": ("digital-champion", [HOME, AWAY]), "t-all": ("hwb-admin", [])}
OPERATORS_CHANGE: dict[str, tuple[str, ...]] = {
    # role           t-home     t-away     t-both     t-all
    "admin-all":    ("ok",      "ok",      "ok",      "ok"),
    "admin-listed": ("ok",      "scope",   "scope",   "scope"),
    "champion":     ("admin",   "admin",   "admin",   "admin"),
    "unknown":      ("refused", "refused", "refused", "refused"),
    "disabled":     ("refused", "refused", "refused", "refused"),
}


def _seed_targets(d: Directory) -> None:
    with d.store.write() as s:
        for login, (role, schools) in OP_TARGETS.items():
            b.operator(s, login, role=role, schools=tuple(schools))


def _stale_actor(d: Directory, role: str) -> Actor:
    """The operator as a console opened earlier holds them (unknown and disabled included)."""
    if role in ("unknown", "disabled"):
        return Actor(login=LOGINS[role], role="hwb-admin", schools=None)
    return _actor(d, role)


# operators list: who sees which operators (and which of their schools).
OPERATORS_SEEN: dict[str, dict[str, list[str]] | str] = {
    "admin-all": {"t-home": [HOME], "t-away": [AWAY], "t-both": [HOME, AWAY], "t-all": []},
    "admin-listed": {"t-home": [HOME], "t-both": [HOME], "t-all": []},
    "champion": "admin",
    "unknown": "refused",
    "disabled": "refused",
}


@pytest.mark.parametrize("role", list(OPERATORS_SEEN))
def test_cli_operators_list_shows_only_operators_in_scope(cli_dir: Directory, run: Run,
                                                          role: str) -> None:
    _seed_targets(cli_dir)
    code, out, err = run(role, "operators", "list", "--json")
    expected = OPERATORS_SEEN[role]
    if isinstance(expected, str):
        _one_line_refusal(code, out, err)
        return
    assert code == 0, err
    seen = {o["login"]: o["schools"] for o in json.loads(out) if o["login"].startswith("t-")}
    assert seen == expected
    assert not any(AWAY in o["schools"] for o in json.loads(out)) or role == "admin-all"


@pytest.mark.parametrize("role", list(OPERATORS_CHANGE))
def test_core_operators_disable_enable_schools_matrix(core_dir: Directory, role: str) -> None:
    d = core_dir
    _seed_targets(d)
    errors = {"refused": (UnknownOperator, OperatorDisabled), "admin": NotPermitted,
              "scope": NotPermitted}
    actor = _stale_actor(d, role)
    for target, expected in zip(OP_TARGETS, OPERATORS_CHANGE[role], strict=True):
        changes: list[Callable[[Session], object]] = [
            lambda s, t=target: operators.set_disabled(s, actor, t, True),
            lambda s, t=target: operators.set_disabled(s, actor, t, False),
        ]
        if target != "t-all":
            changes.append(lambda s, t=target: operators.change_schools(
                s, actor, t, add=[HOME], remove=[]))
        for change in changes:
            before = db_digest(d.store)
            if expected != "ok":
                with pytest.raises(errors[expected]), d.store.write() as s:
                    change(s)
                assert db_digest(d.store) == before, (role, target)
                continue
            with d.store.write() as s:
                change(s)
    if role in ("admin-all", "admin-listed"):
        events = [e for e in events_by(d.store, actor.login) if e.action != "operator_add"]
        # giving t-home HOME again changes nothing and is not audited
        wanted = {"operator_disable", "operator_enable"} | (
            {"operator_schools"} if role == "admin-all" else set())
        assert {e.action for e in events} == wanted
        assert all(e.detail for e in events)


def test_core_a_withdrawn_operator_is_refused_at_once_and_restored(core_dir: Directory) -> None:
    d = core_dir
    admin, champion = _actor(d, "admin-all"), _actor(d, "champion")
    with d.store.write() as s:
        assert operators.set_disabled(s, admin, champion.login, True) is True
    with pytest.raises(OperatorDisabled), d.store.read() as s:
        directory.page(s, champion, directory.Query())
    with d.store.write() as s:
        assert operators.set_disabled(s, admin, champion.login, True) is False  # already
        assert operators.set_disabled(s, admin, champion.login, False) is True
    with d.store.read() as s:
        assert directory.page(s, champion, directory.Query(view="all", status="all"))
    # schools taken away: the open session sees only what is left, at once
    with d.store.write() as s:
        operators.change_schools(s, admin, champion.login, add=[AWAY], remove=[HOME])
    with d.store.read() as s:
        shown = directory.page(s, champion, directory.Query(view="all", status="all"))
    assert {u.school for u in shown} == {AWAY}
    with pytest.raises(NotPermitted), d.store.write() as s:
        operators.set_disabled(s, admin, admin.login, True)  # not yourself
    events = [e.action for e in events_by(d.store, admin.login)]
    assert events == ["operator_disable", "operator_enable", "operator_schools"]


@pytest.mark.parametrize("role,expected", [("admin-all", 0), ("admin-listed", 1),
                                           ("champion", 1), ("disabled", 1)])
def test_cli_operators_disable_enable_schools(cli_dir: Directory, run: Run, role: str,
                                              expected: int) -> None:
    d = cli_dir
    _seed_targets(d)
    before = db_digest(d.store)
    for args in (["operators", "disable", "t-away"], ["operators", "enable", "t-away"],
                 ["operators", "schools", "t-away", "--add", HOME]):
        code, out, err = run(role, *args)
        if expected:
            _one_line_refusal(code, out, err)
        else:
            assert code == 0, err
    if expected:
        assert db_digest(d.store) == before
    else:
        with d.store.read() as s:
            assert load_actor(s, "t-away").schools == frozenset({HOME, AWAY})
