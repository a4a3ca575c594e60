"""The demo directory: Welsh schools and users made in bulk (a million users in under a minute).

Every row goes through the core's own rules: names through `name_fields`, usernames through
core.usernames (its `Numbering`, in memory: a fresh directory has no usernames to look up, and
the bases' free numbers are recorded as a run would record them), UPNs through `make_upn`.
Speed comes from computing each distinct name once and inserting with executemany (on SQLite
into a side file, journal off, indexes built after the rows), never one ORM object at a time.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import os
import pickle
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, cast

import psycopg
from sqlalchemy import Table, func, insert, make_url, select, text
from sqlmodel import Session

from hwb_tui.core import clock
from hwb_tui.core.access import HOUSEKEEPING_ACTOR, PROVISIONING_ACTOR, Actor, load_actor
from hwb_tui.core.accounts import name_fields
from hwb_tui.core.db import driver_errors, insert_rows, open_store
from hwb_tui.core.errors import DemoWillNotAdmit
from hwb_tui.core.models import (
    AuditEvent,
    Meta,
    Operator,
    ProvisioningRun,
    School,
    User,
    UsernameBase,
)
from hwb_tui.core.names import make_upn
from hwb_tui.core.operators import add_operator
from hwb_tui.core.usernames import Numbering, base_of

DEMO_MARKER = "demo"
DEFAULT_USERS = 5000
CHAMPION_LOGIN = "champion"
# Meta key: the logins the demo itself made operators (JSON list). Only a database whose every
# operator is on it may have another login made a Hwb administrator by `demo`.
DEMO_OPERATORS = "demo_operators"
FIRST_LA_NUMBER = 660
USERS_PER_SCHOOL = 700  # sets the number of schools: ~1,430 for a million users, as in Wales
CHUNK = 20_000

Progress = Callable[[str], None]


# --- the data the demo draws from ------------------------------------------------------------

@dataclass(frozen=True)
class Authority:
    number: int
    code: str
    name_en: str
    name_cy: str


def authorities() -> list[Authority]:
    """Wales's 22 local authorities, numbered 660–681 in the register's order."""
    path = resources.files("hwb_tui") / "demo" / "local-authorities.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Authority(FIRST_LA_NUMBER + i, r["code"], r["name_en"], r["name_cy"])
            for i, r in enumerate(rows)]


# Places (English, Welsh) of each authority, for school names.
PLACES: dict[str, list[tuple[str, str]]] = {
    "AGY": [("Holyhead", "Caergybi"), ("Llangefni", "Llangefni"), ("Amlwch", "Amlwch"),
            ("Beaumaris", "Biwmares"), ("Menai Bridge", "Porthaethwy"), ("Rhosneigr", "Rhosneigr")],
    "BGW": [("Ebbw Vale", "Glynebwy"), ("Tredegar", "Tredegar"), ("Abertillery", "Abertyleri"),
            ("Brynmawr", "Brynmawr"), ("Blaina", "Blaenau")],
    "BGE": [("Bridgend", "Pen-y-bont"), ("Maesteg", "Maesteg"), ("Porthcawl", "Porthcawl"),
            ("Pencoed", "Pencoed"), ("Pyle", "Y Pîl")],
    "CAY": [("Caerphilly", "Caerffili"), ("Bargoed", "Bargod"), ("Blackwood", "Coed-duon"),
            ("Risca", "Rhisga"), ("Ystrad Mynach", "Ystrad Mynach"), ("Rhymney", "Rhymni")],
    "CRF": [("Canton", "Treganna"), ("Llandaff", "Llandaf"), ("Roath", "Y Rhath"),
            ("Splott", "Sblot"), ("Whitchurch", "Yr Eglwys Newydd"), ("Ely", "Trelái"),
            ("Rhiwbina", "Rhiwbeina")],
    "CMN": [("Carmarthen", "Caerfyrddin"), ("Llanelli", "Llanelli"), ("Ammanford", "Rhydaman"),
            ("Llandeilo", "Llandeilo"), ("Burry Port", "Porth Tywyn"),
            ("Newcastle Emlyn", "Castellnewydd Emlyn")],
    "CGN": [("Aberystwyth", "Aberystwyth"), ("Cardigan", "Aberteifi"),
            ("Lampeter", "Llanbedr Pont Steffan"), ("Aberaeron", "Aberaeron"),
            ("Tregaron", "Tregaron"), ("New Quay", "Cei Newydd")],
    "CWY": [("Conwy", "Conwy"), ("Llandudno", "Llandudno"), ("Colwyn Bay", "Bae Colwyn"),
            ("Abergele", "Abergele"), ("Llanrwst", "Llanrwst"), ("Betws-y-Coed", "Betws-y-Coed")],
    "DEN": [("Denbigh", "Dinbych"), ("Rhyl", "Y Rhyl"), ("Ruthin", "Rhuthun"),
            ("Prestatyn", "Prestatyn"), ("Llangollen", "Llangollen"), ("Corwen", "Corwen")],
    "FLN": [("Mold", "Yr Wyddgrug"), ("Flint", "Y Fflint"), ("Holywell", "Treffynnon"),
            ("Buckley", "Bwcle"), ("Connah's Quay", "Cei Connah"), ("Shotton", "Shotton")],
    "GWN": [("Caernarfon", "Caernarfon"), ("Bangor", "Bangor"), ("Pwllheli", "Pwllheli"),
            ("Dolgellau", "Dolgellau"), ("Bala", "Y Bala"), ("Porthmadog", "Porthmadog"),
            ("Blaenau Ffestiniog", "Blaenau Ffestiniog")],
    "MTY": [("Merthyr Tydfil", "Merthyr Tudful"), ("Dowlais", "Dowlais"),
            ("Troedyrhiw", "Troed-y-rhiw"), ("Aberfan", "Aberfan"), ("Treharris", "Treharris")],
    "MON": [("Monmouth", "Trefynwy"), ("Abergavenny", "Y Fenni"), ("Chepstow", "Cas-gwent"),
            ("Caldicot", "Cil-y-coed"), ("Usk", "Brynbuga")],
    "NTL": [("Neath", "Castell-nedd"), ("Port Talbot", "Port Talbot"),
            ("Pontardawe", "Pontardawe"), ("Glynneath", "Glyn-nedd"),
            ("Briton Ferry", "Llansawel")],
    "NWP": [("Newport", "Casnewydd"), ("Caerleon", "Caerllion"), ("Bettws", "Betws"),
            ("Rogerstone", "Tŷ-du"), ("Maindee", "Maendy")],
    "PEM": [("Haverfordwest", "Hwlffordd"), ("Pembroke", "Penfro"), ("Fishguard", "Abergwaun"),
            ("Tenby", "Dinbych-y-pysgod"), ("Milford Haven", "Aberdaugleddau"),
            ("St Davids", "Tyddewi")],
    "POW": [("Newtown", "Y Drenewydd"), ("Welshpool", "Y Trallwng"), ("Brecon", "Aberhonddu"),
            ("Llandrindod Wells", "Llandrindod"), ("Machynlleth", "Machynlleth"),
            ("Builth Wells", "Llanfair-ym-Muallt"), ("Ystradgynlais", "Ystradgynlais")],
    "RCT": [("Aberdare", "Aberdâr"), ("Pontypridd", "Pontypridd"), ("Tonypandy", "Tonypandy"),
            ("Porth", "Y Porth"), ("Mountain Ash", "Aberpennar"), ("Treorchy", "Treorci"),
            ("Llantrisant", "Llantrisant")],
    "SWA": [("Swansea", "Abertawe"), ("Gorseinon", "Gorseinon"), ("Morriston", "Treforys"),
            ("Clydach", "Clydach"), ("Gowerton", "Tre-gŵyr"), ("Pontarddulais", "Pontarddulais"),
            ("Sketty", "Sgeti")],
    "TOF": [("Pontypool", "Pont-y-pŵl"), ("Cwmbran", "Cwmbrân"), ("Blaenavon", "Blaenafon"),
            ("Griffithstown", "Griffithstown"), ("Abersychan", "Abersychan")],
    "VGL": [("Barry", "Y Barri"), ("Penarth", "Penarth"), ("Cowbridge", "Y Bont-faen"),
            ("Llantwit Major", "Llanilltud Fawr"), ("Dinas Powys", "Dinas Powys")],
    "WRX": [("Wrexham", "Wrecsam"), ("Chirk", "Y Waun"), ("Gresford", "Gresffordd"),
            ("Rhosllanerchrugog", "Rhosllannerchrugog"), ("Ruabon", "Rhiwabon"),
            ("Cefn Mawr", "Cefn Mawr")],
}

# A phase of school: establishment-number range, year groups (0 = Reception), relative size.
@dataclass(frozen=True)
class Phase:
    name_en: str  # {place} filled in
    name_cy: str
    first_establishment: int
    years: tuple[int, ...]
    size: float
    share: float  # of all schools


PHASES = (
    Phase("{en} Primary School", "Ysgol Gynradd {cy}", 2000, tuple(range(0, 7)), 1.0, 0.55),
    Phase("Ysgol Gymraeg {cy}", "Ysgol Gymraeg {cy}", 2500, tuple(range(0, 7)), 1.0, 0.20),
    Phase("{en} High School", "Ysgol Uwchradd {cy}", 4000, tuple(range(7, 14)), 5.0, 0.15),
    Phase("Ysgol Gyfun Gymraeg {cy}", "Ysgol Gyfun Gymraeg {cy}", 4500, tuple(range(7, 14)),
          5.0, 0.06),
    Phase("{en} Special School", "Ysgol Arbennig {cy}", 7000, tuple(range(0, 14)), 0.4, 0.04),
)

# (name, weight): common Welsh surnames weigh most, as in a real register.
SURNAMES: Sequence[tuple[str, float]] = (
    ("Jones", 12), ("Williams", 9), ("Davies", 9), ("Evans", 7), ("Thomas", 6), ("Roberts", 5),
    ("Lewis", 4), ("Hughes", 4), ("Morgan", 4), ("Griffiths", 4), ("Edwards", 3), ("Owen", 3),
    ("Price", 3), ("James", 3), ("Rees", 3), ("Jenkins", 3), ("Lloyd", 2), ("Phillips", 2),
    ("Parry", 2), ("Powell", 2), ("Pritchard", 2), ("Pugh", 1.5), ("Howells", 1.5),
    ("Bowen", 1.5), ("Prosser", 1), ("Bevan", 1.5), ("Probert", 1), ("Prydderch", 0.5),
    ("Lyons", 0.8), ("Chapman", 1), ("Charles", 1), ("Cadwaladr", 0.5), ("ap Rhys", 0.6),
    ("ap Dafydd", 0.4), ("O'Brien", 1), ("O'Connor", 0.6), ("Wynne-Jones", 0.6),
    ("Llywelyn", 0.8), ("Llwyd", 0.5), ("Llewellyn", 1), ("Gruffydd", 0.8), ("Meredith", 1),
    ("Vaughan", 1), ("Mathias", 0.8), ("Harries", 1), ("Watkins", 1.5), ("Walters", 1),
    ("Humphreys", 1), ("Ellis", 1.5), ("Rowlands", 1.2), ("Rhys", 0.8), ("Rhydderch", 0.4),
    ("Ffransis", 0.3), ("Tudur", 0.4), ("Glyn", 0.5), ("Gwyn", 0.6), ("Dafis", 0.4),
    ("Siôn", 0.3), ("Gwŷr", 0.1), ("Smith", 3), ("Taylor", 2), ("Brown", 2),
    ("Wilson", 1.5), ("Clarke", 1.5), ("Walker", 1), ("Khan", 1), ("Ahmed", 0.8),
    ("Kowalski", 0.5), ("Nowak", 0.5), ("Singh", 0.6), ("Patel", 0.6), ("Nguyen", 0.3),
    ("Ferreira", 0.3), ("Cwm", 0.2), ("Ng", 0.2),
)
FORENAMES: Sequence[tuple[str, float]] = (
    ("Siân", 3), ("Llŷr", 1), ("Gwenllïan", 1), ("Dafydd", 3), ("Ieuan", 2), ("Rhys", 3),
    ("Ffion", 3), ("Cerys", 3), ("Elin", 3), ("Osian", 2), ("Gethin", 2), ("Aled", 2),
    ("Carys", 2), ("Mererid", 1), ("Siôn", 2), ("Tomos", 3), ("Nia", 2), ("Lowri", 3),
    ("Catrin", 3), ("Owain", 3), ("Gruffudd", 2), ("Angharad", 2), ("Bethan", 2), ("Heledd", 1),
    ("Rhiannon", 2), ("Dylan", 3), ("Iwan", 2), ("Huw", 2), ("Ceri", 1), ("Alaw", 1),
    ("Efa", 2), ("Mabli", 2), ("Gwydion", 1), ("Emrys", 1), ("Eleri", 1), ("Manon", 2),
    ("Mali", 2), ("Elis", 2), ("Macsen", 1), ("Tirion", 1), ("Seren", 2), ("Gwen", 1),
    ("Awen", 1), ("Deio", 1), ("Guto", 1), ("Ianto", 2), ("Llio", 1), ("Lleucu", 1),
    ("Siwan", 1), ("Begw", 0.5), ("Hedd", 0.5), ("Cai", 2), ("Non", 0.5), ("Gwenno", 1),
    ("Zoë", 1), ("Chloë", 1), ("Noémie", 0.3), ("Olivia", 3), ("Oliver", 3), ("Jack", 3),
    ("Amelia", 3), ("Harry", 2), ("Isla", 2), ("Noah", 2), ("Charlie", 2), ("Leo", 2),
    ("Ava", 2), ("Freya", 2), ("Evie", 2), ("Poppy", 2), ("Jacob", 2), ("Mohammed", 1),
    ("Aisha", 1), ("Zofia", 0.5), ("Jakub", 0.5), ("Priya", 0.5), ("Seán", 0.5),
    ("Mary-Jane", 0.3), ("Anne Marie", 0.3),
)
SAINTS = ("Dewi", "Teilo", "Padarn", "Illtud", "Cadog", "Dyfrig", "Non", "Gwenfrewi")
SWAC_ROLES = (("Teacher", 50), ("Teaching Assistant", 25), ("Learning Support Assistant", 8),
              ("Headteacher", 2), ("Deputy Headteacher", 2), ("Administrator", 6),
              ("Technician", 3), ("Caretaker", 2), ("Librarian", 1), ("Cook", 1))
# Kinds and their share of the directory.
KIND_SHARES = (("learner", 0.835), ("staff", 0.105), ("governor", 0.03), ("ite", 0.01),
               ("la", 0.007), ("rec", 0.005), ("other", 0.008))
DEACTIVATED_SHARE = 0.05
EXPIRING_SHARE = 0.15  # of active non-MIS users: lifetime ends within 8 weeks


# --- generation -------------------------------------------------------------------------------

@dataclass
class SchoolRow:
    dfes: str
    name: str
    name_cy: str
    la: int
    establishment: int
    phase: Phase


@dataclass
class Built:
    users: int
    schools: int
    seconds: float
    path: str


COLUMNS = (
    "id", "username", "kind", "source", "school", "surname", "forename", "surname_key",
    "forename_key", "username_key", "sort_en", "sort_cy", "upn", "staff_code", "year_group",
    "reg_group", "admission_number", "admission_date", "leaving_date", "role", "status",
    "created_at", "updated_at", "deactivated_at", "deactivated_by", "deactivation_reason",
    "deferred_until", "expires_on", "ite_informed_at", "ite_informed_by", "purged_at", "version",
)


@cache
def _name(surname: str, forename: str) -> tuple[tuple[str, ...], str, str]:
    """The stored name columns, username base and its key: computed once per distinct name."""
    f = name_fields(surname, forename)
    base, key = base_of(f["surname"], f["forename"])
    cols = (f["surname"], f["forename"], f["surname_key"], f["forename_key"], f["sort_en"],
            f["sort_cy"])
    return cols, base, key


def _sql_stamp(stamp: datetime) -> str:
    """SQLAlchemy's SQLite storage format of a (UTC) datetime."""
    return stamp.strftime("%Y-%m-%d %H:%M:%S.000000")


