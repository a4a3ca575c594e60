"""The table's window model without Textual: cursor, window and scroll arithmetic (hypothesis).

The model is driven with a list of users standing in for the directory (a `PageSource` over a
Python list: this tests the arithmetic, the store's own paging is tested in test_directory).
With every read answered at once, keys move the cursor exactly as over a plain list; with reads
answered late and out of order, the window stays a contiguous run of the directory, the cursor
stays on a row held and on screen, and a newer query is never painted over by an older one.
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from hwb_tui.core.directory import Cursor, Query
from hwb_tui.core.models import User
from hwb_tui.core.user_window import Effects, LoadPages, Request, UserWindow

PAGE = 7
WINDOW = 21


class ListSource:
    """Keyset pages over a sorted list, as core.directory.page reads them from the store."""

    def __init__(self, n: int) -> None:
        self.users = [User(id=i + 1, sort_en=f"k{i:05d}", sort_cy=f"k{i:05d}", surname=f"S{i}")
                      for i in range(n)]
        self.reads = 0

    @staticmethod
    def key(user: User) -> Cursor:
        assert user.id is not None
        return (user.sort_en, user.id)

    def page(self, query: Query, after: Cursor | None, backwards: bool,
             limit: int) -> list[User]:
        self.reads += 1
        if backwards:
            rows = [u for u in self.users if after is None or self.key(u) < after]
            return rows[-limit:]
        return [u for u in self.users if after is None or self.key(u) > after][:limit]

    def count(self, query: Query) -> int:
        return len(self.users)


class Driver:
    """A model, its source, and the reads it asked for that have not been answered yet."""

    def __init__(self, n: int, height: int) -> None:
        self.source = ListSource(n)
        self.model = UserWindow(page=PAGE, window=WINDOW, cache_pages=4)
        self.model.resized(height)
        self.waiting: deque[Request] = deque()

    def take(self, effects: Effects) -> None:
        self.waiting.extend(effects.requests)

    def answer(self, index: int = 0) -> None:
        request = self.waiting[index]
        del self.waiting[index]
        self.take(self.model.receive(request, request.read(self.source)))

    def settle(self) -> None:
        while self.waiting:
            self.answer()

    def check(self) -> None:
        """What holds after every step, answered or not."""
        m = self.model
        rows = m.window.rows
        ids = [u.id for u in rows]
        assert len(rows) <= WINDOW + PAGE
        if rows:
            # a contiguous run of the directory, in order
            start = self.source.users.index(rows[0])
            assert ids == [u.id for u in self.source.users[start:start + len(rows)]]
            assert not m.window.at_start or start == 0
            assert not m.window.at_end or start + len(rows) == len(self.source.users)
            assert 0 <= m.cursor < len(rows)
            if m.loaded:
                assert m.top <= m.cursor < m.top + m.height
        thumb = m.thumb()
        if thumb is not None:
            pos, size = thumb
            assert 0 <= pos and size >= 1 and pos + size <= m.height


keys = st.one_of(
    st.tuples(st.just("move"), st.integers(-3, 3)),
    st.tuples(st.just("page"), st.sampled_from([-1, 1])),
    st.tuples(st.just("first"), st.just(0)),
    st.tuples(st.just("last"), st.just(0)),
    st.tuples(st.just("reload"), st.just(0)),
    st.tuples(st.just("resize"), st.integers(1, 9)),
)


def press(d: Driver, key: str, arg: int) -> None:
    m = d.model
    if key == "move":
        d.take(m.move(arg))
    elif key == "page":
        d.take(m.page(arg))
    elif key == "first":
        d.take(m.first())
    elif key == "last":
        d.take(m.last())
    elif key == "reload":
        d.take(m.reload())
    else:
        d.take(m.resized(arg))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(n=st.integers(0, 80), height=st.integers(1, PAGE), presses=st.lists(keys, max_size=40))
def test_keys_move_the_cursor_as_over_a_plain_list(n: int, height: int,
                                                   presses: list[tuple[str, int]]) -> None:
    d = Driver(n, height)
    d.take(d.model.load(Query()))
    d.settle()
    expected = 0
    for key, arg in presses:
        press(d, key, arg)
        d.settle()
        d.check()
        height = d.model.height
        if key == "move":
            expected += arg
        elif key == "page":
            expected += arg * height
        elif key == "first":
            expected = 0
        elif key == "last":
            expected = n - 1
        expected = max(0, min(n - 1, expected))
        selected = d.model.selected
        if n == 0:
            assert selected is None
        else:
            assert selected is not None and selected.id == d.source.users[expected].id
    assert d.model.total == n


@settings(max_examples=300, deadline=None, derandomize=True)
@given(n=st.integers(0, 80), height=st.integers(1, PAGE),
       steps=st.lists(st.one_of(keys, st.tuples(st.just("answer"), st.integers(0, 5))),
                      max_size=60))
def test_late_answers_keep_the_window_whole(n: int, height: int,
                                            steps: list[tuple[str, int]]) -> None:
    d = Driver(n, height)
    d.take(d.model.load(Query()))
    for key, arg in steps:
        if key == "answer":
            if d.waiting:
                d.answer(arg % len(d.waiting))
        else:
            press(d, key, arg)
        d.check()
    d.settle()
    d.check()
    assert d.model.loaded
    if n:
        assert d.model.selected is not None
    assert d.model.total == n


def test_an_older_query_never_paints_over_a_newer_one() -> None:
    d = Driver(30, 5)
    d.take(d.model.load(Query(search="old")))
    old = d.waiting.popleft()
    d.take(d.model.load(Query(search="new")))
    d.settle()
    newest = [u.id for u in d.model.window.rows]
    d.take(d.model.receive(old, old.read(d.source)))
    assert [u.id for u in d.model.window.rows] == newest
    assert d.model.query == Query(search="new")


def test_the_rows_shown_keep_their_scrollbar_until_new_rows_come_then_the_count() -> None:
    d = Driver(60, 5)
    d.take(d.model.load(Query()))
    d.settle()
    shown = d.model.thumb()
    assert shown == (0, 1)  # drawn for the 60 counted
    d.take(d.model.load(Query(search="s")))
    assert d.model.thumb() == shown  # nothing on screen changes before the new rows
    loading = d.waiting.popleft()
    effects = d.model.receive(loading, loading.read(d.source))
    assert effects.uncounted and effects.counted is None  # the screen says "…" with the rows
    assert d.model.thumb() != shown  # an estimate from the rows held, until the count
    d.take(effects)
    counting = d.waiting.popleft()
    effects = d.model.receive(counting, counting.read(d.source))
    assert effects.counted == 60 and not effects.uncounted
    assert d.model.thumb() == shown


def test_moves_typed_while_loading_land_on_the_rows_that_come() -> None:
    d = Driver(50, 5)
    d.take(d.model.load(Query()))
    d.take(d.model.move(3))
    d.take(d.model.page(1))
    d.settle()
    selected = d.model.selected
    assert selected is not None and selected.id == d.source.users[8].id


def test_a_reload_keeps_the_row_under_the_cursor() -> None:
    d = Driver(60, 5)
    d.take(d.model.load(Query()))
    d.settle()
    for _ in range(6):
        d.take(d.model.page(1))
        d.settle()
    before = d.model.selected
    line = d.model.cursor - d.model.top
    d.take(d.model.reload())
    request = d.waiting[0]
    assert isinstance(request, LoadPages) and request.anchor is not None
    d.settle()
    assert d.model.selected == before
    assert d.model.cursor - d.model.top == line  # on the same screen line


def test_home_and_end_pages_are_read_once_then_cached() -> None:
    d = Driver(100, 5)
    d.take(d.model.load(Query()))
    d.settle()
    d.take(d.model.last())
    d.settle()
    d.take(d.model.first())
    d.settle()
    reads = d.source.reads
    d.take(d.model.last())
    d.take(d.model.first())
    assert not d.waiting and d.source.reads == reads  # both from the cache, at once


def test_a_failed_read_stops_the_wait_and_frees_the_direction() -> None:
    d = Driver(100, 5)
    d.take(d.model.load(Query()))
    d.settle()
    d.take(d.model.page(1))
    d.take(d.model.page(1))
    d.take(d.model.page(1))  # past the rows held: waits for the next page
    extend = [r for r in d.waiting if not isinstance(r, LoadPages)]
    assert extend
    for request in list(d.waiting):
        d.waiting.remove(request)
        d.take(d.model.failed(request))
    before = d.model.cursor
    d.take(d.model.page(1))  # the next key asks again rather than waiting for ever
    assert d.waiting
    d.settle()
    assert d.model.cursor > before


def test_a_failed_load_is_no_longer_loading() -> None:
    d = Driver(10, 5)
    d.take(d.model.load(Query()))
    request = d.waiting.popleft()
    d.take(d.model.failed(request))
    assert d.model.loaded and d.model.window.rows == []
