"""The Provisioning view: runs newest first, stale schools flagged, reports, preview then apply."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import col, select
from textual.widgets import DataTable

from hwb_tui.core.models import AuditEvent, ProvisioningRun, User
from hwb_tui.tui.screens.provisioning import RunReport
from tests.builders import learner_upn, sims_learners
from tests.tui.conftest import HOME, NOW, OTHER, Seed
from tests.tui.console import (
    SIZE,
    open_export_dialog,
    press_apply,
    preview,
    settle,
    type_files_and_enter,
)


def write_export(path: Path, dfes: str) -> Path:
    """A small SIMS learners export for `dfes`: three learners, valid UPNs."""
    return sims_learners(path, (
        f"{learner_upn(dfes, serial)},{surname},{forename},{serial},01/09/2021,,8,8G"
        for serial, (surname, forename) in enumerate(
            [("Gruffydd", "Elin"), ("Glyndŵr", "Owain"), ("ap Siôn", "Llinos")], start=101)))


def add_run(seed: Seed, school: str, days_ago: int, outcome: str = "applied",
            created: int = 0) -> int:
    with seed.store.write() as s:
        run = ProvisioningRun(
            started_at=NOW - timedelta(days=days_ago), finished_at=NOW - timedelta(days=days_ago),
            school=school, actor="provisioning-client", files='["x.csv"]', sha256='["0"]',
            format="sims-learners", as_of=date(2026, 11, 1), outcome=outcome, created=created,
            report=json.dumps({"school": school, "outcome": outcome, "note": "[bold]x[/]"}))
        s.add(run)
        s.flush()
        assert run.id is not None
        return run.id


async def test_runs_newest_first_and_stale_schools_flagged(seed: Seed) -> None:
    add_run(seed, HOME, 10, created=5)
    add_run(seed, OTHER, 1, created=7)
    add_run(seed, HOME, 0, outcome="rejected")  # a failure does not make a school fresh
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        pane = app.screen.query_one("#provisioning")
        table = pane.query_one(DataTable)
        assert table.row_count == 3
        schools = [str(table.get_row_at(i)[1]).strip() for i in range(3)]
        assert schools == [HOME, OTHER, HOME]  # newest first
        assert [str(table.get_row_at(i)[3]).strip() for i in range(3)] == ["rejected", "applied",
                                                                   "applied"]
        stale = str(pane.query_one("#prov-stale").render())
        assert HOME in stale and OTHER not in stale
        await pilot.press("down", "down", "enter")  # the run of 10 days ago
        await settle(app, pilot)
        assert isinstance(app.screen, RunReport)
        report = app.screen
        assert "\n  \"note\": \"[bold]x[/]\"\n" in report.pretty  # pretty JSON, data literal
        strip_text = "".join(
            strip.text for strip in report.query_one("#report-body Static").render_lines(
                report.query_one("#report-body Static").region.reset_offset))
        assert '"note": "[bold]x[/]"' in strip_text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunReport)


async def test_a_champion_sees_only_runs_of_their_schools(seed: Seed) -> None:
    add_run(seed, HOME, 1)
    add_run(seed, OTHER, 1)
    app = seed.app("champ")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        table = app.screen.query_one("#provisioning").query_one(DataTable)
        assert [str(table.get_row_at(i)[1]).strip() for i in range(table.row_count)] == [HOME]


async def test_preview_then_apply_a_file(seed: Seed, tmp_path: Path) -> None:
    export = write_export(tmp_path / "6612001-learners.csv", HOME)
    app = seed.app("admin", inbox=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        previewed = await preview(app, pilot, modal, export)
        assert not modal.query_one("#prov-apply").disabled
        assert "planned" in previewed and "nothing has changed yet" in previewed
        with seed.store.read() as s:  # a dry run changes nothing and is not recorded
            assert s.exec(select(ProvisioningRun)).first() is None
        await press_apply(pilot, modal)
        await settle(app, pilot)
        assert "applied" in str(modal.query_one("#prov-summary").render())
        await pilot.press("escape")
        await settle(app, pilot)
        table = app.screen.query_one("#provisioning").query_one(DataTable)
        assert table.row_count == 1 and str(table.get_row_at(0)[1]).strip() == HOME
    with seed.store.read() as s:
        runs = s.exec(select(ProvisioningRun)).all()
        assert len(runs) == 1 and runs[0].outcome == "applied" and runs[0].created == 3
        assert s.exec(select(User).where(col(User.kind) == "learner")).all()
        # the run and every change in it name the operator, not the provisioning client
        assert runs[0].actor == "admin"
        events = s.exec(select(AuditEvent).where(col(AuditEvent.run_id) == runs[0].id)).all()
        assert len(events) == 3 and {e.actor for e in events} == {"admin"}


async def test_a_champion_cannot_provision_another_school(seed: Seed, tmp_path: Path) -> None:
    export = write_export(tmp_path / "6612002-learners.csv", OTHER)
    app = seed.app("champ", inbox=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        assert "6612002" in await preview(app, pilot, modal, export, school="")
        assert modal.query_one("#prov-apply").disabled


def oneroster_zip(path: Path, schools: list[str]) -> Path:
    """A OneRoster 1.1 set (zip) with two learners at each of `schools`."""
    from tests.provisioning.standard import OneRoster

    s = OneRoster()
    for dfes in schools:
        s.school(dfes)
        for serial in (201, 202):
            s.student(f"{dfes}-{serial}", learner_upn(dfes, serial), "Gruffydd", "Elin", dfes)
    return s.zip(path)


async def test_a_oneroster_set_reaching_another_school_is_refused_whole(
        seed: Seed, tmp_path: Path) -> None:
    mixed = oneroster_zip(tmp_path / "la-export.zip", [HOME, OTHER])
    own = oneroster_zip(tmp_path / "own.zip", [HOME])
    with seed.store.read() as s:
        before = len(s.exec(select(User)).all())
    app = seed.app("champ", inbox=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        refused = await preview(app, pilot, modal, mixed, school="")
        assert OTHER in refused
        assert modal.query_one("#prov-apply").disabled
        await type_files_and_enter(pilot, modal, own)
        await settle(app, pilot)
        summary = str(modal.query_one("#prov-summary").render())
        assert HOME in summary and "planned" in summary, summary
        assert not modal.query_one("#prov-apply").disabled
    with seed.store.read() as s:
        assert len(s.exec(select(User)).all()) == before
