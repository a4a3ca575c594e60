"""Text rules of names: display-safe text, search and sort keys, usernames, the UPN check."""

from __future__ import annotations

import pytest

from hwb_tui.core.names import (
    WELSH_LA_NUMBERS,
    csv_safe,
    display_safe,
    make_upn,
    search_key,
    sort_key,
    upn_check_letter,
    upn_problem,
    username_base,
    username_from,
)

# --- display-safe text --------------------------------------------------------------------------


@pytest.mark.parametrize("control", [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C,
                                                      *range(0x0E, 0x20), 0x7F,
                                                      *range(0x80, 0xA0)]])
def test_display_safe_strips_every_c0_c1_and_del(control: str) -> None:
    assert display_safe(f"Jo{control}nes") == "Jones"


def test_display_safe_removes_escape_sequences_introducer() -> None:
    shown = display_safe("\x1b[2J\x1b]0;pwned\x07Jones\x9b31m")
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert shown.endswith("Jones31m")


def test_display_safe_turns_line_breaks_and_tabs_into_spaces() -> None:
    assert display_safe("Jones\nSmith\r\nEvans\tOwen\rParry") == "Jones Smith Evans Owen Parry"


def test_display_safe_keeps_welsh_letters_and_markup_lookalikes_as_text() -> None:
    assert display_safe("Gwenllïan Llŷr Siân ŵ ŷ") == "Gwenllïan Llŷr Siân ŵ ŷ"
    assert display_safe("[bold]Jones[/]") == "[bold]Jones[/]"  # markup is left for Text to show
    assert display_safe(None) == ""


# --- search keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "name"), [
    ("sian", "Siân"),
    ("SIAN", "Siân"),
    ("llyr", "Llŷr"),
    ("gwenllian", "Gwenllïan"),
    ("obrien", "O'Brien"),
    ("o'brien", "O'Brien"),
    ("wynnejones", "Wynne-Jones"),
    ("aprhys", "ap Rhys"),
    ("noemie", "Noémie"),
])
def test_search_key_ignores_case_accents_and_punctuation(typed: str, name: str) -> None:
    assert search_key(name).startswith(search_key(typed))


def test_search_key_keeps_letters_distinct() -> None:
    assert search_key("Siân") == "sian"
    assert search_key("Sion") != search_key("Sian")


# --- usernames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("surname", "forename", "base"), [
    ("Jones", "Siân", "JonesS"),
    ("Gŵyn", "Llŷr", "GwynL"),         # ŵ -> w
    ("Tâf", "Ŵyn", "TafW"),            # â -> a, and a folded initial
    ("ap Rhys", "Dafydd", "ApRhysD"),   # spaces dropped
    ("Wynne-Jones", "Ieuan", "WynneJonesI"),  # hyphens dropped
    ("O'Brien", "Gwenllïan", "OBrienG"),       # apostrophes dropped
    ("Llywelyn", "ieuan", "LlywelynI"),
])
def test_username_base_is_ascii_surname_then_initial(surname: str, forename: str,
                                                     base: str) -> None:
    assert username_base(surname, forename) == base
    assert username_base(surname, forename).isascii()


def test_username_has_the_domain_and_a_number_only_on_collision() -> None:
    assert username_from("JonesS", 1) == "JonesS@hwbcymru.net"
    assert username_from("JonesS", 2) == "JonesS2@hwbcymru.net"
    assert username_from("JonesS", 10) == "JonesS10@hwbcymru.net"


# --- UPN ----------------------------------------------------------------------------------------


def test_upn_check_letter_worked_by_hand() -> None:
    # Y660200112001: digits 6 6 0 2 0 0 1 1 2 0 0 1, weights 2..13:
    # 12 + 18 + 0 + 10 + 0 + 0 + 8 + 9 + 20 + 0 + 0 + 13 = 90; 90 mod 23 = 21 -> 'Y'
    # (A B C D E F G H J K L M N P Q R T U V W X Y Z: index 21 is Y)
    assert upn_check_letter("660200112001") == "Y"
    assert make_upn(660, 2001, 12, 1) == "Y660200112001"
    assert upn_problem("Y660200112001") is None


