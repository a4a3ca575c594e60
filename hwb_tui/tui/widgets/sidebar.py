"""The sidebar: the four views, each with its key, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from hwb_tui.i18n import t

VIEW_KEYS = (("governors", "g"), ("non-mis", "n"), ("mis", "l"), ("provisioning", "p"))


class Sidebar(Static):
    """Not focusable: views are chosen with g / n / l / p (or a click)."""

    DEFAULT_CSS = """
    Sidebar { width: 26; height: 1fr; padding: 1 0 0 1; border-right: vkey $primary 50%; }
    """

    class Chosen(Message):
        def __init__(self, view: str) -> None:
            super().__init__()
            self.view = view

    def show(self, current: str, lang: str, status: str | None = None) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (view, key) in enumerate(VIEW_KEYS):
            if i:
                text.append("\n\n")
            style = "reverse bold" if view == current else ""
            text.append(f"{key} ", style="bold" if view != current else style)
            text.append(t(f"tui.view.{view}", lang), style=style)
            if view == "mis":
                text.append("\n  " + t("tui.sidebar.read_only", lang), style="dim")
        if status and current != "provisioning":
            # The status filter in force: f cycles it.
            text.append("\n\n\n")
            text.append("f ", style="bold")
            text.append(t("tui.sidebar.filter", lang) + "\n  ")
            text.append(t(f"tui.filter.{status}", lang), style="bold")
        self.update(text)

    def on_click(self, event: events.Click) -> None:
        # lines: 0 governors, 2 non-mis, 4 mis (5: read-only), 7 provisioning (after padding)
        line = event.y - 1
        rows = {0: "governors", 2: "non-mis", 4: "mis", 5: "mis", 7: "provisioning"}
        if line in rows:
            self.post_message(self.Chosen(rows[line]))
