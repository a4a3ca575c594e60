"""OneRoster 1.1 and 1.2 CSV sets through the one provisioning path: the same rules hold."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED
from hwb_tui.provisioning.oneroster import year_of_grade
from tests.provisioning.conftest import (
    OTHER,
    SCHOOL,
    SIMS_LEARNERS,
    Writer,
    learner_row,
    run,
    runs,
    table_dump,
    upn,
    users,
)
from tests.provisioning.standard import OneRoster

TODAY = date(2026, 11, 30)
UNREGISTERED = "6612009"


def two_schools(version: str = "1.1", mode: str = "bulk") -> OneRoster:
    s = OneRoster(version=version, mode=mode).school(SCHOOL).school(OTHER)
    s.orgs.append({"sourcedId": "la-661", "name": "Ceredigion", "type": "district",
                   "identifier": "661"})
    s.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, grades="09")
    s.student("u2", upn(2), "ap Gwilym", "Dafydd", SCHOOL, grades="KG")
    s.teacher("t1", "JON", "Jones", "Carys", SCHOOL)
    s.person("a1", "EVA", "Evans", "Huw", role="administrator", dfes=SCHOOL)
    s.person("p1", "", "Parent", "Someone", role="parent", dfes=SCHOOL)  # no account
    s.student("u3", upn(3, OTHER), "Glyndŵr", "Owain", OTHER, grades="11")
    s.person("x1", "AID", "Ifans", "Mererid", role="aide", dfes=OTHER)
    return s


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_zip_creates_every_school_in_its_own_run(any_schools: Store, tmp_path: Path,
                                                   version: str) -> None:
    export = two_schools(version).zip(tmp_path / "oneroster.zip")
    report = run(any_schools, [export], school=None, as_of=TODAY)
    assert report.exit_code == 0, [(s.errors, s.message) for s in report.schools]
    assert [(s.school, s.outcome, s.counts["created"]) for s in report.schools] == [
        (SCHOOL, "applied", 4), (OTHER, "applied", 2)]
    got = users(any_schools)
    assert (got[upn(1)].kind, got[upn(1)].school, got[upn(1)].year_group) == (
        "learner", SCHOOL, 9)
    assert got[upn(2)].year_group == 0  # KG is Reception
    assert got[upn(3, OTHER)].surname == "Glyndŵr"
    staff = got[f"{SCHOOL}/JON"]
    assert (staff.kind, staff.forename, staff.role) == ("staff", "Carys", "teacher")
    assert got[f"{SCHOOL}/EVA"].kind == "staff"
    assert got[f"{OTHER}/AID"].kind == "staff"
    assert not any(u.surname == "Parent" for u in got.values())
    assert [r.format for r in runs(any_schools)] == [f"oneroster-{version}"] * 2
    again = run(any_schools, [export], school=None, as_of=TODAY)
    assert all(v == 0 for s in again.schools for v in s.counts.values())


def test_a_folder_its_manifest_or_its_files_are_the_same_set(schools: Store,
                                                             tmp_path: Path) -> None:
    folder = two_schools().folder(tmp_path / "set")
    for given in ([folder], [folder / "manifest.csv"],
                  [folder / n for n in ("orgs.csv", "users.csv", "enrollments.csv")]):
        report = run(schools, given, school=None, as_of=TODAY, dry_run=True)
        assert [(s.school, s.outcome, s.counts["created"]) for s in report.schools] == [
            (SCHOOL, "planned", 4), (OTHER, "planned", 2)], given


def test_1_2_legal_names_win_and_roles_say_the_school(schools: Store, tmp_path: Path) -> None:
    s = OneRoster(version="1.2").school(SCHOOL).school(OTHER)
    s.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, preferred="Sia")
    s.teacher("t1", "T1", "Jones", "Carys", [SCHOOL, OTHER])  # staff at two schools
    run(schools, [s.zip(tmp_path / "or12.zip")], school=None, as_of=TODAY)
    got = users(schools)
    assert got[upn(1)].forename == "Siân"
    assert got[f"{SCHOOL}/T1"].school == SCHOOL and got[f"{OTHER}/T1"].school == OTHER


def test_tobedeleted_in_a_delta_is_a_leaver_and_absence_from_it_says_nothing(
        schools: Store, tmp_path: Path) -> None:
    run(schools, [two_schools().zip(tmp_path / "bulk.zip")], school=None, as_of=TODAY)
    delta = OneRoster(mode="delta").school(SCHOOL).school(OTHER)
    delta.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, status="tobedeleted",
                  modified="2026-11-20T10:15:00.000Z", link=False)
    report = run(schools, [delta.zip(tmp_path / "delta.zip")], school=None, as_of=TODAY)
    (only,) = report.schools
    assert (only.school, only.outcome, only.counts["deactivated"]) == (SCHOOL, "applied", 1)
    assert only.counts["not_in_export"] == 0  # a delta lists changes, not the school
    assert only.deactivations[0]["leaving_date"] == "2026-11-20"
    got = users(schools)
    assert got[upn(1)].status == DEACTIVATED
    assert got[upn(1)].leaving_date == date(2026, 11, 20)
    assert got[upn(2)].status == ACTIVE


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_enrollment_or_role_ended_is_a_leaver(schools: Store, tmp_path: Path,
                                                    version: str) -> None:
    s = OneRoster(version=version).school(SCHOOL)
    s.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, end="2026-10-23")
    s.student("u2", upn(2), "Prys", "Gwen", SCHOOL, end="2027-07-20")  # still current
    s.student("u3", upn(3), "Rhys", "Cai", SCHOOL, end="2026-10-23")
    s.link("u3", SCHOOL, role="student")  # another enrollment, not ended
    run(schools, [s.zip(tmp_path / "a.zip")], school=None, as_of=date(2026, 10, 1))
    report = run(schools, [s.zip(tmp_path / "a.zip")], school=None, as_of=TODAY)
    assert report.schools[0].counts["deactivated"] == 1
    got = users(schools)
    assert (got[upn(1)].status, got[upn(1)].leaving_date) == (DEACTIVATED, date(2026, 10, 23))
    assert got[upn(2)].status == ACTIVE and got[upn(2)].leaving_date is None
    assert got[upn(3)].status == ACTIVE


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_learner_moves_between_schools_by_upn(any_schools: Store, tmp_path: Path,
                                                version: str) -> None:
    run(any_schools, [two_schools(version).zip(tmp_path / "a.zip")], school=None, as_of=TODAY)
    before = users(any_schools)[upn(1)]
    s = two_schools(version)
    s.users = [u for u in s.users if u["sourcedId"] != "u1"]
    s.links = [e for e in s.links if e["userSourcedId"] != "u1"]
    # left school A at half term (its enrollment ended), now at school B
    s.student("u1", upn(1), "Llywelyn", "Siân", OTHER, grades="09")
    s.link("u1", SCHOOL, role="student", begin="2026-09-01", end="2026-10-23")
    report = run(any_schools, [s.zip(tmp_path / "b.zip")], school=None, as_of=TODAY)
    assert report.exit_code == 0, [s.errors for s in report.schools]
    moved = users(any_schools)[upn(1)]
    assert (moved.username, moved.school, moved.status) == (before.username, OTHER, ACTIVE)
    counts = {s.school: s.counts for s in report.schools}
    assert counts[OTHER]["moved"] == 1 and counts[SCHOOL]["deactivated"] == 0


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_summer_rollover_defers_a_year_11_leaver(schools: Store, tmp_path: Path,
                                                     version: str) -> None:
    s = OneRoster(version=version).school(SCHOOL)
    s.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, grades="11", begin="2021-09-01")
    run(schools, [s.zip(tmp_path / "a.zip")], school=None, as_of=date(2026, 6, 1))
    s = OneRoster(version=version).school(SCHOOL)
    s.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, grades="11", begin="2021-09-01",
              end="2026-07-17")
    report = run(schools, [s.zip(tmp_path / "b.zip")], school=None, as_of=date(2026, 7, 20))
    assert report.schools[0].counts["deferred"] == 1
    got = users(schools)[upn(1)]
    assert (got.status, got.deferred_until) == (ACTIVE, date(2026, 8, 29))
    report = run(schools, [s.zip(tmp_path / "b.zip")], school=None, as_of=date(2026, 8, 29))
    assert report.schools[0].counts["deactivated"] == 1
    assert users(schools)[upn(1)].status == DEACTIVATED


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_absence_from_a_bulk_set_never_deactivates(schools: Store, tmp_path: Path,
                                                   version: str) -> None:
    run(schools, [two_schools(version).zip(tmp_path / "a.zip")], school=None, as_of=TODAY)
    s = two_schools(version)
    s.users = [u for u in s.users if u["sourcedId"] not in ("u1", "t1")]
    for u in s.users:
        u["enabledUser"] = "false"  # whatever it says of the others
    report = run(schools, [s.zip(tmp_path / "b.zip")], school=None, as_of=TODAY)
    home = report.schools[0]
    assert (home.counts["deactivated"], home.counts["not_in_export"]) == (0, 2)
    got = users(schools)
    assert got[upn(1)].status == ACTIVE and got[f"{SCHOOL}/JON"].status == ACTIVE


def test_a_truncated_zip_is_refused_and_changes_nothing(schools: Store, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    whole = two_schools().zip(tmp_path / "whole.zip").read_bytes()
    cut = tmp_path / "6612001-cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    before = table_dump(schools)
    assert main(["--db", schools.url, "provision", str(cut), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (school,) = data["schools"]
    assert school["outcome"] == "rejected" and school["school"] == SCHOOL
    assert school["errors"][0].startswith(f"{cut}:0:file: not a readable zip")
    assert table_dump(schools) == before


def test_a_zip_member_cut_short_is_reported_in_the_member(schools: Store,
                                                          tmp_path: Path) -> None:
    whole = two_schools().zip(tmp_path / "whole.zip").read_bytes()
    # corrupt the users.csv data (its CRC then fails): zip!member:line:field
    at = whole.index(b"users.csv") + 40
    broken = tmp_path / "6612001-broken.zip"
    broken.write_bytes(whole[:at] + bytes(b ^ 0xFF for b in whole[at:at + 20]) + whole[at + 20:])
    report = run(schools, [broken], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert any(e.startswith(f"{broken}!") or e.startswith(f"{broken}:0:file")
               for s in report.schools for e in s.errors)
    assert users(schools) == {}


def test_row_errors_say_zip_member_line_and_field(schools: Store, tmp_path: Path) -> None:
    s = two_schools()
    s.student("u7", "B661200120007", "Bad", "Check", SCHOOL)  # wrong check letter
    s.student("u8", upn(8), "Grade", "Odd", SCHOOL, grades="P3")
    s.student("u9", upn(9), "", "Nameless", SCHOOL)
    s.student("u10", upn(10), "Nowhere", "Org", SCHOOL, orgs="org-missing", link=False)
    s.student("u11", upn(11), "District", "Org", SCHOOL, orgs="la-661", link=False)
    s.person("u12", upn(12), "Roleless", "Row", role="", dfes=SCHOOL, link=False)
    export = s.zip(tmp_path / "set.zip")
    report = run(schools, [export], school=None, as_of=TODAY)
    errors = [e for r in report.schools for e in r.errors]
    z = f"{export}!users.csv"
    assert f"{z}:9:identifier: bad UPN check letter" in errors
    assert f"{z}:10:grades: grade 'P3' has no Welsh year group (KG, 01 to 13, PK)" in errors
    assert f"{z}:11:familyName: required value missing" in errors
    assert f"{z}:12:orgSourcedIds: org 'org-missing' is not in orgs.csv" in errors
    assert f"{z}:13:orgSourcedIds: org 'la-661' is a district, not a school" in errors
    assert f"{z}:14:role: required value missing" in errors  # never silently passed by
    assert [r.outcome for r in report.schools] == ["rejected", "rejected"]
    assert users(schools) == {}
    # --skip-invalid applies the valid rows of each school
    report = run(schools, [export], school=None, as_of=TODAY, skip_invalid=True)
    assert [r.outcome for r in report.schools] == ["applied", "applied"]
    assert len(users(schools)) == 6


def test_one_school_rejected_leaves_the_others_applied(schools: Store, tmp_path: Path) -> None:
    s = two_schools().school(UNREGISTERED)
    s.student("u5", upn(5, UNREGISTERED), "Owen", "Nia", UNREGISTERED)
    s.student("u6", "", "Owen", "Bad", OTHER)
    report = run(schools, [s.zip(tmp_path / "set.zip")], school=None, as_of=TODAY)
    outcomes = {r.school: r.outcome for r in report.schools}
    assert outcomes == {SCHOOL: "applied", OTHER: "rejected", UNREGISTERED: "rejected"}
    assert report.exit_code == 1
    unknown = next(r for r in report.schools if r.school == UNREGISTERED)
    assert "schools add" in (unknown.message or "") or UNREGISTERED in (unknown.message or "")
    assert {u.school for u in users(schools).values()} == {SCHOOL}


def test_a_school_identifier_that_is_no_dfes_number_is_an_org_row_error(
        schools: Store, tmp_path: Path) -> None:
    s = two_schools()
    s.orgs.append({"sourcedId": "org-x", "type": "school", "identifier": "ABC"})
    export = s.zip(tmp_path / "set.zip")
    report = run(schools, [export], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert (f"{export}!orgs.csv:5:identifier: a school's identifier must be its DfES number"
            " (7 digits), not 'ABC'") in report.schools[0].errors


def test_school_option_takes_one_school_of_a_set(schools: Store, tmp_path: Path) -> None:
    export = two_schools().zip(tmp_path / "set.zip")
    report = run(schools, [export], school=OTHER, as_of=TODAY)
    assert [(r.school, r.counts["created"]) for r in report.schools] == [(OTHER, 2)]
    report = run(schools, [export], school="6612003", as_of=TODAY)
    assert report.exit_code == 1
    assert "school 6612003 is not in this OneRoster set" in report.schools[0].errors[0]


def test_a_learner_current_at_two_schools_needs_a_primary(schools: Store,
                                                          tmp_path: Path) -> None:
    s = OneRoster(version="1.2").school(SCHOOL).school(OTHER)
    s.student("u1", upn(1), "Llywelyn", "Siân", [SCHOOL, OTHER])
    report = run(schools, [s.zip(tmp_path / "a.zip")], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert "more than one school (6612001, 6612002)" in report.schools[0].errors[0]
    s.users[0]["primaryOrgSourcedId"] = f"org-{OTHER}"
    report = run(schools, [s.zip(tmp_path / "b.zip")], school=None, as_of=TODAY)
    assert report.exit_code == 0
    assert users(schools)[upn(1)].school == OTHER


def test_hostile_names_are_kept_as_data(schools: Store, tmp_path: Path) -> None:
    s = OneRoster().school(SCHOOL)
    s.student("u1", upn(1), "[bold]Jones[/]", "=HYPERLINK(\"x\")", SCHOOL)
    s.student("u2", upn(2), "O'Brien\x1b[31m", "Smith [/]", SCHOOL)
    s.teacher("t1", "@SUM(1)", "Ŵyn,\"Prŷs\"", "+Siân\nLine", SCHOOL)
    report = run(schools, [s.zip(tmp_path / "a.zip")], school=None, as_of=TODAY)
    assert report.exit_code == 0, report.schools[0].errors
    got = users(schools)
    assert (got[upn(1)].surname, got[upn(1)].forename) == ("[bold]Jones[/]",
                                                           "=HYPERLINK(\"x\")")
    assert got[upn(2)].surname == "O'Brien[31m" and got[upn(2)].forename == "Smith [/]"
    staff = got[f"{SCHOOL}/@SUM(1)"]
    assert (staff.surname, staff.forename) == ("Ŵyn,\"Prŷs\"", "+Siân Line")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_members_in_any_export_encoding(schools: Store, tmp_path: Path, encoding: str) -> None:
    s = OneRoster().school(SCHOOL)
    s.student("u1", upn(1), "Ôwen-Hâf", "Sîân", SCHOOL)
    folder = s.folder(tmp_path / "set")
    users_csv = folder / "users.csv"
    users_csv.write_bytes(users_csv.read_bytes().decode().encode(encoding))
    report = run(schools, [folder], school=None, as_of=TODAY)
    assert report.exit_code == 0, report.schools[0].errors
    assert users(schools)[upn(1)].surname == "Ôwen-Hâf"


def test_a_manifest_naming_a_missing_file_is_refused(schools: Store, tmp_path: Path) -> None:
    folder = two_schools().folder(tmp_path / "set")
    (folder / "enrollments.csv").unlink()
    report = run(schools, [folder], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert report.schools[0].errors == [
        f"{folder / 'manifest.csv'}:0:file.enrollments: the OneRoster set has no "
        "enrollments.csv"]
    assert users(schools) == {}


def test_a_set_beside_csv_exports_in_one_command(schools: Store, tmp_path: Path,
                                                 write: Writer) -> None:
    s = OneRoster().school(OTHER)
    s.student("u3", upn(3, OTHER), "Glyndŵr", "Owain", OTHER)
    csv_file = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1)])
    report = run(schools, [csv_file, s.zip(tmp_path / "or.zip")], school=None, as_of=TODAY)
    assert [(r.school, r.outcome) for r in report.schools] == [(SCHOOL, "applied"),
                                                               (OTHER, "applied")]


def test_format_option(schools: Store, tmp_path: Path, write: Writer) -> None:
    csv_file = write("6612001-learners.csv", SIMS_LEARNERS, [learner_row(1)])
    report = run(schools, [csv_file], as_of=TODAY, format="oneroster")
    assert report.exit_code == 1
    export = two_schools().zip(tmp_path / "set.zip")
    report = run(schools, [export], school=None, as_of=TODAY, format="oneroster")
    assert report.exit_code == 0


def test_grade_codes() -> None:
    assert year_of_grade("KG") == (True, 0)
    assert year_of_grade("01") == (True, 1) and year_of_grade("13") == (True, 13)
    assert year_of_grade("PK") == (True, None) and year_of_grade("") == (True, None)
    assert year_of_grade("14")[0] is False and year_of_grade("UG")[0] is False


def test_1_2_a_role_marked_tobedeleted_ends_the_users_time_there(schools: Store,
                                                                 tmp_path: Path) -> None:
    bulk = OneRoster(version="1.2").school(SCHOOL)
    bulk.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL)
    bulk.student("u2", upn(2), "Prys", "Gwen", SCHOOL)
    run(schools, [bulk.zip(tmp_path / "bulk.zip")], school=None, as_of=TODAY)
    delta = OneRoster(version="1.2", mode="delta").school(SCHOOL)
    delta.student("u1", upn(1), "Llywelyn", "Siân", SCHOOL, link=False)
    delta.link("u1", SCHOOL, role="student", status="tobedeleted",
               modified="2026-11-27T08:00:00Z")
    # a 1.2 delta user row without a role row says nothing of the user's school: passed by
    delta.student("u2", upn(2), "Prys-Huws", "Gwen", SCHOOL, link=False)
    report = run(schools, [delta.zip(tmp_path / "delta.zip")], school=None, as_of=TODAY)
    (only,) = report.schools
    assert (only.counts["deactivated"], only.counts["updated"]) == (1, 0)
    got = users(schools)
    assert (got[upn(1)].status, got[upn(1)].leaving_date) == (DEACTIVATED, date(2026, 11, 27))
    assert got[upn(2)].surname == "Prys"


def test_a_member_that_is_not_csv_is_refused_where_it_breaks(schools: Store,
                                                             tmp_path: Path) -> None:
    folder = two_schools().folder(tmp_path / "set")
    users_csv = folder / "users.csv"
    lines = users_csv.read_bytes().split(b"\r\n")
    lines[3] = lines[3] + b',"' + b"x" * 200_000 + b'"'  # a field over csv's limit
    users_csv.write_bytes(b"\r\n".join(lines))
    report = run(schools, [folder], school=None, as_of=TODAY)
    assert report.exit_code == 1 and {r.outcome for r in report.schools} == {"rejected"}
    assert report.schools[0].errors[0].startswith(f"{users_csv}:4:file: not readable as CSV")
    assert users(schools) == {}


def test_a_zip_member_over_the_limit_is_refused_unread(schools: Store, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from hwb_tui.provisioning import sources

    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 200)  # a zip bomb's member, in small
    export = two_schools().zip(tmp_path / "6612001-set.zip")
    report = run(schools, [export], school=None, as_of=TODAY)
    assert report.exit_code == 1
    assert f"{export}!users.csv:0:file: larger than 200 bytes" in report.schools[0].errors
    assert users(schools) == {}


def test_a_set_without_users_says_so_once(schools: Store, tmp_path: Path) -> None:
    folder = two_schools().folder(tmp_path / "set")
    (folder / "users.csv").unlink()
    report = run(schools, [folder], school=None, as_of=TODAY)
    assert report.exit_code == 1
    (school,) = report.schools
    assert school.errors == [f"{folder / 'manifest.csv'}:0:file.users: the OneRoster set has "
                             "no users.csv"]
