"""Readers: encodings, layouts detected by header, every kind of invalid row as file:line:field."""

from __future__ import annotations

import codecs
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwb_tui.core.names import make_upn, upn_problem
from hwb_tui.provisioning import layouts
from hwb_tui.provisioning.readers import (
    _upn_problem,
    combine,
    decode,
    parse_year,
    read_bytes,
    read_export,
)
from tests.provisioning.conftest import (
    SIMS_LEARNERS,
    SIMS_STAFF,
    TC_LEARNERS,
    TC_STAFF,
    csv_bytes,
    learner_row,
    upn,
)

WELSH = "ŵ ŷ â ê î ô û ï"


def errors_of(data: bytes, name: str = "f.csv", fmt: str = "auto") -> list[str]:
    return [e.render("en") for e in read_bytes(data, name, fmt).errors]


# --- encodings -------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("utf-16", True),
                                          ("utf-16-le", True), ("utf-16-be", True)])
def test_unicode_encodings_keep_every_welsh_letter(encoding: str, bom: bool) -> None:
    rows = [f"{upn(1)},Ŵyn-Prŷs,Siân Gwenllïan Môn,1,01/09/2020,,9,9A"]
    text = "\r\n".join([SIMS_LEARNERS, *rows]) + "\r\n"
    if encoding == "utf-16-le":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    elif encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = csv_bytes(SIMS_LEARNERS, rows, encoding, bom)
    result = read_bytes(data, "x.csv")
    assert result.errors == []
    assert result.profile == "sims-learners"
    (record,) = result.records
    assert record.surname == "Ŵyn-Prŷs"
    assert record.forename == "Siân Gwenllïan Môn"


def test_windows_1252_keeps_the_letters_it_can_encode() -> None:
    # Windows-1252 has â ê î ô û ï (but not ŵ ŷ, which is why MIS exports also come in UTF).
    rows = [f"{upn(1)},Ôwen-Hâf,Sîân Gwenllïan Rhûn Êlis,1,01/09/2020,,9,9A"]
    data = csv_bytes(SIMS_LEARNERS, rows, "cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    (record,) = read_bytes(data, "x.csv").records
    assert record.surname == "Ôwen-Hâf"
    assert record.forename == "Sîân Gwenllïan Rhûn Êlis"


def test_decode_prefers_utf8_and_strips_the_bom() -> None:
    assert decode(codecs.BOM_UTF8 + WELSH.encode()) == WELSH
    assert decode(WELSH.encode("utf-16")) == WELSH
    assert decode("â".encode("cp1252")) == "â"


def test_a_bom_that_lies_is_reported_not_raised() -> None:
    data = codecs.BOM_UTF8 + b"UPN,\xff\xfe\xfa"
    result = read_bytes(data, "lie.csv")
    assert result.fatal
    assert errors_of(data, "lie.csv")[0].startswith("lie.csv:0:file: the file is not valid utf-8")


# --- layouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header,profile,row", [
    (SIMS_LEARNERS, "sims-learners", f"{upn(1)},Jones,Siân,1,01/09/2020,,9,9A"),
    (SIMS_STAFF, "sims-staff", "ABC,Jones,Carys,01/09/2015,,Teacher"),
    (TC_LEARNERS, "teacher-centre-learners", f"{upn(1)},Jones,Siân,1,2020-09-01,,9,9A"),
    (TC_STAFF, "teacher-centre-staff", "ABC,Jones,Carys,2015-09-01,,Teacher"),
])
def test_each_layout_is_detected_by_its_header(header: str, profile: str, row: str) -> None:
    result = read_bytes(csv_bytes(header, [row]), "x.csv")
    assert (result.profile, result.errors) == (profile, [])
    (record,) = result.records
    assert record.surname == "Jones"
    assert record.admission_date in (date(2020, 9, 1), date(2015, 9, 1))


def test_header_matching_ignores_case_spacing_and_column_order() -> None:
    header = "legal forename , UPN,LEGAL  SURNAME"
    result = read_bytes(csv_bytes(header, [f"Siân,{upn(1)},Jones"]), "x.csv")
    assert result.profile == "sims-learners"
    assert result.records[0].forename == "Siân"


def test_unknown_header_rejects_the_file_at_line_1() -> None:
    data = csv_bytes("Name,Class", ["Siân,9A"])
    assert read_bytes(data, "x.csv").fatal
    assert errors_of(data, "x.csv") == [
        "x.csv:1:header: the header matches no known layout (sims-learners, sims-staff, "
        "teacher-centre-learners, teacher-centre-staff)"
    ]


