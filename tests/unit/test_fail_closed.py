"""Fail closed: an unreadable config file is refused (exit 4), never replaced by a default; an
unexpected error prints one line naming the log that holds its traceback (exit non-zero), in
the CLI and in the console; an over-long search is cut, never a database error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwb_tui import crashlog
from hwb_tui.core import directory
from hwb_tui.core.db import Store
from tests import builders as b


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return b.run_cli(capsys, *args)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HWB_DATABASE_URL", raising=False)
    monkeypatch.delenv("HWB_LANG", raising=False)
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    monkeypatch.setenv("HWB_LOG", str(tmp_path / "logs" / "errors.log"))
    return tmp_path


@pytest.mark.parametrize("kind", ["folder", "not toml", "not utf-8"])
def test_an_unreadable_config_file_is_refused_never_replaced_by_a_default(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        kind: str) -> None:
    cfg = env / "config.toml"
    if kind == "folder":
        cfg.mkdir()
    elif kind == "not toml":
        cfg.write_text("database_url = \n[[[\n")
    else:
        cfg.write_bytes(b'database_url = "\xff\xfe"\n')
    monkeypatch.setenv("HWB_CONFIG", str(cfg))
    code, out, err = run(capsys, "users", "list")
    assert code == 4 and out == ""
    assert err.count("\n") == 1 and str(cfg) in err and "Traceback" not in err, err
    assert not (env / "data" / "hwb.db").exists()  # no default database made in its place


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as another uid")
def test_a_config_file_the_account_may_not_read_is_refused(tmp_path: Path) -> None:
    import tempfile

    from tests.unit.test_deploy import _as, _interpreter

    if _interpreter() is None:
        pytest.skip("no Python that another uid may run")
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)
        cfg = Path(folder) / "config.toml"
        cfg.write_text('database_url = "sqlite:////nonexistent/real.db"\n')
        cfg.chmod(0o600)  # the service account's, not this user's
        done = _as(65534, "from hwb_tui.cli import main; raise SystemExit(main(['users', "
                   "'list']))", {"HWB_CONFIG": str(cfg)})
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and "Permission denied" in done.stderr, done.stderr


def test_an_unexpected_error_in_the_cli_is_one_line_naming_the_log(
        env: Path, store: Store, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with store.write() as s:
        b.school(s)
        b.operator(s, "admin")
    monkeypatch.setenv("HWB_DATABASE_URL", store.url)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug, with a secret: Jones Siân")

    monkeypatch.setattr(directory, "page", broken)
    code, out, err = run(capsys, "users", "list")
    log = env / "logs" / "errors.log"
    assert code == crashlog.EXIT_CRASH and code != 0
    assert err.count("\n") == 1 and "RuntimeError" in err and str(log) in err, err
    assert "Traceback" not in err and "secret" not in err
    text = log.read_text()
    assert "Traceback" in text and "a bug, with a secret" in text
    assert (log.stat().st_mode & 0o777) == 0o600


async def test_an_unexpected_error_in_the_console_goes_to_the_log(
        env: Path, store: Store, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from hwb_tui.commands.console import _crashed
    from hwb_tui.tui.app import HwbApp
    from hwb_tui.tui.screens.main import MainScreen

    with store.write() as s:
        b.school(s)
        b.operator(s, "admin")

    def broken(_self: object) -> None:
        raise RuntimeError("a bug in a key")

    monkeypatch.setattr(MainScreen, "action_filter", broken)
    app = HwbApp(store, b.actor(store, "admin"))
    with pytest.raises(RuntimeError):  # Pilot re-raises it for the test; a terminal does not
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.press("f")
            await pilot.pause()
    assert app.crashed is not None and app.crash_error == "RuntimeError"
    assert "a bug in a key" in app.crashed.read_text()
    assert not app._exit_renderables  # no traceback printed on the operator's terminal
    capsys.readouterr()
    assert _crashed(app.crash_error, app.crashed) == crashlog.EXIT_CRASH
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(app.crashed) in err and "Traceback" not in err


@pytest.mark.parametrize("term", [" ".join(["jones"] * 60), "j" * 5000,
                                  " ".join(f"w{i}" for i in range(400)), "6612001 " * 30])
def test_a_search_too_long_is_cut_never_a_database_error(any_store: Store, term: str) -> None:
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        b.user(s, "Jones", "Siân")
    actor = b.actor(any_store, "admin")
    assert len(directory.words(term)) <= directory.MAX_SEARCH_WORDS
    assert sum(len(w) for w in directory.words(term)) <= directory.MAX_SEARCH_CHARS
    for view in ("governors", "all"):
        q = directory.Query(view=view, status="all", search=term)
        with any_store.read() as s:
            directory.page(s, actor, q)
            directory.count(s, actor, q, cap=1000)
            directory.count(s, actor, q)
    with any_store.read() as s:
        shown = directory.page(s, actor, directory.Query(search=" ".join(["jones"] * 60)))
    assert [u.surname for u in shown] == ["Jones"]
