"""The Provisioning view: runs newest first, stale schools flagged, a run's report on enter."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import ProvisioningRun
from hwb_tui.core.names import display_safe
from hwb_tui.core.runs import aware, list_runs, stale_schools
from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings

if TYPE_CHECKING:
    from hwb_tui.tui.app import HwbApp

RUNS_SHOWN = 500  # newest runs listed: a night of a whole LA's schools and more


def read_runs(store: Store, actor: Actor, now: datetime) -> tuple[list[ProvisioningRun],
                                                                   list[str]]:
    """The newest runs in scope, and the schools in scope whose last successful run is stale."""
    with store.read() as session:
        return list_runs(session, actor, RUNS_SHOWN), stale_schools(session, actor, now)


def _aware(stamp: datetime) -> datetime:
    return aware(stamp)


class ProvisioningPane(Vertical):
    """Shown by `p` in place of the user table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "report", "key.report", id="prov.report"),
        Binding("o", "open_file", "key.preview", id="prov.open_file"),
    ]

    def __init__(self, store: Store, actor: Actor, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.actor = actor
        self.lang = "en"
        self.runs: list[ProvisioningRun] = []
        self.stale: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="prov-title")
        yield Static(id="prov-stale")
        # One column of space between cells (not the default two): the five columns fit 80x24
        # in Welsh too.
        yield DataTable(id="prov-runs", cursor_type="row", zebra_stripes=False, cell_padding=0)
        yield Static(id="prov-legend")

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.query_one("#prov-title", Static).update(Text(t("tui.prov.title", lang),
                                                          style="bold"))
        self.query_one("#prov-legend", Static).update(Text(t("tui.prov.legend", lang),
                                                           style="dim"))
        self._fill()

    def activate(self) -> None:
        self.query_one(DataTable).focus()
        self._load()

    @work(thread=True, exclusive=True, group="prov-runs")
    def _load(self) -> None:
        app: HwbApp = self.app  # type: ignore[assignment]
        try:
            runs, stale = read_runs(self.store, self.actor, app.now())
        except HwbError as exc:
            self.app.call_from_thread(self.notify, exc.message(self.lang), severity="error")
            return
        self.app.call_from_thread(self._loaded, runs, stale)

    def _loaded(self, runs: list[ProvisioningRun], stale: list[str]) -> None:
        self.runs = runs
        self.stale = stale
        self._fill()

    def _fill(self) -> None:
        lang = self.lang
        stale = self.query_one("#prov-stale", Static)
        if self.stale:
            shown = ", ".join(self.stale[:12]) + (" …" if len(self.stale) > 12 else "")
            stale.update(Text("⚠ " + t("tui.prov.stale", lang, schools=shown), style="bold"))
        else:
            stale.update(Text(t("tui.prov.all_fresh", lang), style="dim"))
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        for key in ("when", "school", "format", "outcome", "counts"):
            table.add_column(Text(" " + t(f"tui.prov.col.{key}", lang)), key=key)
        for run in self.runs:
            when = _aware(run.started_at).strftime("%m-%d %H:%M")
            outcome = outcome_label(run.outcome, lang) + (" *" if run.dry_run else "")
            counts = f"{run.created}/{run.updated}/{run.moved}/{run.deactivated}/{run.activated}"
            style = "bold" if run.school in self.stale else ""
            cells = [Text(" " + when), Text(" " + run.school, style=style),
                     Text(" " + short_format(run.format)), Text(" " + display_safe(outcome)),
                     Text(" " + counts)]
            table.add_row(*cells, key=str(run.id))
        if not self.runs:
            table.add_row(Text(" " + t("tui.prov.none", lang)), Text(""), Text(""), Text(""),
                          Text(""))
        if self.runs and row:
            table.move_cursor(row=min(row, len(self.runs) - 1))

    def action_report(self) -> None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row >= len(self.runs):
            return
        self.app.push_screen(RunReport(self.runs[table.cursor_row], self.lang))

    def action_open_file(self) -> None:
        from hwb_tui.tui.screens.provision_file import ProvisionFileModal

        def closed(applied: bool | None) -> None:
            self.query_one(DataTable).focus()
            if applied:
                self._load()

        self.app.push_screen(ProvisionFileModal(self.store, self.actor, self.lang), closed)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_report()


class RunReport(ModalScreen[None]):
    """A run's report JSON, pretty-printed (the report is data: shown as text, never markup)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "key.close", id="report.close"),
    ]

    def __init__(self, run: ProvisioningRun, lang: str) -> None:
        super().__init__()
        self.run = run
        self.lang = lang
        self.pretty = ""  # the report as shown

    def compose(self) -> ComposeResult:
        run = self.run
        title = t("tui.prov.report_title", self.lang, id=run.id, school=run.school,
                  outcome=outcome_label(run.outcome, self.lang))
        with Vertical(id="report-box"):
            yield Static(Text(title, style="bold"), id="report-title")
            with VerticalScroll(id="report-body"):
                if run.report:
                    try:
                        pretty = json.dumps(json.loads(run.report), indent=2, ensure_ascii=False)
                    except ValueError:
                        pretty = run.report
                    from rich.syntax import Syntax  # pygments: loaded only when a report opens

                    self.pretty = display_safe_lines(pretty)
                    # Syntax highlights the JSON; it never reads markup in the report's text.
                    yield Static(Syntax(self.pretty, "json", theme="ansi_dark", word_wrap=True))
                else:
                    yield Static(Text(t("tui.prov.no_report", self.lang), style="dim"))
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
        self.query_one("#report-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


def outcome_label(outcome: str, lang: str) -> str:
    """A run's outcome in the operator's language (an unknown outcome shown as it is)."""
    try:
        return t(f"tui.prov.outcome.{outcome}", lang)
    except KeyError:
        return display_safe(outcome)


_FORMAT_SHORT = {"sims-learners": "SIMS-L", "sims-staff": "SIMS-S",
                 "teacher-centre-learners": "TC-L", "teacher-centre-staff": "TC-S"}


def short_format(fmt: str) -> str:
    """A run's format(s) in a few columns: sims-learners -> SIMS-L."""
    parts = [p.strip() for p in display_safe(fmt).replace("+", ",").split(",") if p.strip()]
    return "+".join(_FORMAT_SHORT.get(p, p[:8]) for p in parts)


def display_safe_lines(text: str) -> str:
    """Control characters removed from each line, the lines kept."""
    return "\n".join(display_safe(line) for line in text.splitlines())

