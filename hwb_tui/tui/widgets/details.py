"""The details panel: the selected user's details and the Manage User hint (View Details)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from hwb_tui.core import leaving
from hwb_tui.core.leaving import LeavingReason
from hwb_tui.core.models import DEACTIVATED, User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t


def _date(value: object) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else "?"


def describe(user: User, lang: str, school_name: str = "") -> Text:
    """The user as lines of plain Text: every user-derived string through display_safe."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(display_safe(f"{user.surname}, {user.forename}"), style="bold")
    status = t(f"status.{user.status}", lang)
    text.append(f"  {t(f'kind.{user.kind}', lang)} · ")
    text.append(status, style="bold red" if user.status == DEACTIVATED else "bold green")
    text.append("\n")
    text.append(f"{t('tui.details.username', lang)}: ", style="dim")
    text.append(display_safe(user.username))
    text.append("\n")
    text.append(f"{t('tui.details.school', lang)}: ", style="dim")
    text.append(display_safe(f"{user.school} {school_name}".strip()))
    text.append("\n")
    facts: list[tuple[str, str]] = []
    if user.upn:
        facts.append((t("tui.details.upn", lang), user.upn))
    if user.staff_code:
        facts.append((t("tui.details.staff_code", lang), user.staff_code))
    if user.year_group is not None:
        facts.append((t("tui.details.year", lang), str(user.year_group)))
    if user.leaving_date:
        facts.append((t("tui.details.leaving", lang), _date(user.leaving_date)))
    if user.expires_on and user.status != DEACTIVATED:
        facts.append((t("tui.details.expires", lang), _date(user.expires_on)))
    for i, (label, value) in enumerate(facts):
        if i:
            text.append("  ")
        text.append(f"{label}: ", style="dim")
        text.append(display_safe(value))
    if user.status == DEACTIVATED:
        if facts:
            text.append("  ")
        stamp = user.deactivated_at.strftime("%Y-%m-%d %H:%M") if user.deactivated_at else "?"
        text.append(t("tui.details.deactivated", lang, at=stamp,
                      by=display_safe(user.deactivated_by or "?")), style="dim")
    if facts or user.status == DEACTIVATED:
        text.append("\n")
    if user.source == "mis":
        ending = leaving.ends(user)
        if ending is not None and ending.reason is LeavingReason.ROLLOVER:
            # a Year 11–13 leaver keeps access past the leaving date, until 29 August (on the
            # hint's line: the facts line of a learner is full)
            text.append(f"{t('tui.details.access_until', lang)}: ", style="dim")
            text.append(_date(ending.on), style="bold")
            text.append("  ")
        text.append(t("tui.details.hint_mis", lang), style="italic")
    else:
        text.append(t("tui.details.hint", lang), style="italic")
    return text


class DetailsPanel(Static, can_focus=True):
    """Focused by enter on the table; m opens Manage User, escape goes back to the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.focus_table", "key.back", id="details.back"),
    ]

    DEFAULT_CSS = """
    DetailsPanel { height: 7; border: round $primary 50%; padding: 0 1;
                   text-wrap: nowrap; text-overflow: ellipsis; }
    DetailsPanel:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.user: User | None = None
        self.school_name = ""

    def show(self, user: User | None, lang: str, school_name: str = "") -> None:
        self.user = user
        self.school_name = school_name
        self.border_title = t("tui.details.title", lang)
        if user is None:
            self.update(Text(t("tui.details.none", lang), style="dim"))
        else:
            self.update(describe(user, lang, school_name))
