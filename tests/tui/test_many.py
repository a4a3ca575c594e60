"""The console at work at 80x24: what each row is, marking, acting on many, leaving soon."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import col, select
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox

from hwb_tui.core import accounts
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, User
from hwb_tui.i18n import t
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.bulk import BulkConfirmModal, BulkMenu
from hwb_tui.tui.screens.main import MainScreen
from tests import builders
from tests.tui.conftest import HOME, Seed
from tests.tui.test_fit import screen_lines

COHORT = ("Bevan", "Cadwaladr", "Daniel", "Edwards", "Ffransis", "Gruffudd", "Harris", "Ifans",
          "Jenkins", "Kemp", "Lewis", "Madog")


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def main_screen(app: HwbApp) -> MainScreen:
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def title(app: HwbApp) -> str:
    return str(main_screen(app).query_one("#table-title").render())


def row_of(app: HwbApp, surname: str) -> str:
    lines = [line for line in screen_lines(app)
             if f"▕  {surname}, " in line or f"▕● {surname}, " in line]  # rows, not details
    assert len(lines) == 1, "\n".join(screen_lines(app))
    return lines[0]


def users_named(seed: Seed, *surnames: str) -> dict[str, User]:
    with seed.store.read() as s:
        found = s.exec(select(User).where(col(User.surname).in_(surnames))).all()
    return {u.surname: u for u in found}


def add_cohort(seed: Seed, *surnames: str, kind: str = "ite") -> None:
    with seed.store.write() as s:
        for surname in surnames:
            builders.user(s, surname, "Myfyriwr", kind=kind, expires_on=date(2027, 6, 30))


async def search(pilot: Pilot[None], term: str) -> None:
    await pilot.press("slash")
    screen = main_screen(pilot.app)  # type: ignore[arg-type]
    screen.query_one("#search").value = ""  # type: ignore[attr-defined]
    await pilot.press(*term, "enter")
    await settle(pilot)


# ---- see what you manage ------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "cy"])
async def test_the_kind_column_and_the_view_in_words(seed: Seed, lang: str) -> None:
    app = seed.app(lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # one kind: no kind column; the heading names the view
        assert title(app).startswith(t("tui.view.governors", lang))
        assert t("tui.col.kind", lang) not in screen_lines(app)[4]
        await pilot.press("n")
        await settle(pilot)
        assert title(app).startswith(t("tui.view.non-mis", lang))
        heading = screen_lines(app)[4]
        assert t("tui.col.kind", lang) in heading and "St" not in heading.split()
        assert f" {t('tui.kind_short.ite', lang)} " in row_of(app, "Roberts")
        assert f" {t('tui.kind_short.governor', lang)} " in row_of(app, "Jones")
        # the status column is a symbol whose meaning ? gives: ✗ deactivated, ! ending soon
        assert row_of(app, "Jones").rstrip(" │┃").endswith("✓")
        assert row_of(app, "Lloyd").rstrip(" │┃").endswith("!")  # expires 20 Dec: soon
        await pilot.press("f")  # Deactivated
        await settle(pilot)
        assert row_of(app, "Morgan").rstrip(" │┃").endswith("✗")
        await pilot.press("f", "l")  # All, in View Learners & Staff
        await settle(pilot)
        assert title(app).startswith(t("tui.view.mis", lang))
        assert f" {t('tui.kind_short.learner', lang)} " in row_of(app, "Hughes")
        assert f" {t('tui.kind_short.staff', lang)} " in row_of(app, "Davies")
        await pilot.press("question_mark")
        await settle(pilot)
        shown = "\n".join(screen_lines(app))
        assert "! " + t("tui.help.legend_leaving", lang) in shown
        assert "✗ " + t("tui.help.legend_deactivated", lang) in shown
        assert "● " + t("tui.help.legend_mark", lang) in shown


# ---- marking ------------------------------------------------------------------------------------

async def test_marks_survive_scrolling_and_searching_within_a_view(seed: Seed) -> None:
    app = seed.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await search(pilot, "jones")
        await pilot.press("space")
        await settle(pilot)
        await search(pilot, "roberts")
        assert title(app).endswith(t("tui.marked_hint", "en")) and "1 marked" in title(app)
        await pilot.press("space")
        await settle(pilot)
        assert "● Roberts, Ffion" in row_of(app, "Roberts")
        await search(pilot, "")  # the whole view again, and down and back up
        await pilot.press("end", "home")
        await settle(pilot)
        assert "2 marked" in title(app)
        assert "● Jones, Siân" in row_of(app, "Jones")
        assert "● Roberts, Ffion" in row_of(app, "Roberts")
        assert "●" not in row_of(app, "Evans")
        assert set(main_screen(app).marks) == {seed.ids["jones"], seed.ids["roberts"]}
        # space again unmarks
        await search(pilot, "jones")
        await pilot.press("space")
        await settle(pilot)
        assert set(main_screen(app).marks) == {seed.ids["roberts"]}
        # another view starts unmarked
        await pilot.press("g")
        await settle(pilot)
        assert main_screen(app).marks == {}


async def test_mis_users_cannot_be_marked(seed: Seed) -> None:
    app = seed.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l", "space")
        await settle(pilot)
        assert main_screen(app).marks == {}
        assert any("MIS" in n.message for n in app._notifications)


# ---- acting on many -----------------------------------------------------------------------------

async def _mark_all(pilot: Pilot[None], count: int) -> None:
    for _ in range(count):
        await pilot.press("space")
    await settle(pilot)


@pytest.mark.parametrize("lang", ["en", "cy"])
async def test_bulk_deactivate_of_governors_and_ite_students_needs_the_tick(
        seed: Seed, lang: str) -> None:
    add_cohort(seed, "Bevan", "Cadwaladr")
    add_cohort(seed, "Bowen", kind="governor")
    app = seed.app(login="champ", lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await search(pilot, "b")  # Bevan (ITE), Bowen (governor)
        await _mark_all(pilot, 2)
        await search(pilot, "cadw")
        await _mark_all(pilot, 1)
        await search(pilot, "evans")  # a governor
        await _mark_all(pilot, 1)
        assert len(main_screen(app).marks) == 4
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, BulkMenu)
        await pilot.press("enter")  # Deactivate, the first choice
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, BulkConfirmModal)
        shown = "\n".join(screen_lines(app))
        assert t("tui.bulk.confirm.deactivate", lang, count=4) in shown
        for name in ("Bevan, Myfyriwr", "Bowen, Myfyriwr", "Cadwaladr, Myfyriwr",
                     "Evans, Dafydd"):
            assert name in shown
        assert t("tui.bulk.ite_informed", lang) in shown
        assert app.focused is dialog.query_one("#cancel", Button)
        yes = dialog.query_one("#yes", Button)
        assert yes.disabled
        await pilot.press("y")  # refused: not yet ticked
        await settle(pilot)
        assert app.screen is dialog
        await pilot.press("shift+tab")  # from Cancel, past the disabled Yes, to the tick
        assert app.focused is dialog.query_one(Checkbox)
        await pilot.press("space")
        assert not yes.disabled
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert main_screen(app).marks == {}
        messages = [n.message for n in app._notifications]
        assert any(t("tui.bulk.done.deactivate", lang, count=4) in m for m in messages), messages
    found = users_named(seed, "Bevan", "Bowen", "Cadwaladr", "Evans")
    assert {u.status for u in found.values()} == {DEACTIVATED}
    assert {u.deactivated_by for u in found.values()} == {"champ"}
    # "I have informed these students" is recorded on each ITE student, and only on them
    assert {s: u.ite_informed_by for s, u in found.items()} == {
        "Bevan": "champ", "Cadwaladr": "champ", "Bowen": None, "Evans": None}
    with seed.store.read() as s:
        informed = s.exec(select(AuditEvent.user_id).where(
            col(AuditEvent.action) == "ite_informed")).all()
    assert sorted(informed) == sorted([found["Bevan"].id, found["Cadwaladr"].id])


async def test_a_bulk_action_where_one_user_loses_a_race(seed: Seed) -> None:
    app = seed.app(login="champ")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "evans")
        await _mark_all(pilot, 1)
        await search(pilot, "jones")
        await _mark_all(pilot, 1)
        await search(pilot, "lyons")
        await _mark_all(pilot, 1)
        # meanwhile another operator deactivates Jones
        with seed.store.write() as s:
            accounts.deactivate(s, seed.actor("admin"), seed.ids["jones"])
        await pilot.press("m", "enter")  # Deactivate
        await settle(pilot)
        assert isinstance(app.screen, BulkConfirmModal)
        assert not app.screen.needs_statement
        await pilot.press("y")
        await settle(pilot)
        messages = "\n".join(n.message for n in app._notifications)
        assert "2 deactivated." in messages
        assert "1 not changed:" in messages
        assert "Jones, Siân:" in messages and "already deactivated by admin" in messages
        # the one who lost stays marked, as they are now; the two changed are unmarked
        marks = main_screen(app).marks
        assert set(marks) == {seed.ids["jones"]}
        assert marks[seed.ids["jones"]].status == DEACTIVATED
        assert "1 marked" in title(app)
    found = users_named(seed, "Evans", "Jones", "Lyons")
    assert found["Evans"].deactivated_by == found["Lyons"].deactivated_by == "champ"
    assert found["Jones"].deactivated_by == "admin"
    with seed.store.read() as s:
        done = s.exec(select(AuditEvent).where(col(AuditEvent.user_id) == seed.ids["jones"],
                                               col(AuditEvent.action) == "deactivate")).all()
    assert [e.actor for e in done] == ["admin"]  # nothing recorded twice


async def test_extend_many_asks_the_lifetime_then_once(seed: Seed) -> None:
    app = seed.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "l")  # Llewelyn, Lloyd, Lyons
        await _mark_all(pilot, 3)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("down", "enter")  # Extend
        await settle(pilot)
        assert isinstance(app.screen, BulkMenu)
        await pilot.press("down", "enter")  # 3 months
        await settle(pilot)
        assert isinstance(app.screen, BulkConfirmModal)
        await pilot.press("y")
        await settle(pilot)
    found = users_named(seed, "Llewelyn", "Lloyd", "Lyons")
    assert {u.expires_on for u in found.values()} == {date(2027, 2, 28)}


async def test_the_placement_cohort_of_twelve_in_one_dialog(seed: Seed) -> None:
    add_cohort(seed, *COHORT)
    app = seed.app(login="champ")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await search(pilot, "myfyriwr")
        await _mark_all(pilot, 12)
        assert "12 marked" in title(app)
        await pilot.press("m", "enter")
        await settle(pilot)
        shown = "\n".join(screen_lines(app))
        assert "Are you sure you wish to deactivate these 12 accounts?" in shown
        assert "… and 7 more" in shown
        # the whole dialog fits: the tick and both buttons are on screen at 80x24
        for word in ("I have informed these students", "Yes", "Cancel"):
            assert word in shown, shown
        await pilot.click("#confirm-informed")
        await pilot.press("y")
        await settle(pilot)
    found = users_named(seed, *COHORT)
    assert len(found) == 12 and {u.status for u in found.values()} == {DEACTIVATED}


# ---- leaving soon -------------------------------------------------------------------------------

async def test_leaving_soon_with_each_of_the_three_reasons(seed: Seed) -> None:
    with seed.store.write() as s:
        rollover = builders.user(s, "Rhys", "Elin", kind="learner",
                                 upn=builders.learner_upn(HOME, 7), year_group=11)
        rollover.leaving_date, rollover.deferred_until = date(2026, 7, 17), date(2027, 8, 29)
        builders.user(s, "Prys", "Aled", kind="staff", staff_code="PRY").leaving_date = date(
            2027, 1, 9)
        builders.user(s, "Tomos", "Nia", kind="learner", upn=builders.learner_upn(HOME, 8),
                      year_group=9).leaving_date = date(2027, 7, 1)  # not within 8 weeks
    # the deferred date falls within the 8 weeks on 10 August
    app = HwbApp(seed.store, seed.actor("admin"), today=date(2026, 12, 1))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        for _ in range(3):  # Active → Deactivated → All → Leaving soon
            await pilot.press("f")
        await settle(pilot)
        assert main_screen(app).status == "leaving"
        shown = "\n".join(screen_lines(app))
        assert t("tui.filter.leaving", "en") in shown
        assert "Prys, Aled" in shown  # a leaving date from the export
        assert "Tomos" not in shown and "Hughes" not in shown
        await pilot.press("n")
        await settle(pilot)
        for _ in range(4):  # … All → Expiring → Leaving soon
            await pilot.press("f")
        await settle(pilot)
        shown = "\n".join(screen_lines(app))
        assert "Lloyd, Huw" in shown and "Jones" not in shown  # a lifetime ending 20 Dec
    app = HwbApp(seed.store, seed.actor("admin"), today=date(2027, 8, 10))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l", "f", "f", "f")
        await settle(pilot)
        await search(pilot, "rhys")
        shown = "\n".join(screen_lines(app))
        assert "Rhys, Elin" in shown  # the rollover: access until 29 August
        assert "Access until: 2027-08-29" in shown
    with seed.store.read() as s:
        assert s.get(User, rollover.id).status == ACTIVE  # type: ignore[union-attr]
