"""The match count: exact for a view, capped for a search ("over N found"), in both languages."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from hwb_tui.i18n import t
from hwb_tui.tui.widgets import user_table
from tests.tui.conftest import Seed


@pytest.mark.parametrize("lang", ["en", "cy"])
async def test_a_search_count_stops_at_the_cap(seed: Seed, lang: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(user_table, "COUNT_CAP", 2)
    app = seed.app(lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        count = app.screen.query_one("#count", Static)
        # the whole view is counted exactly, even past the cap
        whole = str(count.render())
        assert whole == t("tui.count", lang, count="10"), whole
        await pilot.press("slash", "l")  # Lloyd, Llewelyn, Lyons: three matches, over the cap
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert str(count.render()) == t("tui.count_over", lang, count="2")
        await pilot.press("l", "o")  # Lloyd alone
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert str(count.render()) == t("tui.count", lang, count="1")
