"""The virtual user table: a window of keyset pages, never the directory; the unknown login."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from hwb_tui.cli import main
from hwb_tui.core import clock
from hwb_tui.core.accounts import name_fields, username_key_of
from hwb_tui.core.models import User
from hwb_tui.tui.widgets.user_table import PAGE, WINDOW, UserTable
from tests.tui.conftest import HOME, Seed
from tests.tui.test_console import SIZE, settle, table

MANY = 2_500


def add_many(seed: Seed, n: int = MANY) -> None:
    stamp = clock.now()
    rows = []
    for i in range(n):
        fields = name_fields(f"Bulk{i:05d}", "Ann")
        username = f"Bulk{i:05d}A@hwbcymru.net"
        rows.append(dict(username=username, username_key=username_key_of(username),
                         kind="governor", source="non-mis", school=HOME, status="active",
                         created_at=stamp, updated_at=stamp, version=1,
                         expires_on=date(2027, 8, 31), **fields))
    with seed.store.write() as s:
        s.execute(insert(User), rows)


async def test_the_table_holds_a_window_not_the_directory(seed: Seed) -> None:
    add_many(seed)
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "b", "u", "l", "k", "enter")
        await settle(app, pilot)
        tbl = table(app)
        assert tbl.total == MANY
        assert len(tbl.window.rows) <= 2 * PAGE  # one page, and perhaps the next
        height = tbl.body_height
        await pilot.press("pagedown")
        await settle(app, pilot)
        assert tbl.selected is not None and tbl.selected.surname == f"Bulk{height:05d}"
        for _ in range(60):  # far past one window's worth of rows
            await pilot.press("pagedown")
        await settle(app, pilot)
        assert len(tbl.window.rows) <= WINDOW + PAGE
        assert tbl.selected is not None
        assert tbl.selected.surname == f"Bulk{61 * height:05d}"
        await pilot.press("end")
        await settle(app, pilot)
        assert tbl.selected is not None and tbl.selected.surname == f"Bulk{MANY - 1:05d}"
        assert len(tbl.window.rows) <= 2 * PAGE
        await pilot.press("up")
        await settle(app, pilot)
        assert tbl.selected is not None and tbl.selected.surname == f"Bulk{MANY - 2:05d}"
        await pilot.press("home")
        await settle(app, pilot)
        assert tbl.selected is not None and tbl.selected.surname == "Bulk00000"
        assert len(tbl.cache) <= tbl.cache.size


async def test_a_newer_search_is_never_painted_over_by_an_older_one(seed: Seed) -> None:
    add_many(seed, 300)
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        tbl = app.screen.query_one(UserTable)
        query = app.screen.current_query()  # type: ignore[attr-defined]
        tbl.load(query.with_(search="bulk"), debounce=True)
        tbl.load(query.with_(search="jones"), debounce=True)  # typed before the first answered
        await settle(app, pilot)
        assert [u.surname for u in tbl.window.rows] == ["Jones"]
        assert tbl.total == 1


def test_an_unknown_login_never_reaches_the_screen(seed: Seed, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import hwb_tui.tui.app as tui_app

    monkeypatch.setattr("hwb_tui.commands.current_login", lambda: "nobody-here")
    monkeypatch.setattr(tui_app.HwbApp, "run", lambda self: pytest.fail("the console opened"))
    status = main(["--db", seed.store.url])
    err = capsys.readouterr().err
    assert status == 1
    assert "nobody-here" in err and len(err.strip().splitlines()) == 1
