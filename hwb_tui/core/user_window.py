"""The window of users the console's table shows: pages, cursor and scroll arithmetic, no Textual.

The directory may hold a million users, so the table never loads it: it keeps a contiguous
window of rows around the cursor (a few pages) read with keyset pages, plus a small LRU cache of
recent pages. Keyset paging has no random offset, so the scrollbar is an estimate; `home` and
`end` read the first page and the last page (read backwards from the end).

The split follows Toolong's: this model knows pages, cursor and window; the widget only draws it.
The model never reads the store itself. Each operation returns what it needs read as `Request`s;
the widget runs each request's `read(source)` in a worker thread (which touches nothing but the
source) and hands the result back with `receive` on the main thread. So the window and the page
cache change on one thread only, and a request from an older query (an older `generation`) is
dropped when its answer arrives.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from hwb_tui.core import directory
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.directory import Cursor, Query
from hwb_tui.core.models import User

PAGE = 100  # rows per keyset page
WINDOW = 600  # most rows held at once: a few screens either side of the cursor
CACHE_PAGES = 24  # pages kept in the LRU cache
COUNT_CAP = 10_000  # a search stops counting here: "over 10,000 found" tells enough, at once
# Seconds a search waits for the next keystroke before it queries, when keys come in a burst
# (a paste, keys batched by a slow SSH link): the burst costs one query, not one per key. A key
# typed on its own (none in the last DEBOUNCE) queries at once, so typing at a person's pace
# reaches the table within SPEC §5's 50 ms; a newer key still cancels an older query's result.
DEBOUNCE = 0.03

PageKey = tuple[Query, Cursor | None, bool]


class PageSource(Protocol):
    """Where pages and counts come from (the store, for the console)."""

    def page(self, query: Query, after: Cursor | None, backwards: bool,
             limit: int) -> list[User]: ...

    def count(self, query: Query) -> int: ...


class DirectorySource:
    """Pages and counts of `core.directory`, each in its own read transaction, in scope."""

    def __init__(self, store: Store, actor: Actor, count_cap: int = COUNT_CAP) -> None:
        self.store = store
        self.actor = actor
        self.count_cap = count_cap

    def page(self, query: Query, after: Cursor | None, backwards: bool,
             limit: int) -> list[User]:
        with self.store.read() as session:
            return directory.page(session, self.actor, query, after=after, limit=limit,
                                  backwards=backwards)

    def count(self, query: Query) -> int:
        """Exact for a whole view, capped for a search (count_cap + 1 means "over count_cap"),
        so that a keystroke never waits on counting 60,000 Joneses."""
        with self.store.read() as session:
            return directory.count(session, self.actor, query,
                                   cap=self.count_cap if query.search.strip() else None)

    def warm(self) -> None:
        """What the first search would otherwise read first (directory.warm)."""
        with self.store.read() as session:
            directory.warm(session)

    def is_over_cap(self, query: Query | None, total: int) -> bool:
        """Whether `total` is a search's count stopped at the cap (shown as "over N")."""
        return query is not None and bool(query.search.strip()) and total > self.count_cap


class PageCache:
    """An LRU of keyset pages: (query, cursor, direction) -> rows. Main thread only."""

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


@dataclass
class Window:
    """The rows held: contiguous in sort order, with what lies beyond each end."""

    rows: list[User]
    at_start: bool
    at_end: bool
    first_index: int  # estimated position of rows[0] among all matches


# ---- what the model asks to be read (run in a worker; `read` touches only the source) --------


@dataclass(frozen=True)
class LoadPages:
    """The first page of a query, or the pages either side of an anchor row."""

    generation: int
    query: Query
    anchor: Cursor | None
    limit: int
    wait: float = 0.0  # debounce: seconds to wait first (a newer key cancels the worker)

    def read(self, source: PageSource) -> tuple[list[User], list[User]]:
        """(rows before the anchor, rows from it on); without an anchor, ([], first page)."""
        if self.anchor is None:
            return [], source.page(self.query, None, False, self.limit)
        key, ident = self.anchor
        before = source.page(self.query, (key, ident), True, self.limit)
        after = source.page(self.query, (key, ident - 1), False, self.limit)
        return before, after


