"""Held runs in the console at 80×24: marked in the Provisioning view, counted in the banner,
their names first on enter, Approve and Discard behind the confirm dialog (issue 14)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import col, select
from textual.widgets import Button, DataTable

from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, ProvisioningRun, User
from hwb_tui.tui.screens.provisioning import RunConfirmModal, RunReport, short_format
from tests.tui.conftest import HOME, NOW, OTHER, Seed
from tests.tui.test_console import SIZE, settle


def held_run(seed: Seed, school: str = HOME) -> int:
    """A run of `school` holding one leaver (Hughes at HOME, leaving date past)."""
    with seed.store.write() as s:
        hughes = s.get(User, seed.ids["hughes"])
        assert hughes is not None
        hughes.leaving_date = date(2026, 10, 1)
        held = [{"user_id": hughes.id, "username": hughes.username,
                 "leaving_date": "2026-10-01", "reason": "leaver", "where": "x.csv:2"}]
        run = ProvisioningRun(
            started_at=NOW - timedelta(hours=2), finished_at=NOW - timedelta(hours=2),
            school=school, actor="provisioning-client", files='["x.csv"]', sha256='["ab"]',
            format="sims-learners", as_of=date(2026, 11, 30), outcome="held", created=3,
            report=json.dumps({"school": school, "outcome": "held"}),
            held=json.dumps(held), held_state="held", held_until=NOW + timedelta(days=14))
        s.add(run)
        s.flush()
        assert run.id is not None
        return run.id


def banner(app: object) -> str:
    return str(app.screen.query_one("#banner").render())  # type: ignore[attr-defined]


async def test_a_held_run_is_marked_counted_and_approved_behind_the_dialog(seed: Seed) -> None:
    run_id = held_run(seed)
    held_run(seed, OTHER)
    app = seed.app("champ")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "waiting for a decision: 1 " in banner(app)  # the champion's school only
        await pilot.press("p")
        await settle(app, pilot)
        table = app.screen.query_one("#provisioning").query_one(DataTable)
        assert table.row_count == 1
        assert "⏸" in str(table.get_row_at(0)[3])
        await pilot.press("enter")
        await settle(app, pilot)
        report = app.screen
        assert isinstance(report, RunReport)
        with seed.store.read() as s:
            hughes = s.get(User, seed.ids["hughes"])
        assert hughes is not None
        assert hughes.username in report.held_text
        # the held names come first, before the report
        assert str(report.query_one("#report-body").children[0].id) == "report-held"
        await pilot.press("a")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, RunConfirmModal)
        assert app.focused is dialog.query_one("#cancel", Button)  # Cancel has the focus
        await pilot.press("escape")  # cancels: nothing decided
        await settle(app, pilot)
        assert isinstance(app.screen, RunReport)
        assert _status(seed) == ACTIVE
        await pilot.press("a", "y")  # y = Yes
        await settle(app, pilot)
        assert not isinstance(app.screen, (RunReport, RunConfirmModal))
        assert _status(seed) == DEACTIVATED
        assert any("Approved: 1" in n.message for n in app._notifications)
        await settle(app, pilot)
        assert "waiting for a decision" not in banner(app)
    with seed.store.read() as s:
        run = s.get(ProvisioningRun, run_id)
        assert run is not None and (run.held_state, run.decided_by) == ("approved", "champ")
        events = s.exec(select(AuditEvent).where(col(AuditEvent.actor) == "champ")).all()
        assert {e.action for e in events} == {"deactivate", "run_approve"}


async def test_discard_in_welsh(seed: Seed) -> None:
    run_id = held_run(seed)
    app = seed.app("cymro")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "wedi'u dal yn ôl yn aros am benderfyniad: 1 " in banner(app)
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunReport)
        assert "Wedi'u dal yn ôl i'w cymeradwyo (1)" in app.screen.held_text
        await pilot.press("d")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, RunConfirmModal)
        question = str(dialog.query_one("#confirm-question").render())
        assert "Ydych chi'n siŵr" in question and "diystyru" in question
        assert str(dialog.query_one("#yes", Button).label) == "Ydw"
        await pilot.press("y")
        await settle(app, pilot)
        assert any("Diystyrwyd" in n.message for n in app._notifications)
    assert _status(seed) == ACTIVE
    with seed.store.read() as s:
        run = s.get(ProvisioningRun, run_id)
        assert run is not None and (run.held_state, run.decided_by) == ("discarded", "cymro")


async def test_a_run_that_holds_nothing_offers_no_decision(seed: Seed) -> None:
    from tests.tui.test_provisioning_view import add_run

    add_run(seed, HOME, 1)
    app = seed.app("admin")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RunReport)
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, RunReport)  # no dialog: nothing to approve


def _status(seed: Seed) -> str:
    with seed.store.read() as s:
        user = s.get(User, seed.ids["hughes"])
        assert user is not None
        return user.status


def test_run_formats_are_short_enough_for_80_columns() -> None:
    assert short_format("sims-learners,sims-staff") == "SIMS L+S"
    assert short_format("teacher-centre-learners") == "TC L"
    assert short_format("oneroster") == short_format("oneroster-1.2") == "OneR"
    assert short_format("ctf") == "CTF"
    assert short_format("something-new\x1b[31m") == "somethin"


@pytest.mark.parametrize("login", ["champ", "cymro"])
async def test_the_provisioning_view_at_80x24_shows_whole_numbers_and_times(
        seed: Seed, login: str) -> None:
    """A DfES number cut to six digits names another school: the columns fit their cells, and
    every column fits 80×24 in either language."""
    for _ in range(30):  # enough rows that the table scrolls
        held_run(seed)
    app = seed.app(login)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        table = app.screen.query_one("#provisioning").query_one(DataTable)
        first = table.render_line(1).text
        assert f" {HOME} " in first and "⏸" in first
        assert first.split()[0:2] == [*str(table.get_row_at(0)[0]).split()]
        assert first.rstrip().endswith("3/0/0/0/0")  # the last column is on screen
        assert table.virtual_size.width <= table.scrollable_content_region.width
