"""The console as the operator sees it (SPEC §5): the real `hwb-tui` in a pseudo-terminal.

    python benchmarks/screen_bench.py --db URL            # JSON on stdout, a summary on stderr
    python benchmarks/screen_bench.py --db URL --smoke    # two short searches: seconds

It starts `hwb-tui --db URL` on a pty of 120x34 and reads the screen through a terminal emulator
(pyte), then, in View Learners & Staff, types a scripted search one key at a time and times,
from the moment each key is written to the pty:
  rows     the new rows on screen: the table's username column, read off the emulated screen,
           equals the first rows `core.directory.page` gives for the search typed so far (worked
           out in this process before the console starts, so that it takes no CPU from it);
  settled  the screen settled, count included: the expected count is on screen and nothing has
           changed for QUIET seconds; the time is that of the last change (QUIET not included).
A key whose rows are those already on screen (the third letter of a rare name) has no rows time,
only a settled one. Then page down, the page on screen; first page from process start; the
child's peak memory (VmHWM). In the same run the floor (benchmarks/floor_app.py: a minimal
Textual app redrawing 30 rows a key) is timed the same way, and the summary gives ours, the
floor's and ours beyond the floor.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import sys
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pyte  # noqa: E402  (the bench extra: the terminal emulator the screen is read through)
from floor_app import usernames  # noqa: E402

from hwb_tui.core import directory  # noqa: E402
from hwb_tui.core.access import current_login, load_actor  # noqa: E402
from hwb_tui.core.db import open_store  # noqa: E402
from hwb_tui.core.names import USERNAME_DOMAIN  # noqa: E402
from hwb_tui.core.user_window import COUNT_CAP, DirectorySource  # noqa: E402
from hwb_tui.i18n import t  # noqa: E402

COLS, LINES = 120, 34
QUIET = 0.25  # seconds without a change that count as "settled" (subtracted: see module doc)
TIMEOUT = 30.0
# Single letters (every first key), a common surname, rare surnames, forenames, two words, a UPN
# prefix, Welsh digraphs.
TERMS = ["jones", "nguyen", "cwm", "sian", "mabli", "jones s", "a661", "llyw", "rhys"]
SMOKE_TERMS = ["jo", "ll"]
PAGE_DOWNS = 20
KEY_PAGE_DOWN = b"\x1b[6~"
KEY_CLEAR = b"\x15"  # ctrl+u: the search field empties


# ---- the terminal ------------------------------------------------------------------------------


class Terminal:
    """A program on a pty, its output fed to an emulated screen of COLS x LINES."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal's size first, then the program
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
            os.execvpe(argv[0], list(argv), env)
        self.pid, self.fd = pid, fd
        self.lines: list[str] = list(self.screen.display)
        self.last_change = self.started

    def pump(self, until: float) -> bool:
        """Read the next output the program writes before `until` (one read, so that each
        change is timed when it arrived); whether the screen changed."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.perf_counter()))
        if not ready:
            return False
        arrived = time.perf_counter()
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            return False
        self.stream.feed(data)
        lines = self.screen.display
        if lines == self.lines:
            return False
        self.lines = list(lines)
        self.last_change = arrived
        return True

    def write(self, keys: bytes) -> float:
        sent = time.perf_counter()
        os.write(self.fd, keys)
        return sent

    def status(self) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024
        except FileNotFoundError:
            pass
        return out

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


# ---- reading the table off the screen ----------------------------------------------------------


def table_usernames(lines: Sequence[str], heading: str = "Username") -> tuple[int, list[str]]:
    """The username cells under the table's heading line: (heading's line, cells top down)."""
    for y, line in enumerate(lines):
        x = line.find(f" {heading} ")
        if x < 0:
            continue
        x += 1
        after = line[x + len(heading):]
        width = len(heading) + len(after) - len(after.lstrip(" ")) - 1  # to the next heading
        return y, [row[x:x + width].rstrip() for row in lines[y + 1:]]
    return -1, []


def cell(text: str, width: int = 16) -> str:
    """A username as the console's cell shows it (user_row.cell): cut with … past the width."""
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass
class Expect:
    """What the screen shows once a key has been answered."""

    usernames: list[str]  # the first rows' username cells, top down
    count_text: str | None = None  # the count, when the app shows one
    empty_text: str | None = None  # shown in the first row when nothing matches

    def rows_on(self, lines: Sequence[str], height: int) -> bool:
        y, cells = table_usernames(lines)
        if y < 0:
            return False
        if not self.usernames:
            return self.empty_text is not None and self.empty_text in lines[y + 1]
        if height <= 0:  # lines of rows not known yet (the first page): its first rows
            height = min(len(self.usernames), 3)
            want = [cell(u) for u in self.usernames[:height]]
            return [g.rstrip("…") for g in cells[:height]] == [w.rstrip("…") for w in want]
        want = [cell(u) for u in self.usernames[:height]]
        got = cells[:len(want)]
        if [g.rstrip("…") for g in got] != [w.rstrip("…") for w in want]:
            return False
        return len(want) >= height or not cells[len(want):len(want) + 1] or \
            not cells[len(want)].strip()

    def count_on(self, lines: Sequence[str]) -> bool:
        return self.count_text is None or any(self.count_text in line for line in lines)


