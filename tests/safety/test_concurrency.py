"""Two consoles and provisioning runs on one database (SQLite file and PostgreSQL), driven at
once: one operator wins a race and the other is told who did; a run moving a learner that a
console is looking at loses nothing; runs racing on the same learner never both apply from
the same stale view; the console keeps answering while a run holds the write lock."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy import text as sa_text
from textual.widgets import OptionList

from hwb_tui.core.access import PROVISIONING_ACTOR, Actor
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, ProvisioningRun, User
from hwb_tui.i18n import t
from hwb_tui.provisioning.apply import MOVE_OUT
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.main import MainScreen
from hwb_tui.tui.screens.manage import ChoiceModal
from tests import builders as b
from tests.conftest import PG_URL
from tests.safety.conftest import (
    AS_OF,
    LEFT,
    SIMS_LEARNERS,
    big_school,
    cli,
    cli_env,
    digest,
    held,
    provision_args,
    wait_for,
    write_export,
)
from tests.tui.test_console import settle, table

SIZE = (80, 24)
HOME = "6612001"
OTHER = "6612002"
GOVERNORS = ("Jones", "Evans", "Morgan")  # one race per governor


@dataclass
class Seeded:
    store: Store
    ids: dict[str, int]
    learner_upn: str

    def actor(self, login: str) -> Actor:
        return b.actor(self.store, login)

    def app(self, login: str, store: Store | None = None) -> HwbApp:
        return HwbApp(store or self.store, b.actor(self.store, login), lang="en")


@pytest.fixture
def seeded(any_store: Store) -> Seeded:
    ids: dict[str, int] = {}
    upn = b.learner_upn(HOME, 1, year=9)
    with any_store.write() as s:
        b.school(s, HOME, "Ysgol Gymraeg Aberystwyth")
        b.school(s, OTHER, "Ysgol Penweddig")
        b.operator(s, "alys")  # a Hwb administrator
        b.operator(s, "bryn", role="digital-champion", schools=(HOME,))
        for surname in GOVERNORS:
            u = b.user(s, surname, "Siân", expires_on=date(2027, 8, 31))
            ids[surname] = int(u.id or 0)
        u = b.user(s, "Hughes", "Cai", kind="learner", upn=upn, year_group=9)
        ids["learner"] = int(u.id or 0)
    return Seeded(any_store, ids, upn)


async def search(app: HwbApp, pilot: object, text: str) -> None:
    """Type a new search (the field cleared first) and go back to the table."""
    await pilot.press("slash", "end", "ctrl+u", *list(text), "enter")  # type: ignore[attr-defined]
    await settle(app, pilot)


def notes(app: HwbApp) -> list[str]:
    return [n.message for n in app._notifications]


def events(store: Store, user_id: int) -> list[tuple[str, str]]:
    with store.read() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.actor)
                         .where(AuditEvent.user_id == user_id).order_by(AuditEvent.id)).all()
    return [(str(a), str(w)) for a, w in rows]


def account(store: Store, user_id: int) -> User:
    with store.read() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


# --- two operators, one governor ------------------------------------------------------------

async def test_two_consoles_deactivating_the_same_governor(seeded: Seeded) -> None:
    a, z = seeded.app("alys"), seeded.app("bryn")
    async with a.run_test(size=SIZE) as pa, z.run_test(size=SIZE) as pz:
        consoles = [(a, pa), (z, pz)]
        for round_, surname in enumerate(GOVERNORS):
            for app, pilot in consoles:
                await settle(app, pilot)
                await search(app, pilot, surname.lower())
                await pilot.press("m", "enter")
                await pilot.pause()
                assert isinstance(app.screen, ConfirmModal)
            # both say Yes at once (who presses first alternates between rounds)
            order = consoles if round_ % 2 == 0 else consoles[::-1]
            await asyncio.gather(*(pilot.press("y") for _app, pilot in order))
            for app, pilot in consoles:
                await settle(app, pilot)
                assert isinstance(app.screen, MainScreen)
            uid = seeded.ids[surname]
            user = account(seeded.store, uid)
            assert user.status == DEACTIVATED
            winner = user.deactivated_by
            assert events(seeded.store, uid) == [("deactivate", winner)]  # once, by the winner
            loser_app = z if winner == "alys" else a
            winner_app = a if winner == "alys" else z
            done = t("tui.done.deactivate", "en", username=user.username)
            assert done in notes(winner_app)
            said = [m for m in notes(loser_app) if user.username in m and m != done]
            assert said and f"already deactivated by {winner}" in said[-1], notes(loser_app)
            # the loser's screen shows the account as it now is
            assert table(loser_app).selected is not None
            assert table(loser_app).selected.status == DEACTIVATED
            for _app, pilot in consoles:
                await pilot.press("escape")


# --- a console and a provisioning run on the same learner -----------------------------------

def _export(path: Path, rows: list[str]) -> Path:
    path.write_text("\r\n".join([SIMS_LEARNERS, *rows]) + "\r\n", encoding="utf-8")
    return path


def _learner(upn: str, surname: str, leaving: str = "") -> str:
    return f"{upn},{surname},Cai,{upn[-6:]},01/09/2021,{leaving},9,9A"


async def test_a_run_moves_the_learner_a_console_is_looking_at(seeded: Seeded,
                                                               tmp_path: Path) -> None:
    store, uid = seeded.store, seeded.ids["learner"]
    version = account(store, uid).version
    # OTHER's export lists the learner (moving in) and 500 new learners of its own
    rows = [_learner(seeded.learner_upn, "Hughes")]
    rows += [_learner(b.learner_upn(OTHER, i % 1000, year=10 + i // 1000), f"Newydd{i}")
             for i in range(500)]
    export = _export(tmp_path / f"{OTHER}-learners.csv", rows)
    a, z = seeded.app("alys"), seeded.app("bryn")
    async with a.run_test(size=SIZE) as pa, z.run_test(size=SIZE) as pz:
        for app, pilot in ((a, pa), (z, pz)):
            await settle(app, pilot)
            await pilot.press("l")
            await search(app, pilot, "hughes")
            assert table(app).selected is not None and table(app).selected.school == HOME
            await pilot.press("enter")  # View Details of the learner
        # bryn opens Deactivate on a governor of the same school while the run applies
        await pz.press("escape", "g")
        await search(z, pz, "jones")
        await pz.press("m", "enter")
        await pz.pause()
        assert isinstance(z.screen, ConfirmModal)
        proc = cli(store.url, "provision", str(export), "--as-of", AS_OF)
        await asyncio.to_thread(wait_for, proc.stderr, ": applying")
        await pz.press("y")
        out, err = await asyncio.to_thread(proc.communicate, None, 120)
        assert proc.returncode == 0, (out, err)
        await settle(z, pz)
        # alys's view is stale: Manage on it offers nothing but the managed-by-MIS line
        await pa.press("m")
        await pa.pause()
        assert isinstance(a.screen, ChoiceModal)
        options = a.screen.query_one(OptionList)
        assert options.option_count == 1 and options.get_option_at_index(0).disabled
        await pa.press("enter", "y", "escape")
        await settle(a, pa)
        # looking again shows where the learner is now; bryn (HOME only) no longer sees them
        await pa.press("escape")
        await search(a, pa, "hughes")  # typed before the run
        assert table(a).selected is not None and table(a).selected.school == OTHER
        await pz.press("l")
        await search(z, pz, "hug")
        assert table(z).total == 0
    learner = account(store, uid)
    assert (learner.school, learner.status, learner.version) == (OTHER, ACTIVE, version + 1)
    # the move, and its mirror in the audit of the school the learner left
    assert events(store, uid) == [("move", PROVISIONING_ACTOR), (MOVE_OUT, PROVISIONING_ACTOR)]
    governor = account(store, seeded.ids["Jones"])
    assert governor.status == DEACTIVATED and governor.deactivated_by == "bryn"
    assert events(store, seeded.ids["Jones"]) == [("deactivate", "bryn")]


def test_two_runs_racing_on_one_learner_never_both_apply_a_stale_plan(
        seeded: Seeded, tmp_path: Path) -> None:
    """HOME's export says the learner left; OTHER's says the learner is there now. Both runs
    are held at the learner's row (PostgreSQL: a row lock; SQLite: the write lock) and let go
    together. If both applied what they planned from the same version, one change would be
    lost. SQLite runs one writer at a time, so the second plans from the first's result; on
    PostgreSQL both plan at once and the second is refused whole, naming the learner. Either
    way, once the refused run is run again, the learner is active at OTHER."""
    store, uid = seeded.store, seeded.ids["learner"]
    leaving = _export(tmp_path / f"{HOME}-learners.csv",
                      [_learner(seeded.learner_upn, "Hughes", LEFT)])
    arriving = _export(tmp_path / f"{OTHER}-learners.csv",
                       [_learner(seeded.learner_upn, "Hughes")]
                       + [_learner(b.learner_upn(OTHER, i), f"Newydd{i}") for i in range(200)])
    username = account(store, uid).username
    envs = [cli_env(HWB_BUSY_TIMEOUT="60") for _ in range(2)]
    with held(store, 'SELECT id FROM "user" WHERE id = :i FOR UPDATE', i=uid):
        procs = [cli(store.url, "provision", str(f), "--as-of", AS_OF, "--json", env=env)
                 for f, env in zip((leaving, arriving), envs, strict=True)]
        for proc in procs:
            wait_for(proc.stderr, ": planning")
        if store.dialect == "postgresql":
            _until_waiting_for_a_lock([env["PGAPPNAME"] for env in envs])
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in out + err
        results.append((proc.returncode, json.loads(out)["schools"][0]))
    outcomes = sorted(school["outcome"] for _code, school in results)
    if store.dialect == "sqlite":
        assert outcomes == ["applied", "applied"]
    else:
        assert outcomes == ["applied", "failed"]
    for (code, school), export in zip(results, (leaving, arriving), strict=True):
        if code == 0:
            continue
        assert code == 4
        assert school["message"] == t("error.changed_meanwhile", "en", username=username,
                                      by=PROVISIONING_ACTOR)
        again = cli(store.url, "provision", str(export), "--as-of", AS_OF)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, (out, err)
    learner = account(store, uid)
    assert (learner.school, learner.status) == (OTHER, ACTIVE)
    # a move's mirror at the school left (move_out) is the same change seen from there
    history = [e for e in events(store, uid) if e[0] != MOVE_OUT]
    # every applied change was planned from the version before it: one event per version
    assert learner.version == 1 + len(history), history
    assert history[-1][0] == "move"


def _until_waiting_for_a_lock(appnames: list[str]) -> None:
    """Wait until every one of these PostgreSQL clients is blocked on a lock."""
    assert PG_URL is not None
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for _ in range(1200):
                waiting = conn.execute(sa_text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(:a) "
                    "AND wait_event_type = 'Lock'"), {"a": appnames}).scalar()
                if waiting == len(appnames):
                    return
                time.sleep(0.05)
    finally:
        admin.dispose()
    raise AssertionError("the runs never reached the locked row")


# --- the console while a run holds the write lock -------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
async def test_the_console_answers_while_a_run_holds_the_write_lock(
        dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    store: Store = request.getfixturevalue("demo_sqlite" if dialect == "sqlite" else "demo_pg")
    school, _ = big_school(store)
    export = write_export(store, tmp_path / f"{school}-learners.csv", school, new=4000, seed=6)
    with store.read() as s:
        users_before = s.execute(select(func.count()).select_from(User)).scalar_one()
        governor = s.execute(select(User).where(User.kind == "governor",
                                                User.status == ACTIVE)
                             .order_by(User.id).limit(1)).scalar_one()
    # the console's own store gives up on a busy database after half a second
    console_store = open_store(store.url, busy_timeout=0.5)
    app = HwbApp(console_store, b.actor(store, "admin"), lang="en")
    proc = cli(store.url, *provision_args(export), env=cli_env())
    try:
        wait_for(proc.stderr, ": applying")
        proc.send_signal(signal.SIGSTOP)  # the run stops inside its write transaction
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("l")
            await search(app, pilot, "")
            assert table(app).total is not None and table(app).total > 0
            await pilot.press("g")
            await search(app, pilot, governor.surname.lower())
            assert any(u.id == governor.id for u in table(app).window.rows)
            while table(app).selected is not None and table(app).selected.id != governor.id:
                await pilot.press("down")
            await pilot.press("m", "enter")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(app, pilot)
            user = account(store, int(governor.id or 0))
            if dialect == "sqlite":
                # one writer at a time: the operator is told plainly, nothing changes
                assert any("busy" in m for m in notes(app)), notes(app)
                assert user.status == ACTIVE
            else:
                # other rows are not locked on PostgreSQL: the deactivation goes through
                assert user.status == DEACTIVATED and user.deactivated_by == "admin"
            with store.read() as s:  # nothing of the stopped run is visible
                assert s.execute(select(func.count()).select_from(User)).scalar_one() \
                    == users_before
            proc.send_signal(signal.SIGCONT)
            out, err = await asyncio.to_thread(proc.communicate, None, 300)
            assert proc.returncode == 0, (out, err)
            await pilot.press("l")
            await search(app, pilot, "llywelyn")  # the run's new learners are there now
            assert table(app).total is not None and table(app).total >= 4000
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.communicate()
        console_store.dispose()
    with store.read() as s:
        assert s.execute(select(func.count()).select_from(ProvisioningRun)
                         .where(ProvisioningRun.outcome == "applied")).scalar_one() >= 1
    assert digest(store)["user"][0] == users_before + 4000
