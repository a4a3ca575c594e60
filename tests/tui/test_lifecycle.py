"""Non-MIS lifecycle in the console: add, extend, the expiring banner and filter, activate."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from hwb_tui.core import accounts
from hwb_tui.core.access import system_actor
from hwb_tui.core.models import ACTIVE, DEACTIVATED, User
from hwb_tui.tui.screens.add_user import AddUserModal
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.main import MainScreen
from tests.tui.conftest import Seed
from tests.tui.test_console import (
    SIZE,
    audit_actions,
    search,
    settle,
    shown_usernames,
    table,
    user_row,
)


def notifications(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


async def test_add_a_governor_by_keys(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddUserModal)
        # an administrator of every school types the DfES number; enter moves to the next field
        await pilot.press(*"6612001", "enter")
        await pilot.press(*"Ffion", "enter")
        await pilot.press(*"Ap Siôn", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
        assert table(app).selected is not None
        assert table(app).selected.username == "ApSionF@hwbcymru.net"
    with seed.store.read() as s:
        user = s.exec(select(User).where(col(User.username) == "ApSionF@hwbcymru.net")).one()
    assert (user.kind, user.school, user.surname, user.forename) == (
        "governor", "6612001", "Ap Siôn", "Ffion")
    assert user.expires_on == date(2027, 8, 31)  # default lifetime: end of the academic year


async def test_add_outside_a_champions_schools_is_refused_in_the_form(seed: Seed) -> None:
    app = seed.app("champ")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, AddUserModal)
        from textual.widgets import Input

        school = modal.query_one("#add-school", Input)
        assert school.value == "6612001"  # their one school, filled in
        school.value = "6612002"
        modal.query_one("#add-forename", Input).value = "Bad"
        modal.query_one("#add-surname", Input).value = "Idea"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is modal  # still open, saying why
        assert "6612002" in str(modal.query_one("#add-error").render())
        await pilot.press("escape")
        await settle(app, pilot)
    with seed.store.read() as s:
        assert s.exec(select(User).where(col(User.surname) == "Idea")).first() is None


async def test_expiring_banner_filter_and_extend(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        banner = app.screen.query_one("#banner")
        assert banner.display and "1 account(s) expire within 8 weeks" in str(banner.render())
        await pilot.press("f", "f", "f")  # Active → Deactivated → All → Expiring
        await settle(app, pilot)
        assert shown_usernames(app) == ["LloydH@hwbcymru.net"]
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("down", "enter")  # Extend
        await pilot.pause()
        await pilot.press("down", "enter")  # 3 months
        await settle(app, pilot)
        assert not app.screen.query_one("#banner").display  # nothing expires soon now
    user = user_row(seed, "lloyd")
    assert user.expires_on == date(2027, 2, 28)  # 30 Nov + 3 months, clamped to February
    assert audit_actions(seed, "lloyd") == ["extend"]


async def test_activate_a_deactivated_governor_after_confirming(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f")  # Deactivated
        await settle(app, pilot)
        assert shown_usernames(app) == ["MorganR@hwbcymru.net"]
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")  # Activate
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert table(app).selected is not None and table(app).selected.status == ACTIVE
    assert user_row(seed, "morgan").status == ACTIVE
    assert audit_actions(seed, "morgan") == ["activate"]


async def test_a_lost_race_is_told_plainly_and_recorded_once(seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "evans")
        await pilot.press("m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        # meanwhile another operator deactivates the same governor
        with seed.store.write() as s:
            accounts.deactivate(s, system_actor("other"), seed.ids["evans"])
        await pilot.press("y")
        await settle(app, pilot)
        said = " ".join(notifications(app))
        assert "already deactivated by other" in said
        assert table(app).selected is not None and table(app).selected.status == DEACTIVATED
    user = user_row(seed, "evans")
    assert user.deactivated_by == "other"
    assert audit_actions(seed, "evans") == ["deactivate"]
