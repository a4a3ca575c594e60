"""`hwb-tui health`: each check's exit status, its output read by a Nagios-format parser, the
Prometheus textfile, the operator's scope (issue 14); on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core import access, clock
from hwb_tui.core.db import Store
from hwb_tui.i18n import set_language
from tests import builders as b
from tests.provisioning.conftest import (
    OTHER,
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    run,
)

# --- a Nagios plugin output parser (the plugin guidelines' format) --------------------------

_STATUS_LINE = re.compile(r"^HWB (OK|WARNING|CRITICAL|UNKNOWN) - (\S.*?)(?: \| (.*))?$")
_PERF = re.compile(r"^('[^']+'|[^'= ]+)=(-?[0-9.]+)([a-zA-Z%]*)"
                   r"(?:;(-?[0-9.]*))?(?:;(-?[0-9.]*))?(?:;(-?[0-9.]*))?(?:;(-?[0-9.]*))?$")
_EXIT = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


@dataclass
class Nagios:
    status: str
    text: str
    perf: dict[str, float]
    long_text: list[str]


def parse_nagios(output: str, code: int) -> Nagios:
    """Read plugin output as Nagios does; fail on anything Nagios would not accept."""
    first, *rest = output.rstrip("\n").split("\n")
    match = _STATUS_LINE.match(first)
    assert match, f"not a Nagios status line: {first!r}"
    status, text, perf_text = match.groups()
    assert _EXIT[status] == code, (status, code)
    perf: dict[str, float] = {}
    for token in (perf_text or "").split():
        m = _PERF.match(token)
        assert m, f"bad performance datum: {token!r}"
        perf[m.group(1).strip("'")] = float(m.group(2))
    return Nagios(status, text, perf, rest)


# --- fixtures ---------------------------------------------------------------------------------

Health = Callable[..., tuple[int, Nagios]]


@pytest.fixture
def estate(any_schools: Store, write: Writer) -> Store:
    """School A provisioned today with 100 learners; operators of A, of B, and the service."""
    run(any_schools, [write("seed.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 101)])])
    with any_schools.write() as s:
        b.operator(s, "champion", role="digital-champion", schools=(SCHOOL,))
        b.operator(s, "champion-b", role="digital-champion", schools=(OTHER,))
        b.operator(s, "retired").disabled = True
    return any_schools


@pytest.fixture
def health(estate: Store, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Health]:
    """health(*args, login=..., after=timedelta) -> (exit status, parsed output)."""
    monkeypatch.setenv("HWB_DATABASE_URL", estate.url)
    monkeypatch.delenv("HWB_LANG", raising=False)
    monkeypatch.delenv("HWB_CONFIG", raising=False)
    monkeypatch.setattr(access.os, "getuid", lambda: 0)
    real_now = clock.now

    def _health(*args: str, login: str = "hwb-svc",
                after: timedelta = timedelta(0)) -> tuple[int, Nagios]:
        monkeypatch.setenv("HWB_OPERATOR", login)
        monkeypatch.setattr(clock, "now", lambda: real_now() + after)
        capsys.readouterr()
        code = main(["health", *args])
        out, err = capsys.readouterr()
        monkeypatch.setattr(clock, "now", real_now)
        set_language("en")
        assert err == ""
        return code, parse_nagios(out, code)

    yield _health
    set_language("en")


def test_all_well_is_ok(health: Health) -> None:
    code, out = health()
    assert (code, out.status) == (0, "OK")
    assert out.perf["stale_schools"] == 0 and out.perf["database_up"] == 1
    assert set(out.perf) >= {"held_runs", "rejected_runs", "not_in_export", "summer_deferred"}


def test_a_stale_school_warns(health: Health) -> None:
    code, out = health(after=timedelta(days=8))
    assert (code, out.status, out.perf["stale_schools"]) == (1, "WARNING", 1)
    assert SCHOOL in out.text
    assert health("--stale-days", "10", after=timedelta(days=8))[0] == 0


def test_held_runs_warn_then_are_critical_past_7_days(health: Health, estate: Store,
                                                      write: Writer) -> None:
    rows = [learner_row(i, leaving=date(2026, 10, 23) if i <= 40 else None)
            for i in range(1, 101)]
    assert run(estate, [write("broken.csv", SIMS_LEARNERS, rows)]).exit_code == 3
    code, out = health()
    assert (code, out.perf["held_runs"]) == (1, 1)
    code, out = health(after=timedelta(days=8))
    assert (code, out.status, out.perf["held_oldest_days"]) == (2, "CRITICAL", 8)
    code, out = health(after=timedelta(days=15))  # expired: no longer waiting
    assert out.perf["held_runs"] == 0


def test_a_rejected_run_warns_for_24_hours(health: Health, estate: Store,
                                           write: Writer) -> None:
    bad = write("bad.csv", SIMS_LEARNERS, [learner_row(1), "X,Jones,Siân,1,,,9,9A"])
    assert run(estate, [bad]).exit_code == 1
    code, out = health()
    assert (code, out.perf["rejected_runs"]) == (1, 1)
    assert health(after=timedelta(hours=25))[0] == 0


def test_a_jump_in_not_in_export_past_10_percent_warns(health: Health, estate: Store,
                                                       write: Writer) -> None:
    truncated = write("cut.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 86)])
    run(estate, [truncated])  # 15 of 100 missing
    code, out = health()
    assert (code, out.perf["not_in_export"]) == (1, 1)
    run(estate, [truncated])  # the same again: no jump
    assert health()[0] == 0
    small = write("small.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 96)])
    run(estate, [write("seed2.csv", SIMS_LEARNERS, [learner_row(i) for i in range(1, 101)])])
    run(estate, [small])  # 5 of 100: within 10%
    assert health()[0] == 0


def test_the_summer_cohort_still_deferred_after_31_august_warns(health: Health, estate: Store,
                                                               write: Writer) -> None:
    rows = [learner_row(i, year=11, leaving=date(2026, 6, 20) if i <= 30 else None)
            for i in range(1, 101)]
    export = write("summer.csv", SIMS_LEARNERS, rows)
    run(estate, [export], as_of=date(2026, 6, 25))  # deferred to 29 August
    now = clock.now()
    if now.date() <= date(now.year, 8, 31):
        pytest.skip("runs after 31 August of the deferral's year")
    code, out = health()
    assert (code, out.perf["summer_deferred"]) == (1, 30)
    run(estate, [export], as_of=date(2026, 8, 29))
    assert health()[0] == 0


def test_the_database_unreachable_is_unknown(health: Health, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWB_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/folder/hwb.db")
    prom = tmp_path / "hwb.prom"
    code, out = health("--prometheus", str(prom))
    assert (code, out.status, out.perf["database_up"]) == (3, "UNKNOWN", 0)
    assert "hwb_health_status 3" in prom.read_text()


def test_scope_is_the_operators_schools_or_all_for_the_service_account(
        health: Health) -> None:
    assert health(login="champion", after=timedelta(days=8))[0] == 1  # A is stale
    assert health(login="champion-b", after=timedelta(days=8))[0] == 0  # B sees none of A
    code, out = health(login="retired")
    assert (code, out.status) == (3, "UNKNOWN") and "retired" in out.text
    code, out = health(login="nobody")
    assert (code, out.status) == (3, "UNKNOWN")


def test_prometheus_textfile_and_json(health: Health, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "prom").mkdir()
    prom = tmp_path / "prom" / "hwb.prom"
    prom.write_text("old\n")
    code, _ = health("--prometheus", str(prom), after=timedelta(days=8))
    assert code == 1
    metrics = {}
    for line in prom.read_text().splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) hwb_\w+ ", line), line
            continue
        name, value = line.rsplit(" ", 1)
        assert re.match(r'^hwb_\w+(\{check="\w+"\})?$', name), line
        metrics[name] = float(value)
    assert metrics["hwb_health_status"] == 1
    assert metrics['hwb_health_check_value{check="stale_schools"}'] == 1
    assert list(prom.parent.iterdir()) == [prom]  # written by rename: no temporary file left
    main(["health", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "OK" and {c["name"] for c in data["checks"]} >= {
        "stale_schools", "held_runs", "database"}