def _sql_day(day: date) -> str:
    return day.isoformat()


class Generator:
    """Schools and users drawn from a seeded random source: the same demo every time."""

    def __init__(self, users: int, seed: int = 2026, now: datetime | None = None,
                 raw_sqlite: bool = False) -> None:
        self.users = users
        self.seed = seed
        self.raw = raw_sqlite
        self.rng = random.Random(seed)
        self.now = (now or clock.now()).replace(microsecond=0)
        self.today = self.now.date()
        # On the raw SQLite path values go as SQLAlchemy would store them; elsewhere as objects.
        self.stamp: Callable[[datetime], Any] = _sql_stamp if raw_sqlite else (lambda d: d)
        self.day: Callable[[date], Any] = _sql_day if raw_sqlite else (lambda d: d)
        self.las = authorities()
        self.schools = self._schools()
        self.audit: list[tuple[Any, ...]] = []  # filled as users are made
        self.numbering = Numbering()  # the usernames issued, as users are made

    def username_bases(self) -> list[tuple[str, int]]:
        """(base key, free_from) of every base issued: the record a run keeps (UsernameBase)."""
        return sorted(self.numbering.free_from.items())

    def _schools(self) -> list[SchoolRow]:
        count = max(2 * len(self.las), self.users // USERS_PER_SCHOOL)
        rng = self.rng
        next_est: dict[tuple[int, int], int] = {}
        out: list[SchoolRow] = []
        phases = rng.choices(PHASES, weights=[p.share for p in PHASES], k=count)
        for i, phase in enumerate(phases):
            la = self.las[i % len(self.las)]  # every authority gets its share
            en, cy = rng.choice(PLACES[la.code])
            if phase is PHASES[0] and rng.random() < 0.12:
                saint = rng.choice(SAINTS)
                name_en = f"St {saint}'s Church in Wales Primary School"
                name_cy = f"Ysgol yr Eglwys yng Nghymru Sant {saint}, {cy}"
            else:
                name_en = phase.name_en.format(en=en, cy=cy)
                name_cy = phase.name_cy.format(en=en, cy=cy)
            key = (la.number, phase.first_establishment)
            est = next_est.get(key, phase.first_establishment + 1)
            next_est[key] = est + rng.randint(1, 3)
            out.append(SchoolRow(f"{la.number}{est:04d}", name_en, name_cy, la.number, est, phase))
        return out

    def school_rows(self) -> list[tuple[Any, ...]]:
        return [(s.dfes, s.name, s.name_cy, s.la) for s in self.schools]

    def rows(self) -> Iterator[list[tuple[Any, ...]]]:
        """The users, in chunks of rows in COLUMNS order."""
        rng = self.rng
        n = self.users
        schools = self.schools
        kinds = rng.choices([k for k, _ in KIND_SHARES], weights=[w for _, w in KIND_SHARES],
                            k=n)
        sizes = [s.phase.size for s in schools]
        school_of = rng.choices(range(len(schools)), weights=sizes, k=n)
        # Users come school by school, as schools' exports arrive: the (school, staff code)
        # index then grows in runs instead of at random, which makes the insert cheaper.
        school_of.sort()
        surnames = rng.choices([s for s, _ in SURNAMES], weights=[w for _, w in SURNAMES], k=n)
        forenames = rng.choices([f for f, _ in FORENAMES], weights=[w for _, w in FORENAMES],
                                k=n)
        roles = [r for r, _ in SWAC_ROLES]
        role_weights = [w for _, w in SWAC_ROLES]
        # Created sometime in the last six years: a pool of stamps is enough variety.
        created_pool = [self.now - timedelta(seconds=rng.randint(86_400, 6 * 365 * 86_400))
                        for _ in range(4096)]
        created_sql = [self.stamp(c) for c in created_pool]
        academic_start = date(self.today.year if self.today.month >= 9 else self.today.year - 1,
                              9, 1)
        # Admission dates by year group: early September of the year the group started.
        admitted = {y: [self.day(date(academic_start.year - y, 9, d)) for d in range(1, 11)]
                    for y in range(14)}
        rand, bits = rng.random, rng.getrandbits
        # Raw SQLite rows are all text, '' standing for NULL (the INSERT says NULLIF(?, '') and
        # column affinity makes numbers of digits): one string per row crosses between processes
        # far cheaper than a pickled tuple of mixed values.
        raw = self.raw
        null: Any = "" if raw else None
        one: Any = "1" if raw else 1
        serials: dict[tuple[str, int], int] = {}  # (school, UPN year) -> last serial
        staff_seq: dict[str, int] = {}
        admission_seq: dict[str, int] = {}
        numbering = self.numbering
        chunk: list[tuple[Any, ...]] = []
        for i in range(n):
            uid = i + 1
            kind = kinds[i]
            sch = schools[school_of[i]]
            name_cols, base, base_key = _name(surnames[i], forenames[i])
            username, username_key = numbering.issue(base, base_key)
            created = bits(12)
            created_at = created_pool[created]
            mis = kind == "learner" or kind == "staff"
            upn = staff_code = reg_group = admission_number = role = null
            year_group: Any = null
            admission_date = leaving_date = expires_on = null
            ite_at = ite_by = null
            deactivated = rand() < DEACTIVATED_SHARE
            if kind == "learner":
                years = sch.phase.years
                year = years[int(rand() * len(years))]
                upn_year = (academic_start.year - year) % 100
                upn = self._upn(sch, upn_year, serials)
                reg_group = f"{'R' if year == 0 else year}{'ABCD'[bits(2)]}"
                seq = admission_seq.get(sch.dfes, 0) + 1
                admission_seq[sch.dfes] = seq
                admission_number = f"{seq:06d}"
                admission_date = admitted[year][int(rand() * 10)]
                year_group = str(year) if raw else year
            elif kind == "staff":
                seq = staff_seq.get(sch.dfes, 0) + 1
                staff_seq[sch.dfes] = seq
                staff_code = f"{base[:2].upper()}{base[-1:]}{seq}"
                role = rng.choices(roles, weights=role_weights)[0]
            status = "active"
            deactivated_at = deactivated_by = reason = null
            updated_at = created_sql[created]
            if deactivated:
                status = "deactivated"
                # 60% within the 12 months an account can be activated again, 40% older
                days = rng.randint(1, 360) if rng.random() < 0.6 else rng.randint(367, 720)
                when = max(self.now - timedelta(days=days, seconds=rng.randint(0, 86_399)),
                           created_at)
                deactivated_at = updated_at = self.stamp(when)
                if mis:
                    deactivated_by, reason = PROVISIONING_ACTOR, "leaver"
                    leaving_date = self.day(when.date())
                elif rng.random() < 0.5:
                    deactivated_by, reason = HOUSEKEEPING_ACTOR, "expired"
                    expires_on = self.day(when.date())
                else:
                    deactivated_by, reason = "admin-demo", "manual"
                    expires_on = self.day(self.today + timedelta(days=rng.randint(30, 300)))
                if kind == "ite" and reason == "manual":
                    ite_at, ite_by = deactivated_at, deactivated_by
                self.audit.append((self.stamp(when), deactivated_by, "deactivate", uid,
                                   sch.dfes, reason))
            elif not mis:
                if rng.random() < EXPIRING_SHARE:
                    expires_on = self.day(self.today + timedelta(days=rng.randint(1, 56)))
                else:
                    expires_on = self.day(self.today + timedelta(days=rng.randint(57, 365)))
            chunk.append((
                str(uid) if raw else uid, username, kind, "mis" if mis else "non-mis", sch.dfes,
                *name_cols[:4],
                username_key, name_cols[4], name_cols[5], upn, staff_code, year_group, reg_group,
                admission_number, admission_date, leaving_date, role, status,
                created_sql[created], updated_at, deactivated_at, deactivated_by, reason, null,
                expires_on, ite_at, ite_by, null, one,
            ))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _upn(self, sch: SchoolRow, year: int, serials: dict[tuple[str, int], int]) -> str:
        """The next UPN of the school for that year; a full year (999) borrows the year before."""
        for back in range(100):
            key = (sch.dfes, (year - back) % 100)
            serial = serials.get(key, 0) + 1
            if serial <= 999:
                serials[key] = serial
                return make_upn(sch.la, sch.establishment, key[1], serial)
        raise ValueError(f"no UPN left for school {sch.dfes}")

    def runs(self) -> list[dict[str, Any]]:
        """One applied provisioning run per school; about one in eight is over a week old."""
        out = []
        for s in self.schools:
            days = self.rng.randint(8, 30) if self.rng.random() < 0.125 else self.rng.randint(0, 6)
            started = self.now - timedelta(days=days, seconds=self.rng.randint(0, 7200))
            name = f"{s.dfes}-learners.csv"
            out.append({
                "started_at": started,
                "finished_at": started + timedelta(seconds=self.rng.randint(1, 20)),
                "school": s.dfes,
                "actor": PROVISIONING_ACTOR,
                "files": json.dumps([name]),
                "sha256": json.dumps([f"{self.rng.getrandbits(256):064x}"]),
                "format": "sims-learners",
                "as_of": started.date(),
                "dry_run": False,
                "outcome": "applied",
                "created": 0,
                "updated": self.rng.randint(0, 5),
                "moved": self.rng.randint(0, 1),
                "deactivated": self.rng.randint(0, 3),
                "activated": 0,
                "deferred": 0,
                "not_in_export": 0,
                "invalid": 0,
                "report": None,
            })
        return sorted(out, key=lambda run: run["started_at"])  # ids in time order


# --- the database -----------------------------------------------------------------------------

def state(url: str) -> str:
    """'missing', 'empty' (no users, no schools), 'demo' (made here) or 'foreign' (real data)."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not os.path.exists(path):
            return "missing"
    store = open_store(url)
    try:
        with store.read() as session:
            marker = session.get(Meta, DEMO_MARKER)
            if marker is not None:
                return "demo"
            users = session.execute(select(func.count()).select_from(User)).scalar_one()
            schools = session.execute(select(func.count()).select_from(School)).scalar_one()
            return "empty" if users == 0 and schools == 0 else "foreign"
    finally:
        store.dispose()


def build(url: str, users: int, login: str, *, seed: int = 2026,
          progress: Progress | None = None, parallel: bool | None = None) -> Built:
    """Create the demo directory in the (missing or empty) database at `url`."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    sqlite_path = _sqlite_file(url)
    if sqlite_path is not None:
        gen = Generator(users, seed, raw_sqlite=True)
        _build_sqlite(url, sqlite_path, gen, say, parallel)
    elif make_url(url).get_backend_name() == "postgresql":
        gen = Generator(users, seed, raw_sqlite=True)
        _build_postgres(url, gen, say, parallel)
    else:
        gen = Generator(users, seed)
        _build_generic(url, gen, say)
    store = open_store(url)
    try:
        with store.write() as session:
            _operators(session, login, gen.schools[0].dfes)
    finally:
        store.dispose()
    return Built(users, len(gen.schools), time.perf_counter() - started, sqlite_path or url)


def ensure_operator(url: str, login: str) -> bool:
    """On an existing demo database, make the current login a Hwb administrator if it is not
    an operator yet (a demo made by someone else). True when one was added; DemoWillNotAdmit
    when the database has operators the demo did not make."""
    store = open_store(url)
    try:
        with store.write() as session:
            return _admit(session, login)
    finally:
        store.dispose()


def admission(url: str, login: str) -> str:
    """Whether `demo` may make `login` an operator of the database at `url`: 'member' (it is
    one), 'free' (every operator there, if any, was made by the demo) or 'refused'."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not os.path.exists(path):
            return "free"
    store = open_store(url)
    try:
        with store.read() as session:
            if session.get(Operator, login) is not None:
                return "member"
            return "refused" if _foreign_operators(session) else "free"
    finally:
        store.dispose()


def _made_by_demo(session: Session) -> list[str]:
    found = session.get(Meta, DEMO_OPERATORS)
    try:
        made = json.loads(found.value) if found is not None else []
    except ValueError:
        made = []
    return [str(m) for m in made] if isinstance(made, list) else []


def _foreign_operators(session: Session) -> list[str]:
    """Operators the demo did not make (a real deployment's, or added by hand)."""
    made = set(_made_by_demo(session))
    logins = session.execute(select(Operator.login)).scalars().all()
    return sorted(set(logins) - made)


def _record_made(session: Session, login: str) -> None:
    made = sorted(set(_made_by_demo(session)) | {login})
    found = session.get(Meta, DEMO_OPERATORS)
    if found is None:
        session.add(Meta(key=DEMO_OPERATORS, value=json.dumps(made)))
    else:
        found.value = json.dumps(made)
    session.flush()


def _admit(session: Session, login: str) -> bool:
    """`login` becomes a Hwb administrator of every school, vouched for by the demo itself, but
    only in a database whose operators (if any) the demo made: never where real ones are."""
    if session.get(Operator, login) is not None:
        return False
    if _foreign_operators(session):
        raise DemoWillNotAdmit(login=login)
    first = session.execute(select(func.count()).select_from(Operator)).scalar_one() == 0
    demo = None if first else Actor(login="demo", role="hwb-admin", schools=None)
    add_operator(session, demo, login, "hwb-admin", [])
    _record_made(session, login)
    return True


def _operators(session: Session, login: str, champion_school: str) -> None:
    _admit(session, login)
    if _foreign_operators(session):
        return  # operators of the database before the demo: the demo adds none of its own
    if login != CHAMPION_LOGIN and session.get(Operator, CHAMPION_LOGIN) is None:
        add_operator(session, load_actor(session, login), CHAMPION_LOGIN, "digital-champion",
                     [champion_school])
        _record_made(session, CHAMPION_LOGIN)


def _sqlite_file(url: str) -> str | None:
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    if not path or path == ":memory:":
        return None
    return path


def _marker(gen: Generator) -> str:
    return json.dumps({"users": gen.users, "schools": len(gen.schools),
                       "created_at": gen.now.isoformat()})


def _build_sqlite(url: str, path: str, gen: Generator, say: Progress,
                  parallel: bool | None = None) -> None:
    """Build into a side file with the journal off and indexes made after the rows, then move
    it into place: a build that dies half-way leaves no half-built database behind."""
    building = f"{path}.building"
    for leftover in (building, f"{building}-wal", f"{building}-shm", f"{building}-journal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    carried = _existing_operators(url) if os.path.exists(path) else []
    open_store(str(make_url(url).set(database=building))).dispose()  # the schema, migrated
    conn = sqlite3.connect(building, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # up to 1 GB, while building only
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA threads=2")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='user' "
            "AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO school (dfes, name, name_cy, la_number) VALUES (?,?,?,?)",
                         gen.school_rows())
        say(f"schools: {len(gen.schools)}")
        cols = ", ".join(COLUMNS)
        nullable = User.__table__.c  # type: ignore[attr-defined]
        marks = ", ".join("NULLIF(?, '')" if nullable[c].nullable else "?" for c in COLUMNS)
        insert_user = f"INSERT INTO user ({cols}) VALUES ({marks})"
        done = 0
        parallel = gen.users >= PARALLEL_FROM if parallel is None else parallel
        for chunk in _rows_in_parallel(gen) if parallel else gen.rows():
            conn.executemany(insert_user, chunk)
            done += len(chunk)
            if done % 200_000 < CHUNK:
                say(f"users: {done}")
        conn.executemany(
            "INSERT INTO auditevent (at, actor, action, user_id, school, reason) "
            "VALUES (?,?,?,?,?,?)", sorted(gen.audit))  # ids in the order things happened
        runs = gen.runs()
        if runs:
            run_cols = list(runs[0])
            conn.executemany(
                f"INSERT INTO provisioningrun ({', '.join(run_cols)}) "
                f"VALUES ({', '.join('?' * len(run_cols))})",
                [tuple(_sqlite_value(r[c]) for c in run_cols) for r in runs])
        for op in carried:
            conn.execute("INSERT INTO operator (login, role, all_schools, language, disabled, "
                         "created_at) VALUES (?,?,?,?,?,?)", op)
        conn.executemany("INSERT INTO usernamebase (key, free_from) VALUES (?, ?)",
                         gen.username_bases())
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (DEMO_MARKER, _marker(gen)))
        conn.execute("COMMIT")
        say("indexes")
        # A small sort memory lets SQLite's sorter split the work across its worker threads.
        conn.execute("PRAGMA cache_size=-20000")
        conn.execute("PRAGMA mmap_size=1073741824")  # each index reads the table: no copies
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("PRAGMA analysis_limit=1000")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    # No fsync before the move: this is generated demo data, and a power cut that spoiled it
    # costs a rerun, whereas flushing 600 MB would cost every build seconds.
    for stale in (f"{path}-wal", f"{path}-shm"):
        if os.path.exists(stale):
            os.remove(stale)
    os.replace(building, path)


PARALLEL_FROM = 100_000  # users: below this a second process costs more than it saves


def _produce(send: Any, users: int, seed: int, now: datetime) -> None:
    """In a second process: generate the rows and hand them over, chunk by chunk."""
    try:
        gen = Generator(users, seed, now=now, raw_sqlite=True)
        for chunk in gen.rows():
            send.send_bytes(_pack(chunk))
        send.send_bytes(pickle.dumps(("done", (gen.audit, gen.numbering.free_from))))
    except BaseException as exc:  # reported to the parent, which raises it
        send.send_bytes(pickle.dumps(("error", repr(exc))))
    finally:
        send.close()


# Between the processes a chunk is one string: a marker byte, then rows joined by RS and fields
# by US (control characters no name can hold: names are made display-safe).
_RS, _US = "\x1e", "\x1f"


def _pack(chunk: list[tuple[Any, ...]]) -> bytes:
    return b"\x00" + _RS.join(_US.join(row) for row in chunk).encode("utf-8")


def _unpack(data: bytes) -> list[list[str]]:
    return [row.split(_US) for row in data[1:].decode("utf-8").split(_RS)]


def _rows_in_parallel(gen: Generator) -> Iterator[Sequence[Sequence[Any]]]:
    """The generator's rows, made by a second process while this one inserts the previous
    chunk: generating and inserting each take one of the machine's cores. (A thread would not
    do: the inserting thread takes the GIL for every row and starves.) The child draws from
    the same seed and clock, so the rows are exactly those `gen.rows()` would give."""
    for data in _packed_in_parallel(gen):
        yield _unpack(data)


def _packed_in_parallel(gen: Generator) -> Iterator[bytes]:
    """The chunks of _rows_in_parallel as the child packed them (see _pack)."""
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx: Any = mp.get_context(method)  # typeshed's BaseContext lacks Process
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_produce, args=(send, gen.users, gen.seed, gen.now),
                        name="hwb-demo-rows", daemon=True)
    child.start()
    send.close()
    try:
        while True:
            data = receive.recv_bytes()
            if data[:1] != b"\x00":
                tag, payload = pickle.loads(data)
                if tag == "error":
                    raise RuntimeError(f"demo generator failed: {payload}")
                gen.audit, gen.numbering.free_from = payload
                return
            yield data
    finally:
        receive.close()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _sql_stamp(value.astimezone(UTC))
    if isinstance(value, date):
        return _sql_day(value)
    return value


def _existing_operators(url: str) -> list[tuple[Any, ...]]:
    """Operators of an empty database (added before the demo) survive the rebuild."""
    store = open_store(url)
    try:
        with store.read() as session:
            ops = session.execute(select(Operator)).scalars().all()
            return [(o.login, o.role, o.all_schools, o.language, o.disabled,
                     _sql_stamp(o.created_at)) for o in ops]
    finally:
        store.dispose()


def _build_generic(url: str, gen: Generator, say: Progress) -> None:
    """Any other database (PostgreSQL): SQLAlchemy Core executemany, one transaction."""
    store = open_store(url)
    try:
        with store.write() as session:
            conn = session.connection()
            conn.execute(insert(School), [
                {"dfes": d, "name": n, "name_cy": c, "la_number": la}
                for d, n, c, la in gen.school_rows()
            ])
            say(f"schools: {len(gen.schools)}")
            done = 0
            for chunk in gen.rows():
                conn.execute(insert(User), [dict(zip(COLUMNS, row, strict=True))
                                            for row in chunk])
                done += len(chunk)
                say(f"users: {done}")
            if gen.audit:
                conn.execute(insert(AuditEvent), [
                    {"at": at, "actor": actor, "action": action, "user_id": uid, "school": school,
                     "reason": reason}
                    for at, actor, action, uid, school, reason in sorted(gen.audit)
                ])
            if gen.schools:
                conn.execute(insert(ProvisioningRun), gen.runs())
            if store.dialect == "postgresql":
                # ids were given explicitly: move the sequence past them for later inserts
                conn.execute(text(
                    "SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), "
                    "(SELECT COALESCE(MAX(id), 1) FROM \"user\"))"))
            conn.execute(insert(UsernameBase), [{"key": k, "free_from": n}
                                                for k, n in gen.username_bases()])
            conn.execute(insert(Meta), [{"key": DEMO_MARKER, "value": _marker(gen)}])
        if store.dialect == "postgresql":
            # The planner's statistics of the rows just loaded, as the SQLite build makes them:
            # without them every search range looks like a dozen rows to PostgreSQL, which then
            # intersects two indexes and sorts 80,000 rows for a page ("jo": 170 ms, not 20 ms).
            # Autovacuum would analyse later, or never where it is turned off.
            with store.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        store.dispose()


# A packed chunk (_pack) is COPY's text format once its backslashes are doubled (the Welsh sort
# keys' alphabet has one) and its separators are a tab and a newline: the demo's values hold
# neither (names are display-safe and drawn from the lists above); '' stands for NULL as on the
# SQLite path.
_AS_COPY_TEXT = bytes.maketrans(_US.encode() + _RS.encode(), b"\t\n")


def _build_postgres(url: str, gen: Generator, say: Progress, parallel: bool | None) -> None:
    """PostgreSQL: the users by COPY, in the text the generator packs (the parent does no work
    per row: a second process generates, for a large demo), with the search and sort indexes
    built once after the rows, as on SQLite; one transaction."""
    store = open_store(url)
    users: Table = User.__table__  # type: ignore[attr-defined]
    try:
        with store.write() as session:
            conn = session.connection()
            # the generator's stamps are UTC wall-clock text; indexes sort in memory
            conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute(insert(School), [
                {"dfes": d, "name": n, "name_cy": c, "la_number": la}
                for d, n, c, la in gen.school_rows()
            ])
            say(f"schools: {len(gen.schools)}")
            indexes = sorted(users.indexes, key=lambda ix: str(ix.name))  # not the unique ones
            for index in indexes:
                index.drop(conn)
            parallel = gen.users >= PARALLEL_FROM if parallel is None else parallel
            chunks = (_packed_in_parallel(gen) if parallel
                      else (_pack(chunk) for chunk in gen.rows()))
            quote = conn.dialect.identifier_preparer.quote
            statement = (f'COPY "user" ({", ".join(quote(c) for c in COLUMNS)}) '
                         "FROM STDIN WITH (FORMAT text, NULL '')")
            done = 0
            with driver_errors(conn, statement):
                driver = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
                with driver.cursor() as cursor, cursor.copy(statement) as copy:
                    for data in chunks:
                        copy.write(data[1:].replace(b"\\", b"\\\\").translate(_AS_COPY_TEXT)
                                   + b"\n")
                        done += data.count(_RS.encode()) + 1
                        if done % 200_000 < CHUNK:
                            say(f"users: {done}")
            say("indexes")
            for index in indexes:
                index.create(conn)
            audit = AuditEvent.__table__  # type: ignore[attr-defined]
            insert_rows(conn, audit, ("at", "actor", "action", "user_id", "school", "reason"),
                        [(at, actor, action, uid, school, reason or None)
                         for at, actor, action, uid, school, reason in sorted(gen.audit)])
            if gen.schools:
                conn.execute(insert(ProvisioningRun), gen.runs())
            # ids were given explicitly: move the sequence past them for later inserts
            conn.execute(text(
                "SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM \"user\"))"))
            insert_rows(conn, UsernameBase.__table__,  # type: ignore[attr-defined]
                        ("key", "free_from"), gen.username_bases())
            conn.execute(insert(Meta), [{"key": DEMO_MARKER, "value": _marker(gen)}])
        # The planner's statistics of the rows just loaded (see _build_generic).
        with store.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    finally:
        store.dispose()
