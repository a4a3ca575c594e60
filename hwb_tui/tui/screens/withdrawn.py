"""The console of an operator withdrawn while it was open: one line saying so, and nothing else.

Shown when a read or a change is refused because the operator's record is disabled or gone
(core.access.recheck): no user is shown or changed any more; `q` leaves.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from hwb_tui.tui.keys import localise_bindings


class WithdrawnScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.quit", "key.quit", id="withdrawn.quit"),
    ]

    def __init__(self, message: str, lang: str) -> None:
        super().__init__()
        self.message = message
        self.lang = lang

    def compose(self) -> ComposeResult:
        yield Static(Text(self.message, style="bold"), id="withdrawn")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
