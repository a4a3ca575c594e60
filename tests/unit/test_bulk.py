"""Bulk changes: a file of usernames or a marked set, each row checked as one by one would be."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from hwb_tui.core import accounts, bulk
from hwb_tui.core.bulk import BulkAction, Outcome, Reason, Target
from hwb_tui.core.db import Store
from hwb_tui.core.errors import BadFile, OperatorDisabled
from hwb_tui.core.models import ACTIVE, DEACTIVATED, AuditEvent, Operator, User
from hwb_tui.provisioning.userlists import parse_usernames
from tests import builders as b
from tests.safety.test_hostile_input import db_digest

HOME, AWAY = "6612001", "6612002"
Run = Callable[..., tuple[int, str, str]]


def _seed(store: Store) -> dict[str, User]:
    made: dict[str, User] = {}
    with store.write() as s:
        b.two_schools(s, HOME, AWAY)
        b.operator(s, "other", role="digital-champion", schools=(HOME,))
        for key, user in {
            "gov1": b.user(s, "Gov", "Ann"),
            "gov2": b.user(s, "Gov", "Bryn"),
            "ite1": b.user(s, "Ite", "Cari", kind="ite"),
            "ite2": b.user(s, "Ite", "Dafydd", kind="ite"),
            "former": b.user(s, "Former", "Elin", status=DEACTIVATED,
                             deactivated_at=datetime.now(UTC).replace(microsecond=0)),
            "learner": b.user(s, "Learner", "Ffion", kind="learner",
                              upn=b.learner_upn(HOME, 1), year_group=9),
            "staff": b.user(s, "Staff", "Gwen", kind="staff", staff_code="GWN"),
            "away": b.user(s, "Away", "Huw", school=AWAY),
        }.items():
            made[key] = user
    return made


def _status(store: Store, user: User) -> str:
    with store.read() as s:
        found = s.get(User, user.id)
        assert found is not None
        return found.status


# ---- the core -----------------------------------------------------------------------------------

def test_a_marked_set_one_transaction_each_and_a_lost_race(any_store: Store) -> None:
    """Two governors and two ITE students; another operator deactivates one governor after
    they were marked: that one is reported (who won, plainly), the other three are changed."""
    users = _seed(any_store)
    actor = b.actor(any_store, "champion")
    marked = [users[k] for k in ("gov1", "gov2", "ite1", "ite2")]
    targets = [Target(user_id=u.id, version=u.version) for u in marked]
    with any_store.write() as s:  # the race: someone else gets there first
        accounts.deactivate(s, b.actor(any_store, "other"), users["gov2"].id or 0)
    results = list(bulk.change_many(any_store, actor, BulkAction.DEACTIVATE, targets,
                                    informed=True))
    assert [r.outcome for r in results] == [Outcome.CHANGED, Outcome.NOT_CHANGED,
                                            Outcome.CHANGED, Outcome.CHANGED]
    lost = results[1]
    assert lost.reason is Reason.ALREADY_DEACTIVATED and "other" in lost.message()
    assert lost.username == users["gov2"].username
    assert bulk.summarise(results) == bulk.Summary(changed=3, not_changed=1)
    with any_store.read() as s:
        events = s.exec(select(AuditEvent).where(col(AuditEvent.actor) == "champion")).all()
        informed = {u.username for u in s.exec(select(User).where(
            col(User.ite_informed_by) == "champion")).all()}
    # each ITE student's informing is recorded on its own, with the deactivation
    assert sorted(e.action for e in events) == ["deactivate"] * 3 + ["ite_informed"] * 2
    assert informed == {users["ite1"].username, users["ite2"].username}


def test_ite_students_are_not_deactivated_unless_informed(any_store: Store) -> None:
    users = _seed(any_store)
    actor = b.actor(any_store, "champion")
    before = db_digest(any_store)
    results = list(bulk.change_many(any_store, actor, BulkAction.DEACTIVATE,
                                    [Target(user_id=users["ite1"].id)]))
    assert results[0].reason is Reason.ITE_NOT_INFORMED
    assert db_digest(any_store) == before


def test_who_can_be_marked_and_what_a_set_is_offered(store: Store) -> None:
    users = _seed(store)
    champion = b.actor(store, "champion")
    today = datetime.now(UTC).date()
    assert [k for k, u in users.items() if bulk.markable(champion, u)] == [
        "gov1", "gov2", "ite1", "ite2", "former"]
    assert bulk.actions_for([users["gov1"]], today) == [BulkAction.DEACTIVATE,
                                                       BulkAction.EXTEND]
    assert bulk.actions_for([users["former"]], today) == [BulkAction.ACTIVATE]
    assert bulk.actions_for([users["gov1"], users["former"]], today) == list(BulkAction)
    assert bulk.needs_informed(BulkAction.DEACTIVATE, users.values(), today) == [
        users["ite1"], users["ite2"]]
    assert bulk.needs_informed(BulkAction.EXTEND, users.values(), today) == []


def test_an_operator_disabled_mid_way_stops_with_the_rows_done_kept(store: Store) -> None:
    users = _seed(store)
    actor = b.actor(store, "champion")
    results = bulk.change_many(store, actor, BulkAction.EXTEND,
                               [Target(user_id=users["gov1"].id),
                                Target(user_id=users["gov2"].id)], lifetime="3m")
    assert next(results).outcome is Outcome.CHANGED
    with store.write() as s:
        op = s.get(Operator, "champion")
        assert op is not None
        op.disabled = True
    with pytest.raises(OperatorDisabled):
        next(results)


def test_the_usernames_file(tmp_path: Path) -> None:
    text = "Name,USERNAME,Note\nA,GovA@hwbcymru.net,x\n\n,  ,\"multi\nline\"\nB,GovB@hwbcymru.net\n"
    for data in (text.encode(), codecs.BOM_UTF8 + text.encode(), text.encode("cp1252")):
        rows = parse_usernames(data, "f.csv")
        assert [(r.line, r.username) for r in rows] == [
            (2, "GovA@hwbcymru.net"), (5, ""), (6, "GovB@hwbcymru.net")]
    with pytest.raises(BadFile) as err:
        parse_usernames(b"name,email\nA,b\n", "f.csv")
    assert err.value.message("en") == ('f.csv:1: no "username" column in the header row '
                                       "(found: name, email)")
    assert err.value.message("cy").startswith('f.csv:1: dim colofn "username"')
    with pytest.raises(BadFile) as err:
        parse_usernames(b"", "f.csv")
    assert err.value.message("en").startswith("f.csv:1: the file is empty")


# ---- the CLI ------------------------------------------------------------------------------------

@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    def _run(login: str, *args: str) -> tuple[int, str, str]:
        return b.run_cli(capsys, *args, login=login, monkeypatch=monkeypatch)

    return _run


def _file(tmp_path: Path, *usernames: str, header: str = "username,note",
          encoding: str = "utf-8") -> Path:
    path = tmp_path / "cohort.csv"
    rows = [header] + [f"{u},seen" for u in usernames]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode(encoding))
    return path


def _rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def test_cli_from_file_good_rows(cli_store: Store, cli: Run,
        tmp_path: Path) -> None:
    users = _seed(cli_store)
    path = _file(tmp_path, users["gov1"].username, users["gov2"].username.lower())
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(path))
    assert code == 0, err
    rows = _rows(out)
    assert [(r["line"], r["username"], r["action"], r["outcome"], r["reason"]) for r in rows] == [
        ("2", users["gov1"].username, "deactivate", "changed", ""),
        ("3", users["gov2"].username, "deactivate", "changed", "")]
    assert err.strip() == "2 changed, 0 not changed."
    assert _status(cli_store, users["gov1"]) == _status(cli_store, users["gov2"]) == DEACTIVATED
    # and back again, by the same file; then a new lifetime for both
    code, out, err = cli("champion", "users", "activate", "--from-file", str(path), "--json")
    assert code == 0, err
    assert [r["outcome"] for r in json.loads(out)] == ["changed", "changed"]
    code, out, err = cli("champion", "users", "extend", "--from-file", str(path),
                         "--lifetime", "6m")
    assert code == 0, err
    assert _status(cli_store, users["gov1"]) == ACTIVE


def test_cli_from_file_refusals_each_with_its_reason(cli_store: Store, cli: Run,
                                                    tmp_path: Path) -> None:
    users = _seed(cli_store)
    path = _file(tmp_path, users["gov1"].username, "NobodyX@hwbcymru.net",
                 users["learner"].username, users["staff"].username, users["away"].username,
                 users["ite1"].username, "=HYPERLINK(\"http://x\")", users["gov1"].username, "")
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(path), "--json")
    assert code == 1, err
    rows = json.loads(out)
    assert [(r["line"], r["outcome"], r["reason"]) for r in rows] == [
        (2, "changed", None),
        (3, "not-changed", "not-found"),
        (4, "not-changed", "managed-by-mis"),
        (5, "not-changed", "managed-by-mis"),
        (6, "not-changed", "not-found"),  # another school's user: not in the champion's schools
        (7, "not-changed", "ite-not-informed"),
        (8, "not-changed", "not-found"),
        (9, "not-changed", "duplicate"),
        (10, "not-changed", "no-username"),
    ]
    assert "MIS" in rows[2]["message"] and "line 2" in rows[7]["message"]
    assert err.strip() == "1 changed, 8 not changed."
    assert _status(cli_store, users["away"]) == ACTIVE
    assert _status(cli_store, users["ite1"]) == ACTIVE


def test_cli_from_file_neutralises_a_formula_cell(cli_store: Store, cli: Run,
                                                 tmp_path: Path) -> None:
    _seed(cli_store)
    path = _file(tmp_path, "=cmd|' /C calc'!A0", "+SUM(1)", "@x")
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(path))
    assert code == 1, err
    usernames = [r["username"] for r in _rows(out)]
    assert usernames == ["'=cmd|' /C calc'!A0", "'+SUM(1)", "'@x"]
    assert all(not line.split(",")[1].startswith(("=", "+", "@", '"=')) for line in
               out.splitlines()[1:])


def test_cli_from_file_informed_and_dry_run(cli_store: Store, cli: Run,
        tmp_path: Path) -> None:
    users = _seed(cli_store)
    path = _file(tmp_path, users["ite1"].username, users["ite2"].username,
                 users["gov1"].username, encoding="cp1252")
    before = db_digest(cli_store)
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(path),
                         "--informed", "--dry-run")
    assert code == 0, err
    assert [r["outcome"] for r in _rows(out)] == ["would-change"] * 3
    assert "Nothing was changed" in err
    assert db_digest(cli_store) == before
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(path),
                         "--informed")
    assert code == 0, err
    with cli_store.read() as s:
        ite = s.get(User, users["ite1"].id)
        assert ite is not None and ite.ite_informed_by == "champion"


def test_cli_from_file_bad_files_are_one_line_and_change_nothing(cli_store: Store, cli: Run,
                                                                tmp_path: Path) -> None:
    users = _seed(cli_store)
    before = db_digest(cli_store)
    no_column = _file(tmp_path, users["gov1"].username, header="email,note")
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(no_column))
    assert (code, out) == (1, "")
    assert err.splitlines() == [f'hwb-tui: {no_column}:1: no "username" column in the header '
                                "row (found: email, note)"]
    code, out, err = cli("champion", "users", "deactivate", "--from-file",
                         str(tmp_path / "missing.csv"))
    assert code == 1 and out == "" and len(err.splitlines()) == 1 and "missing.csv" in err
    code, out, err = cli("champion", "users", "deactivate", "--from-file", str(tmp_path))
    assert code == 1 and len(err.splitlines()) == 1 and "regular" in err
    # USERNAME and --from-file together, or neither: a usage error
    code, out, err = cli("champion", "users", "deactivate", users["gov1"].username,
                         "--from-file", str(no_column))
    assert code == 2 and len(err.splitlines()) == 1
    code, out, err = cli("champion", "users", "deactivate")
    assert code == 2 and len(err.splitlines()) == 1
    assert db_digest(cli_store) == before
