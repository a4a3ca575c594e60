"""A real install starts from an empty database: what it says first, and README's "Setting up
for real" commands run in order (on SQLite and PostgreSQL)."""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
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


ROOT = Path(__file__).resolve().parents[2]


def setting_up_for_real() -> list[str]:
    """The commands of README's "Setting up for real" block, in order (comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Setting up for real\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_readme_setting_up_for_real_from_an_empty_database(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> None:
    shutil.copytree(ROOT / "data" / "samples", tmp_path / "data" / "samples")
    monkeypatch.chdir(tmp_path)
    if backend == "postgres":
        monkeypatch.setenv("HWB_DATABASE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("HWB_DATABASE_URL", raising=False)  # the default: data/hwb.db
    monkeypatch.setenv("HWB_CONFIG", str(tmp_path / "no-config.toml"))  # not this host's
    monkeypatch.delenv("HWB_INBOX", raising=False)
    monkeypatch.delenv("HWB_LANG", raising=False)
    monkeypatch.setenv("HWB_OPERATOR", "alice")  # the login of README's first operator
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)
    said: dict[str, str] = {}
    lines = setting_up_for_real()
    assert lines[0] == "hwb-tui operators add alice --role hwb-admin"
    for line in lines:
        if not line.startswith("hwb-tui "):
            # only plain file handling outside hwb-tui, so the block hides no other setup
            assert line.split()[0] in ("mkdir", "cp"), line
            subprocess.run(["bash", "-euc", line], check=True, cwd=tmp_path)
            continue
        args: list[str] = []
        for word in shlex.split(line, comments=True)[1:]:
            args.extend(sorted(glob.glob(word)) if "*" in word else [word])
        capsys.readouterr()
        try:
            code = main(args)
        finally:
            set_language("en")
        out, err = capsys.readouterr()
        assert code == 0, f"{line}\n{out}\n{err}"
        said[line] = out
    assert "10 schools" not in said["hwb-tui schools list --la 661"]  # only LA 661's
    listed = said["hwb-tui schools list --la 661"]
    assert "6612001" in listed and "6612013" in listed and "6602031" not in listed
    users = said["hwb-tui users list --school 6612001"]
    assert "LlywelynS@hwbcymru.net" in users and "JonesC@hwbcymru.net" in users
    assert set(users.split()) >= {"learner", "staff"}
    assert "6612004" in said["hwb-tui runs"]
    # the applied exports left the inbox for done/
    assert sorted(p.name for p in (tmp_path / "data" / "inbox").iterdir()) == ["done"]
    assert len(list((tmp_path / "data" / "inbox" / "done").glob("*/*.csv"))) == 4
