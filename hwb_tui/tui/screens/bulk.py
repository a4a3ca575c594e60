"""Acting on the marked users: the menu of what applies to them and one confirm dialog for all.

Which actions are offered, and who needs the ITE statement, is core.bulk's to say; the screens
only list and ask. The confirm dialog names how many and the first of them; Cancel has the
focus, `y` is Yes, escape cancels; with ITE students in the set Yes stays disabled until the
operator ticks "I have informed these students" (recorded on each student by the change).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from hwb_tui.core.accounts import LIFETIMES
from hwb_tui.core.bulk import BulkAction
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.tui.screens.confirm import ConfirmDialog
from hwb_tui.tui.screens.manage import ChoiceModal

NAMES_SHOWN = 5  # the confirm dialog lists this many names, then "and N more"


class BulkMenu(ChoiceModal):
    """A menu for the marked set (what to do, then for how long)."""

    def __init__(self, title: str, subtitle: str, choices: list[tuple[str, str]],
                 lang: str) -> None:
        super().__init__(title, Text(subtitle), [(i, label, True) for i, label in choices], lang)


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


class BulkConfirmModal(ConfirmDialog):
    """The marked set's confirm dialog: how many, the first names, who is left out."""

    def __init__(self, action: BulkAction, users: list[User], skipped: int,
                 ite_students: int, lang: str, lifetime: str | None = None) -> None:
        super().__init__(lang)
        self.action = action
        self.users = users
        self.skipped = skipped  # marked, but the action does not apply to them
        self.ite_students = ite_students
        self.lifetime = lifetime
        self.needs_statement = ite_students > 0

    def question(self) -> ComposeResult:
        lang = self.lang
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
            yield from self.statement(t("tui.bulk.ite_warning", lang, count=self.ite_students),
                                      t("tui.bulk.ite_informed", lang))
