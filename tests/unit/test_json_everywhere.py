"""`--json` on every command that prints a result (SPEC §3): each prints ONE JSON document on
stdout, and a record prints the one shape core.records gives it, whichever command prints it."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwb_tui.cli import build_parser, main
from hwb_tui.core import access, records
from hwb_tui.core.db import open_store
from hwb_tui.i18n import set_language
from tests import builders as b

# Commands with no result to print: the demo opens the console.
NO_RESULT = {("demo",)}


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
           ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command line a user can run: each subcommand, and a parent that runs alone."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or (path and not subs[0].required):
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaves(child, (*path, name))


def test_every_command_that_prints_a_result_takes_json() -> None:
    found = {path: "--json" in p._option_string_actions for path, p in leaves(build_parser())}
    assert ("schools", "import") in found and ("users", "add") in found  # the walk works
    missing = sorted(path for path, has in found.items() if not has and path not in NO_RESULT)
    assert missing == []


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    monkeypatch.setenv("HWB_DATABASE_URL", url)
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    monkeypatch.delenv("HWB_LANG", raising=False)
    monkeypatch.setenv("HWB_INBOX", str(tmp_path / "inbox"))
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)
    store = open_store(url)
    with store.write() as s:
        b.school(s, "6612001")
        b.operator(s, "admin")
    store.dispose()

    def _run(*args: str) -> object:
        capsys.readouterr()
        try:
            assert main([*args, "--json"]) == 0
        finally:
            set_language("en")
        out, err = capsys.readouterr()
        return json.loads(out)  # the whole of stdout is one document

    yield _run


def test_each_change_prints_one_document_with_its_records_shape(run: object,
                                                                 tmp_path: Path) -> None:
    call = run
    assert callable(call)
    added = call("users", "add", "--kind", "governor", "--school", "6612001",
                 "--surname", "Jones", "--forename", "Siân")
    assert added["action"] == "add"
    username = added["user"]["username"]
    assert set(added["user"]) == set(records.USER_DETAIL_FIELDS)
    extended = call("users", "extend", username, "--lifetime", "3m")
    assert (extended["action"], extended["user"]["username"]) == ("extend", username)
    deactivated = call("users", "deactivate", username)
    assert deactivated["user"]["status"] == "deactivated"
    assert call("users", "activate", username)["user"]["status"] == "active"
    op = call("operators", "add", "bethan", "--role", "digital-champion", "--school", "6612001")
    assert op in call("operators", "list")  # an operator prints one shape in both
    school = call("schools", "add", "6612002", "--name", "Penglais School",
                  "--name-cy", "Ysgol Penglais")
    assert school in call("schools", "list")
    register = tmp_path / "register.csv"
    register.write_text("dfes,name_en,name_cy\n6612003,Ysgol Bro Hyddgen,Ysgol Bro Hyddgen\n")
    assert call("schools", "import", str(register))["counts"]["added"] == 1
    assert call("schools", "close", "6612003")["closed"] is True
    assert call("schools", "show", "6612001")["dfes"] == "6612001"
    assert call("housekeeping")["expired"] == []
    assert call("provision", "--inbox")["schools"] == []
    assert call("runs") == []
    events = call("audit")
    assert [e["action"] for e in events] == ["add", "extend", "deactivate", "activate",
                                             "operator_add", "school_add", "school_add",
                                             "school_close"]
    shown = call("users", "show", username)["audit"]
    assert shown == [e for e in events if e["username"] == username]
