"""One row of the user table as text: which columns, how wide, and what each cell says.

The table draws; this decides the cells, so the legend in `?` and the rows cannot disagree:
- a mark column (● for a marked user, see MainScreen.marks);
- a narrow kind column whenever the view holds more than one kind (View Non-MIS, View Learners
  & Staff), in short words of the operator's language (Gov, ITE, LA, REC …);
- a one-character status column whose symbols `?` explains (STATUS_SYMBOLS).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from rich.text import Text

from hwb_tui.core import leaving
from hwb_tui.core.directory import LEAVING_WITHIN_DAYS
from hwb_tui.core.models import DEACTIVATED, User
from hwb_tui.core.names import USERNAME_DOMAIN, display_safe
from hwb_tui.i18n import t

USERNAME_SUFFIX = "@" + USERNAME_DOMAIN
MARK = "●"
SCHOOL_WIDTH = 7  # a DfES number


class RowStatus(StrEnum):
    """What the status column says of a user (its legend is in `?`)."""

    ACTIVE = "active"
    LEAVING = "leaving"  # active, but access ends within the "Leaving soon" days
    DEACTIVATED = "deactivated"


STATUS_SYMBOLS: dict[RowStatus, str] = {
    RowStatus.ACTIVE: "✓",
    RowStatus.LEAVING: "!",
    RowStatus.DEACTIVATED: "✗",
}
STATUS_STYLES: dict[RowStatus, str] = {
    RowStatus.ACTIVE: "green",
    RowStatus.LEAVING: "bold yellow",
    RowStatus.DEACTIVATED: "red",
}


def row_status(user: User, today: date | None) -> RowStatus:
    if user.status == DEACTIVATED:
        return RowStatus.DEACTIVATED
    ending = leaving.ends(user) if today is not None else None
    if ending is not None and today is not None and \
            ending.on <= today + timedelta(days=LEAVING_WITHIN_DAYS):
        return RowStatus.LEAVING
    return RowStatus.ACTIVE


def kind_label(kind: str, lang: str) -> str:
    return t(f"tui.kind_short.{kind}", lang)


@dataclass(frozen=True)
class Columns:
    """Widths of the cells (the last column of the widget, the scrollbar, is not counted)."""

    name: int
    username: int
    kind: int  # 0: the view has one kind, no kind column
    school: int = SCHOOL_WIDTH
    mark: int = 1
    status: int = 1


def columns(width: int, kinds: Iterable[str], lang: str) -> Columns:
    """The columns for a table `width` wide (scrollbar included) showing these kinds."""
    kinds = tuple(kinds)
    kind = max(len(kind_label(k, lang)) for k in kinds) if len(kinds) > 1 else 0
    cells = 6 if kind else 5
    fixed = 1 + SCHOOL_WIDTH + 1 + kind + (cells - 1)  # mark, school, status, kind, the gaps
    room = max(18, width - 1 - fixed)
    username = max(10, min(16, room * 3 // 8))
    return Columns(name=max(8, room - username), username=username, kind=kind)


def cell(text: str, width: int) -> Text:
    """A cell of exactly `width` columns: user text as plain Text (never markup), cut with …"""
    out = Text(display_safe(text), no_wrap=True, overflow="ellipsis", end="")
    out.truncate(width, overflow="ellipsis", pad=True)
    return out


def heading(cols: Columns, lang: str) -> Text:
    line = Text(end="")
    parts = [("", cols.mark), (t("tui.col.name", lang), cols.name),
             (t("tui.col.username", lang), cols.username)]
    if cols.kind:
        parts.append((t("tui.col.kind", lang), cols.kind))
    parts += [(t("tui.col.school", lang), cols.school), ("", cols.status)]
    for i, (label, width) in enumerate(parts):
        if i:
            line.append(" ")
        line.append_text(cell(label, width))
    return line


def row(user: User, cols: Columns, lang: str, *, marked: bool, today: date | None) -> Text:
    """The cells of one user; the row's own colours (cursor, deactivated) are the table's."""
    line = Text(end="")
    line.append_text(cell(MARK if marked else "", cols.mark))
    line.append(" ")
    line.append_text(cell(f"{user.surname}, {user.forename}", cols.name))
    line.append(" ")
    # Every username ends @hwbcymru.net: the table shows the part that tells users apart.
    line.append_text(cell(user.username.removesuffix(USERNAME_SUFFIX), cols.username))
    if cols.kind:
        line.append(" ")
        line.append_text(cell(kind_label(user.kind, lang), cols.kind))
    line.append(" ")
    line.append_text(cell(user.school, cols.school))
    line.append(" ")
    status = row_status(user, today)
    line.append(STATUS_SYMBOLS[status], style=STATUS_STYLES[status])
    if marked:
        line.stylize("bold")
    return line
