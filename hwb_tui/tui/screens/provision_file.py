"""Preview, then apply, an MIS export from the console, through the provisioning client's API.

The same `hwb_tui.provisioning.provision()` as `hwb-tui provision`: a dry run first, and Apply
only once the preview planned every school. It runs as the operator (the core holds them to
their schools, checks them again in each transaction, and names them in the run and its audit).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import HwbError
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.provisioning import (
    COUNTS,
    ProvisionOptions,
    ProvisionReport,
    provision,
)
from hwb_tui.provisioning.plan import NoticeKind
from hwb_tui.tui.keys import localise_bindings
from hwb_tui.tui.screens.provisioning import outcome_label

ERRORS_SHOWN = 12  # per school; the full list is in the run's report


def describe_report(report: ProvisionReport, lang: str) -> Text:
    """The report as plain Text: outcome and counts per school, the first errors, notices."""
    text = Text()
    for i, school in enumerate(report.schools):
        if i:
            text.append("\n")
        outcome = outcome_label(school.outcome, lang)
        style = ("bold green" if school.outcome in ("applied", "planned")
                 else "bold yellow" if school.outcome == "held" else "bold red")
        text.append(f"{school.school}: ", style="bold")
        text.append(outcome, style=style)
        text.append("\n")
        counts = " · ".join(f"{t(f'tui.prov.count.{name}', lang)} {school.counts.get(name, 0)}"
                            for name in COUNTS if name in school.counts)
        text.append(counts + "\n")
        if school.message:
            text.append(display_safe(school.message) + "\n", style="red")
        if school.held:
            # the limit holds these leavers (applied: waiting for approval; preview: would)
            text.append(t("provisioning.cli.held", lang, count=len(school.held)) + " "
                        + display_safe(", ".join(str(h.get("username") or "?")
                                                 for h in school.held[:ERRORS_SHOWN]))
                        + (" …" if len(school.held) > ERRORS_SHOWN else "") + "\n",
                        style="yellow")
        for error in school.errors[:ERRORS_SHOWN]:
            text.append(display_safe(error) + "\n", style="red")
        if len(school.errors) > ERRORS_SHOWN:
            text.append(t("tui.prov.more_errors", lang, count=len(school.errors) - ERRORS_SHOWN)
                        + "\n", style="red")
        outside = sum(1 for n in school.notices if n["what"] == NoticeKind.OUTSIDE_SCOPE)
        if outside:
            # the first thing said: these learners are another school's, and stay there
            text.append(t("tui.prov.outside_scope", lang, count=outside) + "\n",
                        style="bold yellow")
        for notice in school.notices[:ERRORS_SHOWN]:
            text.append(display_safe(t(f"provisioning.notice.{notice['what']}", lang,
                                       where=notice.get("where") or "-",
                                       username=notice.get("username") or "-",
                                       school=notice.get("other_school") or "-")) + "\n",
                        style="yellow")
        if len(school.notices) > ERRORS_SHOWN:
            text.append(t("tui.prov.more_errors", lang,
                          count=len(school.notices) - ERRORS_SHOWN) + "\n", style="yellow")
    return text


class ProvisionFileModal(ModalScreen[bool]):
    """Dismisses True when something was applied (the runs list then reloads)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "key.close", id="provision.close"),
    ]

    def __init__(self, store: Store, actor: Actor, lang: str, inbox: Path,
                 size_limit: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.actor = actor
        self.lang = lang
        self.inbox = inbox  # files are named in this folder, and read only from it
        self.size_limit = size_limit
        self.previewed: tuple[tuple[str, ...], str] | None = None  # what the preview was of
        self.applied = False

    def compose(self) -> ComposeResult:
        lang = self.lang
        only_school = self.actor.only_school
        with Vertical(id="provision-box"):
            yield Static(Text(t("tui.prov.file_title", lang), style="bold"))
            with Horizontal(classes="add-row"):
                yield Label(t("tui.prov.files", lang), classes="prov-label")
                yield Input(id="prov-files", compact=True)
            with Horizontal(classes="add-row"):
                yield Label(t("tui.prov.school", lang), classes="prov-label")
                yield Input(only_school, id="prov-school", max_length=7, compact=True,
                            placeholder=t("tui.prov.school_hint", lang))
            with VerticalScroll(id="prov-result"):
                help_text = t("tui.prov.file_help", lang, inbox=display_safe(str(self.inbox)))
                yield Static(Text(help_text, style="dim"), id="prov-summary")
            with Horizontal(id="add-buttons"):
                yield Button(t("tui.prov.preview", lang), id="prov-preview", variant="primary")
                yield Button(t("tui.prov.apply", lang), id="prov-apply", variant="error",
                             disabled=True)
                yield Button(t("key.close", lang), id="prov-close")
        yield Footer()

    def on_mount(self) -> None:
        localise_bindings(self, self.lang)
        self.query_one("#prov-files", Input).focus()

    def _request(self) -> tuple[list[Path], str | None]:
        files = [Path(p) for p in self.query_one("#prov-files", Input).value.split()]
        school = self.query_one("#prov-school", Input).value.strip() or None
        return files, school

    @on(Input.Changed)
    def _changed(self) -> None:
        # Apply is for exactly what was previewed: any edit asks for a new preview.
        files, school = self._request()
        if self.previewed != (tuple(map(str, files)), school or ""):
            self.query_one("#prov-apply", Button).disabled = True

    @on(Input.Submitted)
    @on(Button.Pressed, "#prov-preview")
    def _preview(self) -> None:
        files, school = self._request()
        self._say(Text(t("tui.prov.working", self.lang), style="dim"))
        self.query_one("#prov-apply", Button).disabled = True
        self._run(files, school, True)

    @on(Button.Pressed, "#prov-apply")
    def _apply(self) -> None:
        files, school = self._request()
        self.query_one("#prov-apply", Button).disabled = True
        self._say(Text(t("tui.prov.working", self.lang), style="dim"))
        self._run(files, school, False)

    @on(Button.Pressed, "#prov-close")
    def action_close(self) -> None:
        self.dismiss(self.applied)

    def _say(self, text: Text) -> None:
        self.query_one("#prov-summary", Static).update(text)

    @work(thread=True, exclusive=True, group="provision-file")
    def _run(self, files: list[Path], school: str | None, dry_run: bool) -> None:
        try:
            options = ProvisionOptions(dry_run=dry_run, language=self.lang,
                                       size_limit=self.size_limit, inbox=self.inbox)
            report = provision(self.store, files, school, options, actor=self.actor)
        except HwbError as exc:
            if not self.app.call_from_thread(self.app.refused, exc):  # type: ignore[attr-defined]
                self.app.call_from_thread(
                    self._say, Text(display_safe(exc.message(self.lang)), style="red"))
            return
        self.app.call_from_thread(self._done, report, files, school, dry_run)

    def _done(self, report: ProvisionReport, files: list[Path], school: str | None,
              dry_run: bool) -> None:
        text = Text(t("tui.prov.previewed" if dry_run else "tui.prov.applied", self.lang) + "\n",
                    style="bold")
        text.append_text(describe_report(report, self.lang))
        self._say(text)
        if dry_run:
            planned = bool(report.schools) and all(s.outcome == "planned"
                                                   for s in report.schools)
            self.previewed = (tuple(map(str, files)), school or "")
            self.query_one("#prov-apply", Button).disabled = not planned
            if planned:
                self.query_one("#prov-apply", Button).focus()
        else:
            self.applied = True
            self.previewed = None
