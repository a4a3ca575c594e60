"""Where an unexpected error's details go: the traceback to a log file, one line to the operator.

The log is `log_file` in the config file or HWB_LOG, else data/hwb-tui-errors.log in the working
directory, else a new file in the system's temporary folder; it is created readable by its owner
only (a traceback may quote data).
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from hwb_tui import config
from hwb_tui.core.errors import HwbError

DEFAULT_LOG = Path("data") / "hwb-tui-errors.log"
EXIT_CRASH = 70  # sysexits' EX_SOFTWARE: not 0, and none of the statuses SPEC §3 gives a meaning


def record(error: BaseException) -> Path:
    """Append `error`'s traceback to the log; the path it was written to."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = f"--- {stamp} pid {os.getpid()}\n" + "".join(traceback.format_exception(error))
    for path in _places():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:
            continue
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(text)
        return path.resolve()
    fd, name = tempfile.mkstemp(prefix="hwb-tui-error-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


def _places() -> list[Path]:
    named = os.environ.get("HWB_LOG")
    if not named:
        try:
            named = str(config.system_config().get("log_file") or "")
        except HwbError:
            named = ""  # the config file is the trouble: the error still needs a home
    return [Path(named), DEFAULT_LOG] if named else [DEFAULT_LOG]