@dataclass
class Timing:
    rows_ms: float | None  # None: the rows did not change (or never came)
    settled_ms: float
    same_rows: bool = False
    timed_out: bool = False


def answer(term: Terminal, sent: float, expect: Expect, height: int, same_rows: bool,
           quiet: float = QUIET) -> Timing:
    """Wait for `expect` on screen (and a change since `sent`), then QUIET seconds of no change.

    rows: when the expected rows were first all on screen; settled: the last change before the
    quiet (the quiet itself is not counted)."""
    rows_at: float | None = None
    deadline = sent + TIMEOUT
    while True:
        now = time.perf_counter()
        if now > deadline:
            return Timing(None if rows_at is None else (rows_at - sent) * 1000,
                          (term.last_change - sent) * 1000, same_rows, timed_out=True)
        changed_since = term.last_change >= sent
        rows_ok = changed_since and expect.rows_on(term.lines, height)
        if rows_ok and rows_at is None and not same_rows:
            rows_at = term.last_change
        if rows_ok and expect.count_on(term.lines):
            quiet_until = term.last_change + quiet
            if now >= quiet_until:
                break
            term.pump(quiet_until)
            continue
        term.pump(deadline)
    return Timing(None if rows_at is None else (rows_at - sent) * 1000,
                  (term.last_change - sent) * 1000, same_rows)


# ---- the scripted session --------------------------------------------------------------------


@dataclass
class Script:
    """Everything the session will type and what the screen must show after each key."""

    first: Expect
    view: Expect  # View Learners & Staff, no search
    keys: list[tuple[str, Expect]] = field(default_factory=list)  # (search so far, expected)
    pages: list[list[str]] = field(default_factory=list)  # the whole view's rows, in order


def console_script(url: str, terms: Sequence[str], pages: int) -> Script:
    """The console's expected screens, from the core's own search API (before the console runs)."""
    suffix = "@" + USERNAME_DOMAIN
    store = open_store(url)
    with store.read() as session:
        actor = load_actor(session, current_login())
    source = DirectorySource(store, actor, COUNT_CAP)
    today = date.today()

    def expect(view: str, search: str, limit: int = LINES) -> Expect:
        q = directory.Query(view=view, status="active", search=search, language="en",
                            today=today)
        rows = source.page(q, None, False, limit)
        total = source.count(q)
        text = t("tui.count_over", "en", count=f"{COUNT_CAP:,}") \
            if source.is_over_cap(q, total) else t("tui.count", "en", count=f"{total:,}")
        return Expect([u.username.removesuffix(suffix) for u in rows], text,
                      t("tui.table.empty", "en"))

    script = Script(first=expect("governors", ""), view=expect("mis", ""))
    for term in terms:
        for i in range(1, len(term) + 1):
            script.keys.append((term[:i], expect("mis", term[:i])))
    q = directory.Query(view="mis", status="active", language="en", today=today)
    script.pages = [[u.username.removesuffix(suffix)
                     for u in source.page(q, None, False, (pages + 2) * LINES)]]
    store.dispose()
    return script


def floor_script(terms: Sequence[str]) -> Script:
    script = Script(first=Expect(usernames("")), view=Expect(usernames("")))
    for term in terms:
        for i in range(1, len(term) + 1):
            script.keys.append((term[:i], Expect(usernames(term[:i]))))
    return script


def body_height(term: Terminal, expect: Expect) -> int:
    """Lines of rows the table shows: those matching the expected first page, top down."""
    _, cells = table_usernames(term.lines)
    height = 0
    for got, want in zip(cells, expect.usernames, strict=False):
        if got.rstrip("…") != cell(want).rstrip("…"):
            break
        height += 1
    return height


def settle(term: Terminal) -> None:
    """Until nothing changes for QUIET seconds."""
    start = time.perf_counter()
    while time.perf_counter() < max(start, term.last_change) + QUIET:
        term.pump(max(start, term.last_change) + QUIET)


