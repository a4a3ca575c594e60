"""The store's tables: School, User, Operator, OperatorSchool, AuditEvent, ProvisioningRun, Meta."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

# Keys compare byte-wise on every database: PostgreSQL's locale collations would otherwise
# reorder the Welsh sort keys and break prefix range scans.
KEY = String().with_variant(String(collation="C"), "postgresql")



class Kind(StrEnum):
    """What an account is for (SPEC §1): learners and staff come from the school's MIS."""

    LEARNER = "learner"
    STAFF = "staff"
    GOVERNOR = "governor"
    ITE = "ite"
    LA = "la"
    REC = "rec"
    OTHER = "other"


class Source(StrEnum):
    """Who starts and ends an account: the school's MIS, or an operator by hand."""

    MIS = "mis"
    NON_MIS = "non-mis"


class Status(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class Role(StrEnum):
    HWB_ADMIN = "hwb-admin"
    DIGITAL_CHAMPION = "digital-champion"


# The stored values, as plain strings (the columns hold text; a driver may adapt an Enum by
# its name rather than its value, so rows are written with these).
KINDS = tuple(k.value for k in Kind)
MIS_KINDS = (Kind.LEARNER.value, Kind.STAFF.value)
NON_MIS_KINDS = tuple(k for k in KINDS if k not in MIS_KINDS)
ROLES = tuple(r.value for r in Role)
ACTIVE = Status.ACTIVE.value
DEACTIVATED = Status.DEACTIVATED.value


class School(SQLModel, table=True):
    dfes: str = Field(primary_key=True, max_length=7)  # LA number + establishment number
    name: str
    name_cy: str
    la_number: int = Field(index=True)
    # A closed school takes no more provisioning runs and no new users; its users stay.
    closed_at: datetime | None = None
    closed_by: str | None = None


class User(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("school", "staff_code", name="uq_user_school_staff_code"),
        Index("ix_user_sort_en", "sort_en", "id"),
        Index("ix_user_sort_cy", "sort_cy", "id"),
        Index("ix_user_kind_sort_en", "kind", "sort_en", "id"),
        Index("ix_user_kind_sort_cy", "kind", "sort_cy", "id"),
        Index("ix_user_school_sort_en", "school", "sort_en", "id"),
        Index("ix_user_school_sort_cy", "school", "sort_cy", "id"),
        Index("ix_user_status_kind", "status", "kind"),
        # Search: a prefix range on a name key within the view's kinds, so a search reads only
        # the matches in view (kind IN (...) AND key >= p AND key < p+).
        Index("ix_user_kind_surname_key", "kind", "surname_key"),
        Index("ix_user_kind_forename_key", "kind", "forename_key"),
        Index("ix_user_kind_username_key", "kind", "username_key"),
        Index("ix_user_expires", "expires_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)  # never changes once issued
    kind: str  # one of KINDS
    source: str  # "mis" or "non-mis"
    school: str = Field(foreign_key="school.dfes")
    surname: str
    forename: str
    # Search keys: folded (case, accents, punctuation) for search-as-you-type prefix scans.
    surname_key: str = Field(sa_column=Column(KEY, nullable=False))
    forename_key: str = Field(sa_column=Column(KEY, nullable=False))
    # also indexed alone: username allocation looks for collisions across every kind
    username_key: str = Field(sa_column=Column(KEY, nullable=False, index=True))
    # Sort keys: English and Welsh alphabetical order of surname then forename.
    sort_en: str = Field(sa_column=Column(KEY, nullable=False))
    sort_cy: str = Field(sa_column=Column(KEY, nullable=False))
    # learners; searched by prefix range, so byte-wise like the keys (see KEY)
    upn: str | None = Field(default=None, sa_column=Column(KEY, unique=True, nullable=True))
    staff_code: str | None = None  # staff, unique within a school
    year_group: int | None = None
    reg_group: str | None = None
    admission_number: str | None = None
    admission_date: date | None = None
    leaving_date: date | None = None
    role: str | None = None  # SWAC role of staff
    status: str = Field(default=ACTIVE)
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None = None
    deactivated_by: str | None = None
    deactivation_reason: str | None = None
    deferred_until: date | None = None  # summer rollover: deactivation applied on/after this date
    # When a run that applied this account's changes first stored its leaving date: a leaver
    # whose date an earlier successful run already saw is announced (SPEC §3, the limit).
    leaving_seen_at: datetime | None = None
    expires_on: date | None = None  # non-MIS lifetime
    ite_informed_at: datetime | None = None
    ite_informed_by: str | None = None
    purged_at: datetime | None = None
    version: int = Field(default=1)  # bumped by every change: optimistic concurrency


class Operator(SQLModel, table=True):
    login: str = Field(primary_key=True)
    role: str  # one of ROLES
    all_schools: bool = False  # a Hwb administrator may be given every school
    language: str = "en"
    disabled: bool = False
    created_at: datetime


class OperatorSchool(SQLModel, table=True):
    login: str = Field(foreign_key="operator.login", primary_key=True)
    school: str = Field(foreign_key="school.dfes", primary_key=True)


class AuditEvent(SQLModel, table=True):
    """Append-only (triggers refuse UPDATE and DELETE). Holds no personal data but the user id,
    so a purge can tombstone a user without rewriting history."""

    __table_args__ = (Index("ix_audit_user", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor: str  # operator login, or "provisioning-client" / "housekeeping"
    action: str
    user_id: int | None = Field(default=None, foreign_key="user.id")
    school: str | None = None
    reason: str | None = None
    run_id: int | None = Field(default=None, foreign_key="provisioningrun.id")
    detail: str | None = None  # JSON


class ProvisioningRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(index=True)
    finished_at: datetime | None = None
    school: str = Field(index=True)
    actor: str
    files: str  # JSON list of file names
    sha256: str  # JSON list, one digest per file
    format: str
    as_of: date
    dry_run: bool = False
    outcome: str  # applied, planned, rejected, held, failed (blocked: before holds existed)
    created: int = 0
    updated: int = 0
    moved: int = 0
    deactivated: int = 0
    activated: int = 0
    deferred: int = 0
    not_in_export: int = 0
    invalid: int = 0
    report: str | None = None  # JSON
    # A run held by the deactivation limit keeps its unannounced leavers here (JSON list of
    # {user_id, username, leaving_date, reason, where}) until decided (core.runs.HeldState).
    held: str | None = None
    held_state: str | None = None
    held_until: datetime | None = None
    decided_by: str | None = None  # the operator who approved or discarded
    decided_at: datetime | None = None
    superseded_by: int | None = None  # the later run of the school that replaced the held plan
    # What the run changed, to undo it: JSON {"created": [user id], "before": {user id:
    # {column: value before}}, "after": {user id: version after}} (core.runs, `runs revert`).
    undo: str | None = None
    revert_of: int | None = None  # this run reverted that one


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class UsernameBase(SQLModel, table=True):
    """Per username base (its key: 'jonesf'): every collision number below `free_from` is taken,
    so a new username's number is looked for from there, not counted among thousands of
    'JonesF…' (core.usernames). Raised as usernames are issued; lowered by a trigger on `user`
    when a username leaves (a purge, a reverted run), so it never skips a free number."""

    key: str = Field(sa_column=Column(KEY, primary_key=True))
    free_from: int = 1

