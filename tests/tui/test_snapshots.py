"""Snapshots of the console at 80x24 in English and Welsh: main screen, details, confirm dialog.

Fixed data and a fixed clock (tests/tui/conftest.py), every worker finished and the cursor blink
off before the picture is taken. Update with `pytest tests/tui --snapshot-update` and look at the
report before accepting a change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.conftest import Seed

SIZE = (80, 24)


def keys(*presses: str) -> Callable[[Pilot], Awaitable[None]]:
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        app.animation_level = "none"
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        for key in presses:
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()

    return run_before


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_main_screen(seed: Seed, snap_compare: Callable[..., bool], lang: str) -> None:
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE, run_before=keys())


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_details_panel(seed: Seed, snap_compare: Callable[..., bool], lang: str) -> None:
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE,
                        run_before=keys("slash", "j", "o", "n", "e", "s", "enter", "enter"))


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_confirm_dialog(seed: Seed, snap_compare: Callable[..., bool], lang: str) -> None:
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE,
                        run_before=keys("slash", "j", "o", "n", "e", "s", "enter", "m", "enter"))


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_ite_confirm_dialog(seed: Seed, snap_compare: Callable[..., bool], lang: str) -> None:
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE,
                        run_before=keys("n", "slash", "r", "o", "b", "enter", "m", "enter"))


def test_manage_menu_of_a_learner(seed: Seed, snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(seed.app("admin"), terminal_size=SIZE,
                        run_before=keys("l", "slash", "h", "u", "g", "enter", "m"))


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_non_mis_view_with_kinds_and_marks(seed: Seed, snap_compare: Callable[..., bool],
                                           lang: str) -> None:
    """View Non-MIS named in words, each row's kind, two users marked (issue 17)."""
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE,
                        run_before=keys("n", "space", "down", "space"))


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_bulk_confirm_dialog_with_ite_students(seed: Seed, snap_compare: Callable[..., bool],
                                               lang: str) -> None:
    assert snap_compare(seed.app("admin", lang=lang), terminal_size=SIZE,
                        run_before=keys("n", "space", "down", "down", "down", "down", "down",
                                        "down", "down", "space", "m", "enter"))
