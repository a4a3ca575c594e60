"""Bidi overrides, zero-width characters and line separators in every field of an export never
appear in any output: they are removed when the data is stored, and again on every output
(CLI tables, --json, --csv, reports, error lines including argparse's, the console), so a row
written into the database by something else is shown cleanly too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from hwb_tui.core.accounts import name_fields
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.models import AuditEvent, ProvisioningRun, User
from hwb_tui.i18n import set_language
from hwb_tui.tui.app import HwbApp
from tests import builders as b
from tests.tui.test_console import SIZE, settle

HOME = "6612001"
# right-to-left override, zero-width space, line separator, left-to-right isolate, BOM, soft
# hyphen, pop directional isolate, paragraph separator, word joiner
INVISIBLE = ("\u202e", "\u200b", "\u2028", "\u2066", "\ufeff", "\u00ad", "\u2069", "\u2029",
             "\u2060")
SNEAK = "".join(INVISIBLE)


def sneak(text: str) -> str:
    """`text` with every invisible character put inside it (an empty field stays empty)."""
    if not text:
        return text
    middle = len(text) // 2
    return text[:middle] + SNEAK + text[middle:]


def assert_clean(text: str, where: str) -> None:
    found = [hex(ord(c)) for c in INVISIBLE if c in text]
    assert not found, f"{where}: {found}\n{text[:2000]}"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    monkeypatch.setenv("HWB_DATABASE_URL", url)
    monkeypatch.setenv("HWB_OPERATOR", "admin")
    monkeypatch.delenv("HWB_LANG", raising=False)
    store = open_store(url)
    with store.write() as s:
        b.school(s, HOME)
        b.operator(s, "admin")
    yield store
    store.dispose()
    set_language("en")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = b.run_cli(capsys, *args)
    return code, out + err


def exports(folder: Path) -> list[Path]:
    """A learners and a staff export with the invisible characters in every field."""
    learners = folder / f"{HOME}-learners.csv"
    header = ("UPN,Legal Surname,Legal Forename,Admission Number,Date of Admission,"
              "Date of Leaving,Year,Reg")
    # every field: the UPN, dates and year then are not what they say, and the row is invalid
    every = [b.learner_upn(HOME, 7), "Gruffydd", "Elin", "A007", "01/09/2021", "", "8", "8G"]
    # every text field: stored, cleaned
    text = [b.learner_upn(HOME, 8), sneak("Jones"), sneak("Ann"), sneak("A008"), "01/09/2021",
            "", "8", sneak("8G")]
    learners.write_text(f"{sneak(header)}\n" + ",".join(sneak(f) for f in every) + "\n"
                        + ",".join(text) + "\n", encoding="utf-8")
    staff = folder / f"{HOME}-staff.csv"
    header = "Staff Code,Legal Surname,Legal Forename,Employment Start,Employment End,SWAC Role"
    fields = [sneak("EVE"), sneak("Evans"), sneak("Eve"), "01/09/2015", "", sneak("Teacher")]
    staff.write_text(f"{sneak(header)}\n" + ",".join(fields) + "\n", encoding="utf-8")
    return [learners, staff]


def test_invisible_characters_in_every_field_never_reach_any_output(
        db: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = exports(tmp_path)
    outputs: dict[str, str] = {}
    for fmt in ([], ["--json"]):
        code, outputs[f"provision rejected {fmt}"] = run(
            capsys, "provision", *map(str, files), *fmt)
        assert code == 1, outputs  # the invalid row rejects the run; its errors are shown
        code, outputs[f"provision --dry-run {fmt}"] = run(
            capsys, "provision", *map(str, files), "--dry-run", "--skip-invalid", *fmt)
        assert code == 0, outputs
    assert "\ufffd" in outputs["provision rejected []"]  # a hidden character is marked
    code, outputs["provision"] = run(capsys, "provision", *map(str, files), "--json",
                                     "--skip-invalid")
    assert code == 0, outputs["provision"]
    # stored clean: at the door
    with db.read() as s:
        for user in s.scalars(select(User)):
            for column in User.__table__.columns:  # type: ignore[attr-defined]
                value = getattr(user, column.name)
                if isinstance(value, str):
                    assert_clean(value, f"stored {column.name}")
        assert {u.surname for u in s.scalars(select(User))} == {"Jones", "Evans"}
        for run_row in s.scalars(select(ProvisioningRun)):
            assert_clean(run_row.report or "", "stored run report")
    # a row written by something else, around hwb-tui's door
    raw = {**name_fields("x", "y"), "surname": sneak("Morgan"), "forename": sneak("Rhys")}
    with db.write() as s:
        s.execute(insert(User).values(
            username=sneak("MorganR") + "@hwbcymru.net", username_key="morganr",
            kind="governor", source="non-mis", school=HOME, status="active",
            created_at=b.clock.now(), updated_at=b.clock.now(), version=1,
            **{k: v for k, v in raw.items()}))
    with db.read() as s:
        smuggled = s.scalars(select(User).where(User.surname == sneak("Morgan"))).one()
    for args in (["users", "list"], ["users", "list", "--json"], ["users", "list", "--csv"],
                 ["users", "list", "--search", "morgan"],
                 ["users", "show", smuggled.username], ["users", "show", smuggled.username,
                                                       "--json"],
                 ["audit"], ["audit", "--json"], ["runs"], ["runs", "--json"],
                 # error lines: ours, and argparse's quoting what was typed
                 ["users", "show", sneak("nobody@hwbcymru.net")],
                 ["users", "list", "--kind", sneak("governor")],
                 ["users", "list", "--school", sneak("6612001")]):
        code, outputs[" ".join(args)] = run(capsys, *args)
    for where, text in outputs.items():
        assert_clean(text, where)
    listed = json.loads(outputs["users list --json"])
    assert {r["surname"] for r in listed} == {"Jones", "Evans", "Morgan"}
    with db.read() as s:
        assert s.scalars(select(AuditEvent)).first() is not None


async def test_the_console_shows_no_invisible_character(db: Store) -> None:
    with db.write() as s:
        b.user(s, sneak("Morgan"), sneak("Rhys"))  # stored through the door: cleaned
    raw = {**name_fields("x", "y"), "surname": sneak("Pugh"), "forename": sneak("Dai")}
    with db.write() as s:
        s.execute(insert(User).values(
            username=sneak("PughD") + "@hwbcymru.net", username_key="pughd", kind="governor",
            source="non-mis", school=HOME, status="active", created_at=b.clock.now(),
            updated_at=b.clock.now(), version=1, **raw))
    app = HwbApp(db, b.actor(db, "admin"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for keys in ([], ["down"], ["enter"]):  # the table, another row, its details
            await pilot.press(*keys)
            await settle(app, pilot)
            screen = app.export_screenshot()
            assert "Morgan" in screen or "Pugh" in screen
            assert_clean(screen, f"console after {keys}")
            for char in INVISIBLE:
                assert f"&#{ord(char)};" not in screen and f"&#x{ord(char):x};" not in screen
