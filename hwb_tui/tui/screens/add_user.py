"""Add user: a non-MIS account (governor, ITE, LA, REC, other) with a lifetime.

The core generates the username and checks every rule (kind, school in scope, names); this form
only gathers the fields and shows the core's message when it refuses.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static
from textual.worker import Worker

from hwb_tui.core import accounts
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import NON_MIS_KINDS, User
from hwb_tui.i18n import t
from hwb_tui.tui import failures
from hwb_tui.tui.keys import localise_bindings


class AddUserModal(ModalScreen[User | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "key.cancel", id="add.cancel"),
        Binding("ctrl+s", "save", "key.add", id="add.save"),
    ]

    def __init__(self, store: Store, actor: Actor, lang: str, kind: str | None,
                 today: date) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.lang = lang
        self.kind = kind
        self.today = today

    def compose(self) -> ComposeResult:
        lang = self.lang
        only_school = self.actor.only_school
        with Vertical(id="add-box"):
            yield Static(Text(t("tui.add.title", lang), style="bold"), id="add-title")
            with Horizontal(classes="add-row"):
                yield Label(t("tui.add.kind", lang), classes="add-label")
                yield Select([(t(f"kind.{k}", lang), k) for k in NON_MIS_KINDS],
                             value=self.kind or "governor", allow_blank=False, id="add-kind",
                             compact=True)
            with Horizontal(classes="add-row"):
                yield Label(t("tui.add.school", lang), classes="add-label")
                yield Input(only_school, id="add-school", max_length=7, compact=True)
            with Horizontal(classes="add-row"):
                yield Label(t("tui.add.forename", lang), classes="add-label")
                yield Input(id="add-forename", compact=True)
            with Horizontal(classes="add-row"):
                yield Label(t("tui.add.surname", lang), classes="add-label")
                yield Input(id="add-surname", compact=True)
            with Horizontal(classes="add-row"):
                yield Label(t("tui.add.lifetime", lang), classes="add-label")
                yield Select([(t(f"tui.lifetime.{k}", lang), k) for k in accounts.LIFETIMES],
                             value="year", allow_blank=False, id="add-lifetime", compact=True)
            yield Static(id="add-error")
            with Horizontal(id="add-buttons"):
                yield Button(t("tui.add.save", lang), id="add-save", variant="primary")
                yield Button(t("tui.confirm.cancel", lang), id="add-cancel")
            yield Static(Text(t("tui.add.hint", lang), style="dim"), id="add-hint")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
        first = "#add-forename" if self.query_one("#add-school", Input).value else "#add-school"
        if self.kind is None:
            first = "#add-kind"
        self.query_one(first).focus()

    @on(Button.Pressed, "#add-save")
    def action_save(self) -> None:
        kind = self.query_one("#add-kind", Select).value
        lifetime = self.query_one("#add-lifetime", Select).value
        self._add(str(kind), self.query_one("#add-school", Input).value.strip(),
                  self.query_one("#add-forename", Input).value,
                  self.query_one("#add-surname", Input).value, str(lifetime))

    @on(Input.Submitted)
    def _next_or_save(self) -> None:
        if self.query_one("#add-surname", Input).has_focus:
            self.action_save()
        else:
            self.focus_next()

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if failures.failed(event):
            failures.report(self, event.worker.error)

    @work(thread=True, exclusive=True, group="add-user", exit_on_error=False)
    def _add(self, kind: str, school: str, forename: str, surname: str, lifetime: str) -> None:
        try:
            with self.store.write() as session:
                user = accounts.add_user(session, self.actor, kind=kind, school=school,
                                         surname=surname, forename=forename,
                                         lifetime=lifetime, today=self.today)
        except HwbError as exc:
            self.app.call_from_thread(self._refused, exc)
            return
        self.app.call_from_thread(self.dismiss, user)

    def _refused(self, exc: HwbError) -> None:
        if self.app.refused(exc):  # type: ignore[attr-defined]
            return
        self.query_one("#add-error", Static).update(Text(exc.message(self.lang), style="red"))
