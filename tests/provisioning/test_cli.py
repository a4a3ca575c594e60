"""`hwb-tui provision`: exit codes, --json, plain progress lines; the samples from a fresh DB."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core.db import Store
from tests.provisioning.conftest import (
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    upn,
    users,
)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def cli(store: Store, *args: str) -> int:
    return main(["--db", store.url, "provision", *args])


def test_applies_and_prints_a_summary(schools: Store, write: Writer,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1), learner_row(2)])
    assert cli(schools, str(f), "--as-of", "2026-11-30") == 0
    out, err = capsys.readouterr()
    assert "School 6612001: applied" in out
    assert "created 2, updated 0" in out
    # not a terminal: plain progress lines on stderr, no bar
    assert "6612001: applying 2 changes" in err
    assert len(users(schools)) == 2


def test_json_report_on_stdout(schools: Store, write: Writer,
                               capsys: pytest.CaptureFixture[str]) -> None:
    f = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1), ",X,Y,1,,,9,9A"])
    assert cli(schools, str(f), "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1
    (school,) = data["schools"]
    assert (school["school"], school["outcome"]) == (SCHOOL, "rejected")
    assert school["errors"] == [f"{f}:3:UPN: required value missing"]


def test_welsh_output(schools: Store, write: Writer, capsys: pytest.CaptureFixture[str]) -> None:
    f = write("6612001-learners.csv", SIMS_LEARNERS, [",X,Y,1,,,9,9A"])
    assert main(["--lang", "cy", "--db", schools.url, "provision", str(f)]) == 1
    out = capsys.readouterr().out
    assert "Ysgol 6612001: wedi'i gwrthod" in out or "Ysgol 6612001: wedi'i wrthod" in out
    assert f"{f}:2:UPN: gwerth ofynnol ar goll" in out


@pytest.mark.parametrize("args", [
    ["--as-of", "30/11/2026"],
    ["--as-of", "20261130"],
    ["--max-deactivations", "-1"],
    ["--format", "excel"],
])
def test_usage_errors_exit_2(schools: Store, write: Writer, args: list[str]) -> None:
    f = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1)])
    with pytest.raises(SystemExit) as info:
        cli(schools, str(f), *args)
    assert info.value.code == 2


def test_file_name_without_school_is_a_usage_error(schools: Store, write: Writer,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = write("learners.csv", SIMS_LEARNERS, [learner_row(1)])
    assert cli(schools, str(f)) == 2
    assert "--school" in capsys.readouterr().err
    assert users(schools) == {}


def test_busy_database_exits_4_and_changes_nothing(
        schools: Store, write: Writer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HWB_BUSY_TIMEOUT", "0.2")
    f = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1)])
    path = schools.url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock past our timeout
    try:
        assert cli(schools, str(f), "--json") == 4
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    data = json.loads(capsys.readouterr().out)
    assert data["schools"][0]["outcome"] == "failed"
    assert users(schools) == {}


def test_samples_apply_cleanly_to_the_demo_and_idempotently(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "demo", "--create-only", "--users", "2000"]) == 0
    capsys.readouterr()
    files = [str(p) for p in sorted(SAMPLES.glob("*.csv"))]
    assert main(["--db", sqlite_url, "provision", *files, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [(s["school"], s["outcome"]) for s in first["schools"]] == [
        ("6612001", "applied"), ("6612004", "applied")]
    assert sum(s["counts"]["created"] for s in first["schools"]) == 24
    assert all(s["errors"] == [] and s["counts"]["deactivated"] == 0 for s in first["schools"])
    assert main(["--db", sqlite_url, "provision", *files, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert all(v == 0 for s in second["schools"] for k, v in s["counts"].items()
               if k != "not_in_export")
    store = Store(sqlite_url)
    try:
        got = users(store)
    finally:
        store.dispose()
    assert got[upn(900, SCHOOL, 22)].forename == "Siân"
    assert any(u.surname == "Glyndŵr" and u.school == "6612004" for u in got.values())


def test_every_message_key_built_from_a_value_exists() -> None:
    from hwb_tui.i18n import catalogue
    from hwb_tui.provisioning.service import EXIT

    keys = catalogue()
    for outcome in EXIT:
        assert f"provisioning.outcome.{outcome}" in keys
    for what in ("moved_away", "stale_move", "leaver_no_account", "purged", "upn_taken"):
        assert f"provisioning.notice.{what}" in keys
    for reason in ("missing", "upn_length", "upn_digits", "upn_letter", "upn_la", "upn_check",
                   "bad_date", "duplicate_upn", "duplicate_staff_code", "missing_column",
                   "unknown_format", "no_such_format", "empty_file", "unreadable",
                   "undecodable", "bad_csv"):
        assert f"provisioning.reason.{reason}" in keys
    for stage in ("read", "plan", "apply", "done"):
        assert f"provisioning.cli.progress_{stage}" in keys
