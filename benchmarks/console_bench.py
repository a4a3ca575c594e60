"""Console benchmark (SPEC §5): start-up, keystroke to table updated, page down and memory of
the hwb-tui console at several directory sizes, beside Textual's stock DataTable holding the
same rows and filtered in Python (the obvious alternative).

Each measurement runs in a child process of its own, so that its peak memory (VmHWM) is its own:

    python benchmarks/console_bench.py --child ours --db URL       # JSON on stdout
    python benchmarks/console_bench.py --child datatable --db URL
    python benchmarks/console_bench.py --child startup --db URL    # a real terminal (pty)

benchmarks/run.py drives them; run that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# A scripted typing sequence: surnames, partial names, accents, a UPN prefix, two words.
TERMS = ["jones", "sian", "siân", "ll", "pritch", "ap rh", "evans d", "a66", "o'br", "williams"]
KEY_PACE = 0.12  # seconds between keystrokes: a quick typist
PAGE_DOWNS = 40
if os.environ.get("HWB_BENCH_SMOKE"):  # CI: the harness must run, not measure
    TERMS, KEY_PACE, PAGE_DOWNS = TERMS[:2], 0.01, 5


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _open(url: str) -> tuple[Any, Any]:
    from hwb_tui.core.access import current_login, load_actor
    from hwb_tui.core.db import open_store

    store = open_store(url)
    with store.read() as session:
        actor = load_actor(session, current_login())
    return store, actor


def send_key(app: Any, key: str) -> None:
    """Deliver a key as the terminal driver would, without Pilot's waits for an idle CPU
    (which add ~100 ms to each press and would be measured as the console's latency)."""
    import unicodedata

    from textual import events
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(key))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


_CHANGED: asyncio.Event | None = None


