"""The floor of terminal + framework (SPEC §5): a minimal Textual app that redraws 30 rows a key.

A search field and, under it, a heading and 30 rows laid out like the console's table (a name,
a username column, a school), made from the search text alone: no database, no worker, no
count. benchmarks/screen_bench.py drives it in a pty exactly as it drives `hwb-tui`, so what
the console takes beyond this app's time is the console's own.

    python benchmarks/floor_app.py
"""

from __future__ import annotations

import hashlib

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

ROWS = 30
USERNAME_WIDTH = 16


def usernames(value: str) -> list[str]:
    """The 30 usernames the floor shows for `value` (a new set for every search text)."""
    seed = hashlib.sha1(value.encode()).hexdigest()
    return [f"{seed[i % 32:i % 32 + 6]}{value[:4]}{i}"[:USERNAME_WIDTH] for i in range(ROWS)]


def table_text(value: str) -> Text:
    lines = [f"  {'Name':<40} {'Username':<{USERNAME_WIDTH}} {'School':<7}"]
    for i, name in enumerate(usernames(value)):
        lines.append(f"  {f'Surname{i}, {value}'[:40]:<40} {name:<{USERNAME_WIDTH}} 66{i:05d}")
    return Text("\n".join(lines))


class Floor(App[None]):
    CSS = "#search { height: 1; } #rows { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Input(id="search", compact=True)
        yield Static(table_text(""), id="rows")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#rows", Static).update(table_text(event.value))


if __name__ == "__main__":
    Floor().run()
