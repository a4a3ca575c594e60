"""The headless commands, driven through hwb_tui.cli.main as a shell would, on a real file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from hwb_tui.commands import users as users_command
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.models import DEACTIVATED, ProvisioningRun, User
from hwb_tui.i18n import set_language
from tests import builders as b

HERE, THERE = "6612001", "6612002"
SPEC_FIELDS = {"username", "kind", "surname", "forename", "school", "status", "source", "upn",
               "staff_code", "deactivated_at", "deactivation_reason"}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    b.cli_env(monkeypatch, url)
    yield url
    set_language("en")


@pytest.fixture
def run(db_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `hwb-tui ARGS...` as `login`; returns (exit status, stdout, stderr)."""

    def _run(*args: str, login: str = "admin") -> tuple[int, str, str]:
        return b.run_cli(capsys, *args, login=login, monkeypatch=monkeypatch)

    return _run


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    with s.write() as session:
        b.school(session, HERE, "Ysgol Gymraeg Aberystwyth")
        b.school(session, THERE, "Ysgol y Graig")
        b.operator(session, "admin")
        b.operator(session, "champion", role="digital-champion", schools=(HERE,))
        b.user(session, "Jones", "Siân", school=HERE)
        b.user(session, "Llywelyn", "Llŷr", school=HERE, kind="learner",
               upn=b.learner_upn(HERE, 1), year_group=9)
        b.user(session, "Evans", "Gwenllïan", school=THERE, kind="ite")
        b.user(session, "O'Brien", "Dafydd", school=THERE, status=DEACTIVATED,
               deactivated_at=datetime(2026, 1, 10, 9, 0, tzinfo=UTC))
    yield s
    s.dispose()


