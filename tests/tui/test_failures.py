"""A database failing under the console: the banner count, a page, a change. The console stays
up, says what failed in the operator's language, changes nothing, and works once the database
does again.

The failures are real ones of a real SQLite file: the users' table renamed away (every read of
it fails: "no such table", the database unavailable), and a trigger that aborts an update (an
error the store does not translate: before every worker kept the console alive, it ended it).
"""

from __future__ import annotations

from sqlalchemy import text

from hwb_tui.core.models import ACTIVE
from hwb_tui.i18n import t
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.main import MainScreen
from tests.tui.conftest import Seed
from tests.tui.test_console import SIZE, search, settle, table, user_row
from tests.tui.test_lifecycle import notifications
from tests.tui.test_user_table import add_many


def break_users(seed: Seed) -> None:
    with seed.store.write() as s:
        s.execute(text('ALTER TABLE "user" RENAME TO user_away'))


def mend_users(seed: Seed) -> None:
    with seed.store.write() as s:
        s.execute(text('ALTER TABLE user_away RENAME TO "user"'))


def unavailable(app: object, lang: str = "en") -> list[str]:
    prefix = t("error.database_unavailable", lang, detail="").rstrip()
    return [m for m in notifications(app) if m.startswith(prefix)]


async def test_a_database_failing_as_the_console_opens_leaves_it_open(seed: Seed) -> None:
    break_users(seed)  # the banner's count of expiring accounts fails, and the first page
    app = seed.app("cymro")  # an operator who works in Welsh
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
        said = unavailable(app, "cy")
        assert said, notifications(app)
        assert not unavailable(app, "en")  # in the operator's language
        assert table(app).model.loaded and table(app).window.rows == []
        mend_users(seed)
        await pilot.press("f")  # the next look reads again
        await settle(app, pilot)
        assert table(app).window.rows


async def test_a_database_failing_while_paging_leaves_the_console_open(seed: Seed) -> None:
    add_many(seed, 1_000)
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await search(app, pilot, "bulk")
        tbl = table(app)
        held = len(tbl.window.rows)
        break_users(seed)
        for _ in range(held // tbl.body_height + 2):  # past the rows held: a page is read
            await pilot.press("pagedown")
        await settle(app, pilot)
        assert app.is_running
        assert unavailable(app)
        before = tbl.window.first_index + tbl.cursor
        mend_users(seed)
        await pilot.press("pagedown")  # asks again rather than waiting for the failed page
        await settle(app, pilot)
        assert tbl.window.first_index + tbl.cursor > before


async def test_a_database_failing_during_a_change_changes_nothing(seed: Seed) -> None:
    with seed.store.write() as s:
        s.execute(text('CREATE TRIGGER fault BEFORE UPDATE ON "user" '
                       "BEGIN SELECT RAISE(ABORT, 'storage fault'); END"))
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await search(app, pilot, "jones")
        await pilot.press("m", "enter")  # Manage User: Deactivate
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
        said = [m for m in notifications(app) if "IntegrityError" in m]
        assert said and said[0] == t("tui.worker_failed", "en", error="IntegrityError")
        assert user_row(seed, "jones").status == ACTIVE
        with seed.store.write() as s:
            s.execute(text("DROP TRIGGER fault"))
        await pilot.press("m", "enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
    assert user_row(seed, "jones").status != ACTIVE
