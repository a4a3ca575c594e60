"""Manage User: the menu of what may be done to the selected user, and the Extend lifetimes.

Which items appear is the core's `access.allowed_actions()`, which `users show` asks too; the
screen only lists them. Dismisses with the chosen action, or None.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from hwb_tui.core.access import Actor, allowed_actions, managed_by_mis
from hwb_tui.core.accounts import LIFETIMES
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings


class ChoiceModal(ModalScreen[str | None]):
    """A titled list of choices under a line saying whom they are for; enter chooses, escape
    goes back. Manage User and the marked set's menus both ask through it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "key.back", id="menu.back"),
    ]

    def __init__(self, title: str, subtitle: Text, choices: list[tuple[str, str, bool]],
                 lang: str) -> None:
        super().__init__()
        self.title_text = title
        self.subtitle = subtitle
        self.choices = choices  # (id, label, enabled)
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(classes="menu-box"):
            yield Static(Text(self.title_text, style="bold"), classes="menu-title")
            yield Static(self.subtitle, classes="menu-user")
            options = [Option(Text(label), id=ident, disabled=not enabled)
                       for ident, label, enabled in self.choices]
            yield OptionList(*options, id="menu-options")
            yield Static(Text(t("tui.manage.hint", self.lang), style="dim"), classes="menu-hint")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
        options = self.query_one(OptionList)
        options.focus()
        for i, (_ident, _label, enabled) in enumerate(self.choices):
            if enabled:
                options.highlighted = i
                break

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_back(self) -> None:
        self.dismiss(None)


def manage_menu(user: User, actor: Actor, today: date, lang: str) -> ChoiceModal:
    """The Manage User menu: what the core allows, else why nothing is offered."""
    choices = [(str(action), t(f"tui.manage.{action}", lang), True)
               for action in allowed_actions(user, today, actor)]
    if managed_by_mis(user):
        choices.append(("mis", t("tui.manage.mis", lang), False))
    if not choices:
        choices.append(("none", t("tui.manage.nothing", lang), False))
    return ChoiceModal(t("tui.manage.title", lang), _who(user), choices, lang)


def extend_menu(user: User, lang: str) -> ChoiceModal:
    choices = [(lifetime, t(f"tui.lifetime.{lifetime}", lang), True) for lifetime in LIFETIMES]
    return ChoiceModal(t("tui.extend.title", lang), _who(user), choices, lang)


def _who(user: User) -> Text:
    """The user a menu is for: name, then username (data, not markup)."""
    who = Text(display_safe(f"{user.surname}, {user.forename}"))
    who.append("  " + display_safe(user.username), style="dim")
    return who