def test_users_list_json_has_the_spec_fields(store: Store, run: Run) -> None:
    code, out, _ = run("users", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 4
    for row in rows:
        assert SPEC_FIELDS <= set(row)
    by_name = {r["username"]: r for r in rows}
    learner = by_name["LlywelynL@hwbcymru.net"]
    assert learner == {**learner, "kind": "learner", "surname": "Llywelyn", "forename": "Llŷr",
                       "school": HERE, "status": "active", "source": "mis",
                       "upn": b.learner_upn(HERE, 1), "staff_code": None,
                       "deactivated_at": None, "deactivation_reason": None}
    gone = by_name["OBrienD@hwbcymru.net"]
    assert gone["status"] == "deactivated" and gone["source"] == "non-mis"
    assert gone["deactivated_at"].startswith("2026-01-10T09:00:00")
    assert by_name["EvansG@hwbcymru.net"]["kind"] == "ite"


def test_users_list_filters(store: Store, run: Run) -> None:
    def names(*args: str) -> set[str]:
        code, out, _ = run("users", "list", "--json", *args)
        assert code == 0
        return {r["username"] for r in json.loads(out)}

    assert names("--status", "deactivated") == {"OBrienD@hwbcymru.net"}
    assert names("--status", "active", "--school", THERE) == {"EvansG@hwbcymru.net"}
    assert names("--kind", "learner") == {"LlywelynL@hwbcymru.net"}
    assert names("--search", "sian") == {"JonesS@hwbcymru.net"}
    assert names("--search", "GWENLLIAN") == {"EvansG@hwbcymru.net"}


def test_users_list_streams_every_row_once_across_pages(store: Store, run: Run,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with store.write() as s:
        for i in range(9):
            b.user(s, "Parry", f"Ann{i}")
    monkeypatch.setattr(users_command, "PAGE", 2)
    code, out, _ = run("users", "list", "--json")
    assert code == 0
    usernames = [r["username"] for r in json.loads(out)]
    assert len(usernames) == len(set(usernames)) == 13
    code, out, _ = run("users", "list")
    assert out.count("@hwbcymru.net") == 13


def test_champion_lists_only_their_school(store: Store, run: Run) -> None:
    code, out, _ = run("users", "list", "--json", login="champion")
    assert code == 0
    assert {r["school"] for r in json.loads(out)} == {HERE}
    code, out, err = run("users", "list", "--school", THERE, login="champion")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1


def test_users_list_csv_neutralises_formula_cells(store: Store, run: Run) -> None:
    with store.write() as s:
        b.user(s, "=HYPERLINK(\"http://x\")Jones", "+Ann")
        b.user(s, "-Smith", "@Bob")
    code, out, _ = run("users", "list", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6 and SPEC_FIELDS <= set(rows[0])
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c and c[0] in "=+-@"], cells
    assert "'=HYPERLINK(\"http://x\")Jones" in cells
    assert "'+Ann" in cells and "'-Smith" in cells and "'@Bob" in cells


def test_table_output_shows_hostile_names_literally(store: Store, run: Run) -> None:
    with store.write() as s:
        u = b.user(s, "[bold red]Jones[/]", "Ann")
        # a name that reached the database with an escape sequence (older data, raw SQL)
        u.forename = "Bob\x1b[2J\x07"
        s.add(u)
    code, out, _ = run("users", "list", "--search", "bold")
    assert code == 0
    assert "[bold red]Jones[/], Bob[2J" in out
    assert "\x1b" not in out and "\x07" not in out


def test_users_show_gives_the_user_and_its_history(store: Store, run: Run) -> None:
    assert run("users", "deactivate", "JonesS@hwbcymru.net")[0] == 0
    code, out, _ = run("users", "show", "JonesS@hwbcymru.net", "--json")
    assert code == 0
    data = json.loads(out)
    assert SPEC_FIELDS <= set(data)
    assert data["status"] == "deactivated" and data["deactivated_by"] == "admin"
    assert [(e["action"], e["actor"]) for e in data["audit"]] == [("deactivate", "admin")]
    code, out, _ = run("users", "show", "jonesS@hwbcymru.net")
    assert code == 0 and "Siân" in out and "deactivate" in out


def test_users_show_outside_scope_is_not_found(store: Store, run: Run) -> None:
    code, out, err = run("users", "show", "EvansG@hwbcymru.net", login="champion")
    assert code == 1 and out == ""
    assert "EvansG@hwbcymru.net" in err and len(err.strip().splitlines()) == 1


def test_add_deactivate_activate_through_the_cli(store: Store, run: Run) -> None:
    code, out, _ = run("users", "add", "--kind", "governor", "--school", HERE,
                       "--surname", "Jones", "--forename", "Sioned", "--lifetime", "3m")
    assert code == 0 and "JonesS2@hwbcymru.net" in out
    assert run("users", "deactivate", "JonesS2@hwbcymru.net")[0] == 0
    code, _, err = run("users", "deactivate", "JonesS2@hwbcymru.net", login="champion")
    assert code == 1 and "admin" in err  # already deactivated by admin
    assert run("users", "activate", "JonesS2@hwbcymru.net", login="champion")[0] == 0
    with store.read() as s:
        u = s.exec(select(User).where(User.username == "JonesS2@hwbcymru.net")).one()
    assert u.status == "active" and u.kind == "governor"


def test_cli_refuses_mis_accounts_and_uninformed_ite(store: Store, run: Run) -> None:
    code, _, err = run("users", "deactivate", "LlywelynL@hwbcymru.net")
    assert code == 1 and "MIS" in err
    code, _, err = run("users", "deactivate", "EvansG@hwbcymru.net")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert run("users", "deactivate", "EvansG@hwbcymru.net", "--informed")[0] == 0


def test_unknown_login_is_refused_in_one_line(store: Store, run: Run) -> None:
    for args in (["users", "list"], ["users", "show", "JonesS@hwbcymru.net"], ["audit"],
                 ["runs"], ["users", "add", "--kind", "la", "--school", HERE, "--surname", "X",
                            "--forename", "Y"]):
        code, out, err = run(*args, login="mallory")
        assert code == 1, args
        assert out == ""
        assert err.count("\n") == 1 and "mallory" in err


def test_usage_errors_exit_2(store: Store, run: Run) -> None:
    for args in (["users", "list", "--status", "bogus"], ["users", "list", "--json", "--csv"],
                 ["audit", "--since", "yesterday"], ["users", "add", "--kind", "learner",
                                                     "--school", HERE, "--surname", "A",
                                                     "--forename", "B"], ["users"]):
        code, out, err = run(*args)
        assert code == 2, args
        assert err.strip() and out == ""


def test_first_operator_needs_no_record_then_only_admins_add(db_url: str, run: Run) -> None:
    code, out, _ = run("operators", "add", "first", "--role", "hwb-admin", login="nobody")
    assert code == 0 and "first" in out
    code, _, err = run("operators", "add", "second", "--role", "hwb-admin", login="nobody")
    assert code == 1 and "nobody" in err  # no operator record any more
    store = open_store(db_url)
    with store.write() as s:
        b.school(s, HERE)
    store.dispose()
    code, _, _ = run("operators", "add", "champ", "--role", "digital-champion",
                     "--school", HERE, login="first")
    assert code == 0
    code, _, err = run("operators", "add", "third", "--role", "hwb-admin", login="champ")
    assert code == 1 and len(err.strip().splitlines()) == 1  # admins only
    code, out, _ = run("operators", "list", "--json", login="first")
    ops = {o["login"]: o for o in json.loads(out)}
    assert set(ops) == {"first", "champ"}
    assert ops["champ"]["schools"] == [HERE] and ops["first"]["all_schools"] is True
    assert run("operators", "disable", "champ", login="first")[0] == 0
    code, out, _ = run("audit", login="first")
    assert code == 0 and "operator_disable" in out  # the longest action word, whole (not cut)


def test_audit_lists_events_in_scope_and_since(store: Store, run: Run) -> None:
    assert run("users", "deactivate", "JonesS@hwbcymru.net")[0] == 0
    assert run("users", "deactivate", "EvansG@hwbcymru.net", "--informed")[0] == 0
    code, out, _ = run("audit", "--json")
    events = json.loads(out)
    assert {(e["action"], e["username"]) for e in events} >= {
        ("deactivate", "JonesS@hwbcymru.net"), ("deactivate", "EvansG@hwbcymru.net"),
        ("ite_informed", "EvansG@hwbcymru.net")}
    code, out, _ = run("audit", "--json", login="champion")
    assert {e["school"] for e in json.loads(out)} == {HERE}
    code, out, _ = run("audit", "--json", "--since", "2999-01-01")
    assert json.loads(out) == []
    code, out, _ = run("audit")
    assert code == 0 and "JonesS@hwbcymru.net" in out


def test_runs_newest_first_in_scope(store: Store, run: Run) -> None:
    with store.write() as s:
        for day, school in ((1, HERE), (3, THERE), (2, HERE)):
            s.add(ProvisioningRun(started_at=datetime(2026, 11, day, 2, 0, tzinfo=UTC),
                                  school=school, actor="provisioning-client",
                                  files=json.dumps([f"{school}-learners.csv"]),
                                  sha256=json.dumps(["00"]), format="sims-learners",
                                  as_of=datetime(2026, 11, day).date(), outcome="applied",
                                  updated=day))
    code, out, _ = run("runs", "--json")
    runs = json.loads(out)
    assert [r["updated"] for r in runs] == [3, 2, 1]
    assert runs[0]["files"] == [f"{THERE}-learners.csv"]
    code, out, _ = run("runs", "--json", login="champion")
    assert [r["updated"] for r in json.loads(out)] == [2, 1]
    code, out, _ = run("runs")
    assert code == 0 and "sims-learners" in out


def test_welsh_output_for_a_welsh_operator(store: Store, run: Run) -> None:
    code, out, _ = run("--lang", "cy", "users", "list")
    assert code == 0 and "Enw defnyddiwr" in out


def test_a_username_never_changes_when_the_name_changes(store: Store, run: Run,
                                                        tmp_path: Path) -> None:
    header = ("UPN,Legal Surname,Legal Forename,Admission Number,Date of Admission,"
              "Date of Leaving,Year,Reg")
    upn = b.learner_upn(HERE, 5)
    first, renamed = tmp_path / f"{HERE}-a.csv", tmp_path / f"{HERE}-b.csv"
    first.write_text(f"{header}\n{upn},Pritchard,Siân,A1,01/09/2022,,9,9A\n", encoding="utf-8")
    renamed.write_text(f"{header}\n{upn},Llywelyn-Jones,Siwan,A1,01/09/2022,,9,9A\n",
                       encoding="utf-8")
    assert run("provision", str(first), "--school", HERE)[0] == 0
    assert run("provision", str(renamed), "--school", HERE)[0] == 0
    code, out, _ = run("users", "list", "--json", "--search", upn)
    (learner,) = json.loads(out)
    assert (learner["surname"], learner["forename"]) == ("Llywelyn-Jones", "Siwan")
    assert learner["username"] == "PritchardS@hwbcymru.net"


@pytest.mark.parametrize("lang", ["en", "cy"])
@pytest.mark.parametrize("command", [[], ["users"], ["users", "list"], ["users", "show"],
                                     ["users", "add"], ["users", "deactivate"],
                                     ["users", "activate"], ["audit"], ["runs"], ["operators"],
                                     ["operators", "add"], ["operators", "list"], ["demo"]])
def test_help_works_in_both_languages(run: Run, lang: str, command: list[str]) -> None:
    code, out, err = run("--lang", lang, *command, "--help")
    assert code == 0, err
    assert ("defnydd" if lang == "cy" else "usage") in out.lower()
