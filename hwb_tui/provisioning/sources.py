"""The files of one provisioning command → the schools they cover, each with what to read.

A command names files (and, for OneRoster, folders). Each is one of:
- a CSV export in one of the layouts (`layouts`): it belongs to `--school`, or to the school
  whose DfES number begins its name, and is read at that school's turn;
- a OneRoster set (`oneroster`): a folder, a `.zip`, its `manifest.csv`, or its files named
  together (`orgs.csv users.csv ...`); one set may cover many schools;
- a Common Transfer File (`ctf`): XML whose root is `CTfile`; its header names the school.

`--format auto` tells them apart by what they are: a folder or zip, a OneRoster file name, an
XML document; everything else is a CSV export whose header row picks its layout.

Every file is read through `read_file`: one place, so that the inbox rules (confinement, regular
files only, a size limit) hold for every format.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hwb_tui.core.errors import UsageError
from hwb_tui.i18n import t
from hwb_tui.provisioning.ctf import looks_like_xml, read_ctf
from hwb_tui.provisioning.export_files import open_export, peek_export
from hwb_tui.provisioning.oneroster import MEMBERS, Member, SetInput, read_set
from hwb_tui.provisioning.readers import ExportFile, RowError

ONEROSTER = "oneroster"
CTF = "ctf"
STANDARD_FORMATS = (ONEROSTER, CTF)
MAX_MEMBER_BYTES = 1024 * 1024 * 1024  # one file inside a zip, uncompressed
_DFES_AT_START = re.compile(r"^(\d{7})(?!\d)")
_DFES = re.compile(r"^\d{7}$")
_ZIP_MAGIC = b"PK\x03\x04"


def read_file(path: Path) -> bytes:
    """The bytes of a file the operator named. Raises OSError when it cannot be read (including
    export_files.RefusedFile: outside the inbox, not a regular file, over the size limit)."""
    return open_export(path)


def read_head(path: Path, count: int = 512) -> bytes:
    """The first bytes of a file the operator named, to tell its format: under the same rules
    as reading it (never blocks on a FIFO, never follows a link out of the inbox)."""
    return peek_export(path, count)


@dataclass
class Unit:
    """One school's share of the command: CSV files to read, and parts already read."""

    school: str
    paths: list[Path] = field(default_factory=list)
    exports: list[ExportFile] = field(default_factory=list)
    size: int = 0


def is_dfes(text: str) -> bool:
    return bool(_DFES.match(text))


def gather(files: list[Path], school: str | None, fmt: str, as_of: date) -> list[Unit]:
    """The schools these files cover, in DfES order. Raises UsageError as group_by_school."""
    if school is not None and not is_dfes(school):
        raise UsageError(detail=t("provisioning.bad_dfes", dfes=school))
    units: dict[str, Unit] = {}

    def unit(dfes: str) -> Unit:
        found = units.get(dfes)
        if found is None:
            found = units[dfes] = Unit(dfes)
        return found

    sets: dict[Path, list[Path]] = {}  # OneRoster sets named by their files, per folder
    for path in files:
        kind = _kind(path, fmt)
        if kind == "set-file":
            sets.setdefault(path.parent, []).append(path)
        elif kind == "set":
            _add_set(_open_set(path), school, as_of, unit)
        elif kind == CTF:
            _add_ctf(path, school, unit)
        else:
            require_named_for(path, school)
            dfes = school or _school_in_name(path)
            if dfes is None:
                raise UsageError(detail=t("provisioning.no_school_in_name", file=str(path)))
            u = unit(dfes)
            u.paths.append(path)
            u.size += _size(path)
    for folder, named in sets.items():
        _add_set(_open_folder(folder, named), school, as_of, unit)
    return [units[k] for k in sorted(units)]


def _kind(path: Path, fmt: str) -> str:
    """csv | set | set-file | ctf: how to read `path` under `--format fmt`."""
    if fmt not in ("auto", *STANDARD_FORMATS):
        return "csv"
    lower = path.name.lower()
    if fmt != CTF:
        if path.is_dir() or lower.endswith(".zip"):
            return "set"
        if lower in MEMBERS:
            return "set-file"
    if fmt == CTF or lower.endswith(".xml"):
        return CTF
    if fmt == ONEROSTER:
        return "set"  # not a folder, zip or set file: reported unreadable as a set
    if lower.endswith(".csv"):
        return "csv"
    # no telling name: look inside
    try:
        head = read_head(path)
    except OSError:
        return "csv"  # the CSV reader reports it unreadable, as before
    if head.startswith(_ZIP_MAGIC):
        return "set"
    return CTF if looks_like_xml(head) else "csv"


def require_named_for(path: Path, school: str | None) -> None:
    """A file whose name begins with a DfES number is that school's: given for another school
    it is refused, so no file passes as another school's export by its name."""
    named = _school_in_name(path)
    if named is not None and school is not None and named != school:
        raise UsageError(detail=t("provisioning.name_names_other_school", file=path.name,
                                  named=named, dfes=school))


