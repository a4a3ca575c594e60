"""Welsh text fits: at 80x24 every label the console shows is whole, in both languages."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from hwb_tui.i18n import t
from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.help import HELP_KEYS
from tests.tui.conftest import Seed


def screen_lines(app: HwbApp) -> list[str]:
    """What the terminal shows now, line by line (the top screen and what it covers)."""
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip) for strip in strips]


def assert_whole(app: HwbApp, label: str) -> None:
    lines = screen_lines(app)
    assert any(label in line for line in lines), (
        f"{label!r} is not shown whole at 80x24:\n" + "\n".join(lines))


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("lang", ["en", "cy"])
async def test_main_screen_labels_are_whole(seed: Seed, lang: str) -> None:
    app = seed.app(lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("tui.view.governors", "tui.view.non-mis", "tui.view.mis",
                    "tui.view.provisioning", "tui.search_label", "tui.filter.active",
                    "role.hwb-admin"):
            assert_whole(app, t(key, lang))
        for key in ("key.manage", "key.filter", "key.add", "key.help", "key.quit",
                    "key.language"):
            assert_whole(app, t(key, lang))  # the footer's descriptions
        await pilot.press("enter")  # View Details
        await settle(pilot)
        for key in ("tui.details.title", "tui.details.username", "tui.details.hint"):
            assert_whole(app, t(key, lang).split("{")[0].strip())


@pytest.mark.parametrize("lang", ["en", "cy"])
async def test_dialogs_and_help_are_whole(seed: Seed, lang: str) -> None:
    app = seed.app(lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n", "slash", *"roberts", "enter")  # the ITE student, View Non-MIS
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert_whole(app, t("tui.manage.deactivate", lang))
        assert_whole(app, t("tui.manage.extend", lang))
        await pilot.press("enter")
        await settle(pilot)
        lines = "".join(line.strip() + " " for line in screen_lines(app))
        for key in ("tui.confirm.deactivate", "tui.confirm.ite_warning",
                    "tui.confirm.ite_informed", "tui.confirm.yes", "tui.confirm.cancel"):
            # a long sentence may wrap inside the dialog; every word of it must be on screen
            words = t(key, lang).split()
            joined = " ".join(lines.split())
            assert all(word in joined for word in words), (key, t(key, lang), joined)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        for _keys, key in HELP_KEYS:
            assert_whole(app, t(key, lang))
