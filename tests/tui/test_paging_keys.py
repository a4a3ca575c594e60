"""A quick run of page-downs past the rows held is not dropped: the moves wait for the rows."""

from __future__ import annotations

import asyncio

import pytest

from hwb_tui.tui.widgets import user_table
from tests.tui.conftest import Seed
from tests.tui.test_console import SIZE, settle, table
from tests.tui.test_user_table import add_many


def burst(app: object, key: str, times: int) -> None:
    from textual import events

    for _ in range(times):
        event = events.Key(key, None)
        event.set_sender(app)  # type: ignore[arg-type]
        app._driver.send_message(event)  # type: ignore[attr-defined]


async def test_a_burst_of_page_downs_lands_every_page(
    seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_table, "PAGE", 10)  # small pages: the burst outruns the read-ahead
    monkeypatch.setattr(user_table, "WINDOW", 40)
    add_many(seed, 300)
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "b", "u", "l", "k", "enter")
        await settle(app, pilot)
        t = table(app)
        height = t.body_height
        burst(app, "pagedown", 12)
        for _ in range(200):
            await asyncio.sleep(0.01)
            await app.workers.wait_for_complete()
            if t.window.first_index + t.cursor >= 12 * height:
                break
        assert t.selected is not None
        assert t.selected.surname == f"Bulk{12 * height:05d}"
