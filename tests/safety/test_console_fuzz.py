"""The console under random keys: it never crashes, and it changes nobody without the dialog.

Seeded random key sequences (the keys of SPEC §2, letters, digits, escape, enter, tab, space,
arrows) drive HwbApp at 80x24 on a small directory with a governor, an ITE student, a learner,
staff and hostile names. After every key: the app is still running, and every deactivation or
activation in the audit log (and every status that changed) was preceded by a confirm dialog,
on screen, answered Yes (for an ITE student: with "I have informed this student" ticked),
and the table holds only users of the operator's schools.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import col, select
from textual.widgets import Checkbox
from textual.worker import WorkerCancelled

from hwb_tui.core.db import Store
from hwb_tui.core.models import DEACTIVATED, AuditEvent, User
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.bulk import BulkConfirmModal
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.widgets.user_table import UserTable
from tests import builders as b

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
HOME, AWAY = "6612001", "6612002"
SIZE = (80, 24)
KEYS_PER_RUN = 75
# (login, seeds): 4 runs of 75 keys, 300 keys in all.
RUNS = {"admin": (11, 12), "champion": (22,), "cymro": (31,)}

# `q` is left out: it quits, which is what it is for.
SPEC_KEYS = ["g", "n", "l", "p", "slash", "enter", "up", "down", "pageup", "pagedown", "home",
             "end", "m", "f", "a", "c", "escape", "question_mark"]
OTHER_KEYS = (list("bdehijkorstuvwxyz0123456789")
              + ["tab", "shift+tab", "left", "right", "space", "backspace"])
SINGLE = SPEC_KEYS + OTHER_KEYS + ["escape"] * 4 + ["y"] * 3 + ["down"] * 3
# Short runs of the same keys that lead into the dialog and answer it in different ways, mixed
# in at random so that most runs reach it (pure noise rarely gets past the menus).
PHRASES = [["m"], ["m", "enter"], ["m", "enter", "y"], ["m", "down", "enter"],
           ["m", "enter", "enter"], ["m", "enter", "tab", "space", "y"],
           ["m", "enter", "shift+tab", "space", "shift+tab", "enter"], ["escape", "escape"]]


def key_sequence(seed: int, length: int) -> list[str]:
    """`length` keys: single random keys, and now and then a phrase."""
    rnd = random.Random(seed)
    keys: list[str] = []
    while len(keys) < length:
        keys.extend(rnd.choice(PHRASES) if rnd.random() < 0.3 else [rnd.choice(SINGLE)])
    return keys[:length]


def seed_directory(store: Store) -> None:
    with store.write() as s:
        b.school(s, HOME, "Ysgol Gymraeg Aberystwyth")
        b.school(s, AWAY, "Penglais School")
        b.operator(s, "admin")
        b.operator(s, "champion", role="digital-champion", schools=(HOME,))
        b.operator(s, "cymro", schools=(HOME, AWAY), language="cy")
        b.user(s, "Jones", "Siân", expires_on=date(2027, 8, 31))
        b.user(s, "Evans", "Dafydd", expires_on=date(2026, 12, 20))
        b.user(s, "Morgan", "Rhys", status=DEACTIVATED,
               deactivated_at=datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
        b.user(s, "Pritchard", "Owain", school=AWAY, expires_on=date(2027, 8, 31))
        b.user(s, "Roberts", "Ffion", kind="ite", expires_on=date(2027, 6, 30))
        b.user(s, "Hughes", "Cai", kind="learner", upn=b.learner_upn(HOME, 1), year_group=12)
        b.user(s, "Davies", "Mair", kind="staff", staff_code="MDA")
        b.user(s, "Owen", "Lowri", kind="learner", upn=b.learner_upn(HOME, 2), year_group=9,
               status=DEACTIVATED)
        for hostile in ("[@click=app.quit]x[/]", "Smith [/]", "Evil\x1b[31mRed\x1b[0m",
                        "=HYPERLINK(\"x\")", "[bold]Bold[/bold]"):
            b.user(s, hostile, "Zed", kind="la", expires_on=date(2027, 8, 31))


@dataclass
class Answer:
    """One answer of a confirm dialog, as it was given."""

    action: str
    user_id: int
    kind: str
    yes: bool
    on_screen: bool
    informed: bool
    used: bool = False


@dataclass
class Watch:
    """What the console did, key by key."""

    answers: list[Answer] = field(default_factory=list)
    changes: int = 0
    dialogs: int = 0


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    """Every ConfirmModal answer is recorded as the dialog is dismissed."""
    w = Watch()
    original = ConfirmModal.dismiss

    def dismiss(self: ConfirmModal, result: Any = None) -> Any:
        informed = True
        if self.needs_statement:
            informed = self.query_one("#confirm-informed", Checkbox).value
        assert self.user.id is not None
        w.answers.append(Answer(self.action, self.user.id, self.user.kind, bool(result),
                                self.app.screen is self, informed))
        return original(self, result)

    monkeypatch.setattr(ConfirmModal, "dismiss", dismiss)

    # The marked set's one dialog (space, then m): its Yes answers for every user it names.
    bulk_original = BulkConfirmModal.dismiss

    def bulk_dismiss(self: BulkConfirmModal, result: Any = None) -> Any:
        informed = True
        if self.needs_statement:
            informed = self.query_one("#confirm-informed", Checkbox).value
        for user in self.users:
            assert user.id is not None
            w.answers.append(Answer(str(self.action), user.id, user.kind, bool(result),
                                    self.app.screen is self, informed))
        return bulk_original(self, result)

    monkeypatch.setattr(BulkConfirmModal, "dismiss", bulk_dismiss)
    return w


async def settle(app: HwbApp) -> None:
    """Every worker done, so that what a key started has reached the database (pilot.press
    has already let the screen process the key)."""
    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass  # a search superseded by a newer one


def statuses(store: Store) -> dict[int, str]:
    with store.read() as s:
        return {uid: status for uid, status in s.exec(select(User.id, User.status))
                if uid is not None}


def events_after(store: Store, last: int) -> list[AuditEvent]:
    with store.read() as s:
        return list(s.exec(select(AuditEvent).where(col(AuditEvent.id) > last)
                           .order_by(col(AuditEvent.id))).all())


def check_step(store: Store, watch: Watch, before: dict[int, str], last: int,
               trail: list[str]) -> tuple[dict[int, str], int]:
    """The changes since the last key: each deactivation or activation matches one Yes."""
    events = events_after(store, last)
    now = statuses(store)
    changed_by_event: set[int] = set()
    for event in events:
        if event.action not in ("deactivate", "activate", "ite_informed"):
            continue  # add and extend are not behind the confirm dialog (SPEC §2)
        assert event.user_id is not None
        if event.action == "ite_informed":
            continue  # checked with its deactivation, in the same transaction
        match = next((a for a in watch.answers if not a.used and a.yes
                      and a.action == event.action and a.user_id == event.user_id), None)
        assert match is not None, (f"{event.action} of user {event.user_id} without a Yes in "
                                   f"the confirm dialog; keys: {trail[-15:]}")
        assert match.on_screen
        if match.kind == "ite" and match.action == "deactivate":
            assert match.informed, f"ITE student deactivated unticked; keys: {trail[-15:]}"
        match.used = True
        watch.changes += 1
        changed_by_event.add(event.user_id)
    for uid, status in now.items():
        if before.get(uid, status) != status:
            assert uid in changed_by_event, (f"user {uid} became {status} with no audited "
                                              f"confirmation; keys: {trail[-15:]}")
    return now, events[-1].id if events and events[-1].id is not None else last


@pytest.mark.parametrize("login", list(RUNS))
async def test_random_keys_never_crash_and_never_change_anyone_unconfirmed(
        store: Store, watch: Watch, login: str) -> None:
    seed_directory(store)
    for seed in RUNS[login]:
        keys = key_sequence(seed, KEYS_PER_RUN)
        app = HwbApp(store, b.actor(store, login), today=TODAY, now=NOW)
        before, last = statuses(store), max((e.id or 0 for e in events_after(store, 0)),
                                            default=0)
        trail: list[str] = []
        async with app.run_test(size=SIZE) as pilot:
            await settle(app)
            for key in keys:
                trail.append(key)
                await pilot.press(key)
                await settle(app)
                assert app.is_running and app.return_code is None, f"stopped; keys: {trail}"
                if isinstance(app.screen, ConfirmModal):
                    watch.dialogs += 1
                for screen in app.screen_stack:
                    # whatever the keys did, the table holds only users in the operator's scope
                    for table in screen.query(UserTable):
                        assert all(app.actor.covers(u.school) for u in table.window.rows)
                before, last = check_step(store, watch, before, last, trail)
    # the runs are not vacuous: the dialog was opened, and answered
    assert watch.dialogs > 0 and watch.answers, "no confirm dialog was ever opened"
    print(f"{login}: {len(RUNS[login]) * KEYS_PER_RUN} keys, {watch.dialogs} steps in the "
          f"dialog, {len(watch.answers)} answers ({sum(a.yes for a in watch.answers)} Yes), "
          f"{watch.changes} changes")
