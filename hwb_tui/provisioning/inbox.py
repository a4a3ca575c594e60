"""The inbox folder of the scheduled provisioning run: what is waiting, and where it goes after.

`hwb-tui provision --inbox` (the hwb-provision.service unit) provisions every export waiting in
the inbox. When the whole run succeeds, the files move to `done/YYYY-MM-DD/` inside the inbox, so
an export is applied once and a stale one is never applied again over a newer state; when any
school's run is rejected, held or fails, every file stays where it is for an administrator to
look at, and the next run tries them again (provisioning is idempotent).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

DONE = "done"


def waiting(inbox: Path) -> list[Path]:
    """The exports in the inbox: its files and OneRoster folders, not hidden ones (a copy in
    progress is usually named .something) and not done/."""
    try:
        entries = sorted(inbox.iterdir())
    except FileNotFoundError:
        return []
    return [p for p in entries
            if not p.name.startswith(".") and p.name != DONE and (p.is_file() or p.is_dir())]


def archive(paths: list[Path], inbox: Path, day: date) -> list[Path]:
    """Move `paths` into done/<day>/ (a name already there gets a numbered suffix)."""
    target = inbox / DONE / day.isoformat()
    target.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    for path in paths:
        dest = target / path.name
        n = 1
        while dest.exists():
            n += 1
            dest = target / f"{path.stem}.{n}{path.suffix}"
        path.rename(dest)
        moved.append(dest)
    return moved
