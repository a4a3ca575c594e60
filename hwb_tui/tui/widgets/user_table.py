"""The user table: draws the window of `core.user_window` and runs its reads in workers.

The model (`core.user_window.UserWindow`) holds the rows, the cursor and the page cache and
knows nothing of Textual; this widget draws the lines on screen (the Line API), turns keys into
the model's moves, and runs the reads the model asks for in thread workers. A worker returns the
rows it read; the model takes them on the main thread (`on_worker_state_changed`), so the window
and the cache are never touched by two threads.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState, get_current_worker

from hwb_tui.core import directory
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.directory import Query
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import DEACTIVATED, User
from hwb_tui.core.user_window import (
    COUNT_CAP,
    PAGE,
    WINDOW,
    CountMatches,
    DirectorySource,
    Effects,
    ExtendPage,
    JumpPage,
    LoadPages,
    PageCache,
    Request,
    UserWindow,
    Window,
)
from hwb_tui.i18n import t
from hwb_tui.tui import failures
from hwb_tui.tui.widgets import user_row

__all__ = ["COUNT_CAP", "PAGE", "WINDOW", "UserTable"]

Draw = Literal["all", "scrollbar", "none"]  # what an operation's effects repaint
STRIPS_KEPT = 256  # row strips kept between frames: a few screens' worth, cursor or not


class UserTable(ScrollView, can_focus=True, inherit_bindings=False):
    """A keyboard-driven table of users that renders only the lines on screen.

    It scrolls by itself (the model's `top`), not by ScrollView's virtual size: the directory
    has no row positions to scroll to, only pages either side of the rows held.
    """

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
    UserTable { height: 1fr; overflow: hidden hidden; }
    UserTable > .user-table--header { text-style: bold; background: $panel; }
    UserTable > .user-table--cursor { background: $primary 40%; }
    UserTable:focus > .user-table--cursor { background: $primary; color: $text; }
    UserTable > .user-table--deactivated { color: $text-muted; }
    UserTable > .user-table--scrollbar { color: $panel-lighten-2; }
    UserTable > .user-table--thumb { color: $primary; }
    """

    # The row under the cursor, as an index into the window's rows. Validated against the rows
    # held; setting it (a click) moves the model's cursor, and the model's moves set it back.
    cursor: reactive[int] = reactive(0, layout=False)

    class Selected(Message):
        """The row under the cursor changed (None: no rows)."""

        def __init__(self, user: User | None) -> None:
            super().__init__()
            self.user = user

    class Counted(Message):
        """The matches were counted; None: new rows are shown and their count is on its way."""

        def __init__(self, count: int | None) -> None:
            super().__init__()
            self.count = count

    class ViewDetails(Message):
        pass

    def __init__(self, store: Store, actor: Actor, *, id: str | None = None,
                 marks: Mapping[int, User] | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.actor = actor
        self.marks: Mapping[int, User] = marks if marks is not None else {}  # the screen's marks
        # Read at construction, not import: tests shrink pages and the cap per test.
        self.source = DirectorySource(store, actor, COUNT_CAP)
        self.model = UserWindow(page=PAGE, window=WINDOW)
        self._reads: dict[Worker[object], Request] = {}  # workers running, main thread only
        self._selected_id: int | None = None
        self.lang = "en"
        self._warmed = False  # the source's warm-up has been started (after the first rows)
        # what drawing keeps between frames (see "drawing")
        self._styles: dict[tuple[str | None, bool], Style] = {}
        self._cols: tuple[tuple[int, tuple[str, ...], str], user_row.Columns] | None = None
        self._strips: OrderedDict[tuple[int | None, bool, bool, int, str, bool],
                                  tuple[User, date | None, user_row.Columns, Strip]] \
            = OrderedDict()

    # ---- the model, as the screen and tests see it -------------------------------------------

    @property
    def query_(self) -> Query | None:
        return self.model.query

    @property
    def window(self) -> Window:
        return self.model.window

    @property
    def total(self) -> int | None:
        return self.model.total

    @property
    def loaded(self) -> bool:
        """The rows of the current query have come (or failed to)."""
        return self.model.loaded

    @property
    def cache(self) -> PageCache:
        return self.model.cache

    @property
    def selected(self) -> User | None:
        return self.model.selected

    def count_is_over_cap(self, total: int) -> bool:
        """Whether `total` is a search's count stopped at the cap ("over N found")."""
        return self.source.is_over_cap(self.model.query, total)

    @property
    def body_height(self) -> int:
        return max(1, self.size.height - 1)  # one line of column headings

    def validate_cursor(self, cursor: int) -> int:
        return self.model.clamp(cursor)

    def watch_cursor(self, cursor: int) -> None:
        if cursor != self.model.cursor:
            self._apply(self.model.select(cursor))

    # ---- drawing -----------------------------------------------------------------------------
    # A frame draws every line of the table, and a keystroke takes a few frames (the rows, then
    # the count): the row strips, the columns and the styles are kept between frames, so that a
    # frame whose rows did not change costs the scrollbar's column only.

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, component: str | None) -> Style:
        """The widget's style (None) or a component's, for the focus it has now."""
        key = (component, self.has_focus)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style if component is None \
                else self.get_component_rich_style(component)
            self._styles[key] = style
        return style

    def _columns(self) -> user_row.Columns:
        """The cells of this view (a kind column when it holds several kinds; user_row)."""
        query = self.model.query
        kinds = directory.view_kinds(query) if query is not None else ("governor",)
        key = (max(20, self.size.width), kinds, self.lang)
        if self._cols is None or self._cols[0] != key:
            self._cols = (key, user_row.columns(key[0], kinds, self.lang))
        return self._cols[1]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._heading(width)
        index = self.model.line_to_index(y - 1)
        rows = self.window.rows
        if index >= len(rows):
            message = ""
            if y == 1 and not rows:
                key = "tui.table.empty" if self.model.loaded else "tui.table.loading"
                message = t(key, self.lang)
            style = self._style(None)
            return Strip([Segment(message, style)]).adjust_cell_length(width, style)
        return Strip.join([self._row(rows[index], index == self.model.cursor, width),
                           self._scrollbar(y - 1)])

    def _heading(self, width: int) -> Strip:
        style = self._style("user-table--header")
        line = user_row.heading(self._columns(), self.lang)
        return self._strip(line, width, style)

    def _row(self, user: User, is_cursor: bool, width: int) -> Strip:
        """A user's cells, drawn once for as long as the same row is shown the same way."""
        query = self.model.query
        today = query.today if query is not None else None
        marked = user.id in self.marks
        key = (user.id, is_cursor, marked, width, self.lang, self.has_focus)
        kept = self._strips.get(key)
        if kept is not None and kept[0] is user and kept[1] == today \
                and kept[2] is self._columns():
            self._strips.move_to_end(key)
            return kept[3]
        base = self._style(None)
        if user.status == DEACTIVATED:
            base = base + self._style("user-table--deactivated")
        if is_cursor:
            base = base + self._style("user-table--cursor")
        line = user_row.row(user, self._columns(), self.lang, marked=marked, today=today)
        strip = self._strip(line, width - 1, base)
        # the user object itself is kept with its strip: a changed user is a new object
        self._strips[key] = (user, today, self._columns(), strip)
        while len(self._strips) > STRIPS_KEPT:
            self._strips.popitem(last=False)
        return strip

    def _strip(self, line: Text, width: int, style: Style) -> Strip:
        # Text.render leaves a span-less Text unstyled: the row's style goes under every cell.
        segments = Segment.apply_style(line.render(self.app.console), style)
        return Strip(segments).adjust_cell_length(width, style)

    def _scrollbar(self, line_no: int) -> Strip:
        """One column: where the window lies among all matches (the model's estimate)."""
        thumb = self.model.thumb()
        if thumb is None:
            return Strip.blank(1, self._style(None))
        pos, size = thumb
        if pos <= line_no < pos + size:
            return Strip([Segment("┃", self._style("user-table--thumb"))])
        return Strip([Segment("│", self._style("user-table--scrollbar"))])

    def _refresh_scrollbar(self) -> None:
        """Repaint the scrollbar's column alone (a count arrived: the rows did not change)."""
        width, height = self.size
        self.refresh(Region(width - 1, 1, 1, max(0, height - 1)))

    # ---- the model's effects -----------------------------------------------------------------

    def _apply(self, effects: Effects, draw: Draw = "all") -> None:
        """Draw what changed, tell the screen, and start the reads the model asked for."""
        self.set_reactive(UserTable.cursor, self.model.cursor)
        if draw == "all":
            self.refresh()
        elif draw == "scrollbar":
            self._refresh_scrollbar()
        if effects.uncounted:
            self._tell(self.Counted(None))
        if effects.counted is not None:
            self._tell(self.Counted(effects.counted))
        if effects.selection_changed:
            self._announce()
        for request in effects.requests:
            if isinstance(request, CountMatches) and draw == "all":
                # after the rows are painted: counting would hold back the frame that shows them
                self.call_after_refresh(self._start, request)
            else:
                self._start(request)

    def _tell(self, message: Message) -> None:
        """Tell the screen at once: a message that bubbles up through the containers between
        reaches it a frame later, and the details and the count would lag the rows."""
        if self.is_attached:
            self.screen.post_message(message)
        else:
            self.post_message(message)

    def _start(self, request: Request) -> None:
        if isinstance(request, LoadPages | JumpPage):
            # One group: a newer query or jump cancels an older one's read.
            self._read(request, "user-table-load", exclusive=True)
        elif isinstance(request, ExtendPage):
            self._read(request, "user-table-extend", exclusive=False)
        else:
            self._read(request, "user-table-count", exclusive=True)

    def _read(self, request: Request, group: str, *, exclusive: bool) -> None:
        worker = self.run_worker(partial(self._read_worker, request), name=type(request).__name__,
                                 group=group, exclusive=exclusive, thread=True,
                                 exit_on_error=False)
        self._reads[worker] = request

    def _warm(self) -> None:
        """In a thread: read ahead what the first search would wait for. A failure here is moot:
        nothing waits on it, and the reads that do need the database report their own."""
        try:
            self.source.warm()
        except HwbError:
            pass

    def _read_worker(self, request: Request) -> object:
        """In a thread: read what `request` asks, touching nothing but the source."""
        wait = request.wait if isinstance(request, LoadPages) else 0.0
        if wait:
            # Debounce: a newer keystroke cancels this worker while it sleeps.
            time.sleep(wait)
            if get_current_worker().is_cancelled:
                return None
        return request.read(self.source)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker not in self._reads or not event.worker.is_finished:
            return
        request = self._reads.pop(event.worker)
        self._sync_height()
        if not self._warmed and isinstance(request, LoadPages):
            # the first rows are on screen: read now what the first search would wait for
            self._warmed = True
            self.run_worker(self._warm, name="warm", group="user-table-warm", thread=True,
                            exit_on_error=False)
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            # a count changes the count and the scrollbar, never the rows
            self._apply(self.model.receive(request, event.worker.result),
                        "scrollbar" if isinstance(request, CountMatches) else "all")
        elif failures.failed(event):
            self._apply(self.model.failed(request))
            if self.model.is_current(request):  # an older query's failure is moot
                failures.report(self, event.worker.error)

    def forget(self) -> None:
        """Hold no user any more (the operator has been withdrawn): a fresh, empty model, and
        any read still on its way lands nowhere."""
        self.model = UserWindow(page=PAGE, window=WINDOW)
        self._reads.clear()
        self.set_reactive(UserTable.cursor, 0)
        self.refresh()

    def _sync_height(self) -> UserWindow:
        """The model, told how many lines of rows the screen has now."""
        self.model.height = self.body_height
        return self.model

    def _announce(self) -> None:
        user = self.selected
        ident = user.id if user else None
        if ident != self._selected_id or user is not None:
            self._selected_id = ident
            self._tell(self.Selected(user))

    # ---- what the screen asks ----------------------------------------------------------------

    def load(self, query: Query, *, anchor: User | None = None, debounce: bool = False) -> None:
        """Show `query`: from the top, or around `anchor` (kept selected when it still matches)."""
        # The rows shown stay, scrollbar and all, until the new ones come: nothing to draw now,
        # unless there are none yet ("loading").
        self._apply(self._sync_height().load(query, anchor=anchor,
                                             now=time.monotonic() if debounce else None),
                    "all" if not self.window.rows else "none")

    def reload(self, *, anchor: User | None = None) -> None:
        """Read the current query again (after a change), keeping the cursor's place."""
        self._apply(self.model.reload(anchor=anchor))

    def recount(self) -> None:
        """Count the matches again (after a change)."""
        self._apply(self.model.recount())

    def replace_row(self, user: User) -> None:
        """Show a changed user in place (the row keeps its place until the next reload)."""
        self._apply(self.model.replace(user))

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.refresh()

    # ---- keys and mouse ----------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self._apply(self._sync_height().move(delta))

    def action_page(self, direction: int) -> None:
        self._apply(self._sync_height().page(direction))

    def action_first(self) -> None:
        self._apply(self._sync_height().first())

    def action_last(self) -> None:
        self._apply(self._sync_height().last())

    def action_details(self) -> None:
        if self.selected is not None:
            self.post_message(self.ViewDetails())

    def on_resize(self, event: events.Resize) -> None:
        self._apply(self.model.resized(self.body_height))

    def on_click(self, event: events.Click) -> None:
        # Clicking a row selects it: the row's text is never a link or an action.
        if event.y >= 1:
            index = self.model.line_to_index(event.y - 1)
            if index < len(self.window.rows):
                self._sync_height()
                self.cursor = index
