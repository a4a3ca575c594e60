"""The school register: add, import, close, list, show — rules, scope, audit, and what a closed
or unregistered school refuses. Through the core on SQLite and PostgreSQL, and through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from hwb_tui.core import accounts, operators, schools
from hwb_tui.core.db import LATEST, Store, open_store
from hwb_tui.core.errors import (
    InvalidDfES,
    InvalidValue,
    NotPermitted,
    SchoolClosed,
    SchoolExists,
    SchoolNotFound,
)
from hwb_tui.core.models import AuditEvent, School, User
from hwb_tui.provisioning import ProvisionOptions, provision
from hwb_tui.provisioning.register import read_register
from tests import builders as b
from tests.safety.test_hostile_input import db_digest

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
REGISTER_HEADER = "dfes,name_en,name_cy,la\n"


def seed(store: Store) -> None:
    with store.write() as s:
        b.school(s, "6612001", "Ysgol Gymraeg Aberystwyth")
        b.operator(s, "admin")
        b.operator(s, "listed", schools=("6612001",))
        b.operator(s, "champion", role="digital-champion", schools=("6612001",))
        b.user(s, "Jones", "Siân")


def register_events(store: Store) -> list[tuple[str, str | None, str]]:
    with store.read() as s:
        rows = s.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("school_"))
                      .order_by(col(AuditEvent.id))).all()
        return [(e.action, e.school, e.actor) for e in rows]


# ---- the core ----------------------------------------------------------------------------------

@pytest.fixture
def register(any_store: Store) -> Store:
    seed(any_store)
    return any_store


def test_add_is_audited_and_the_la_comes_from_the_number(register: Store) -> None:
    admin = b.actor(register, "admin")
    with register.write() as s:
        schools.add_school(s, admin, "6812003", "Cardiff High", "Ysgol Uwchradd Caerdydd",
                           la="681")
    with register.read() as s:
        school = s.get(School, "6812003")
        assert school is not None
        assert (school.name, school.name_cy, school.la_number) == (
            "Cardiff High", "Ysgol Uwchradd Caerdydd", 681)
    assert register_events(register) == [("school_add", "6812003", "admin")]


@pytest.mark.parametrize("value", ["661200", "66120011", "6992001", "6592001", "66a2001",
                                   "６６１２００１", "", "661 2001"])
def test_bad_dfes_numbers_are_refused(register: Store, value: str) -> None:
    admin = b.actor(register, "admin")
    before = db_digest(register)
    with pytest.raises(InvalidDfES) as refused, register.write() as s:
        schools.add_school(s, admin, value, "Name", "Enw")
    message = refused.value.message()
    assert "\n" not in message and "DfES" in message
    assert db_digest(register) == before


def test_la_must_agree_with_the_number(register: Store) -> None:
    admin = b.actor(register, "admin")
    for la in ("662", "700", "Atlantis"):
        with pytest.raises(InvalidValue), register.write() as s:
            schools.add_school(s, admin, "6612002", "Name", "Enw", la=la)
    with register.write() as s:  # an authority's name is accepted when it is one of Wales's
        schools.add_school(s, admin, "6612002", "Name", "Enw", la="Gwynedd")


def test_a_number_registered_twice_is_refused(register: Store) -> None:
    admin = b.actor(register, "admin")
    with pytest.raises(SchoolExists), register.write() as s:
        schools.add_school(s, admin, "6612001", "Other", "Arall")


@pytest.mark.parametrize("login", ["listed", "champion"])
def test_only_an_admin_of_all_schools_changes_the_register(register: Store, login: str) -> None:
    actor = b.actor(register, login)
    before = db_digest(register)
    entry = schools.Entry("6612009", "New", "Newydd")
    for change in (
        lambda s: schools.add_school(s, actor, "6612009", "New", "Newydd"),
        lambda s: schools.import_register(s, actor, [entry]),
        lambda s: schools.close_school(s, actor, "6612001"),
    ):
        with pytest.raises(NotPermitted), register.write() as s:
            change(s)
    assert db_digest(register) == before


def test_reimport_updates_names_adds_and_never_removes(register: Store) -> None:
    admin = b.actor(register, "admin")
    first = [schools.Entry("6612001", "Ysgol Gymraeg Aberystwyth", "Ysgol Gymraeg Aberystwyth"),
             schools.Entry("6612002", "Penglais School", "Ysgol Penglais")]
    with register.write() as s:
        result = schools.import_register(s, admin, first)
    assert [c.value for _, c in result.changes] == ["unchanged", "added"]
    events = register_events(register)
    with register.write() as s:
        again = schools.import_register(s, admin, first)
    assert [c.value for _, c in again.changes] == ["unchanged", "unchanged"]
    assert register_events(register) == events  # idempotent: nothing recorded twice
    renamed = [schools.Entry("6612002", "Ysgol Penglais School", "Ysgol Penglais")]
    with register.write() as s:
        schools.import_register(s, admin, renamed)
    with register.read() as s:
        assert {x.dfes: x.name for x in s.exec(select(School)).all()} == {
            "6612001": "Ysgol Gymraeg Aberystwyth", "6612002": "Ysgol Penglais School"}
    assert register_events(register)[-1] == ("school_rename", "6612002", "admin")


def test_a_list_without_welsh_names_keeps_the_registered_ones(register: Store) -> None:
    admin = b.actor(register, "admin")
    with register.write() as s:
        schools.import_register(s, admin, [schools.Entry("6612001", "Aberystwyth Welsh School",
                                                         None),
                                           schools.Entry("6612005", "New School", None)])
    with register.read() as s:
        kept, new = s.get(School, "6612001"), s.get(School, "6612005")
        assert kept is not None and new is not None
        assert (kept.name, kept.name_cy) == ("Aberystwyth Welsh School",
                                             "Ysgol Gymraeg Aberystwyth")
        assert new.name_cy == "New School"


def test_a_closed_school_refuses_new_users_operators_and_runs(register: Store,
                                                               tmp_path: Path) -> None:
    admin = b.actor(register, "admin")
    with register.write() as s:
        schools.close_school(s, admin, "6612001")
    assert register_events(register)[-1] == ("school_close", "6612001", "admin")
    before = db_digest(register)
    with pytest.raises(SchoolClosed), register.write() as s:
        accounts.add_user(s, admin, kind="governor", school="6612001", surname="Newydd",
                          forename="Nia")
    with pytest.raises(SchoolClosed), register.write() as s:
        operators.add_operator(s, admin, "newchampion", "digital-champion", ["6612001"])
    with pytest.raises(SchoolClosed), register.write() as s:
        schools.close_school(s, admin, "6612001")
    assert db_digest(register) == before
    report = provision(register, [SAMPLES / "6612001-learners.csv"], None,
                       ProvisionOptions(as_of=None))
    [result] = report.schools
    assert (report.exit_code, result.outcome) == (1, "rejected")
    assert result.message is not None and "closed" in result.message
    with register.read() as s:
        # its users stay, untouched; the refused run is recorded, and nothing else
        assert [u.surname for u in s.exec(select(User)).all()] == ["Jones"]


def test_unregistered_school_says_how_to_register_it(register: Store) -> None:
    admin = b.actor(register, "admin")
    for call in (
        lambda s: accounts.add_user(s, admin, kind="governor", school="6619999",
                                    surname="Newydd", forename="Nia"),
        lambda s: operators.add_operator(s, admin, "x", "digital-champion", ["6619999"]),
    ):
        with pytest.raises(SchoolNotFound) as refused, register.write() as s:
            call(s)
        for lang in ("en", "cy"):
            assert "hwb-tui schools add 6619999 --name" in refused.value.message(lang)
    assert "wedi'i chofrestru" in refused.value.message("cy")


def test_summary_counts_users_names_operators_and_the_last_good_run(register: Store) -> None:
    admin = b.actor(register, "admin")
    report = provision(register, [SAMPLES / "6612001-learners.csv"], None, ProvisionOptions())
    assert report.exit_code == 0
    with register.read() as s:
        info = schools.summary(s, admin, "6612001")
    assert info.users["governor"] == {"active": 1}
    assert info.users["learner"]["active"] > 0
    assert {o.login for o in info.operators} == {"admin", "listed", "champion"}
    assert info.last_applied_run is not None
    assert info.last_applied_run.id == report.schools[0].run_id


def test_a_champion_lists_and_shows_only_their_schools(register: Store) -> None:
    admin, champion = b.actor(register, "admin"), b.actor(register, "champion")
    with register.write() as s:
        schools.add_school(s, admin, "6612002", "Penglais School", "Ysgol Penglais")
    with register.read() as s:
        assert [x.dfes for x in schools.list_schools(s, champion)] == ["6612001"]
        assert [x.dfes for x in schools.list_schools(s, admin)] == ["6612001", "6612002"]
        assert schools.list_schools(s, admin, la=662) == []
        with pytest.raises(NotPermitted):
            schools.summary(s, champion, "6612002")


def test_an_old_database_gains_school_closing(tmp_path: Path, any_store: Store) -> None:
    """Schema 1 had no closed_at: the upgrade adds it and keeps every school."""
    seed(any_store)
    with any_store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE school DROP COLUMN closed_at"))
        conn.execute(text("ALTER TABLE school DROP COLUMN closed_by"))
        conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    any_store.dispose()
    again = open_store(any_store.url)
    try:
        assert again.migrate() == LATEST
        with again.write() as s:
            schools.close_school(s, b.actor(again, "admin"), "6612001")
        with again.read() as s:
            school = s.get(School, "6612001")
            assert school is not None and school.closed_by == "admin"
    finally:
        again.dispose()


# ---- register files ----------------------------------------------------------------------------

def test_bad_rows_are_reported_as_file_line_field(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text(REGISTER_HEADER
                    + "6612001,Ysgol Gymraeg Aberystwyth,Ysgol Gymraeg Aberystwyth,661\n"
                    + "661200,Short,Byr,\n"
                    + "6612002,,Ysgol Penglais,\n"
                    + "6992001,Not Wales,Nid Cymru,\n"
                    + "6612003,Wrong LA,ALl anghywir,662\n"
                    + "6612001,Twice,Dwywaith,\n", encoding="utf-8")
    read = read_register(path, name="register.csv")
    assert [e.dfes for e in read.entries] == ["6612001"]
    assert read.invalid_rows == 5
    assert [e.split(": ", 1)[0] for e in read.errors] == [
        "register.csv:3:dfes", "register.csv:4:name_en", "register.csv:5:dfes",
        "register.csv:6:la", "register.csv:7:dfes"]


def test_welsh_government_layout_in_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "schools.csv"
    path.write_bytes("Local Authority,School Number,School Name,Phase\r\n"
                     "Gwynedd,661/2001,Ysgol Gynradd Llanfair Pwllgwyngyll,Primary\r\n"
                     "Ceredigion,6672010,Ysgol Gymraeg Aberystwyth – Ôl-16,Secondary\r\n"
                     "Cardiff,6612011,Wrong Authority Name Is Not Checked Against LA,Primary\r\n"
                     .encode("cp1252"))
    read = read_register(path, name="schools.csv")
    assert read.layout == "welsh-government"
    assert read.errors == []
    assert [(e.dfes, e.name, e.name_cy) for e in read.entries][:2] == [
        ("6612001", "Ysgol Gynradd Llanfair Pwllgwyngyll", None),
        ("6672010", "Ysgol Gymraeg Aberystwyth – Ôl-16", None)]


def test_utf8_with_bom_and_an_unknown_layout(tmp_path: Path) -> None:
    bom = tmp_path / "bom.csv"
    bom.write_bytes(("\ufeff" + REGISTER_HEADER + "6612001,Ysgol Glan Ŵy,Ysgol Glan Ŵy,\n")
                    .encode("utf-8"))
    assert [e.name for e in read_register(bom).entries] == ["Ysgol Glan Ŵy"]
    odd = tmp_path / "odd.csv"
    odd.write_text("Name,Town\nX,Y\n")
    read = read_register(odd, name="odd.csv")
    assert read.entries == [] and len(read.errors) == 1
    assert read.errors[0].startswith("odd.csv:1: ")


# ---- the CLI -----------------------------------------------------------------------------------

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Store, Run]]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    b.cli_env(monkeypatch, url)
    store = open_store(url)
    seed(store)

    def run(login: str, *args: str) -> tuple[int, str, str]:
        return b.run_cli(capsys, *args, login=login, monkeypatch=monkeypatch)

    yield store, run
    store.dispose()


def test_cli_bad_number_is_one_line(cli: tuple[Store, Run]) -> None:
    store, run = cli
    before = db_digest(store)
    code, out, err = run("admin", "schools", "add", "12345", "--name", "X", "--name-cy", "Y")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "'12345' is not a DfES number" in err
    assert db_digest(store) == before


def test_cli_import_reports_bad_rows_and_changes_nothing(cli: tuple[Store, Run],
                                                         tmp_path: Path) -> None:
    store, run = cli
    path = tmp_path / "reg.csv"
    path.write_text(REGISTER_HEADER + "6612002,Penglais School,Ysgol Penglais,\n"
                    + "6612003,,Ysgol Heb Enw,\n")
    before = db_digest(store)
    code, out, err = run("admin", "schools", "import", str(path))
    assert code == 1 and out == ""
    assert f"{path}:3:name_en: " in err
    assert db_digest(store) == before


def test_cli_import_dry_run_then_for_real_then_again(cli: tuple[Store, Run],
                                                     tmp_path: Path) -> None:
    store, run = cli
    path = tmp_path / "reg.csv"
    path.write_text(REGISTER_HEADER + "6612002,Penglais School,Ysgol Penglais,661\n")
    before = db_digest(store)
    code, out, err = run("admin", "schools", "import", str(path), "--dry-run", "--json")
    assert code == 0, err
    assert json.loads(out)["counts"] == {"added": 1, "renamed": 0, "unchanged": 0}
    assert db_digest(store) == before
    code, out, err = run("admin", "schools", "import", str(path), "--dry-run")
    assert (code, err) == (0, "")
    assert "6612002  would add  Penglais School" in out and "dry run" in out
    assert db_digest(store) == before
    code, out, _ = run("admin", "schools", "import", str(path))
    assert code == 0 and "6612002  added  Penglais School" in out
    code, out, _ = run("admin", "schools", "import", str(path), "--json")
    assert json.loads(out)["counts"] == {"added": 0, "renamed": 0, "unchanged": 1}
    code, out, _ = run("admin", "schools", "list", "--json")
    assert [s["dfes"] for s in json.loads(out)] == ["6612001", "6612002"]


@pytest.mark.parametrize("login", ["listed", "champion", "nobody"])
def test_cli_register_changes_refused_outside_an_all_schools_admin(
        cli: tuple[Store, Run], login: str, tmp_path: Path) -> None:
    store, run = cli
    path = tmp_path / "reg.csv"
    path.write_text(REGISTER_HEADER + "6612002,Penglais School,Ysgol Penglais,\n")
    before = db_digest(store)
    for args in (["schools", "add", "6612002", "--name", "P", "--name-cy", "P"],
                 ["schools", "import", str(path)],
                 ["schools", "close", "6612001"]):
        code, out, err = run(login, *args)
        assert (code, out) == (1, ""), args
        assert err.count("\n") == 1
    assert db_digest(store) == before


def test_cli_closed_school_refuses_a_run_and_a_new_user(cli: tuple[Store, Run]) -> None:
    store, run = cli
    code, out, err = run("admin", "schools", "close", "6612001", "--json")
    assert code == 0, err
    assert json.loads(out)["closed"] is True
    code, out, err = run("admin", "provision", str(SAMPLES / "6612001-learners.csv"))
    assert code == 1
    assert "closed" in out
    code, out, err = run("admin", "users", "add", "--kind", "governor", "--school", "6612001",
                         "--surname", "Newydd", "--forename", "Nia")
    assert code == 1 and "closed" in err
    code, out, err = run("admin", "schools", "show", "6612001", "--json")
    shown = json.loads(out)
    assert shown["closed"] and shown["users"] == {"governor": {"active": 1}}


def test_cli_unregistered_school_in_welsh(cli: tuple[Store, Run]) -> None:
    _, run = cli
    code, _, err = run("admin", "--lang", "cy", "users", "add", "--kind", "governor",
                       "--school", "6619999", "--surname", "Newydd", "--forename", "Nia")
    assert code == 1
    assert "wedi'i chofrestru" in err and "hwb-tui schools add 6619999" in err


def test_cli_list_csv_and_la_filter(cli: tuple[Store, Run]) -> None:
    _, run = cli
    assert run("admin", "schools", "add", "6812003", "--name", "=Cardiff High",
               "--name-cy", "Ysgol Uwchradd Caerdydd")[0] == 0
    code, out, _ = run("admin", "schools", "list", "--la", "681", "--csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("dfes,name,name_cy,la_number")
    assert len(lines) == 2 and lines[1].startswith("6812003,'=Cardiff High,")
    code, _, err = run("admin", "schools", "list", "--la", "700")
    assert code == 2