@dataclass(frozen=True)
class ExtendPage:
    """The page beyond one end of the window."""

    generation: int
    query: Query
    after: Cursor
    backwards: bool
    limit: int

    def read(self, source: PageSource) -> list[User]:
        return source.page(self.query, self.after, self.backwards, self.limit)


@dataclass(frozen=True)
class JumpPage:
    """The first page (home) or the last (end)."""

    generation: int
    query: Query
    to_end: bool
    limit: int

    def read(self, source: PageSource) -> list[User]:
        return source.page(self.query, None, self.to_end, self.limit)


@dataclass(frozen=True)
class CountMatches:
    generation: int  # of the load it counts for (a jump within the query keeps the count)
    query: Query

    def read(self, source: PageSource) -> int:
        return source.count(self.query)


Request = LoadPages | ExtendPage | JumpPage | CountMatches
Move = tuple[str, int]  # ("move", rows), ("page", direction), ("first" | "last", 0)


@dataclass
class Effects:
    """What an operation leaves for the widget: pages to read, and what to tell the screen."""

    requests: list[Request] = field(default_factory=list)
    selection_changed: bool = False  # the row under the cursor may be another one
    counted: int | None = None  # a new count arrived
    uncounted: bool = False  # a new query's rows arrived; their count is on its way


