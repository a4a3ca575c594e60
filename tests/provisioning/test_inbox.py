"""`hwb-tui provision --inbox`: the scheduled run over the inbox, and what it leaves there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core.db import Store
from tests.provisioning.conftest import SIMS_LEARNERS, csv_bytes, learner_row, users


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    monkeypatch.setenv("HWB_INBOX", str(folder))
    return folder


def cli(store: Store, *args: str) -> int:
    return main(["--db", store.url, "provision", "--inbox", *args])


def test_an_empty_inbox_is_a_success(schools: Store, inbox: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(schools) == 0
    assert "Nothing waiting" in capsys.readouterr().out
    assert cli(schools, "--json") == 0
    assert json.loads(capsys.readouterr().out)["schools"] == []


def test_applied_files_move_to_done(schools: Store, inbox: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    (inbox / "6612001-learners.csv").write_bytes(
        csv_bytes(SIMS_LEARNERS, [learner_row(1), learner_row(2)]))
    (inbox / ".6612001-staff.csv.part").write_bytes(b"still arriving")
    assert cli(schools, "--dry-run") == 0
    assert (inbox / "6612001-learners.csv").exists()  # a dry run moves nothing
    capsys.readouterr()
    assert cli(schools, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["outcome"] for s in report["schools"]] == ["applied"]
    assert len(users(schools)) == 2
    assert sorted(p.name for p in inbox.iterdir()) == [".6612001-staff.csv.part", "done"]
    assert [Path(p).name for p in report["archived"]] == ["6612001-learners.csv"]
    assert cli(schools) == 0  # next night: nothing new


def test_a_rejected_school_leaves_every_file_for_the_next_run(
        schools: Store, inbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (inbox / "6612001-learners.csv").write_bytes(csv_bytes(SIMS_LEARNERS, [learner_row(1)]))
    (inbox / "6612002-learners.csv").write_bytes(csv_bytes(SIMS_LEARNERS, [",X,Y,1,,,9,9A"]))
    assert cli(schools) == 1
    assert sorted(p.name for p in inbox.iterdir()) == ["6612001-learners.csv",
                                                       "6612002-learners.csv"]


def test_files_and_inbox_together_are_a_usage_error(schools: Store, inbox: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(schools, "x.csv") == 2
    assert capsys.readouterr().err.count("\n") == 1
