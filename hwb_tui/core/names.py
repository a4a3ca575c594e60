"""Text rules for names: display-safe text, search and sort keys, usernames, the UPN check."""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable
from typing import Any

# C0 controls, DEL and C1 controls (Unicode Cc: ESC sequences, bells, ...), and the invisible
# format characters and separators (Unicode Cf, Zl, Zp: bidi overrides and isolates such as
# U+202E and U+2066, zero-width characters such as U+200B and U+FEFF, the soft hyphen, line and
# paragraph separators U+2028/U+2029): none reaches a screen, a terminal, a CSV or a message.
# The Cf/Zl/Zp ranges are those of Unicode 14 (Python 3.11's unicodedata), written out because
# scanning every code point at start-up costs a third of a second; tests/unit/test_names.py
# checks the list against unicodedata.
INVISIBLE_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f" + INVISIBLE_RANGES + "]")

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
WELSH_LA_NUMBERS = range(660, 682)
USERNAME_DOMAIN = "hwbcymru.net"
# The longest name or code stored: PostgreSQL cannot index a value much over 2,700 bytes, and no
# real name comes near this. Longer values are refused as input errors, not database failures.
MAX_TEXT = 100


def display_safe(text: str | None) -> str:
    """Text fit to show on a terminal: control characters (Cc) and invisible format characters
    and separators (Cf, Zl, Zp) removed; tabs and newlines become spaces."""
    if not text:
        return ""
    if text.isprintable():
        return text  # isprintable() is False for every character removed below: most text
    text = text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub("", text)


def mark_hidden(text: str) -> str:
    """`text` with each character display_safe would remove shown as U+FFFD (the replacement
    character): for messages about a value, so '01/09/\u200b2015' reads '01/09/\ufffd2015'."""
    return text if text.isprintable() else _CONTROL.sub("\ufffd", text)


