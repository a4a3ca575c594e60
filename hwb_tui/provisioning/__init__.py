"""The provisioning client: MIS exports in, leavers out — per school, atomically and safely.

Public API (stable; the CLI `hwb-tui provision` and the console's Provisioning view both call it):

    from hwb_tui.provisioning import ProvisionOptions, provision, report_as_dict

    report = provision(store, [Path("6612001-learners.csv")], school=None,
                       options=ProvisionOptions(dry_run=True), progress=callback)
    report.exit_code            # worst school: 0 applied/planned, 1 rejected, 3 held, 4 database
    for s in report.schools:    # SchoolResult, one per school
        s.school, s.outcome     # applied | planned | rejected | held | failed | skipped
        s.counts                # created, updated, moved, deactivated, activated, deferred,
                                # not_in_export, invalid
        s.errors                # ["file:line:field: reason", ...] (header = line 1)
        s.message               # one line for the whole school, or None
        s.deactivations         # [{"username", "reason", "leaving_date", "where"}, ...]
        s.not_in_export         # usernames of active accounts the export does not list
        s.notices               # late leavers of moved learners, stale moves, ...
        s.held                  # leavers held by the limit: [{"user_id", "username", ...}]
        s.limit                 # {"deactivations" (unannounced), "announced", "pending",
                                #  "active", "maximum", "force", "held"}
        s.run_id                # the ProvisioningRun row (None for dry runs)
    report_as_dict(report)      # the --json report (plain JSON types)

- `school=None`: each file name must begin with the school's DfES number
  (`6612001-learners.csv`, `6612001_staff.csv`); otherwise every file belongs to `school`.
  A file name without a DfES number, or a malformed `school`, raises core.errors.UsageError.
- `progress(ProgressEvent)` is called as each school is read, planned, applied and done, with
  bytes done/total over all files (for a progress bar).
- Each school is applied in ONE transaction (`store.write()`); rejected (invalid input, unknown
  school) runs change no account and no audit row, and are recorded as a ProvisioningRun with
  that outcome in a separate small transaction. A run over the deactivation limit is "held":
  applied except its unannounced leavers, kept on the run for `runs approve`/`runs discard`
  (provisioning.decide). Dry runs are not recorded. If the database becomes unavailable, that
  school is "failed" and the rest "skipped" (exit 4).
- `provision(..., actor=None)` acts as core.access.system_actor(PROVISIONING_ACTOR), every
  school, no operator record needed (the scheduled job). `actor=` an operator (the console):
  only their schools (else core.errors.NotPermitted before anything is planned), the operator
  checked again in each school's transaction (NotPermitted / OperatorDisabled / UnknownOperator
  end the command and record nothing), a learner at a school outside their scope is a notice
  (`outside_scope`), never a change, and the run and its audit rows name the operator.
- A file whose name begins with a DfES number may only be provisioned for that school
  (UsageError otherwise), with or without `school`.
- A move is audited at both schools: "move" at the school gaining the learner, "move_out"
  at the school losing them.
- Besides the CSV layouts, `--format oneroster|ctf` (or auto) read OneRoster 1.1/1.2 CSV sets
  (a folder, a zip, or its files) and Common Transfer Files; a set may cover many schools, each
  applied in its own transaction (the operator's scope is checked on the schools the set
  names inside, not on its file name).
- `read_roster(paths, fmt)` reads and validates one school's files without a database (the
  errors are `roster.errors`, each `.render(lang)` → "file:line:field: reason").

Modules: layouts (profiles as data), readers (bytes → records), sources (which files are which
format, for which school), oneroster and ctf (the standard formats → the same records), plan
(the rules and the limit), apply (batched writes and the undo record), service (runs over many
schools), decide (approve, discard and revert a run).
"""

from hwb_tui.provisioning.layouts import Profile, detect, profile_names, profiles
from hwb_tui.provisioning.service import (
    COUNTS,
    FileSummary,
    ProgressEvent,
    ProvisionOptions,
    ProvisionReport,
    SchoolResult,
    group_by_school,
    provision,
    read_roster,
    report_as_dict,
)
from hwb_tui.provisioning.sources import STANDARD_FORMATS

__all__ = [
    "COUNTS",
    "FileSummary",
    "Profile",
    "ProgressEvent",
    "ProvisionOptions",
    "ProvisionReport",
    "SchoolResult",
    "detect",
    "group_by_school",
    "profile_names",
    "profiles",
    "provision",
    "read_roster",
    "report_as_dict",
    "STANDARD_FORMATS",
]