def _watch_refreshes() -> None:
    """Wake the measuring coroutine whenever any widget asks to be redrawn.

    Polling in a tight loop would keep taking the GIL from the console's worker threads and
    slow the very queries being timed; waiting on this event costs the console nothing.
    """
    from textual.widget import Widget

    original = Widget.refresh

    def refresh(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _CHANGED is not None:
            _CHANGED.set()
        return original(self, *args, **kwargs)

    Widget.refresh = refresh  # type: ignore[method-assign]


async def _until(predicate: Any, timeout: float = 30.0) -> None:
    assert _CHANGED is not None, "main() sets up the refresh watch"
    deadline = time.perf_counter() + timeout
    while not predicate():
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError("the console did not update in time")
        _CHANGED.clear()
        try:
            await asyncio.wait_for(_CHANGED.wait(), min(remaining, 0.05))
        except TimeoutError:
            pass


async def measure_ours(url: str) -> dict[str, Any]:
    from textual.widgets import Input

    from hwb_tui.tui.app import HwbApp
    from hwb_tui.tui.widgets.user_table import UserTable

    store, actor = _open(url)
    app = HwbApp(store, actor, lang="en")
    t0 = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(UserTable)
        await _until(lambda: table.loaded and bool(table.window.rows))
        first_page_ms = (time.perf_counter() - t0) * 1000
        await pilot.press("l")  # View Learners & Staff: the largest view
        await _until(lambda: table.loaded and table.query_ is not None
                     and table.query_.view == "mis")
        search = app.screen.query_one("#search", Input)
        await pilot.press("slash")
        keys: list[float] = []
        for term in TERMS:
            await pilot.press("ctrl+u")
            await _until(lambda: table.loaded and table.query_ is not None
                         and table.query_.search == "")
            for ch in term:
                await asyncio.sleep(KEY_PACE)
                want = search.value + ch
                started = time.perf_counter()
                send_key(app, ch)
                await _until(lambda w=want: table.loaded and table.query_ is not None  # type: ignore[misc]
                             and table.query_.search == w)
                keys.append((time.perf_counter() - started) * 1000)
        await pilot.press("ctrl+u", "enter")  # back to the whole view, into the table
        await _until(lambda: table.loaded and table.query_ is not None
                     and table.query_.search == "")
        pages: list[float] = []
        for _ in range(PAGE_DOWNS):
            before = table.cursor + table.window.first_index
            started = time.perf_counter()
            send_key(app, "pagedown")
            # the new page is on screen when the cursor has moved (a move past the rows held
            # waits for them); the read-ahead of the next pages goes on in the background
            await _until(lambda b=before: table.loaded  # type: ignore[misc]
                         and table.cursor + table.window.first_index != b)
            pages.append((time.perf_counter() - started) * 1000)
    store.dispose()
    return {"first_page_ms": first_page_ms, "key_ms": keys, "pagedown_ms": pages,
            "peak_rss_mb": peak_rss_mb()}


async def measure_datatable(url: str) -> dict[str, Any]:
    """The stock alternative: every row in a DataTable, each keystroke filters in Python."""
    from sqlalchemy import text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Input

    from hwb_tui.core.names import search_key

    store, _actor = _open(url)
    with store.read() as session:
        rows = session.execute(text(
            "SELECT surname, forename, username, school, status, surname_key, forename_key, "
            "username_key, upn FROM user ORDER BY sort_en, id")).all()
    store.dispose()

    class Stock(App[None]):
        def compose(self) -> ComposeResult:
            yield Input(id="search")
            yield DataTable(id="table")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("Surname", "Forename", "Username", "School", "Status")
            table.add_rows([r[:5] for r in rows])

        def on_input_changed(self, event: Input.Changed) -> None:
            keys = [search_key(w) for w in event.value.split() if search_key(w)]
            table = self.query_one(DataTable)
            table.clear()
            table.add_rows([r[:5] for r in rows if all(
                any((f or "").lower().startswith(k) for f in r[5:]) for k in keys)])
            self.filtered = event.value

    app = Stock()
    app.filtered = ""  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(DataTable)
        await _until(lambda: table.row_count == len(rows), timeout=600)
        await pilot.pause()
        first_page_ms = (time.perf_counter() - t0) * 1000
        await pilot.click("#search")
        keys: list[float] = []
        for term in TERMS[:4]:  # a shorter script: each keystroke may take seconds
            await pilot.press("ctrl+u")
            await _until(lambda: app.filtered == "", timeout=600)  # type: ignore[attr-defined]
            for ch in term:
                want = app.query_one(Input).value + ch
                started = time.perf_counter()
                send_key(app, ch)
                await _until(lambda w=want: app.filtered == w, timeout=600)  # type: ignore[attr-defined]
                keys.append((time.perf_counter() - started) * 1000)
        await pilot.press("ctrl+u")
        await _until(lambda: app.filtered == "", timeout=600)  # type: ignore[attr-defined]
        table.focus()
        pages: list[float] = []
        for _ in range(PAGE_DOWNS):
            before = table.cursor_row
            started = time.perf_counter()
            send_key(app, "pagedown")
            await _until(lambda b=before: table.cursor_row != b)  # type: ignore[misc]
            pages.append((time.perf_counter() - started) * 1000)
    return {"first_page_ms": first_page_ms, "key_ms": keys, "pagedown_ms": pages,
            "peak_rss_mb": peak_rss_mb()}


def measure_startup(url: str) -> dict[str, Any]:
    """A real terminal: spawn `hwb-tui` on a pty and time until the first page's first surname
    is drawn; then read its peak memory after a scripted session."""
    from hwb_tui.core import directory
    from hwb_tui.core.names import display_safe

    store, actor = _open(url)
    with store.read() as session:
        first = directory.page(session, actor, directory.Query(view="governors",
                                                               language=actor.language), limit=1)
    store.dispose()
    marker = display_safe(first[0].surname).encode() if first else b"0"
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console itself
        os.execvpe(sys.executable, [sys.executable, "-m", "hwb_tui", "--db", url], env)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    t0 = time.perf_counter()
    seen = b""
    painted_ms = float("nan")
    while time.perf_counter() - t0 < 60:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if marker in seen:
                painted_ms = (time.perf_counter() - t0) * 1000
                break
    # a short session, then the console's peak memory
    for keys in ("l", "/", "jones", "\x15", "sian", "\r"):
        os.write(fd, keys.encode())
        _drain(fd, 0.5)
    for _ in range(20):
        os.write(fd, b"\x1b[6~")  # page down
        _drain(fd, 0.05)
    rss = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    os.write(fd, b"q")
    _drain(fd, 1.0)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    return {"startup_ms": painted_ms, "peak_rss_mb": rss}


def _drain(fd: int, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return


def child(kind: str, url: str) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON comes back on stdout."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--db", url],
                         capture_output=True, text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} on {url} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": statistics.median(ordered), "p95": p95, "n": len(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=("ours", "datatable", "startup"), required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    global _CHANGED
    _CHANGED = asyncio.Event()
    _watch_refreshes()
    if args.child == "ours":
        result = asyncio.run(measure_ours(args.db))
    elif args.child == "datatable":
        result = asyncio.run(measure_datatable(args.db))
    else:
        result = measure_startup(args.db)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
