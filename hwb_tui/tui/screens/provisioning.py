"""The Provisioning view: runs newest first, stale schools flagged, held runs marked, a run's
report on enter (a held run's names first, with Approve and Discard behind a confirm dialog)."""

from __future__ import annotations

import json
import re
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
from hwb_tui.core.runs import (
    HeldState,
    aware,
    held_leavers,
    held_state,
    list_runs,
    stale_schools,
)
from hwb_tui.i18n import t
from hwb_tui.tui.keys import localise_bindings
from hwb_tui.tui.screens.confirm import ConfirmDialog

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
            if not self.app.call_from_thread(app.refused, exc):
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
        app: HwbApp = self.app  # type: ignore[assignment]
        now = app.now()
        rows: list[tuple[str | None, list[Text]]] = []  # (row key, cells)
        for run in self.runs:
            when = _aware(run.started_at).strftime("%m-%d %H:%M")
            outcome = outcome_label(run.outcome, lang) + (" *" if run.dry_run else "")
            waiting = held_state(run, now) is HeldState.HELD
            if waiting:
                # a held run waiting for a decision stands out: ⏸ and the count held
                outcome = f"⏸ {outcome} {len(held_leavers(run))}"
            counts = f"{run.created}/{run.updated}/{run.moved}/{run.deactivated}/{run.activated}"
            style = "bold" if run.school in self.stale else ""
            rows.append((str(run.id), [
                Text(when), Text(" " + run.school, style=style),
                Text(" " + short_format(run.format)),
                Text(" " + display_safe(outcome), style="bold reverse" if waiting else ""),
                Text(" " + counts)]))
        if not self.runs:
            rows.append((None, [Text(t("tui.prov.none", lang))] + [Text("") for _ in range(4)]))
        # Widths from the cells themselves: a DfES number or a time is never cut to fit (the
        # table scrolls sideways instead), whatever the terminal measured when it was filled.
        for index, key in enumerate(("when", "school", "format", "outcome", "counts")):
            # a space between columns; the first stands against the border
            label = Text((" " if index else "") + t(f"tui.prov.col.{key}", lang))
            width = max([label.cell_len] + [cells[index].cell_len for _, cells in rows])
            table.add_column(label, key=key, width=width)
        for row_key, cells in rows:
            table.add_row(*cells, key=row_key)
        if self.runs and row:
            table.move_cursor(row=min(row, len(self.runs) - 1))

    def action_report(self) -> None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row >= len(self.runs):
            return
        app: HwbApp = self.app  # type: ignore[assignment]
        run = self.runs[table.cursor_row]
        waiting = held_state(run, app.now()) is HeldState.HELD

        def closed(decided: bool | None) -> None:
            self.query_one(DataTable).focus()
            if decided:
                self._load()
                refresh = getattr(self.screen, "count_held", None)
                if refresh is not None:
                    refresh()

        self.app.push_screen(RunReport(run, self.lang, store=self.store, actor=self.actor,
                                       waiting=waiting), closed)

    def action_open_file(self) -> None:
        from hwb_tui.tui.screens.provision_file import ProvisionFileModal

        def closed(applied: bool | None) -> None:
            self.query_one(DataTable).focus()
            if applied:
                self._load()

        app: HwbApp = self.app  # type: ignore[assignment]
        self.app.push_screen(ProvisionFileModal(self.store, self.actor, self.lang,
                                               app.inbox, app.export_limit), closed)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_report()


