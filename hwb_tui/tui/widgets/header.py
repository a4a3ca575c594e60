"""The header bar: product name, operator and role, language."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hwb_tui.core.access import Actor
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t


class HeaderBar(Static):
    """One line: product name on the left, operator (role) and language on the right."""

    DEFAULT_CSS = """
    HeaderBar { height: 1; background: $primary; color: $text; text-style: bold; }
    """

    def __init__(self, actor: Actor, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.actor = actor

    def show(self, lang: str) -> None:
        width = max(20, self.size.width or 80)
        left = Text(" " + t("tui.title", lang))
        role = t(f"role.{self.actor.role}", lang) if self.actor.role != "system" else ""
        # The login comes from the OS or an operator record: data, shown as plain Text.
        right = Text(t("tui.operator", lang, login=display_safe(self.actor.login), role=role))
        right.append(" · " + t("tui.language_name", lang) + " ")
        gap = max(1, width - left.cell_len - right.cell_len)
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        line.append_text(left)
        line.append(" " * gap)
        line.append_text(right)
        self.update(line)
