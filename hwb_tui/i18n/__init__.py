"""The one lookup every visible string goes through: message catalogues in English and Welsh.

Catalogues are TOML files in `messages/`, one per area of the product, each message a table with
`en` and `cy` side by side: a translator sees both at once, a test checks that every message has
both languages with the same placeholders, and nothing needs compiling at install time (the
reason we chose this over gettext .po/.mo files). Placeholders use str.format syntax: {name}.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"
MESSAGES_DIR = Path(__file__).with_name("messages")

_current = DEFAULT_LANGUAGE


class MissingMessage(KeyError):
    pass


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every message: key -> {"en": ..., "cy": ...}. A key defined twice is an error."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(MESSAGES_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for key, entry in _flatten(data):
            if key in merged:
                raise ValueError(f"message {key!r} defined in {origin[key]} and {path.name}")
            merged[key] = entry
            origin[key] = path.name
    return merged


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for name, value in data.items():
        if not isinstance(value, dict):
            continue
        key = f"{prefix}{name}"
        if any(lang in value and isinstance(value[lang], str) for lang in LANGUAGES):
            out.append((key, {k: v for k, v in value.items() if isinstance(v, str)}))
        else:
            out.extend(_flatten(value, key + "."))
    return out


def normalise_language(lang: str | None) -> str:
    if lang and lang.lower()[:2] in LANGUAGES:
        return lang.lower()[:2]
    return DEFAULT_LANGUAGE


def set_language(lang: str) -> None:
    global _current
    _current = normalise_language(lang)


def current_language() -> str:
    return _current


def language_from_env(explicit: str | None = None) -> str:
    """--lang wins, then HWB_LANG, then English."""
    return normalise_language(explicit or os.environ.get("HWB_LANG"))


def install_argparse_translation() -> None:
    """Route argparse's own words (usage, headings, errors) through the catalogue."""
    sources = {e["source"]: k for k, e in catalogue().items() if "source" in e}

    def translate(text: str) -> str:
        key = sources.get(text)
        return t(key) if key else text

    argparse._ = translate  # type: ignore[attr-defined]


def t(key: str, lang: str | None = None, **params: Any) -> str:
    """The message `key` in `lang` (default: the current language), placeholders filled."""
    entry = catalogue().get(key)
    if entry is None:
        raise MissingMessage(key)
    template = entry.get(lang or _current) or entry[DEFAULT_LANGUAGE]
    return template.format(**params) if params else template
