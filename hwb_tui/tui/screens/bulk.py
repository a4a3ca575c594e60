"""Acting on the marked users: the menu of what applies to them and one confirm dialog for all.

Which actions are offered, and who needs the ITE statement, is core.bulk's to say; the screens
only list and ask. The confirm dialog names how many and the first of them; Cancel has the
focus, `y` is Yes, escape cancels; with ITE students in the set Yes stays disabled until the
operator ticks "I have informed these students" (recorded on each student by the change).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, OptionList, Static
from textual.widgets.option_list import Option

from hwb_tui.core.accounts import LIFETIMES
from hwb_tui.core.bulk import BulkAction
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings

NAMES_SHOWN = 5  # the confirm dialog lists this many names, then "and N more"


class BulkMenu(ModalScreen[str | None]):
    """A titled list of choices for the marked set; enter chooses, escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "key.back", id="bulk_menu.back"),
    ]

    def __init__(self, title: str, subtitle: str, choices: list[tuple[str, str]],
                 lang: str) -> None:
        super().__init__()
        self.title_text = title
        self.subtitle = subtitle
        self.choices = choices  # (id, label)
        self.lang = lang

    def compose(self) -> ComposeResult:
        with Vertical(classes="menu-box"):
            yield Static(Text(self.title_text, style="bold"), classes="menu-title")
            yield Static(Text(self.subtitle), classes="menu-user")
            yield OptionList(*(Option(Text(label), id=ident) for ident, label in self.choices),
                             id="menu-options")
            yield Static(Text(t("tui.manage.hint", self.lang), style="dim"), classes="menu-hint")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
        options = self.query_one(OptionList)
        options.focus()
        options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_back(self) -> None:
        self.dismiss(None)


def action_menu(actions: list[BulkAction], marked: int, lang: str) -> BulkMenu:
    choices = [(str(a), t(f"tui.manage.{a}", lang)) for a in actions]
    return BulkMenu(t("tui.bulk.title", lang, count=marked),
                    t("tui.bulk.subtitle", lang), choices, lang)


def lifetime_menu(count: int, lang: str) -> BulkMenu:
    choices = [(lifetime, t(f"tui.lifetime.{lifetime}", lang)) for lifetime in LIFETIMES]
    return BulkMenu(t("tui.extend.title", lang), t("tui.bulk.extend_subtitle", lang,
                                                   count=count), choices, lang)


def names_of(users: list[User], lang: str, shown: int = NAMES_SHOWN) -> Text:
    """The first names of a set, one a line, then "… and N more" (names are data, not markup)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, user in enumerate(users[:shown]):
        if i:
            text.append("\n")
        text.append("  " + display_safe(f"{user.surname}, {user.forename}"))
        text.append(f"  ({t(f'kind.{user.kind}', lang)})", style="dim")
    if len(users) > shown:
        text.append("\n  " + t("tui.bulk.and_more", lang, count=len(users) - shown), style="dim")
    return text


class BulkConfirmModal(ModalScreen[bool]):
    """Answers True for Yes, False for Cancel / escape. `y` is Yes (when Yes is enabled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "key.cancel", id="bulk_confirm.cancel"),
        Binding("y", "yes", "key.yes", id="bulk_confirm.yes"),
    ]

    def __init__(self, action: BulkAction, users: list[User], skipped: int,
                 ite_students: int, lang: str, lifetime: str | None = None) -> None:
        super().__init__()
        self.action = action
        self.users = users
        self.skipped = skipped  # marked, but the action does not apply to them
        self.ite_students = ite_students
        self.lifetime = lifetime
        self.lang = lang

    @property
    def needs_statement(self) -> bool:
        return self.ite_students > 0

    def compose(self) -> ComposeResult:
        lang = self.lang
        with Vertical(id="confirm-box"):
            question = t(f"tui.bulk.confirm.{self.action}", lang, count=len(self.users))
            if self.lifetime:
                question += " " + t("tui.bulk.confirm.lifetime", lang,
                                    lifetime=t(f"tui.lifetime.{self.lifetime}", lang))
            yield Static(Text(question, style="bold"), id="confirm-question")
            yield Static(names_of(self.users, lang), id="confirm-names")
            if self.skipped:
                yield Static(Text(t("tui.bulk.skipped", lang, count=self.skipped), style="dim"),
                             id="confirm-skipped")
            if self.needs_statement:
                yield Static(Text(t("tui.bulk.ite_warning", lang, count=self.ite_students)),
                             id="confirm-ite")
                yield Checkbox(t("tui.bulk.ite_informed", lang), id="confirm-informed")
            with Horizontal(id="confirm-buttons"):
                yield Button(t("tui.confirm.yes", lang), id="yes", variant="error",
                             disabled=self.needs_statement)
                yield Button(t("tui.confirm.cancel", lang), id="cancel", variant="primary")
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
