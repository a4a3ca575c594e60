"""What every screen of the console reads from its app: the store, the operator, the language
and the date. The screens import this, never `tui.app` (which imports the screens)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from textual.app import App
from textual.worker import Worker

from hwb_tui import config, crashlog
from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import OperatorDisabled, UnknownOperator
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import normalise_language, set_language
from hwb_tui.tui import failures
from hwb_tui.tui.screens.withdrawn import WithdrawnScreen


class ConsoleApp(App[None]):
    """The console for one operator on one store.

    `today` and `now` fix the clock for tests and snapshots; by default they are the real time.
    """

    def __init__(self, store: Store, actor: Actor, *, lang: str | None = None,
                 today: date | None = None, now: datetime | None = None,
                 inbox: Path | None = None, export_limit: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        # the folder exports are opened from (Provisioning view), and the largest file read
        self.inbox = inbox if inbox is not None else config.inbox_dir()
        self.export_limit = export_limit if export_limit is not None else config.export_limit()
        self.lang = normalise_language(lang or actor.language)
        self._today = today
        self._now = now
        self.withdrawn: str | None = None  # why the operator may no longer use the console
        self.crashed: Path | None = None  # the log holding an unexpected error's traceback
        self.crash_error = ""
        set_language(self.lang)

    @property
    def today(self) -> date:
        return self._today or self.now().date()

    def now(self) -> datetime:
        return self._now or clock.now()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if failures.failed(event):
            failures.report(self, event.worker.error)

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification of the console: display-safe text, never read as markup (a
        message may carry a name or a file name, which are data)."""
        super().notify(display_safe(message), title=display_safe(title),
                       severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]

    def _handle_exception(self, error: Exception) -> None:
        """An error nothing expected: its traceback goes to the log (crashlog), the console
        closes, and `crashed` names the log for the one line printed after (commands.console)."""
        if self.crashed is None:
            self.crashed = crashlog.record(error)
            self.crash_error = type(error).__name__
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        # Textual would print the traceback, with local variables, on the operator's terminal
        self.bell()
        self._close_messages_no_wait()

    def refused(self, exc: BaseException | None) -> bool:
        """True when `exc` says the operator may no longer use the console (disabled, or no
        longer an operator): the console then says so in one line and shows no user again."""
        if not isinstance(exc, OperatorDisabled | UnknownOperator):
            return False
        if self.withdrawn is None:
            self.withdrawn = exc.message(self.lang)
            for screen in self.screen_stack:
                forget = getattr(screen, "forget_users", None)
                if forget is not None:
                    forget()
            self.push_screen(WithdrawnScreen(self.withdrawn, self.lang))
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.withdrawn is not None:
            return action == "quit"  # a withdrawn operator may only leave
        return True