class UserWindow:
    """Cursor, scroll position and window of rows over one query's matches."""

    def __init__(self, page: int = PAGE, window: int = WINDOW,
                 cache_pages: int = CACHE_PAGES) -> None:
        self.page_size = page
        self.window_size = window
        self.query: Query | None = None
        self.window = Window([], True, True, 0)
        self.cursor = 0  # index into window.rows
        self.top = 0  # index into window.rows of the first line on screen
        self.height = 1  # lines of rows on screen
        self.total: int | None = None
        # The total the scrollbar is drawn for: the rows shown's, so while a new query is read
        # the old rows keep their scrollbar (a frame less between a key and its rows).
        self._thumb_total: int | None = None
        self.loaded = False
        self.cache = PageCache(cache_pages)
        self.generation = 0  # bumped by every new query and jump: a stale page never paints
        self._query_generation = 0  # bumped by every new query alone: a stale count never shows
        self._extending: set[bool] = set()  # directions being read (backwards?)
        self._anchor_line = 0
        self._pending: list[Move] = []  # moves asked for while the first rows were loading
        self._pending_extend: list[Move] = []  # moves waiting for rows beyond an edge
        self._last_key_at: float | None = None  # when a debounced search last changed
        self._out = Effects()

    # ---- what is shown -------------------------------------------------------------------------

    @property
    def selected(self) -> User | None:
        rows = self.window.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    def clamp(self, index: int) -> int:
        """The nearest index of a row held (0 when none are)."""
        return max(0, min(len(self.window.rows) - 1, index))

    def thumb(self) -> tuple[int, int] | None:
        """The scrollbar thumb as (first line, lines), or None when every match fits on screen.

        An estimate (see module doc): where the window lies among all matches."""
        height = self.height
        total = self._thumb_total or len(self.window.rows)
        if total <= height:
            return None
        size = max(1, height * height // total)
        first = self.window.first_index + self.top
        if self.window.at_end and self.top + height >= len(self.window.rows):
            first = total - height
        pos = min(height - size, (height - size) * max(0, first) // max(1, total - height))
        return pos, size

    def is_current(self, request: Request) -> bool:
        """Whether `request`'s answer would still be shown (no newer query or jump since)."""
        if isinstance(request, CountMatches):
            return request.generation == self._query_generation
        return request.generation == self.generation

    def take(self) -> Effects:
        """What the operations since the last `take` left for the widget."""
        out, self._out = self._out, Effects()
        return out

    # ---- loading -------------------------------------------------------------------------------

    def load(self, query: Query, *, anchor: User | None = None,
             now: float | None = None) -> Effects:
        """Show `query`: from the top, or around `anchor` (kept selected when it still matches).

        `now` (a monotonic time) debounces: a load within DEBOUNCE of the previous debounced one
        waits DEBOUNCE before it reads, so a burst of keys costs one query.
        """
        self.query = query
        # A new look reads the store again: cached pages may predate another operator's change
        # or a provisioning run (a search typed again must not show a moved learner's old
        # school). The cache serves scrolling and home/end within this query.
        self.cache.clear()
        self._anchor_line = self.cursor - self.top if anchor is not None else 0
        self.generation += 1
        self._query_generation = self.generation
        self._extending.clear()
        self._pending_extend.clear()
        self.loaded = False
        self.total = None
        wait = 0.0
        if now is not None:
            if self._last_key_at is not None and now - self._last_key_at < DEBOUNCE:
                wait = DEBOUNCE  # part of a burst: let the rest of it arrive first
            self._last_key_at = now
        at = directory.cursor_of(anchor, query.language) if anchor and anchor.id else None
        self._out.requests.append(LoadPages(self.generation, query, at, self.page_size, wait))
        return self.take()

    def reload(self, *, anchor: User | None = None) -> Effects:
        """Read the current query again (after a change), keeping the cursor's place."""
        if self.query is None:
            return self.take()
        return self.load(self.query, anchor=anchor or self.selected)

    def recount(self) -> Effects:
        """Count the matches again (after a change)."""
        if self.query is not None:
            self._out.requests.append(CountMatches(self._query_generation, self.query))
        return self.take()

    def receive(self, request: Request, result: object) -> Effects:
        """The answer to `request`, read in a worker; dropped when a newer query replaced it."""
        if isinstance(request, LoadPages):
            assert isinstance(result, tuple)
            self._loaded(request, *result)
        elif isinstance(request, ExtendPage):
            assert isinstance(result, list)
            self.cache.put((request.query, request.after, request.backwards), result)
            self._extended(request, result)
        elif isinstance(request, JumpPage):
            assert isinstance(result, list)
            self.cache.put((request.query, None, request.to_end), result)
            self._jumped(request, result)
        else:
            assert isinstance(result, int)
            self._counted(request, result)
        return self.take()

    def failed(self, request: Request) -> Effects:
        """`request` could not be read: stop waiting for it (the widget says why)."""
        if isinstance(request, ExtendPage):
            self._extending.discard(request.backwards)
            if request.generation == self.generation:
                self._pending_extend.clear()  # those keys asked for rows that did not come
        if request.generation == self.generation and isinstance(request, LoadPages):
            self.loaded = True
            self._pending.clear()
        return self.take()

    def _loaded(self, request: LoadPages, before: list[User], after: list[User]) -> None:
        if request.generation != self.generation:
            return
        if request.anchor is not None:
            self.cache.put((request.query, request.anchor, True), before)
            self.cache.put((request.query, (request.anchor[0], request.anchor[1] - 1), False),
                           after)
            window = Window(before + after, len(before) < self.page_size,
                            len(after) < self.page_size, 0)
            if window.at_start:
                window.first_index = 0
            else:
                # Somewhere in the middle: the count will tell us roughly where; until then,
                # guess.
                window.first_index = max(0, self.window.first_index + self.top - len(before))
        else:
            self.cache.put((request.query, None, False), after)
            window = Window(after, True, len(after) < self.page_size, 0)
        focus = len(before)
        self.window = window
        self.loaded = True
        self.cursor = min(focus, max(0, len(window.rows) - 1))
        # keep the anchor on the same screen line it was on, when it can be
        self.top = max(0, self.cursor - min(self._anchor_line, self.cursor))
        self._scroll_into_view()
        pending, self._pending = self._pending, []
        self._replay(pending)
        self._thumb_total = None
        self._out.uncounted = True
        self._out.selection_changed = True
        self._out.requests.append(CountMatches(self._query_generation, request.query))

    def _counted(self, request: CountMatches, total: int) -> None:
        if not self.is_current(request):
            return
        self.total = self._thumb_total = total
        if self.window.at_end:
            self.window.first_index = max(0, total - len(self.window.rows))
        self._out.counted = total

    def _extend(self, backwards: bool) -> None:
        if self.query is None or backwards in self._extending:
            return
        rows = self.window.rows
        if not rows or (self.window.at_start if backwards else self.window.at_end):
            return
        edge = rows[0] if backwards else rows[-1]
        after = directory.cursor_of(edge, self.query.language)
        self._extending.add(backwards)
        self._read(ExtendPage(self.generation, self.query, after, backwards, self.page_size))

    def _extended(self, request: ExtendPage, new: list[User]) -> None:
        self._extending.discard(request.backwards)
        if request.generation != self.generation or self.query is None:
            return
        win = self.window
        if not win.rows:
            return
        backwards = request.backwards
        edge = win.rows[0] if backwards else win.rows[-1]
        if directory.cursor_of(edge, self.query.language) != request.after:
            return  # the window moved (home/end) since this page was asked for
        if backwards:
            win.rows = new + win.rows
            win.at_start = len(new) < self.page_size
            win.first_index = 0 if win.at_start else max(0, win.first_index - len(new))
            self.cursor += len(new)
            self.top += len(new)
            excess = len(win.rows) - self.window_size
            if excess > 0 and self.cursor < len(win.rows) - excess:
                del win.rows[-excess:]
                win.at_end = False
        else:
            win.rows = win.rows + new
            win.at_end = len(new) < self.page_size
            excess = len(win.rows) - self.window_size
            if excess > 0 and self.top >= excess:
                del win.rows[:excess]
                win.first_index += excess
                win.at_start = False
                self.cursor -= excess
                self.top -= excess
        self._maybe_extend()
        pending, self._pending_extend = self._pending_extend, []
        self._replay(pending)

    def _replay(self, moves: list[Move]) -> None:
        """Apply moves that waited for rows."""
        for what, amount in moves:
            if what == "move":
                self._move(amount)
            elif what == "page":
                self._page(amount)
            else:
                self._jump_to(to_end=what == "last")

    def _maybe_extend(self) -> None:
        # Read ahead when the cursor is within two screens of an end of the rows held; never
        # within reach of both ends once a page has been read and one dropped (less than half
        # of the window less a page), or the two ends would be read in turn for ever (a screen
        # taller than a third of the window did that).
        margin = min(2 * self.height, (self.window_size - self.page_size - 1) // 2)
        if len(self.window.rows) - self.cursor <= margin:
            self._extend(False)
        if self.cursor <= margin:
            self._extend(True)

    # ---- moving --------------------------------------------------------------------------------

    def _scroll_into_view(self) -> None:
        height = self.height
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        self.top = max(0, min(self.top, max(0, len(self.window.rows) - height)))

    def _moved(self) -> None:
        self._scroll_into_view()
        self._maybe_extend()
        self._out.selection_changed = True

    def move(self, delta: int) -> Effects:
        """The cursor `delta` rows down (up when negative), reading rows beyond the window."""
        self._move(delta)
        return self.take()

    def page(self, direction: int) -> Effects:
        """A screenful down (1) or up (-1)."""
        self._page(direction)
        return self.take()

    def _move(self, delta: int) -> None:
        if not self.loaded:
            self._pending.append(("move", delta))  # applied to the rows on their way
        elif not self.window.rows:
            pass
        elif self._beyond_window(delta):
            self._pending_extend.append(("move", delta))
            self._extend(delta < 0)
        else:
            new = self.clamp(self.cursor + delta)
            if new != self.cursor:
                self.cursor = new
                self._moved()
            else:
                self._maybe_extend()

    def _page(self, direction: int) -> None:
        if not self.loaded:
            self._pending.append(("page", direction))
            return
        if not self.window.rows:
            return
        height = self.height
        if self._beyond_window(direction * height):
            # Past the rows held while the next ones are on their way: move when they arrive,
            # rather than drop the key (a quick run of page-downs on a slow link).
            self._pending_extend.append(("page", direction))
            self._extend(direction < 0)
            return
        self.cursor = self.clamp(self.cursor + direction * height)
        self.top = max(0, self.top + direction * height)
        self._moved()

    def select(self, index: int) -> Effects:
        """The cursor on row `index` of the window (a click), when there is such a row."""
        if 0 <= index < len(self.window.rows):
            self.cursor = index
            self._moved()
        return self.take()

    def line_to_index(self, line: int) -> int:
        """The window index of the row on screen line `line` (0: the first line of rows)."""
        return self.top + line

    def _beyond_window(self, delta: int) -> bool:
        """A move past the rows held, with more rows beyond them (to be read first)."""
        target = self.cursor + delta
        if delta > 0:
            return target >= len(self.window.rows) and not self.window.at_end
        return target < 0 and not self.window.at_start

    def first(self) -> Effects:
        """The first match (home)."""
        self._jump_to(to_end=False)
        return self.take()

    def last(self) -> Effects:
        """The last match (end)."""
        self._jump_to(to_end=True)
        return self.take()

    def _jump_to(self, *, to_end: bool) -> None:
        if self.query is None:
            return
        if not self.loaded:
            # After the rows on their way: a jump now would make the load stale, and the
            # console would wait for it for ever.
            self._pending.append(("last" if to_end else "first", 0))
        elif to_end and self.window.at_end:
            self.cursor = max(0, len(self.window.rows) - 1)
            self._moved()
        elif not to_end and self.window.at_start:
            self.cursor = self.top = 0
            self._moved()
        else:
            self._jump(to_end)

    def _jump(self, to_end: bool) -> None:
        assert self.query is not None
        self.generation += 1  # pages on their way for the old window are now stale
        self._extending.clear()
        self._pending_extend.clear()  # a jump supersedes moves that waited for the old window
        self._read(JumpPage(self.generation, self.query, to_end, self.page_size))

    def _read(self, request: ExtendPage | JumpPage) -> None:
        """The page `request` asks for: at once from the cache, else read by the widget."""
        if isinstance(request, ExtendPage):
            cached = self.cache.get((request.query, request.after, request.backwards))
        else:
            cached = self.cache.get((request.query, None, request.to_end))
        if cached is None:
            self._out.requests.append(request)
        elif isinstance(request, ExtendPage):
            self._extended(request, cached)
        else:
            self._jumped(request, cached)

    def _jumped(self, request: JumpPage, rows: list[User]) -> None:
        if request.generation != self.generation:
            return
        if request.to_end:
            first = max(0, (self.total or len(rows)) - len(rows))
            window = Window(rows, len(rows) < self.page_size, True, first)
        else:
            window = Window(rows, True, len(rows) < self.page_size, 0)
        self.window = window
        self.cursor = max(0, len(rows) - 1) if request.to_end else 0
        self.top = 0
        self._moved()

    def resized(self, height: int) -> Effects:
        """The screen now shows `height` lines of rows."""
        self.height = max(1, height)
        self._scroll_into_view()
        self._maybe_extend()
        return self.take()

    def replace(self, user: User) -> Effects:
        """Show a changed user in place (the row keeps its place until the next reload)."""
        for i, row in enumerate(self.window.rows):
            if row.id == user.id:
                self.window.rows[i] = user
        self.cache.clear()
        self._out.selection_changed = True
        return self.take()
