"""The console driven by keys at 80x24: the seed flow, ITE, MIS, scope, hostile names, language."""

from __future__ import annotations

from sqlmodel import col, select

from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, Operator, User
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.main import MainScreen
from hwb_tui.tui.widgets.user_table import UserTable
from tests.tui.conftest import HOSTILE, Seed
from tests.tui.console import SIZE, settle


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


async def test_seed_flow_deactivates_a_governor_after_yes(seed_any: Seed) -> None:
    seed = seed_any  # on SQLite and on PostgreSQL
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


async def test_mis_accounts_show_the_managed_by_mis_line_and_cannot_be_deactivated(
        seed: Seed) -> None:
    from textual.widgets import OptionList

    from hwb_tui.tui.screens.manage import ChoiceModal

    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("l")
        await settle(app, pilot)
        await search(app, pilot, "hughes")
        assert shown_usernames(app) == ["HughesC@hwbcymru.net"]
        await pilot.press("m")
        await pilot.pause()
        menu = app.screen
        assert isinstance(menu, ChoiceModal)
        options = menu.query_one(OptionList)
        assert options.option_count == 1
        only = options.get_option_at_index(0)
        assert only.disabled
        assert "leaving date" in str(only.prompt) and "MIS" in str(only.prompt)
        await pilot.press("enter", "y")  # nothing to choose: still no deactivation
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    assert user_row(seed, "hughes").status == ACTIVE
    assert audit_actions(seed, "hughes") == []


async def test_a_digital_champion_sees_only_their_school(seed: Seed) -> None:
    app = seed.app("champ")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        names = shown_usernames(app)
        assert "JonesS@hwbcymru.net" in names
        assert "PritchardO@hwbcymru.net" not in names  # a governor of another school
        await search(app, pilot, "pritchard")
        assert shown_usernames(app) == []
        assert table(app).total == 0
        assert "No users match." in app.screen.query_one(UserTable).render_line(1).text
    # the admin of every school does see that governor
    admin = seed.app("admin")
    async with admin.run_test(size=SIZE) as pilot:
        await settle(admin, pilot)
        await search(admin, pilot, "pritchard")
        assert shown_usernames(admin) == ["PritchardO@hwbcymru.net"]


async def test_hostile_names_are_shown_literally_and_clicking_them_does_nothing(
        seed: Seed) -> None:
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "zed")
        tbl = table(app)
        assert len(tbl.window.rows) == len(HOSTILE)
        lines = [tbl.render_line(y).text for y in range(1, 1 + len(HOSTILE))]
        screen_text = "\n".join(lines)
        assert "[@click=app.quit]x[/], Z" in screen_text
        assert "Smith [/], Zed" in screen_text
        assert "\x1b" not in screen_text and "EvilRed" in screen_text.replace("[31m", "")
        for y in range(1, 1 + len(HOSTILE)):
            for segment in tbl.render_line(y):
                assert not (segment.style and segment.style.meta), "a row carries an action"
        # click every row and the details panel: the app is still running, nothing happened
        for y in range(1, 1 + len(HOSTILE)):
            await pilot.click(UserTable, offset=(3, y))
            await pilot.pause()
            await pilot.click("#details", offset=(3, 1))
            await pilot.pause()
        assert app.is_running
        assert isinstance(app.screen, MainScreen)
        details = app.screen.query_one("#details")
        assert "\x1b" not in str(details.render())
    for i in range(len(HOSTILE)):
        assert user_row(seed, f"hostile{i}").status == ACTIVE


async def test_language_switch_keeps_search_and_selection_and_is_remembered(
        seed: Seed) -> None:
    from textual.widgets import Input

    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "ll")
        before = [u.username for u in table(app).window.rows]
        assert before == ["LlewelynG@hwbcymru.net", "LloydH@hwbcymru.net"]
        await pilot.press("down")
        assert table(app).selected is not None
        chosen = table(app).selected.username
        await pilot.press("c")
        await settle(app, pilot)
        assert app.lang == "cy"
        assert app.screen.query_one("#search", Input).value == "ll"
        assert table(app).selected is not None and table(app).selected.username == chosen
        heading = table(app).render_line(0).text
        assert "Enw defnyddiwr" in heading and "Ysgol" in heading
        assert "Gweld llywodraethwyr" in str(app.screen.query_one("#sidebar").render())
        footer = {active.binding.description for active in app.screen.active_bindings.values()
                  if active.binding.show and active.enabled}
        assert {"Chwilio", "Rheoli", "Hidlo", "English", "Cymorth", "Gadael"} <= footer
    with seed.store.read() as s:
        op = s.get(Operator, "admin")
        assert op is not None and op.language == "cy"
    # the next console for this operator starts in Welsh
    again = seed.app("admin")
    assert again.lang == "cy"


async def test_the_table_sorts_in_the_welsh_alphabet_in_welsh(seed: Seed) -> None:
    # "ll" is one letter, after "l": Lyons comes before Llewelyn in Welsh, after in English.
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "l")
        assert [u.surname for u in table(app).window.rows] == ["Llewelyn", "Lloyd", "Lyons"]
        await pilot.press("c")
        await settle(app, pilot)
        assert [u.surname for u in table(app).window.rows] == ["Lyons", "Llewelyn", "Lloyd"]


async def test_escape_leaves_the_search_field_and_the_details(seed: Seed) -> None:
    from textual.widgets import Input

    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "g", "q")  # letters type into the field, they do not act
        await settle(app, pilot)
        assert isinstance(app.focused, Input) and app.focused.value == "gq"
        assert app.is_running
        await pilot.press("escape")
        assert isinstance(app.focused, UserTable)
        await pilot.press("backspace", "enter")
        await pilot.press("escape")
        assert isinstance(app.focused, UserTable)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
