"""A real install starts from an empty database: what it says first, and README's "Setting up
for real" commands run in order (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core import access
from hwb_tui.i18n import set_language


@pytest.mark.parametrize("args", [[], ["users", "list"], ["audit"], ["runs"],
                                  ["schools", "list"], ["operators", "list"],
                                  ["users", "add", "--kind", "governor", "--school", "6612001",
                                   "--surname", "Jones", "--forename", "Siân"]])
@pytest.mark.parametrize("lang", ["en", "cy"])
def test_an_empty_database_says_what_to_run_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], lang: str) -> None:
    monkeypatch.setenv("HWB_DATABASE_URL", f"sqlite:///{tmp_path / 'hwb.db'}")
    monkeypatch.setenv("HWB_OPERATOR", "alice")
    monkeypatch.setenv("HWB_LANG", lang)
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)
    try:
        assert main(args) == 1
    finally:
        set_language("en")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "hwb-tui operators add alice --role hwb-admin" in err
