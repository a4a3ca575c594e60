"""Driving the console in tests: settle after keys, open an export from the Provisioning view,
preview it (and apply it when offered). The steps an operator takes, written once."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Button, Input
from textual.worker import WorkerCancelled

from hwb_tui.tui.app import HwbApp
from hwb_tui.tui.screens.provision_file import ProvisionFileModal

SIZE = (80, 24)


async def settle(app: HwbApp, pilot: object) -> None:
    """Let every worker finish and its results paint."""
    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a search superseded by a newer one: that is the point
        await pilot.pause()  # type: ignore[attr-defined]


async def open_export_dialog(app: HwbApp, pilot: Pilot[None]) -> ProvisionFileModal:
    """p (the Provisioning view), then o (open an export): the dialog."""
    await settle(app, pilot)
    await pilot.press("p")
    await settle(app, pilot)
    await pilot.press("o")
    await pilot.pause()
    modal = app.screen
    assert isinstance(modal, ProvisionFileModal)
    return modal


def summary(modal: ProvisionFileModal) -> str:
    return str(modal.query_one("#prov-summary").render())


async def preview(app: HwbApp, pilot: Pilot[None], modal: ProvisionFileModal,
                  files: Path | str, school: str | None = None) -> str:
    """Name `files` (and the school, when given), press Preview: the summary."""
    if school is not None:
        modal.query_one("#prov-school", Input).value = school
    await type_files_and_enter(pilot, modal, files)
    await settle(app, pilot)
    return summary(modal)


async def type_files_and_enter(pilot: Pilot[None], modal: ProvisionFileModal,
                               files: Path | str) -> None:
    """The files named in their field and enter pressed there: Preview, as an operator at the
    keyboard does it (a click aimed while the dialog is still laid out again can miss)."""
    field = modal.query_one("#prov-files", Input)
    field.value = str(files)
    field.focus()
    await pilot.pause()
    await pilot.press("enter")


async def press_apply(pilot: Pilot[None], modal: ProvisionFileModal) -> None:
    """Apply, offered after a planned preview, has the focus: enter presses it."""
    button = modal.query_one("#prov-apply", Button)
    assert not button.disabled and button.has_focus
    await pilot.press("enter")