def session(argv: Sequence[str], script: Script, terms: Sequence[str], *, ours: bool,
            page_downs: int) -> dict[str, Any]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(LINES),
               HWB_LANG="en")
    term = Terminal(argv, env)
    try:
        # first page from process start: the rows on screen, then settled (unmeasured)
        first = answer(term, term.started, script.first, height=0, same_rows=False)
        if first.rows_ms is None:
            raise RuntimeError("the first page never showed:\n" + "\n".join(term.lines))
        height = body_height(term, script.first)
        if ours:
            answer(term, term.write(b"l"), script.view, height, same_rows=False)
            term.write(b"/")
            settle(term)
        keys: list[dict[str, Any]] = []
        shown = script.view
        k = 0
        for word in terms:
            if keys:
                answer(term, term.write(KEY_CLEAR), script.view, height, same_rows=False)
                shown = script.view
            for ch in word:
                search, expect = script.keys[k]
                k += 1
                same = expect.usernames[:height] == shown.usernames[:height]
                timing = answer(term, term.write(ch.encode()), expect, height, same)
                keys.append({"search": search, "rows_ms": timing.rows_ms,
                             "settled_ms": timing.settled_ms, "same_rows": same,
                             "timed_out": timing.timed_out})
                shown = expect
        pages: list[dict[str, Any]] = []
        if ours and script.pages:
            answer(term, term.write(KEY_CLEAR), script.view, height, same_rows=False)
            term.write(b"\r")  # into the table, the cursor on the first row
            settle(term)
            rows = script.pages[0]
            for n in range(1, page_downs + 1):
                want = Expect(rows[n * height:(n + 1) * height])
                if len(want.usernames) < height:
                    break
                timing = answer(term, term.write(KEY_PAGE_DOWN), want, height, False)
                pages.append({"rows_ms": timing.rows_ms, "settled_ms": timing.settled_ms,
                              "timed_out": timing.timed_out})
        memory = term.status()
    finally:
        term.close()
    return {"first_page_ms": first.rows_ms, "first_settled_ms": first.settled_ms,
            "body_lines": height, "keys": keys, "pages": pages,
            "peak_rss_mb": memory.get("VmHWM", float("nan")),
            "rss_mb": memory.get("VmRSS", float("nan"))}


# ---- figures -----------------------------------------------------------------------------------


def pct(samples: Sequence[float | None]) -> dict[str, float]:
    ordered = sorted(s for s in samples if s is not None)
    if not ordered:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": statistics.median(ordered), "p95": p95, "n": len(ordered)}


def summarise(ours: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    def of(run: dict[str, Any], what: str) -> dict[str, float]:
        return pct([k[what] for k in run["keys"]])

    rows, settled = of(ours, "rows_ms"), of(ours, "settled_ms")
    floor_rows, floor_settled = of(floor, "rows_ms"), of(floor, "settled_ms")
    return {
        "quiet_ms": QUIET * 1000,
        "first_page_ms": ours["first_page_ms"],
        "key_rows": rows, "key_settled": settled,
        "floor_rows": floor_rows, "floor_settled": floor_settled,
        "beyond_floor": {
            "rows_p50": rows["p50"] - floor_rows["p50"],
            "rows_p95": rows["p95"] - floor_rows["p95"],
            "settled_p50": settled["p50"] - floor_settled["p50"],
            "settled_p95": settled["p95"] - floor_settled["p95"],
        },
        "pagedown_rows": pct([p["rows_ms"] for p in ours["pages"]]),
        "pagedown_settled": pct([p["settled_ms"] for p in ours["pages"]]),
        "peak_rss_mb": ours["peak_rss_mb"],
        "floor_first_page_ms": floor["first_page_ms"],
        "floor_peak_rss_mb": floor["peak_rss_mb"],
        "timed_out": sum(k["timed_out"] for k in ours["keys"] + floor["keys"] + ours["pages"]),
    }


def measure(url: str, smoke: bool = False,
            say: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, Any]:
    terms = SMOKE_TERMS if smoke else TERMS
    page_downs = 3 if smoke else PAGE_DOWNS
    script = console_script(url, terms, page_downs)
    floor = session([sys.executable, str(ROOT / "benchmarks" / "floor_app.py")],
                    floor_script(terms), terms, ours=False, page_downs=0)
    ours = session([sys.executable, "-m", "hwb_tui", "--db", url], script, terms, ours=True,
                   page_downs=page_downs)
    result = summarise(ours, floor)
    result["ours_run"], result["floor_run"] = ours, floor
    for k in ours["keys"]:
        say(f"  {k['search']!r:12} rows {fmt(k['rows_ms'])} settled {fmt(k['settled_ms'])}"
            + (" (same rows)" if k["same_rows"] else "") + (" TIMEOUT" if k["timed_out"] else ""))
    return result


def fmt(value: float | None) -> str:
    return f"{value:7.1f} ms" if value is not None else "      -   "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a demo directory's URL (run.py builds them)")
    parser.add_argument("--smoke", action="store_true", help="two short searches: seconds")
    args = parser.parse_args()
    result = measure(args.db, args.smoke)
    b = result["beyond_floor"]
    print(f"first page {result['first_page_ms']:.0f} ms; key->rows p50/p95 "
          f"{result['key_rows']['p50']:.0f}/{result['key_rows']['p95']:.0f} ms, settled "
          f"{result['key_settled']['p50']:.0f}/{result['key_settled']['p95']:.0f} ms; floor "
          f"{result['floor_rows']['p50']:.0f}/{result['floor_rows']['p95']:.0f} ms; beyond floor "
          f"rows {b['rows_p50']:.0f}/{b['rows_p95']:.0f} ms; page down p95 "
          f"{result['pagedown_rows']['p95']:.0f} ms; RSS {result['peak_rss_mb']:.0f} MB",
          file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