def display_safe_data(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string display-safe, keys
    included: what a --json output or a report may carry from the data."""
    if isinstance(value, str):
        return display_safe(value)
    if isinstance(value, dict):
        return {display_safe_data(k): display_safe_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [display_safe_data(v) for v in value]
    return value


def fold(text: str) -> str:
    """Casefolded text with diacritics removed: 'Siân' -> 'sian', 'ŵ' -> 'w'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_key(text: str | None) -> str:
    """The key a name is searched by: folded, letters and digits only ('O'Brien' -> 'obrien')."""
    if not text:
        return ""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (for range scans)."""
    return prefix + "\uffff"


# Welsh alphabet: digraphs are single letters. Each letter maps to one sortable character so that
# ORDER BY on the stored key gives Welsh order in the database, for any number of rows.
WELSH_ALPHABET = [
    "a", "b", "c", "ch", "d", "dd", "e", "f", "ff", "g", "ng", "h", "i", "j", "k", "l", "ll",
    "m", "n", "o", "p", "ph", "q", "r", "rh", "s", "t", "th", "u", "v", "w", "x", "y", "z",
]
_WELSH_CODE = {letter: chr(ord("A") + i) for i, letter in enumerate(WELSH_ALPHABET)}
_WELSH_DIGRAPHS = sorted((x for x in WELSH_ALPHABET if len(x) == 2), key=len, reverse=True)
# Names where "ng" is n + g, not the Welsh letter ng (the glossary's ambiguity).
WELSH_NG_EXCEPTIONS = {"bangor", "llangollen", "llangefni", "llangrannog", "llangynwyd",
                       "llangadog", "llangennech", "llangeinor", "llangan"}


def welsh_sort_key(text: str | None) -> str:
    """A key whose plain (binary) order is Welsh alphabetical order of `text`."""
    key = search_key(text)
    out: list[str] = []
    i = 0
    ng_is_letter = key not in WELSH_NG_EXCEPTIONS and not any(
        key.startswith(word) for word in WELSH_NG_EXCEPTIONS
    )
    while i < len(key):
        pair = key[i : i + 2]
        if len(pair) == 2 and pair in _WELSH_CODE and (pair != "ng" or ng_is_letter):
            out.append(_WELSH_CODE[pair])
            i += 2
            continue
        ch = key[i]
        if ch.isdigit():
            out.append(ch)  # digits sort before letters
        else:
            out.append(_WELSH_CODE.get(ch, ch))
        i += 1
    return "".join(out)


def english_sort_key(text: str | None) -> str:
    return search_key(text)


def sort_key(surname: str, forename: str, language: str = "en") -> str:
    """The stored sort key of a person: surname then forename, in the language's alphabet."""
    keyer: Callable[[str | None], str] = welsh_sort_key if language == "cy" else english_sort_key
    # "!" sorts before every digit and letter, so "Lloyd Ann" < "Lloydd Ann".
    return f"{keyer(surname)}!{keyer(forename)}"


def ascii_fold(text: str) -> str:
    """ASCII letters only, diacritics folded, case kept: 'Ŵyn' -> 'Wyn', "O'Brien" -> 'OBrien'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalpha())


def username_base(surname: str, forename: str) -> str:
    """The part of a username before any collision number: 'SurnameF' (ASCII only)."""
    sur = ascii_fold(surname)
    fore = ascii_fold(forename)
    if not sur:
        sur = "User"
    sur = sur[0].upper() + sur[1:]
    initial = fore[:1].upper()
    return f"{sur}{initial}"


def username_from(base: str, number: int) -> str:
    """`base` with collision number `number` (1 means none): JonesF@…, JonesF2@…"""
    suffix = "" if number <= 1 else str(number)
    return f"{base}{suffix}@{USERNAME_DOMAIN}"


_UPN_WEIGHTS = range(2, 14)
_UPN_ZEROS = ord("0") * sum(_UPN_WEIGHTS)  # what the ASCII codes add beyond the digits' values


def upn_check_letter(digits12: str) -> str:
    """The check letter of a UPN's 12 digits: mod-23 over the digits weighted 2..13."""
    if len(digits12) != 12 or not (digits12.isascii() and digits12.isdigit()):
        raise ValueError("a UPN has 12 digits after its check letter")
    # As the DfE UPN standard: the digit in character position k (2..13) has weight k. Summed
    # over the ASCII codes in C (map, not a generator): provisioning checks every row's UPN.
    total = sum(map(operator.mul, digits12.encode("ascii"), _UPN_WEIGHTS)) - _UPN_ZEROS
    return UPN_LETTERS[total % 23]


def upn_problem(upn: str) -> str | None:
    """Why `upn` is not a valid Welsh UPN, or None when it is."""
    if len(upn) != 13:
        return "upn_length"
    letter, digits = upn[0], upn[1:]
    if not (digits.isascii() and digits.isdigit()):  # not other scripts' digits either
        return "upn_digits"
    if letter not in UPN_LETTERS:
        return "upn_letter"
    if int(digits[:3]) not in WELSH_LA_NUMBERS:
        return "upn_la"
    if upn_check_letter(digits) != letter:
        return "upn_check"
    return None


def make_upn(la: int, establishment: int, year: int, serial: int) -> str:
    digits = f"{la:03d}{establishment:04d}{year % 100:02d}{serial:03d}"
    return upn_check_letter(digits) + digits


def csv_safe(value: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


_DIGRAPH_STARTS = {d[0] for d in _WELSH_DIGRAPHS}


def welsh_key_prefixes(prefix: str) -> set[str]:
    """Every Welsh sort-key prefix that a name whose search key starts with `prefix` can have.

    'c' may be the letter c or the start of ch; 'ng' may be the letter ng or n + g (Bangor). The
    set lets a search walk the Welsh sort index in a few ranges instead of the whole directory.
    """
    out: set[str] = set()

    def walk(i: int, acc: str) -> None:
        if i == len(prefix):
            out.add(acc)
            if prefix and prefix[-1] in _DIGRAPH_STARTS:
                # the prefix may stop halfway through a digraph: 'l' of 'll'
                for digraph in _WELSH_DIGRAPHS:
                    if digraph[0] == prefix[-1]:
                        out.add(acc[:-1] + _WELSH_CODE[digraph])
            return
        pair = prefix[i : i + 2]
        if len(pair) == 2 and pair in _WELSH_CODE:
            walk(i + 2, acc + _WELSH_CODE[pair])
            if pair != "ng":
                return  # only ng can be two letters (the exception list)
        ch = prefix[i]
        walk(i + 1, acc + (ch if ch.isdigit() else _WELSH_CODE.get(ch, ch)))

    walk(0, "")
    return out
