"""`hwb-tui` / `hwb-tui console`: the full-screen console for the operator of this login."""

from __future__ import annotations

import argparse
import os
import sys

from hwb_tui import crashlog
from hwb_tui.commands import Context
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import current_language, t


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("console")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    # The operator is loaded before anything is drawn: an unknown login raises HwbError here,
    # which the CLI prints as one line with exit status 1; the screen never opens.
    actor = ctx.actor()
    from hwb_tui.tui.app import HwbApp  # Textual is imported only when the console runs

    lang = current_language() if ctx.lang_explicit or _env_lang() else actor.language
    app = HwbApp(ctx.store(), actor, lang=lang)
    # The table's reads run in threads. While one runs Python (building and reading a query),
    # the screen's thread waits for the GIL at each step of drawing a frame, up to the switch
    # interval each time (5 ms by default): the rows reached the screen tens of ms late.
    sys.setswitchinterval(0.001)
    app.run()
    if app.crashed is not None:
        return _crashed(app.crash_error, app.crashed)
    if app.withdrawn is not None:
        return 1  # the operator was withdrawn while the console was open: said on screen
    return 0


def _crashed(error: str, log: object) -> int:
    """One line for the operator; the traceback is in the log (hwb_tui.crashlog)."""
    print(f"hwb-tui: {display_safe(t('cli.crashed', error=error, log=str(log)))}",
          file=sys.stderr)
    return crashlog.EXIT_CRASH


def _env_lang() -> bool:
    return bool(os.environ.get("HWB_LANG"))
