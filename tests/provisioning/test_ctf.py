"""The Common Transfer File through the one provisioning path, and its hardened XML parsing."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED
from hwb_tui.provisioning.ctf import read_ctf, year_of_ncyear
from tests.provisioning.conftest import OTHER, SCHOOL, run, runs, table_dump, upn, users
from tests.provisioning.standard import Pupil, ctf

TODAY = date(2026, 11, 30)
A = (SCHOOL[:3], SCHOOL[3:])
B = (OTHER[:3], OTHER[3:])


def pupil(serial: int, surname: str = "", forename: str = "Siân", *, year: str = "9",
          entry: str = "2022-09-01", leaving: str = "", at: tuple[str, str] = A,
          dfes: str = SCHOOL) -> Pupil:
    return Pupil(upn(serial, dfes), surname or f"Llywelyn{serial}", forename, year,
                 [("661", "1999", "2015-09-01", "2022-07-20"), (*at, entry, leaving)])


def write_ctf(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_creates_the_source_schools_learners(any_schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "CTF_6612001.xml", ctf(SCHOOL, [
        pupil(1, "Ŵyn-Prŷs", "Gwenllïan", year="R"), pupil(2, year="11"),
        pupil(3, year="N2")]))
    report = run(any_schools, [f], school=None, as_of=TODAY)
    assert report.exit_code == 0, report.schools[0].errors
    assert [(s.school, s.counts["created"]) for s in report.schools] == [(SCHOOL, 3)]
    got = users(any_schools)
    first = got[upn(1)]
    assert (first.surname, first.forename, first.year_group, first.school) == (
        "Ŵyn-Prŷs", "Gwenllïan", 0, SCHOOL)
    assert first.admission_date == date(2022, 9, 1)
    assert got[upn(2)].year_group == 11 and got[upn(3)].year_group is None
    assert runs(any_schools)[0].format == "ctf"
    again = run(any_schools, [f], school=None, as_of=TODAY)
    assert all(v == 0 for v in again.schools[0].counts.values())


def test_the_source_schools_leaving_date_makes_a_leaver(schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [pupil(1), pupil(2)]))
    run(schools, [f], school=None, as_of=date(2026, 10, 1))
    f = write_ctf(tmp_path, "b.xml", ctf(SCHOOL, [pupil(1, leaving="2026-10-23")]))
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.schools[0].counts["deactivated"] == 1
    assert report.schools[0].deactivations[0]["where"] == f"{f}:13"
    got = users(schools)
    assert (got[upn(1)].status, got[upn(1)].leaving_date) == (DEACTIVATED, date(2026, 10, 23))
    # a partial CTF (the usual leavers' file) says nothing of the learners it leaves out
    assert got[upn(2)].status == ACTIVE and report.schools[0].counts["not_in_export"] == 0


def test_absent_from_a_full_ctf_is_not_in_export_never_a_leaver(schools: Store,
                                                                 tmp_path: Path) -> None:
    run(schools, [write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [pupil(1), pupil(2)]))],
        school=None, as_of=TODAY)
    f = write_ctf(tmp_path, "b.xml", ctf(SCHOOL, [pupil(1)], qualifier="full"))
    report = run(schools, [f], school=None, as_of=TODAY)
    assert (report.schools[0].counts["not_in_export"], report.schools[0].counts[
        "deactivated"]) == (1, 0)
    assert users(schools)[upn(2)].status == ACTIVE


def test_a_learner_moves_between_schools_by_upn(any_schools: Store, tmp_path: Path) -> None:
    run(any_schools, [write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [pupil(1)]))], school=None,
        as_of=date(2026, 9, 10))
    before = users(any_schools)[upn(1)]
    # school B's CTF lists the learner (admitted there after leaving A)
    moving = Pupil(upn(1), "Llywelyn1", "Siân", "9",
                   [(*A, "2022-09-01", "2026-10-23"), (*B, "2026-11-02", "")])
    report = run(any_schools, [write_ctf(tmp_path, "b.xml", ctf(OTHER, [moving]))],
                 school=None, as_of=TODAY)
    assert [(s.school, s.counts["moved"]) for s in report.schools] == [(OTHER, 1)]
    moved = users(any_schools)[upn(1)]
    assert (moved.username, moved.school, moved.status) == (before.username, OTHER, ACTIVE)
    # A's leavers' CTF arriving after the move does not deactivate B's learner
    late = run(any_schools, [write_ctf(tmp_path, "c.xml", ctf(SCHOOL, [pupil(
        1, leaving="2026-10-23")]))], school=None, as_of=TODAY)
    assert late.schools[0].notices[0]["what"] == "moved_away"
    assert users(any_schools)[upn(1)].status == ACTIVE


def test_the_summer_rollover_defers_a_year_11_leaver(schools: Store, tmp_path: Path) -> None:
    run(schools, [write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [pupil(1, year="11")]))],
        school=None, as_of=date(2026, 6, 1))
    f = write_ctf(tmp_path, "b.xml", ctf(SCHOOL, [pupil(1, year="11", leaving="2026-07-17")]))
    report = run(schools, [f], school=None, as_of=date(2026, 7, 20))
    assert report.schools[0].counts["deferred"] == 1
    got = users(schools)[upn(1)]
    assert (got.status, got.deferred_until) == (ACTIVE, date(2026, 8, 29))
    run(schools, [f], school=None, as_of=date(2026, 8, 29))
    assert users(schools)[upn(1)].status == DEACTIVATED


def test_malformed_xml_is_file_line_element_and_changes_nothing(
        schools: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = ctf(SCHOOL, [pupil(1), pupil(2)]).decode()
    bad = good.replace("</Forename>", "</Forname>", 2)
    f = write_ctf(tmp_path, "6612001-ctf.xml", bad.encode())
    before = table_dump(schools)
    assert main(["--db", schools.url, "provision", str(f), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (school,) = data["schools"]
    assert school["school"] == SCHOOL and school["outcome"] == "rejected"
    assert school["errors"] == [f"{f}:16:Forename: not well-formed XML: mismatched tag"]
    assert table_dump(schools) == before


def test_row_errors_name_the_element(schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [
        Pupil("B661200120007", "Bad", "Check", "9"), pupil(2, year="14"),
        pupil(3, "", ""), pupil(4, leaving="23/10/2026")]))
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.schools[0].errors == [
        f"{f}:14:UPN: bad UPN check letter",
        f"{f}:27:NCyearActual: NCyearActual '14' is not a year group (R, 1 to 13, N1, N2, X)",
        f"{f}:36:Forename: required value missing",
        f"{f}:52:LeavingDate: not a date: '23/10/2026' (expected yyyy-mm-dd)",
    ]
    assert users(schools) == {}


BOMB = """<?xml version="1.0"?>
<!DOCTYPE CTfile [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<CTfile><Header><SourceSchool><LEA>661</LEA><Estab>2001</Estab></SourceSchool></Header>
<CTFpupilData><Pupil><UPN>X</UPN><Surname>&g;</Surname><Forename>A</Forename></Pupil>
</CTFpupilData></CTfile>
"""


def test_an_entity_bomb_is_refused_without_expanding(schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "6612001-bomb.xml", BOMB.encode())
    started = time.process_time()
    report = run(schools, [f], school=None, as_of=TODAY)
    # refused at the DOCTYPE, before any entity is declared (25^7 × 80 bytes never exist);
    # the bound is generous: expanding would take minutes and gigabytes
    assert time.process_time() - started < 1.0
    (school,) = report.schools
    assert school.outcome == "rejected"
    assert school.errors == [f"{f}:2:DOCTYPE: refused: a DTD or entity declaration (possibly "
                             "hostile) is not accepted in a CTF"]
    assert users(schools) == {}


@pytest.mark.parametrize("reference", [
    '<!DOCTYPE CTfile [<!ENTITY secret SYSTEM "file://{path}">]>',
    '<!DOCTYPE CTfile SYSTEM "file://{path}">',
    '<!DOCTYPE CTfile [<!ENTITY % p SYSTEM "file://{path}"> %p;]>',
])
def test_an_external_entity_is_never_read(schools: Store, tmp_path: Path,
                                          reference: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    doc = ('<?xml version="1.0"?>\n' + reference.format(path=secret) + "\n"
           "<CTfile><Header><SourceSchool><LEA>661</LEA><Estab>2001</Estab></SourceSchool>"
           "</Header><CTFpupilData><Pupil><UPN>" + upn(1) + "</UPN><Surname>&secret;</Surname>"
           "<Forename>A</Forename></Pupil></CTFpupilData></CTfile>\n")
    f = write_ctf(tmp_path, "6612001-xxe.xml", doc.encode())
    result = read_ctf(f.read_bytes(), str(f))
    assert result.export.fatal and result.export.records == []
    assert [e.render("en") for e in result.export.errors] == [
        f"{f}:2:DOCTYPE: refused: a DTD or entity declaration (possibly hostile) is not "
        "accepted in a CTF"]
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert "TOP-SECRET" not in json.dumps([s.as_dict() for s in report.schools])
    assert users(schools) == {}


def test_an_undeclared_entity_is_malformed(tmp_path: Path) -> None:
    doc = ctf(SCHOOL, [pupil(1)]).replace(b"<Surname>Llywelyn1", b"<Surname>&ent;")
    result = read_ctf(doc, "x.xml")
    assert [e.render("en") for e in result.export.errors] == [
        "x.xml:15:Surname: not well-formed XML: undefined entity"]


def test_hostile_names_are_kept_as_data(schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "a.xml", ctf(SCHOOL, [
        pupil(1, "[bold]Jones[/]", "=cmd|' /C calc'!A0"), pupil(2, "O'Brien <b>", "Smith [/]"),
        pupil(3, "Ŵyn\nJones", "@SUM(1)")]))
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.exit_code == 0, report.schools[0].errors
    got = users(schools)
    assert (got[upn(1)].surname, got[upn(1)].forename) == ("[bold]Jones[/]",
                                                           "=cmd|' /C calc'!A0")
    assert (got[upn(2)].surname, got[upn(2)].forename) == ("O'Brien <b>", "Smith [/]")
    assert (got[upn(3)].surname, got[upn(3)].forename) == ("Ŵyn Jones", "@SUM(1)")


def test_not_a_ctf_and_another_schools_ctf(schools: Store, tmp_path: Path) -> None:
    f = write_ctf(tmp_path, "6612001-x.xml", b"<?xml version='1.0'?>\n<Other><a/></Other>")
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.schools[0].errors == [
        f"{f}:2:Other: not a Common Transfer File: the root element must be CTfile"]
    g = write_ctf(tmp_path, "b.xml", ctf(OTHER, [pupil(1, dfes=OTHER)]))
    report = run(schools, [g], school=SCHOOL, as_of=TODAY)
    assert report.exit_code == 1
    assert report.schools[0].errors == [f"{g}:9:SourceSchool: this CTF is from school "
                                        f"{OTHER}, not {SCHOOL}"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings_as_for_csv(schools: Store, tmp_path: Path, encoding: str) -> None:
    text = ctf(SCHOOL, [pupil(1, "Ôwen-Hâf", "Sîân")]).decode()
    f = write_ctf(tmp_path, "noext", text.encode(encoding))  # no .xml: found by its content
    report = run(schools, [f], school=None, as_of=TODAY)
    assert report.exit_code == 0, report.schools[0].errors
    assert users(schools)[upn(1)].surname == "Ôwen-Hâf"


def test_year_codes() -> None:
    assert year_of_ncyear("R") == (True, 0) and year_of_ncyear(" 7 ") == (True, 7)
    assert year_of_ncyear("N1") == (True, None) and year_of_ncyear("X") == (True, None)
    assert year_of_ncyear("Y7")[0] is False