class RunReport(ModalScreen[bool]):
    """A run's report JSON, pretty-printed (the report is data: shown as text, never markup).

    A held run waiting for a decision lists its held leavers first; `a` approves and `d`
    discards, each behind a confirm dialog. Dismissed with True when a decision was made."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "key.close", id="report.close"),
        Binding("a", "decide('approve')", "key.approve", id="report.approve"),
        Binding("d", "decide('discard')", "key.discard", id="report.discard"),
    ]

    def __init__(self, run: ProvisioningRun, lang: str, *, store: Store | None = None,
                 actor: Actor | None = None, waiting: bool = False) -> None:
        super().__init__()
        self.run = run
        self.lang = lang
        self.store = store
        self.actor = actor
        self.waiting = waiting and store is not None and actor is not None
        self.pretty = ""  # the report as shown
        self.held_text = ""  # the held names as shown

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            return self.waiting  # the keys show only for a held run waiting for a decision
        return True

    def compose(self) -> ComposeResult:
        run = self.run
        title = t("tui.prov.report_title", self.lang, id=run.id, school=run.school,
                  outcome=outcome_label(run.outcome, self.lang))
        with Vertical(id="report-box"):
            yield Static(Text(title, style="bold"), id="report-title")
            with VerticalScroll(id="report-body"):
                if self.waiting:
                    held = held_leavers(run)
                    text = Text(t("tui.prov.held_title", self.lang, count=len(held)) + "\n",
                                style="bold")
                    for leaver in held:
                        # names are data: appended as plain text, never markup
                        text.append(display_safe(f"  {leaver.get('username') or '?'}  "
                                                 f"{leaver.get('leaving_date') or ''}") + "\n",
                                    style="")
                    text.append(t("tui.prov.held_keys", self.lang) + "\n", style="dim")
                    self.held_text = text.plain
                    yield Static(text, id="report-held")
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
        self.dismiss(False)

    def action_decide(self, action: str) -> None:
        if not self.waiting:
            return
        count = len(held_leavers(self.run))

        def answered(yes: bool | None) -> None:
            if yes:
                self._decide(action)

        self.app.push_screen(RunConfirmModal(self.run, action, count, self.lang), answered)

    @work(thread=True, exclusive=True, group="run-decision", exit_on_error=False)
    def _decide(self, action: str) -> None:
        from hwb_tui.provisioning import decide

        assert self.store is not None and self.actor is not None
        try:
            with self.store.write() as session:
                if action == "approve":
                    decision = decide.approve(session, self.actor, self.run.id or 0)
                else:
                    decision = decide.discard(session, self.actor, self.run.id or 0)
        except HwbError as exc:
            self.app.call_from_thread(self.notify, exc.message(self.lang), severity="error")
            return
        if action == "approve":
            message = t("tui.prov.approved", self.lang, count=len(decision.deactivated),
                        skipped=len(decision.skipped))
        else:
            message = t("tui.prov.discarded", self.lang, count=len(decision.skipped))
        self.app.call_from_thread(self.app.notify, message)
        self.app.call_from_thread(self.dismiss, True)


class RunConfirmModal(ConfirmDialog):
    """Approve or discard a held run: the same dialog as Deactivate."""

    def __init__(self, run: ProvisioningRun, action: str, count: int, lang: str) -> None:
        super().__init__(lang)
        self.run = run
        self.action = action  # approve | discard
        self.count = count

    def question(self) -> ComposeResult:
        lang = self.lang
        yield Static(Text(t("tui.prov.report_title", lang, id=self.run.id,
                            school=self.run.school,
                            outcome=outcome_label(self.run.outcome, lang)), style="bold"),
                     id="confirm-user")
        yield Static(Text(t(f"tui.prov.confirm_{self.action}", lang, count=self.count),
                          style="bold"), id="confirm-question")


def outcome_label(outcome: str, lang: str) -> str:
    """A run's outcome in the operator's language (an unknown outcome shown as it is)."""
    try:
        return t(f"tui.prov.outcome.{outcome}", lang)
    except KeyError:
        return display_safe(outcome)


# A format as its family and, for the CSV layouts, whose file it is (learners, staff).
_FORMAT_SHORT = {"sims-learners": ("SIMS", "L"), "sims-staff": ("SIMS", "S"),
                 "teacher-centre-learners": ("TC", "L"), "teacher-centre-staff": ("TC", "S"),
                 "oneroster": ("OneR", ""), "ctf": ("CTF", "")}
_VERSION = re.compile(r"-\d+(\.\d+)*$")


def short_format(fmt: str) -> str:
    """A run's format(s) in a few columns, to fit 80×24: sims-learners,sims-staff -> SIMS L+S."""
    families: dict[str, list[str]] = {}
    for part in display_safe(fmt).replace("+", ",").split(","):
        name = _VERSION.sub("", part.strip())  # oneroster-1.2 is oneroster
        family, who = _FORMAT_SHORT.get(name, (name[:8], ""))
        if family:
            families.setdefault(family, [])
            if who:
                families[family].append(who)
    return " ".join(f"{family} {'+'.join(whos)}".strip() for family, whos in families.items())


def display_safe_lines(text: str) -> str:
    """Control characters removed from each line, the lines kept."""
    return "\n".join(display_safe(line) for line in text.splitlines())

