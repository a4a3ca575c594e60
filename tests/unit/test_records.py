"""One JSON shape per kind of record: the same event or run prints the same keys everywhere."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core import access, accounts
from hwb_tui.core.db import open_store
from hwb_tui.i18n import set_language
from tests import builders as b


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    monkeypatch.setenv("HWB_DATABASE_URL", url)
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    monkeypatch.delenv("HWB_LANG", raising=False)
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)
    store = open_store(url)
    with store.write() as s:
        b.school(s, "6612001")
        b.operator(s, "admin")
        user = b.user(s, "Jones", "Siân")
        accounts.audit(s, "admin", "extend", user, reason="why", detail={"k": "v"})
    store.dispose()

    def run(*args: str) -> object:
        capsys.readouterr()
        assert main(list(args)) == 0
        return json.loads(capsys.readouterr().out)

    yield run
    set_language("en")


def test_an_audit_event_has_one_shape_in_audit_and_users_show(cli: object) -> None:
    run = cli
    assert callable(run)
    from_audit = run("audit", "--json")[0]
    from_show = run("users", "show", "JonesS@hwbcymru.net", "--json")["audit"][0]
    assert from_audit == from_show
    assert from_show["username"] == "JonesS@hwbcymru.net"
    assert from_show["detail"] == {"k": "v"}
    assert from_show["at"].endswith("+00:00")
