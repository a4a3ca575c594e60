"""The user table: a virtual table that holds only a window of rows, paged from the store.

The directory may hold a million users, so the table never loads it: it keeps a contiguous
window of rows around the cursor (a few pages), fetched with keyset pages from
`core.directory.page()` in thread workers, plus a small LRU cache of recent pages. Keyset paging
has no random offset, so the scrollbar is an estimate; `home` and `end` load the first page and
the last page (read backwards from the end).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.worker import get_current_worker

from hwb_tui.core import directory
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.directory import Cursor, Query
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import DEACTIVATED, User
from hwb_tui.core.names import USERNAME_DOMAIN, display_safe
from hwb_tui.i18n import t

PAGE = 100  # rows per keyset page
WINDOW = 600  # most rows held at once: a few screens either side of the cursor
CACHE_PAGES = 24  # pages kept in the LRU cache
COUNT_CAP = 10_000  # a search stops counting here: "over 10,000 found" tells enough, at once
# Seconds a search waits for the next keystroke before it queries, when keys come in a burst
# (a paste, keys batched by a slow SSH link): the burst costs one query, not one per key. A key
# typed on its own (none in the last DEBOUNCE) queries at once, so typing at a person's pace
# reaches the table within SPEC §5's 50 ms; a newer key still cancels an older query's result.
DEBOUNCE = 0.03

USERNAME_SUFFIX = "@" + USERNAME_DOMAIN

PageKey = tuple[Query, Cursor | None, bool]


@dataclass
class Window:
    """The rows held: contiguous in sort order, with what lies beyond each end."""

    rows: list[User]
    at_start: bool
    at_end: bool
    first_index: int  # estimated position of rows[0] among all matches


def count_matches(session: Any, actor: Actor, query: Query) -> int:
    """The count the table shows: exact for a whole view, capped for a search (COUNT_CAP + 1
    means "over COUNT_CAP"), so that a keystroke never waits on counting 60,000 Joneses."""
    return directory.count(session, actor, query, cap=COUNT_CAP if query.search.strip() else None)


class PageCache:
    """An LRU of keyset pages: (query, cursor, direction) -> rows."""

    def __init__(self, size: int = CACHE_PAGES) -> None:
        self.size = size
        self._pages: OrderedDict[PageKey, list[User]] = OrderedDict()

    def get(self, key: PageKey) -> list[User] | None:
        rows = self._pages.get(key)
        if rows is not None:
            self._pages.move_to_end(key)
        return rows

    def put(self, key: PageKey, rows: list[User]) -> None:
        self._pages[key] = rows
        self._pages.move_to_end(key)
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)

    def clear(self) -> None:
        self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)


def _cell(text: str, width: int) -> Text:
    """A cell of exactly `width` columns: user text as plain Text (never markup), cut with …"""
    cell = Text(display_safe(text), no_wrap=True, overflow="ellipsis", end="")
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


class UserTable(Widget, can_focus=True):
    """A keyboard-driven table of users that renders only the lines on screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "key.up", show=False, id="table.up"),
        Binding("down", "move(1)", "key.down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "key.page_up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "key.page_down", show=False, id="table.page_down"),
        Binding("home", "first", "key.first", show=False, id="table.first"),
        Binding("end", "last", "key.last", show=False, id="table.last"),
        Binding("enter", "details", "key.details", id="table.details"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "user-table--header",
        "user-table--cursor",
        "user-table--deactivated",
        "user-table--scrollbar",
        "user-table--thumb",
    }

    DEFAULT_CSS = """
    UserTable { height: 1fr; }
    UserTable > .user-table--header { text-style: bold; background: $panel; }
    UserTable > .user-table--cursor { background: $primary 40%; }
    UserTable:focus > .user-table--cursor { background: $primary; color: $text; }
    UserTable > .user-table--deactivated { color: $text-muted; }
    UserTable > .user-table--scrollbar { color: $panel-lighten-2; }
    UserTable > .user-table--thumb { color: $primary; }
    """

    class Selected(Message):
        """The row under the cursor changed (None: no rows)."""

        def __init__(self, user: User | None) -> None:
            super().__init__()
            self.user = user

    class Counted(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class ViewDetails(Message):
        pass

    def __init__(self, store: Store, actor: Actor, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.actor = actor
        self.query_: Query | None = None
        self.window = Window([], True, True, 0)
        self.cursor = 0  # index into window.rows
        self.top = 0  # index into window.rows of the first line on screen
        self.total: int | None = None
        self.loaded = False
        self.cache = PageCache()
        self._generation = 0  # bumped by every new query: a stale page never paints
        self._extending: set[bool] = set()  # directions being fetched (backwards?)
        self._selected_id: int | None = None
        self._anchor_line = 0
        self._pending: list[tuple[int, int]] = []  # moves asked for while a page was loading
        self._pending_extend: list[tuple[int, int]] = []  # moves waiting for rows beyond an edge
        self._last_key_at = 0.0  # when the search last changed (time.monotonic)
        self.lang = "en"

    # ---- what is shown -----------------------------------------------------------------------

    @property
    def selected(self) -> User | None:
        rows = self.window.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    @property
    def body_height(self) -> int:
        return max(1, self.size.height - 1)  # one line of column headings

    def _columns(self) -> tuple[int, int, int, int]:
        """Widths of name, username, school and status (the last column is the scrollbar)."""
        width = max(20, self.size.width - 1)
        status, school = 2, 7
        username = max(10, min(18, (width - status - school - 3) * 2 // 5))
        name = max(8, width - status - school - username - 3)
        return name, username, school, status

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._heading(width)
        index = self.top + y - 1
        rows = self.window.rows
        if index >= len(rows):
            message = ""
            if y == 1 and not rows:
                message = t("tui.table.empty" if self.loaded else "tui.table.loading", self.lang)
            style = self.rich_style
            return Strip([Segment(message, style)]).adjust_cell_length(width, style)
        return self._row(rows[index], index == self.cursor, y - 1, width)

    def _heading(self, width: int) -> Strip:
        name, username, school, status = self._columns()
        style = self.get_component_rich_style("user-table--header")
        line = Text(style=style, end="")
        for label, w in ((t("tui.col.name", self.lang), name),
                         (t("tui.col.username", self.lang), username),
                         (t("tui.col.school", self.lang), school),
                         (t("tui.col.status", self.lang), status)):
            line.append_text(_cell(label, w))
            line.append(" ")
        return self._strip(line, width, style)

    def _row(self, user: User, is_cursor: bool, line_no: int, width: int) -> Strip:
        name_w, username_w, school_w, status_w = self._columns()
        base = self.rich_style
        if user.status == DEACTIVATED:
            base = base + self.get_component_rich_style("user-table--deactivated")
        if is_cursor:
            base = base + self.get_component_rich_style("user-table--cursor")
        line = Text(style=base, end="")
        line.append_text(_cell(f"{user.surname}, {user.forename}", name_w))
        line.append(" ")
        # Every username ends @hwbcymru.net: the table shows the part that tells users apart.
        line.append_text(_cell(user.username.removesuffix(USERNAME_SUFFIX), username_w))
        line.append(" ")
        line.append_text(_cell(user.school, school_w))
        line.append(" ")
        line.append_text(_cell("✗" if user.status == DEACTIVATED else "", status_w))
        strip = self._strip(line, width - 1, base)
        return Strip.join([strip, self._scrollbar(line_no)])

    def _strip(self, line: Text, width: int, style: Style) -> Strip:
        # Text.render leaves a span-less Text unstyled: the row's style goes under every cell.
        segments = Segment.apply_style(line.render(self.app.console), style)
        return Strip(segments).adjust_cell_length(width, style)

    def _scrollbar(self, line_no: int) -> Strip:
        """One column: where the window lies among all matches (an estimate, see module doc)."""
        height = self.body_height
        total = self.total or len(self.window.rows)
        if total <= height:
            return Strip.blank(1, self.rich_style)
        thumb = max(1, height * height // total)
        first = self.window.first_index + self.top
        if self.window.at_end and self.top + height >= len(self.window.rows):
            first = total - height
        pos = min(height - thumb, (height - thumb) * max(0, first) // max(1, total - height))
        if pos <= line_no < pos + thumb:
            return Strip([Segment("┃", self.get_component_rich_style("user-table--thumb"))])
        return Strip([Segment("│", self.get_component_rich_style("user-table--scrollbar"))])

    # ---- loading -----------------------------------------------------------------------------

    def load(self, query: Query, *, anchor: User | None = None, debounce: bool = False) -> None:
        """Show `query`: from the top, or around `anchor` (kept selected when it still matches)."""
        self.query_ = query
        # A new look reads the store again: cached pages may predate another operator's change
        # or a provisioning run (a search typed again must not show a moved learner's old
        # school). The cache serves scrolling and home/end within this query.
        self.cache.clear()
        self._anchor_line = self.cursor - self.top if anchor is not None else 0
        self._generation += 1
        self._extending.clear()
        self._pending_extend.clear()
        self.loaded = False
        self.total = None
        wait = 0.0
        if debounce:
            now = time.monotonic()
            if now - self._last_key_at < DEBOUNCE:
                wait = DEBOUNCE  # part of a burst: let the rest of it arrive first
            self._last_key_at = now
        self._load_worker(query, self._generation, anchor, wait)

    def reload(self, *, anchor: User | None = None) -> None:
        """Read the current query again (after a change), keeping the cursor's place."""
        if self.query_ is None:
            return
        self.cache.clear()
        self.load(self.query_, anchor=anchor or self.selected)

    def _fetch(self, query: Query, after: Cursor | None, backwards: bool) -> list[User]:
        key: PageKey = (query, after, backwards)
        rows = self.cache.get(key)
        if rows is None:
            with self.store.read() as session:
                rows = directory.page(session, self.actor, query, after=after, limit=PAGE,
                                      backwards=backwards)
            self.cache.put(key, rows)
        return rows

    @work(thread=True, exclusive=True, group="user-table-load")
    def _load_worker(self, query: Query, generation: int, anchor: User | None,
                     wait: float) -> None:
        worker = get_current_worker()
        if wait:
            # Debounce: a newer keystroke cancels this worker while it sleeps.
            time.sleep(wait)
            if worker.is_cancelled:
                return
        try:
            if anchor is not None and anchor.id is not None:
                key, ident = directory.cursor_of(anchor, query.language)
                before = self._fetch(query, (key, ident), True)
                after = self._fetch(query, (key, ident - 1), False)
                window = Window(before + after, len(before) < PAGE, len(after) < PAGE, 0)
                focus = len(before)
            else:
                rows = self._fetch(query, None, False)
                window = Window(rows, True, len(rows) < PAGE, 0)
                focus = 0
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._show_window, generation, window, focus, anchor)
            with self.store.read() as session:
                total = count_matches(session, self.actor, query)
            if not worker.is_cancelled:
                self.app.call_from_thread(self._show_count, generation, total)
        except HwbError as exc:
            self.app.call_from_thread(self._failed, generation, exc)

    def _failed(self, generation: int, exc: HwbError) -> None:
        if generation == self._generation:
            self.loaded = True
            self.refresh()
            self.notify(exc.message(self.lang), severity="error")

    def _show_window(self, generation: int, window: Window, focus: int,
                     anchor: User | None) -> None:
        if generation != self._generation:
            return
        if anchor is not None and window.at_start:
            window.first_index = 0
        elif anchor is not None:
            # Somewhere in the middle: the count will tell us roughly where; until then, guess.
            window.first_index = max(0, self.window.first_index + self.top - focus)
        self.window = window
        self.loaded = True
        self.cursor = min(focus, max(0, len(window.rows) - 1))
        # keep the anchor on the same screen line it was on, when it can be
        self.top = max(0, self.cursor - min(self._anchor_line, self.cursor))
        self._scroll_into_view()
        self.refresh()
        pending, self._pending = self._pending, []
        self._replay(pending)
        self._announce()

    def _show_count(self, generation: int, total: int) -> None:
        if generation != self._generation:
            return
        self.total = total
        if self.window.at_end:
            self.window.first_index = max(0, total - len(self.window.rows))
        self.refresh()
        self.post_message(self.Counted(total))

    def _extend(self, backwards: bool) -> None:
        if self.query_ is None or backwards in self._extending:
            return
        rows = self.window.rows
        if not rows or (self.window.at_start if backwards else self.window.at_end):
            return
        edge = rows[0] if backwards else rows[-1]
        self._extending.add(backwards)
        self._extend_worker(self.query_, self._generation,
                            directory.cursor_of(edge, self.query_.language), backwards)

    @work(thread=True, group="user-table-extend")
    def _extend_worker(self, query: Query, generation: int, after: Cursor,
                       backwards: bool) -> None:
        try:
            rows = self._fetch(query, after, backwards)
        except HwbError as exc:
            self.app.call_from_thread(self._failed, generation, exc)
            return
        self.app.call_from_thread(self._extended, generation, after, backwards, rows)

    def _extended(self, generation: int, after: Cursor, backwards: bool,
                  new: list[User]) -> None:
        self._extending.discard(backwards)
        if generation != self._generation or self.query_ is None:
            return
        win = self.window
        lang = self.query_.language
        if not win.rows:
            return
        edge = win.rows[0] if backwards else win.rows[-1]
        if directory.cursor_of(edge, lang) != after:
            return  # the window moved (home/end) since this page was asked for
        if backwards:
            win.rows = new + win.rows
            win.at_start = len(new) < PAGE
            win.first_index = 0 if win.at_start else max(0, win.first_index - len(new))
            self.cursor += len(new)
            self.top += len(new)
            excess = len(win.rows) - WINDOW
            if excess > 0 and self.cursor < len(win.rows) - excess:
                del win.rows[-excess:]
                win.at_end = False
        else:
            win.rows = win.rows + new
            win.at_end = len(new) < PAGE
            excess = len(win.rows) - WINDOW
            if excess > 0 and self.top >= excess:
                del win.rows[:excess]
                win.first_index += excess
                win.at_start = False
                self.cursor -= excess
                self.top -= excess
        self.refresh()
        self._maybe_extend()
        pending, self._pending_extend = self._pending_extend, []
        self._replay(pending)

    def _replay(self, moves: list[tuple[int, int]]) -> None:
        """Apply moves that waited for rows: (delta, 0) is a move, (0, direction) a page."""
        for delta, direction in moves:
            if delta:
                self.action_move(delta)
            else:
                self.action_page(direction)

    def _maybe_extend(self) -> None:
        margin = 2 * self.body_height
        if len(self.window.rows) - self.cursor <= margin:
            self._extend(False)
        if self.cursor <= margin:
            self._extend(True)

    # ---- moving ------------------------------------------------------------------------------

    def _scroll_into_view(self) -> None:
        height = self.body_height
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        self.top = max(0, min(self.top, max(0, len(self.window.rows) - height)))

    def _moved(self) -> None:
        self._scroll_into_view()
        self.refresh()
        self._maybe_extend()
        self._announce()

    def _announce(self) -> None:
        user = self.selected
        ident = user.id if user else None
        if ident != self._selected_id or user is not None:
            self._selected_id = ident
            self.post_message(self.Selected(user))

    def action_move(self, delta: int) -> None:
        if not self.loaded:
            self._pending.append((delta, 0))  # applied to the rows on their way
            return
        if not self.window.rows:
            return
        if self._beyond_window(delta):
            self._pending_extend.append((delta, 0))
            self._extend(delta < 0)
            return
        new = max(0, min(len(self.window.rows) - 1, self.cursor + delta))
        if new != self.cursor:
            self.cursor = new
            self._moved()
        else:
            self._maybe_extend()

    def action_page(self, direction: int) -> None:
        if not self.loaded:
            self._pending.append((0, direction))
            return
        if not self.window.rows:
            return
        height = self.body_height
        if self._beyond_window(direction * height):
            # Past the rows held while the next ones are on their way: move when they arrive,
            # rather than drop the key (a quick run of page-downs on a slow link).
            self._pending_extend.append((0, direction))
            self._extend(direction < 0)
            return
        self.cursor = max(0, min(len(self.window.rows) - 1, self.cursor + direction * height))
        self.top = max(0, self.top + direction * height)
        self._moved()

    def _beyond_window(self, delta: int) -> bool:
        """A move past the rows held, with more rows beyond them (to be fetched first)."""
        target = self.cursor + delta
        if delta > 0:
            return target >= len(self.window.rows) and not self.window.at_end
        return target < 0 and not self.window.at_start

    def action_first(self) -> None:
        if self.query_ is None:
            return
        if self.window.at_start:
            self.cursor = self.top = 0
            self._moved()
            return
        self._jump(False)

    def action_last(self) -> None:
        if self.query_ is None:
            return
        if self.window.at_end:
            self.cursor = max(0, len(self.window.rows) - 1)
            self._moved()
            return
        self._jump(True)

    def _jump(self, to_end: bool) -> None:
        assert self.query_ is not None
        self._generation += 1  # pages on their way for the old window are now stale
        self._extending.clear()
        self._jump_worker(self.query_, self._generation, to_end, self.total)

    @work(thread=True, exclusive=True, group="user-table-load")
    def _jump_worker(self, query: Query, generation: int, to_end: bool,
                     total: int | None) -> None:
        try:
            rows = self._fetch(query, None, to_end)
        except HwbError as exc:
            self.app.call_from_thread(self._failed, generation, exc)
            return
        if to_end:
            first = max(0, (total or len(rows)) - len(rows))
            window = Window(rows, len(rows) < PAGE, True, first)
        else:
            window = Window(rows, True, len(rows) < PAGE, 0)
        self.app.call_from_thread(self._jumped, generation, window, to_end, total)

    def _jumped(self, generation: int, window: Window, to_end: bool, total: int | None) -> None:
        if generation != self._generation:
            return
        self.window = window
        self.total = total
        self.cursor = max(0, len(window.rows) - 1) if to_end else 0
        self.top = 0
        self._moved()

    def recount(self) -> None:
        """Count the matches again (after a change)."""
        if self.query_ is not None:
            self._count_worker(self.query_, self._generation)

    @work(thread=True, exclusive=True, group="user-table-count")
    def _count_worker(self, query: Query, generation: int) -> None:
        try:
            with self.store.read() as session:
                total = count_matches(session, self.actor, query)
        except HwbError as exc:
            self.app.call_from_thread(self._failed, generation, exc)
            return
        self.app.call_from_thread(self._show_count, generation, total)

    def replace_row(self, user: User) -> None:
        """Show a changed user in place (the row keeps its place until the next reload)."""
        for i, row in enumerate(self.window.rows):
            if row.id == user.id:
                self.window.rows[i] = user
        self.cache.clear()
        self.refresh()
        self._announce()

    def action_details(self) -> None:
        if self.selected is not None:
            self.post_message(self.ViewDetails())

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_into_view()
        self._maybe_extend()

    def on_click(self, event: events.Click) -> None:
        # Clicking a row selects it: the row's text is never a link or an action.
        if event.y >= 1:
            index = self.top + event.y - 1
            if index < len(self.window.rows):
                self.cursor = index
                self._moved()

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.refresh()