def test_explicit_format_names_each_missing_column() -> None:
    data = csv_bytes(SIMS_STAFF, ["ABC,Jones,Carys,01/09/2015,,Teacher"])
    assert errors_of(data, "x.csv", "sims-learners") == [
        "x.csv:1:UPN: column missing from the header (sims-learners)",
    ]
    assert errors_of(data, "x.csv", "sims-staff") == []


def test_empty_file_is_rejected() -> None:
    assert errors_of(b"", "e.csv") == ["e.csv:1:header: the file is empty"]
    assert errors_of(b"\r\n\r\n", "e.csv") == ["e.csv:1:header: the file is empty"]


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = read_export(tmp_path / "nope.csv", name="nope.csv")
    assert result.fatal
    assert result.errors[0].render("en").startswith("nope.csv:0:file: cannot read the file")


def test_every_shipped_profile_loads_and_a_new_layout_needs_only_a_toml(tmp_path: Path) -> None:
    assert set(layouts.profile_names()) == {"sims-learners", "sims-staff",
                                             "teacher-centre-learners", "teacher-centre-staff"}
    new = tmp_path / "ceredigion-learners.toml"
    new.write_text('kind = "learner"\ndate_format = "%d.%m.%Y"\n[columns]\n'
                   'upn = ["UPN Disgybl", "UPN"]\nsurname = "Cyfenw"\nforename = "Enw cyntaf"\n'
                   'leaving_date = "Dyddiad gadael"\n', encoding="utf-8")
    profile = layouts._load(new)
    assert profile.locate(["Cyfenw", "Enw cyntaf", "UPN Disgybl", "Dyddiad gadael"]) == {
        "surname": 0, "forename": 1, "upn": 2, "leaving_date": 3}
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "learner"\n[columns]\nupn = "UPN"\nshoe_size = "Shoe"\n')
    with pytest.raises(layouts.ProfileError):
        layouts._load(bad)


# --- invalid rows ----------------------------------------------------------------------------

def test_every_kind_of_invalid_row_is_reported_with_file_line_field() -> None:
    good = upn(1)
    bad_check = ("A" if good[0] != "A" else "B") + good[1:]
    rows = [
        learner_row(1),                                   # line 2: fine
        ",Jones,Siân,1,01/09/2020,,9,9A",                # line 3: UPN missing
        f"{bad_check},Jones,Siân,1,01/09/2020,,9,9A",     # line 4: bad check letter
        f"{upn(4)},,Siân,1,01/09/2020,,9,9A",             # line 5: surname missing
        f"{upn(5)},Jones,  ,1,01/09/2020,,9,9A",          # line 6: forename blank
        f"{upn(6)},Jones,Siân,1,31/02/2020,,9,9A",        # line 7: no such date
        f"{upn(7)},Jones,Siân,1,01/09/2020,2026-07-01,9,9A",  # line 8: ISO date in SIMS
        learner_row(1, "Prys"),                           # line 9: duplicate UPN
        "X12345,Jones,Siân,1,01/09/2020,,9,9A",          # line 10: not a UPN
        f"{upn(10, '1012001')[0]}101200120010,Jones,Siân,1,,,9,9A",  # line 11: English LA
    ]
    data = csv_bytes(SIMS_LEARNERS, rows)
    result = read_bytes(data, "6612001-learners.csv")
    assert [r.line for r in result.records] == [2, 9]  # duplicates are found across the roster
    roster = combine([result])
    assert [e.render("en") for e in roster.errors] == [
        "6612001-learners.csv:3:UPN: required value missing",
        "6612001-learners.csv:4:UPN: bad UPN check letter",
        "6612001-learners.csv:5:Legal Surname: required value missing",
        "6612001-learners.csv:6:Legal Forename: required value missing",
        "6612001-learners.csv:7:Date of Admission: not a date: '31/02/2020' (expected dd/mm/yyyy)",
        "6612001-learners.csv:8:Date of Leaving: not a date: '2026-07-01' (expected dd/mm/yyyy)",
        "6612001-learners.csv:9:UPN: duplicate UPN (first at 6612001-learners.csv:2)",
        "6612001-learners.csv:10:UPN: not a UPN: a UPN has 13 characters",
        "6612001-learners.csv:11:UPN: not a Welsh UPN: the LA number must be 660–681",
    ]
    assert list(roster.learners) == [upn(1)]


def test_reasons_are_translated() -> None:
    data = csv_bytes(SIMS_LEARNERS, [",Jones,Siân,1,01/09/2020,,9,9A"])
    (error,) = read_bytes(data, "f.csv").errors
    assert error.render("cy") == "f.csv:2:UPN: gwerth ofynnol ar goll"


