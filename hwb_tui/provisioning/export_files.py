"""Export files named by an operator, opened safely: regular files only, up to a size limit, and
from the console only inside the inbox folder.

One function reads every such file, whatever its format: `open_export(path) -> bytes`. It opens
without following a last-component link, never blocks (a FIFO or a device is refused before it is
read), checks with `fstat` that it is a regular file no larger than the limit, and reads no more
than the size `fstat` gave plus one byte, so a file that is not what it says (a growing file, a
`/proc` file whose size is 0) is refused instead of read. With an inbox, the path must resolve
inside the inbox, and every folder between the inbox and the file is opened without following a
link, so a link swapped in after the check cannot lead out.

A run sets the rules once (`export_rules(limit, inbox)`); readers deep in the formats call
`open_export(path)` (or `peek_export` for the first bytes) and get those rules. Refusals are
`RefusedFile`, an OSError whose `strerror` is the one line to show, so every reader's existing
"unreadable" path reports them; `check_export` says the same before anything is read, as the
HwbError `ExportRefused` (exit 1), for the console to refuse a name at once.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from hwb_tui.core.errors import ExportRefused
from hwb_tui.i18n import t

MIB = 1024 * 1024
DEFAULT_LIMIT = 64 * MIB
MANIFEST = "manifest.csv"  # a folder is read only as a OneRoster set, which has one
_CHUNK = MIB
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ExportRules:
    """How files are opened in this run: the size limit, and the inbox (None: any path)."""

    limit: int = DEFAULT_LIMIT
    inbox: Path | None = None


# the default is frozen (immutable), so sharing it is safe
_RULES: ContextVar[ExportRules] = ContextVar("hwb_export_rules",
                                             default=ExportRules())  # noqa: B039


@contextmanager
def export_rules(limit: int | None = None, inbox: Path | None = None) -> Iterator[ExportRules]:
    """The rules every `open_export` inside the block follows (this thread or task only)."""
    rules = ExportRules(DEFAULT_LIMIT if limit is None else limit, inbox)
    token = _RULES.set(rules)
    try:
        yield rules
    finally:
        _RULES.reset(token)


def current_rules() -> ExportRules:
    return _RULES.get()


class RefusedFile(OSError):
    """A file not read, and why (in `strerror`, one line in the current language)."""

    def __init__(self, reason: str, code: int = errno.EPERM) -> None:
        super().__init__(code, reason)


def open_export(path: Path, limit: int | None = None, inbox: Path | None = None) -> bytes:
    """The bytes of the file at `path`, under the run's rules (or the `limit` and `inbox` given).

    Raises RefusedFile (an OSError) when the file is outside the inbox, a link out, not a
    regular file, over the limit or not what its size says; OSError when it cannot be opened.
    """
    rules = current_rules()
    limit = rules.limit if limit is None else limit
    inbox = rules.inbox if inbox is None else inbox
    fd = _open(path, inbox)
    try:
        size = _regular_size(fd, limit)
        data = _read(fd, size + 1)
    finally:
        os.close(fd)
    if len(data) != size:
        # /proc files say 0 and hold more; a file being written grows: neither is an export
        raise RefusedFile(t("inbox.reason.changed"))
    return data


def peek_export(path: Path, count: int) -> bytes:
    """The first `count` bytes of the file at `path`, under the run's rules (for recognising a
    format): the same checks as `open_export`, without reading the rest."""
    rules = current_rules()
    fd = _open(path, rules.inbox)
    try:
        _regular_size(fd, rules.limit)
        return _read(fd, count)
    finally:
        os.close(fd)


def check_export(path: Path, limit: int | None = None, inbox: Path | None = None) -> Path:
    """Refuse, before anything is read, a name that `open_export` would refuse: ExportRefused
    (one line: the name and why). A folder passes only as a OneRoster set (it holds
    manifest.csv). Returns the path to give the run (inside the inbox, for a relative name)."""
    rules = current_rules()
    limit = rules.limit if limit is None else limit
    inbox = rules.inbox if inbox is None else inbox
    if inbox is not None and not path.is_absolute():
        path = inbox / path
    try:
        fd = _open(path, inbox)
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                try:
                    manifest = os.stat(MANIFEST, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    manifest = None
                if manifest is None or not stat.S_ISREG(manifest.st_mode):
                    raise RefusedFile(t("inbox.reason.folder_set"))
            else:
                _regular_size(fd, limit)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ExportRefused(file=str(path), reason=_reason(exc)) from None
    return path


def inbox_relative(path: Path, inbox: Path) -> Path:
    """`path` as named in the console: relative names are in the inbox."""
    return path if path.is_absolute() else inbox / path


def _reason(exc: OSError) -> str:
    if isinstance(exc, RefusedFile):
        return exc.strerror or ""
    if exc.errno == errno.ENOENT:
        return t("inbox.reason.missing")
    if exc.errno == errno.ELOOP:
        return t("inbox.reason.link")
    return t("inbox.reason.unreadable", detail=exc.strerror or str(exc))


def _open(path: Path, inbox: Path | None) -> int:
    """A descriptor of `path` (a file or a folder), opened without following a last link and
    without blocking."""
    flags = _FLAGS
    if inbox is None:
        try:
            return os.open(path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                # outside an inbox a link is followed (a cron job's "latest.csv"), but only
                # to a regular file, checked on the descriptor like any other
                return os.open(os.path.realpath(path), flags)
            raise
    # `path` as the run names it (check_export has put a console's relative name in the inbox)
    root = os.path.realpath(inbox)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise RefusedFile(t("inbox.reason.outside", inbox=str(inbox)))
    parts = Path(os.path.relpath(real, root)).parts
    if parts == (".",):
        raise RefusedFile(t("inbox.reason.folder"))
    # Walk down from the inbox one folder at a time, never through a link.
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags, dir_fd=fd)
    finally:
        os.close(fd)


def _regular_size(fd: int, limit: int) -> int:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise RefusedFile(t("inbox.reason.folder"))
    if not stat.S_ISREG(info.st_mode):
        raise RefusedFile(t("inbox.reason.not_regular"))
    if info.st_size > limit:
        raise RefusedFile(t("inbox.reason.too_large", size=_mib(info.st_size), limit=_mib(limit)))
    return info.st_size


def _read(fd: int, most: int) -> bytes:
    parts: list[bytes] = []
    left = most
    while left > 0:
        chunk = os.read(fd, min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _mib(size: int) -> str:
    return f"{size / MIB:.0f}" if size >= MIB else f"{size / MIB:.2f}"