def test_second_worked_example() -> None:
    # 6 8 1 4 0 1 5 2 3 9 9 9: 12+24+4+20+0+7+40+18+30+99+108+117 = 479; 479 mod 23 = 19 -> 'W'
    assert make_upn(681, 4015, 23, 999) == "W681401523999"


def test_check_letter_matches_the_rule_for_many_numbers() -> None:
    import random

    rng = random.Random(23)
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(12))
        weighted = sum(int(d) * w for d, w in zip(digits, range(2, 14), strict=True))
        assert upn_check_letter(digits) == "ABCDEFGHJKLMNPQRTUVWXYZ"[weighted % 23]


def test_wrong_check_letter_is_rejected() -> None:
    assert upn_problem("A660200112001") == "upn_check"
    assert upn_problem("Z660200112001") == "upn_check"


@pytest.mark.parametrize("la", [659, 682, 301, 999])
def test_la_outside_wales_is_rejected(la: int) -> None:
    upn = make_upn(la, 2001, 12, 1)  # a correct check letter, but not a Welsh LA
    assert upn_problem(upn) == "upn_la"


def test_welsh_la_numbers_are_660_to_681() -> None:
    assert list(WELSH_LA_NUMBERS) == list(range(660, 682))
    assert upn_problem(make_upn(660, 1, 0, 1)) is None
    assert upn_problem(make_upn(681, 9999, 99, 999)) is None


@pytest.mark.parametrize(("upn", "problem"), [
    ("Y66020011200", "upn_length"),
    ("Y6602001120011", "upn_length"),
    ("Y66020011200X", "upn_digits"),
    ("Y66020011200\u0663", "upn_digits"),  # an Arabic-Indic three is a digit, not a UPN's
    ("Y６60200112001", "upn_digits"),  # fullwidth six
    ("I660200112001", "upn_letter"),  # I, O and S are not check letters
])
def test_malformed_upns_are_rejected(upn: str, problem: str) -> None:
    assert upn_problem(upn) == problem


# --- sort keys and CSV --------------------------------------------------------------------------


def test_welsh_sort_treats_digraphs_as_letters() -> None:
    cy = sorted(["Lyons", "Lloyd", "Lewis"], key=lambda s: sort_key(s, "A", "cy"))
    en = sorted(["Lyons", "Lloyd", "Lewis"], key=lambda s: sort_key(s, "A", "en"))
    assert cy == ["Lewis", "Lyons", "Lloyd"]
    assert en == ["Lewis", "Lloyd", "Lyons"]
    assert sort_key("Chapman", "A", "cy") > sort_key("Cwm", "A", "cy")
    assert sort_key("Chapman", "A", "en") < sort_key("Cwm", "A", "en")


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"x\")", "+1", "-1+2", "@SUM(A1)", "\tx"])
def test_csv_safe_neutralises_formula_cells(cell: str) -> None:
    assert csv_safe(cell).startswith("'")
    assert csv_safe("Jones") == "Jones"


def test_the_invisible_ranges_are_every_cf_zl_zp_character() -> None:
    """display_safe's written-out list of Unicode Cf, Zl and Zp is what unicodedata says."""
    import sys
    import unicodedata

    from hwb_tui.core.names import display_safe

    every = [chr(cp) for cp in range(sys.maxunicode + 1)
             if unicodedata.category(chr(cp)) in ("Cf", "Zl", "Zp", "Cc")]
    text = "".join(every)
    assert display_safe("a" + text + "b").replace(" ", "") == "ab"
    # and nothing else is removed: every other character survives
    others = "".join(chr(cp) for cp in range(0x20, 0x3000)
                     if unicodedata.category(chr(cp)) not in ("Cf", "Zl", "Zp", "Cc", "Cs"))
    assert display_safe(others) == others


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069",
                                  "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2028",
                                  "\u2029", "\ufeff", "\u00ad", "\u2060", "\U000e0041"])
def test_display_safe_strips_bidi_zero_width_and_separators(char: str) -> None:
    from hwb_tui.core.names import display_safe

    assert display_safe(f"Jo{char}nes") == "Jones"