def test_duplicate_staff_code_across_a_schools_files() -> None:
    sims = read_bytes(csv_bytes(SIMS_STAFF, ["ABC,Jones,Carys,01/09/2015,,Teacher"]), "a.csv")
    tc = read_bytes(csv_bytes(TC_STAFF, ["XYZ,Evans,Huw,2015-09-01,,Teacher",
                                         "ABC,Bowen,Gareth,2015-09-01,,Teacher"]), "b.csv")
    roster = combine([sims, tc])
    assert [e.render("en") for e in roster.errors] == [
        "b.csv:3:Staff Ref: duplicate staff code (first at a.csv:2)"]
    assert roster.staff["ABC"].surname == "Jones"
    assert roster.kinds == {"staff"}


def test_line_numbers_count_physical_lines_of_quoted_newlines_and_blank_lines() -> None:
    rows = [f'{upn(1)},"Jones\nPrys",Siân,1,01/09/2020,,9,9A', "", ",Jones,Siân,1,,,9,9A"]
    assert errors_of(csv_bytes(SIMS_LEARNERS, rows), "f.csv") == [
        "f.csv:5:UPN: required value missing"]


def test_formula_like_values_are_data_kept_verbatim() -> None:
    rows = [f"{upn(1)},=HYPERLINK(\"x\"),+Siân,-3,01/09/2020,,9,@reg"]
    (record,) = read_bytes(csv_bytes(SIMS_LEARNERS, rows), "f.csv").records
    assert (record.surname, record.forename) == ('=HYPERLINK("x")', "+Siân")
    assert (record.admission_number, record.reg_group) == ("-3", "@reg")


def test_nul_and_control_characters_never_crash_and_never_reach_a_name() -> None:
    rows = [f"{upn(1)},Jo\x00nes\x1b[31m,Si\x07ân\x9b,1,01/09/2020,,9,9\x00A",
            f"{upn(2)}\x00,Jones,Siân,1,01/09/2020,,9,9A",
            "\x00\x00\x00,\x00,\x00"]
    result = read_bytes(csv_bytes(SIMS_LEARNERS, rows), "f.csv")
    first = result.records[0]
    assert (first.surname, first.forename, first.reg_group) == ("Jones[31m", "Siân", "9A")
    assert [e.render("en") for e in result.errors] == [
        "f.csv:3:UPN: not a UPN: a UPN has 13 characters",
        "f.csv:4:UPN: not a UPN: a UPN has 13 characters",
        "f.csv:4:Legal Surname: required value missing",
        "f.csv:4:Legal Forename: required value missing",
    ]


def test_garbage_bytes_are_a_rejected_file_not_a_crash() -> None:
    import random

    rnd = random.Random(7)
    for _ in range(50):
        blob = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 400)))
        result = read_bytes(blob, "g.csv")
        assert result.fatal or result.errors or result.records is not None


def test_a_huge_field_is_reported_as_bad_csv() -> None:
    data = csv_bytes(SIMS_LEARNERS, [f'{upn(1)},"{"x" * 200_000}",Siân,1,,,9,9A'])
    result = read_bytes(data, "big.csv")
    assert result.fatal
    assert result.errors[0].render("en").startswith("big.csv:2:file: not readable as CSV")


@pytest.mark.parametrize("text,year", [("11", 11), ("Year 11", 11), ("Y7", 7), ("R", None),
                                       ("N1", None), ("", None), ("Blwyddyn 12", 12)])
def test_year_groups(text: str, year: int | None) -> None:
    assert parse_year(text) == year


def test_sample_exports_read_cleanly() -> None:
    samples = sorted(Path(__file__).resolve().parents[2].joinpath("data", "samples")
                     .glob("*.csv"))
    assert len(samples) == 4
    formats = set()
    for path in samples:
        result = read_export(path)
        assert result.errors == [], path
        assert result.records
        formats.add(result.profile)
    assert formats == set(layouts.profile_names())


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=11, max_size=14))
def test_the_readers_fast_upn_check_agrees_with_the_core(text: str) -> None:
    assert _upn_problem(text) == upn_problem(text)


@given(st.integers(650, 690), st.integers(0, 9999), st.integers(0, 99), st.integers(0, 999))
def test_the_fast_upn_check_accepts_what_the_core_accepts(la: int, est: int, year: int,
                                                           serial: int) -> None:
    value = make_upn(la, est, year, serial)
    assert _upn_problem(value) == upn_problem(value)
    assert (_upn_problem(value) is None) == (660 <= la <= 681)
