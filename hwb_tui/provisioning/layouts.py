"""MIS export layouts held as data: load the TOML profiles and pick one by header row.

A profile (one file in `profiles/`) names the record kind (learner or staff), the identity field,
the date format, the required fields, and maps each field to its header name (or a list of
accepted header names). A new MIS report layout is a new TOML file; no code changes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROFILES_DIR = Path(__file__).with_name("profiles")

# Every field a profile may map, and the kind of value it holds. The readers know how to parse
# each value kind; a profile naming any other field is refused when loaded.
FIELDS: dict[str, str] = {
    "upn": "upn",
    "staff_code": "code",
    "surname": "name",
    "forename": "name",
    "admission_number": "text",
    "admission_date": "date",
    "start_date": "date",
    "leaving_date": "date",
    "year_group": "year",
    "reg_group": "text",
    "role": "text",
}
KINDS = {"learner": "upn", "staff": "staff_code"}


class ProfileError(ValueError):
    """A profile file that cannot serve (a programming or packaging mistake, not user input)."""


@dataclass(frozen=True)
class Profile:
    """One CSV layout: which header names hold which fields, and how its dates are written."""

    name: str
    description: str
    kind: str  # learner | staff
    identity: str  # upn | staff_code
    date_format: str  # strptime format
    required: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]  # field -> accepted header names

    def locate(self, header: list[str]) -> dict[str, int] | None:
        """field -> column index for this header row, or None when a required column is absent."""
        wanted = {header_key(h): i for i, h in enumerate(header)}
        found: dict[str, int] = {}
        for field, names in self.columns.items():
            for name in names:
                index = wanted.get(header_key(name))
                if index is not None:
                    found[field] = index
                    break
        if any(field not in found for field in self.required):
            return None
        return found

    def missing(self, header: list[str]) -> list[str]:
        """The header names of required columns that this header row lacks."""
        wanted = {header_key(h) for h in header}
        return [
            self.columns[field][0]
            for field in self.required
            if not any(header_key(n) in wanted for n in self.columns[field])
        ]


def header_key(name: str) -> str:
    """Header names compare without case, surrounding spaces or doubled spaces."""
    return " ".join(name.split()).casefold()


def columns_table(path: Path, data: dict[str, Any], fields: Container[str]
                  ) -> dict[str, tuple[str, ...]]:
    """A layout file's [columns] table: each field (one of `fields`) → the header names that may
    hold it (one name, or a list). Export profiles and register layouts are read the same way."""
    raw = data.get("columns")
    if not isinstance(raw, dict) or not raw:
        raise ProfileError(f"{path.name}: a [columns] table is needed")
    columns: dict[str, tuple[str, ...]] = {}
    for field, names in raw.items():
        if field not in fields:
            raise ProfileError(f"{path.name}: unknown field {field!r}")
        columns[field] = (names,) if isinstance(names, str) else tuple(str(n) for n in names)
        if not columns[field]:
            raise ProfileError(f"{path.name}: field {field!r} has no header name")
    return columns


def _load(path: Path) -> Profile:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    name = path.stem
    kind = data.get("kind")
    if kind not in KINDS:
        raise ProfileError(f"{path.name}: kind must be one of {sorted(KINDS)}")
    identity = data.get("identity", KINDS[kind])
    columns = columns_table(path, data, FIELDS)
    required = tuple(data.get("required", [identity, "surname", "forename"]))
    for field in (identity, *required):
        if field not in columns:
            raise ProfileError(f"{path.name}: required field {field!r} has no column")
    if identity != KINDS[kind]:
        raise ProfileError(f"{path.name}: a {kind} is identified by {KINDS[kind]}")
    return Profile(
        name=name,
        description=str(data.get("description", name)),
        kind=kind,
        identity=identity,
        date_format=str(data.get("date_format", "%Y-%m-%d")),
        required=required,
        columns=columns,
    )


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    """Every profile shipped in profiles/, by name (the file name without .toml)."""
    return {p.stem: _load(p) for p in sorted(PROFILES_DIR.glob("*.toml"))}


def profile_names() -> list[str]:
    return sorted(profiles())


def detect(header: list[str]) -> tuple[Profile, dict[str, int]] | None:
    """The profile whose required columns this header has; the most columns matched wins."""
    best: tuple[int, Profile, dict[str, int]] | None = None
    for profile in profiles().values():
        found = profile.locate(header)
        if found is None:
            continue
        if best is None or len(found) > best[0]:
            best = (len(found), profile, found)
    return None if best is None else (best[1], best[2])