def _school_in_name(path: Path) -> str | None:
    match = _DFES_AT_START.match(path.name)
    return match.group(1) if match else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _unreadable(name: str, exc: OSError) -> RowError:
    return RowError(name, 0, "file", "unreadable", {"detail": exc.strerror or str(exc)})


def _open_folder(folder: Path, named: list[Path] | None = None) -> SetInput:
    """A OneRoster set in a folder: the files named, or every OneRoster file there."""
    shown = str(folder)
    source = SetInput(name=shown, sha256="", size=0)
    digest = hashlib.sha256()
    if named is None or any(p.name.lower() == "manifest.csv" for p in named):
        # the folder, or its manifest: every OneRoster file in it
        paths = [folder / m for m in MEMBERS if (folder / m).exists()]
    else:
        paths = list(named)
        manifest = folder / "manifest.csv"
        if manifest.exists():
            paths = [manifest, *paths]
    for path in paths:
        name = str(path)
        try:
            data = read_file(path)
        except OSError as exc:
            source.errors.append(_unreadable(name, exc))
            data = None
        if data is not None:
            digest.update(path.name.lower().encode() + b"\0" + hashlib.sha256(data).digest())
            source.size += len(data)
        source.members[path.name.lower()] = Member(name, data)
    source.sha256 = digest.hexdigest()
    if not source.members and not source.errors:
        source.errors.append(RowError(shown, 0, "file", "oneroster_missing_file",
                                      {"file": "users.csv"}))
    return source


def _open_set(path: Path) -> SetInput:
    """A OneRoster set from a folder or a zip (its members read with a size limit)."""
    if path.is_dir():
        return _open_folder(path)
    shown = str(path)
    source = SetInput(name=shown, sha256="", size=0)
    try:
        data = read_file(path)
    except OSError as exc:
        source.errors.append(_unreadable(shown, exc))
        return source
    source.sha256 = hashlib.sha256(data).hexdigest()
    source.size = len(data)
    member = shown
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found: dict[str, zipfile.ZipInfo] = {}
            for info in archive.infolist():
                if info.is_dir():
                    continue
                base = info.filename.rsplit("/", 1)[-1].lower()
                if base in MEMBERS:
                    if base in found:
                        source.errors.append(RowError(f"{shown}!{info.filename}", 0, "file",
                                                      "oneroster_twice",
                                                      {"other": found[base].filename}))
                        continue
                    found[base] = info
            for base, info in found.items():
                member = f"{shown}!{info.filename}"
                if info.file_size > MAX_MEMBER_BYTES:
                    source.errors.append(RowError(member, 0, "file", "too_large_bytes",
                                                  {"max": MAX_MEMBER_BYTES}))
                    continue
                with archive.open(info) as fh:
                    content = fh.read(MAX_MEMBER_BYTES + 1)
                if len(content) > MAX_MEMBER_BYTES:
                    source.errors.append(RowError(member, 0, "file", "too_large_bytes",
                                                  {"max": MAX_MEMBER_BYTES}))
                    continue
                source.members[base] = Member(member, content)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError,
            ValueError, NotImplementedError, RuntimeError) as exc:
        source.errors.append(RowError(member, 0, "file", "bad_zip", {"detail": str(exc)}))
    return source


def _add_set(source: SetInput, school: str | None, as_of: date,
             unit: Callable[[str], Unit]) -> None:
    result = read_set(source, as_of, only=school)
    shared = list(result.errors)
    schools = dict(result.schools)
    if school is not None and school not in schools:
        if not result.fatal and not shared:
            shared.append(RowError(source.members["orgs.csv"].name
                                   if "orgs.csv" in source.members else source.name,
                                   0, "identifier", "oneroster_school_absent",
                                   {"school": school}))
        schools[school] = []
    if not schools:
        label = school or _school_in_name(Path(source.name)) or source.name
        schools[label] = []
        if not shared:  # a set that places no one: nothing to do, nothing to report
            return
    share = source.size // max(len(schools), 1)
    for dfes, parts in schools.items():
        u = unit(dfes)
        u.size += share
        if not parts:
            parts = [ExportFile(name=source.name, sha256=source.sha256,
                                profile=f"oneroster-{result.version}")]
        parts[0].errors[:0] = shared
        parts[0].fatal = result.fatal
        parts[0].size = share
        u.exports.extend(parts)


def _add_ctf(path: Path, school: str | None, unit: Callable[[str], Unit]) -> None:
    shown = str(path)
    try:
        data = read_file(path)
    except OSError as exc:
        export = ExportFile(name=shown, profile=CTF, fatal=True)
        export.errors.append(_unreadable(shown, exc))
        dfes = school or _school_in_name(path) or shown
        unit(dfes).exports.append(export)
        return
    result = read_ctf(data, shown, school)
    dfes = result.school or school or _school_in_name(path) or shown
    require_named_for(path, dfes if is_dfes(dfes) else school)
    u = unit(dfes)
    u.exports.append(result.export)
    u.size += len(data)

