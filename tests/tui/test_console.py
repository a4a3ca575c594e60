"""The console driven by keys at 80x24: the seed flow, ITE, MIS, scope, hostile names, language."""

from __future__ import annotations

from sqlmodel import col, select

from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, Operator, User
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.main import MainScreen
from hwb_tui.tui.widgets.user_table import UserTable
from tests.tui.conftest import HOSTILE, Seed

SIZE = (80, 24)


async def settle(app: HwbApp, pilot: object) -> None:
    """Let every worker finish and its results paint."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


def table(app: HwbApp) -> UserTable:
    return app.screen.query_one(UserTable)


def shown_usernames(app: HwbApp) -> list[str]:
    return [u.username for u in table(app).window.rows]


def user_row(seed: Seed, key: str) -> User:
    with seed.store.read() as s:
        user = s.get(User, seed.ids[key])
        assert user is not None
        return user


def audit_actions(seed: Seed, key: str) -> list[str]:
    with seed.store.read() as s:
        return list(s.exec(select(AuditEvent.action).where(
            col(AuditEvent.user_id) == seed.ids[key]).order_by(col(AuditEvent.id))).all())


async def search(app: HwbApp, pilot: object, text: str) -> None:
    await pilot.press("slash", *list(text), "enter")  # type: ignore[attr-defined]
    await settle(app, pilot)


async def test_seed_flow_deactivates_a_governor_after_yes(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await search(app, pilot, "jones")
        assert shown_usernames(app) == ["JonesS@hwbcymru.net"]
        assert isinstance(app.focused, UserTable)
        await pilot.press("enter")  # View Details
        assert app.focused is not None and app.focused.id == "details"
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")  # Deactivate is the first item
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
        assert table(app).window.rows[0].status == DEACTIVATED
        assert table(app).total == 0  # no longer among the active governors matching "jones"
    user = user_row(seed, "jones")
    assert user.status == DEACTIVATED and user.deactivated_by == "admin"
    assert audit_actions(seed, "jones") == ["deactivate"]


async def test_cancel_and_escape_change_nothing(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "jones")
        await pilot.press("m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("enter")  # Cancel has the focus
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    assert user_row(seed, "jones").status == ACTIVE
    assert audit_actions(seed, "jones") == []


async def test_ite_student_needs_the_informed_statement(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await search(app, pilot, "roberts")
        await pilot.press("m", "enter")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        yes = modal.query_one("#yes")
        assert yes.disabled
        await pilot.press("y")  # refused while the box is unticked
        await pilot.pause()
        assert app.screen is modal
        await pilot.click("#confirm-informed")
        await pilot.pause()
        assert not yes.disabled
        await pilot.press("y")
        await settle(app, pilot)
    user = user_row(seed, "roberts")
    assert user.status == DEACTIVATED
    assert user.ite_informed_by == "admin" and user.ite_informed_at is not None
    assert audit_actions(seed, "roberts") == ["ite_informed", "deactivate"]
