"""The confirm dialog: modal, Cancel focused, `y` is Yes; for ITE students a checkbox first."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Static

from hwb_tui.core.access import Action, needs_informed
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings


class ConfirmDialog(ModalScreen[bool]):
    """The one confirm dialog: a question, then Yes and Cancel. Answers True for Yes, False for
    Cancel / escape; Cancel has the focus, `y` is Yes (while Yes is enabled). A dialog whose
    `needs_statement` is true shows the ITE statement (`statement`) and keeps Yes disabled
    until it is ticked. Deactivate / activate, the marked set and held runs ask through it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "key.cancel", id="confirm.cancel"),
        Binding("y", "yes", "key.yes", id="confirm.yes"),
    ]

    needs_statement = False

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def question(self) -> ComposeResult:
        """What the dialog asks: the widgets above the buttons."""
        raise NotImplementedError

    def statement(self, warning: str, informed: str) -> ComposeResult:
        """The ITE warning and the "I have informed" checkbox that enables Yes."""
        yield Static(Text(warning), id="confirm-ite")
        yield Checkbox(informed, id="confirm-informed")

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield from self.question()
            with Horizontal(id="confirm-buttons"):
                yield Button(t("tui.confirm.yes", self.lang), id="yes", variant="error",
                             disabled=self.needs_statement)
                yield Button(t("tui.confirm.cancel", self.lang), id="cancel", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        localise_bindings(self, self.lang)

    @on(Checkbox.Changed, "#confirm-informed")
    def _informed(self, event: Checkbox.Changed) -> None:
        self.query_one("#yes", Button).disabled = not event.value

    @on(Button.Pressed, "#yes")
    def _yes_pressed(self) -> None:
        self.action_yes()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_yes(self) -> None:
        if not self.query_one("#yes", Button).disabled:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ConfirmModal(ConfirmDialog):
    """Deactivate or activate one user: names the user; for ITE students the statement first."""

    def __init__(self, user: User, action: Action, lang: str) -> None:
        super().__init__(lang)
        self.user = user
        self.action = action  # deactivate or activate
        self.needs_statement = needs_informed(action, user)

    def question(self) -> ComposeResult:
        lang = self.lang
        who = Text(display_safe(f"{self.user.surname}, {self.user.forename}"), style="bold")
        who.append("  ")
        who.append(display_safe(self.user.username))
        who.append(f"  ({t(f'kind.{self.user.kind}', lang)}, {self.user.school})", style="dim")
        yield Static(who, id="confirm-user")
        yield Static(Text(t(f"tui.confirm.{self.action}", lang), style="bold"),
                     id="confirm-question")
        if self.needs_statement:
            yield from self.statement(t("tui.confirm.ite_warning", lang),
                                      t("tui.confirm.ite_informed", lang))
