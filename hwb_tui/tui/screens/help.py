"""The help screen: every key of the console, in the operator's language."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings
from hwb_tui.tui.widgets.user_row import MARK, STATUS_STYLES, STATUS_SYMBOLS, RowStatus

# (keys as shown, catalogue key of what they do): the SPEC §2 table, in order.
HELP_KEYS = (
    ("g", "tui.help.g"),
    ("n", "tui.help.n"),
    ("l", "tui.help.l"),
    ("p", "tui.help.p"),
    ("/", "tui.help.slash"),
    ("enter", "tui.help.enter_search"),
    ("↑ ↓", "tui.help.move"),
    ("pgup pgdn home end", "tui.help.move_page"),
    ("enter", "tui.help.enter_table"),
    ("space", "tui.help.space"),
    ("m", "tui.help.m"),
    ("f", "tui.help.f"),
    ("a", "tui.help.a"),
    ("c", "tui.help.c"),
    ("y", "tui.help.y"),
    ("escape", "tui.help.escape"),
    ("?", "tui.help.question"),
    ("q", "tui.help.q"),
)


def legend(lang: str) -> Text:
    """What the table's mark and status symbols mean, on one line (the help fits 80x24):
    user_row draws the rows from the same symbols."""
    text = Text(no_wrap=True, overflow="ellipsis")
    items = [(MARK, "bold", t("tui.help.legend_mark", lang))]
    items += [(STATUS_SYMBOLS[s], STATUS_STYLES[s], t(f"tui.help.legend_{s}", lang))
              for s in RowStatus]
    for i, (symbol, style, meaning) in enumerate(items):
        if i:
            text.append(" · ", style="dim")
        text.append(symbol, style=style)
        text.append(" " + meaning)
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "key.close", id="help.close"),
    ]

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, message in HELP_KEYS:
            table.add_row(Text(keys), Text(t(message, self.lang)))
        with VerticalScroll(id="help-box"):
            yield Static(Text(t("tui.help.title", self.lang), style="bold"), id="help-title")
            yield Static(table)
            yield Static(legend(self.lang), id="help-legend")
            yield Static(Text(t("tui.help.close", self.lang), style="dim"), id="help-close")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)

    def action_close(self) -> None:
        self.dismiss(None)
