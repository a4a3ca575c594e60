"""What every screen of the console reads from its app: the store, the operator, the language
and the date. The screens import this, never `tui.app` (which imports the screens)."""

from __future__ import annotations

from datetime import date, datetime

from textual.app import App
from textual.worker import Worker

from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.i18n import normalise_language, set_language
from hwb_tui.tui import failures


class ConsoleApp(App[None]):
    """The console for one operator on one store.

    `today` and `now` fix the clock for tests and snapshots; by default they are the real time.
    """

    def __init__(self, store: Store, actor: Actor, *, lang: str | None = None,
                 today: date | None = None, now: datetime | None = None) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.lang = normalise_language(lang or actor.language)
        self._today = today
        self._now = now
        set_language(self.lang)

    @property
    def today(self) -> date:
        return self._today or self.now().date()

    def now(self) -> datetime:
        return self._now or clock.now()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if failures.failed(event):
            failures.report(self, event.worker.error)
