"""Provisioning benchmark (SPEC §5): a national re-sync and a 2,000-row school.

    python benchmarks/provisioning_bench.py            # full: 600,000 rows in 1,500 files
    python benchmarks/provisioning_bench.py --smoke    # seconds: for CI, asserts nothing
    python benchmarks/provisioning_bench.py --db postgresql+psycopg://…   # on PostgreSQL

Generates the exports into a temporary directory, loads them once (the initial load, also
timed), then measures, each through `hwb_tui.provisioning.provision` in this one process:
  1. the unchanged national re-sync (target ≥ 50,000 rows/s);
  2. one 2,000-row school: first load, and unchanged (target < 0.5 s);
  3. the national re-sync with 5% of rows changed (names, year groups, leavers, new learners);
  4. the same national data as one OneRoster 1.1 set (a folder: orgs, users, one enrollment per
     learner), on a fresh database: its first load, then unchanged (target ≥ 50,000 rows/s).
`--format csv` or `--format oneroster` runs only that part (the OneRoster part alone skips
the CSV initial load, which is most of the CSV part's time).
Prints a table and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwb_tui.core.db import open_store  # noqa: E402
from hwb_tui.core.models import School  # noqa: E402
from hwb_tui.core.names import make_upn  # noqa: E402
from hwb_tui.provisioning import ProvisionOptions, ProvisionReport, provision  # noqa: E402

SIMS = ("UPN,Legal Surname,Legal Forename,Admission Number,Date of Admission,Date of Leaving,"
        "Year,Reg")
TC = ("Pupil UPN,Surname,First Name,Admission No,Admission Date,Leaving Date,Year Group,"
      "Registration Group")
SURNAMES = ["Jones", "Davies", "Williams", "Evans", "Thomas", "Roberts", "Hughes", "Lewis",
            "Morgan", "Griffiths", "Edwards", "Owen", "Price", "Rees", "Jenkins", "Lloyd",
            "Pritchard", "Parry", "Llywelyn", "ap Gwilym", "Prŷs", "Ŵyn", "Glyndŵr", "Rhys",
            "Gruffydd", "Bowen", "Powell", "Ellis", "Pugh", "Howells", "O'Donnell", "Ifans"]
FORENAMES = ["Siân", "Dafydd", "Gwenllïan", "Rhodri", "Eleri", "Iolo", "Angharad", "Bethan",
             "Ffion", "Cai", "Llŷr", "Tomos", "Elin", "Owain", "Mabli", "Osian", "Heledd",
             "Gethin", "Lowri", "Tirion", "Nia", "Huw", "Carys", "Aled", "Menna", "Dewi",
             "Sioned", "Mererid", "Gareth", "Alaw", "Efa", "Twm"]
AS_OF = date(2026, 11, 30)


def school_numbers(count: int) -> list[str]:
    out = []
    for est in range(2001, 9000):
        for la in range(660, 682):
            out.append(f"{la}{est}")
            if len(out) == count:
                return out
    return out


def roster(dfes: str, rows: int, rnd: random.Random) -> list[list[str]]:
    """Learners of one school: [upn, surname, forename, adm no, adm date, leaving, year, reg]."""
    la, est = int(dfes[:3]), int(dfes[3:])
    out = []
    for i in range(rows):
        year_digits, serial = 10 + i // 1000, i % 1000
        year = 7 + i % 7
        out.append([make_upn(la, est, year_digits, serial), rnd.choice(SURNAMES),
                    rnd.choice(FORENAMES), str(i + 1), f"{2026 - (year - 7)}-09-01", "",
                    str(year), f"{year}{'ABCD'[i % 4]}"])
    return out


def write_export(path: Path, rows: list[list[str]], teacher_centre: bool) -> None:
    lines = [TC if teacher_centre else SIMS]
    for r in rows:
        r = list(r)
        if not teacher_centre:
            for k in (4, 5):
                if r[k]:
                    y, m, d = r[k].split("-")
                    r[k] = f"{d}/{m}/{y}"
        lines.append(",".join(r))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


OR_USERS = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
            "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
            "password")
OR_ENROLLMENTS = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
                  "userSourcedId,role,primary,beginDate,endDate")


def write_oneroster(folder: Path, rosters: dict[str, list[list[str]]]) -> None:
    """The rosters as one OneRoster 1.1 bulk set: every school an org, every learner a user
    with one enrollment (their registration class) whose beginDate is the admission date."""
    folder.mkdir(parents=True, exist_ok=True)
    orgs = ["sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId"]
    users = [OR_USERS]
    enrollments = [OR_ENROLLMENTS]
    for dfes, rows in rosters.items():
        orgs.append(f"org-{dfes},,,School {dfes},school,{dfes},la-{dfes[:3]}")
        for upn, surname, forename, _adm, admitted, leaving, year, reg in rows:
            users.append(f"{upn},,,true,org-{dfes},student,{upn.lower()}@hwbcymru.net,,"
                         f"{forename},{surname},,{upn},,,,,{int(year):02d},")
            enrollments.append(f"enr-{upn},,,class-{dfes}-{reg},org-{dfes},{upn},student,"
                               f"true,{admitted},{leaving}")
    manifest = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1",
                "file.orgs,bulk", "file.users,bulk", "file.enrollments,bulk",
                "file.classes,absent", "file.academicSessions,absent"]
    for name, lines in (("manifest.csv", manifest), ("orgs.csv", orgs), ("users.csv", users),
                        ("enrollments.csv", enrollments)):
        (folder / name).write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def change_five_percent(rows: list[list[str]], rnd: random.Random, dfes: str) -> None:
    """5% of rows change: names, year/reg, a few leavers (under the limit) and new learners."""
    n = len(rows)
    la, est = int(dfes[:3]), int(dfes[3:])
    new = 0
    for i in rnd.sample(range(n), max(1, n // 20)):
        what = rnd.random()
        if what < 0.5:
            rows[i][1] = rnd.choice(SURNAMES) + "-" + rnd.choice(SURNAMES)
        elif what < 0.8:
            rows[i][7] = rows[i][7][:-1] + "Z"
        elif what < 0.9:
            rows[i][5] = "2026-10-23"  # a leaver
        else:
            new += 1
            rows.append([make_upn(la, est, 99, new), rnd.choice(SURNAMES),
                         rnd.choice(FORENAMES), str(10_000 + i), "2026-11-02", "", "9", "9N"])


CPU: dict[str, float] = {}


def timed(
    store: Any, files: list[Path], school: str | None = None
) -> tuple[float, ProvisionReport]:
    """Wall-clock seconds of one provision() call; its CPU seconds go to CPU["last"] (this
    process only: on a shared machine CPU time is steadier than wall time)."""
    started, cpu = time.perf_counter(), time.process_time()
    report = provision(store, files, school, ProvisionOptions(as_of=AS_OF, force=True))
    elapsed = time.perf_counter() - started
    CPU["last"] = time.process_time() - cpu
    bad = [s for s in report.schools if s.outcome != "applied"]
    if bad:
        raise SystemExit(f"benchmark run failed: {bad[0].school} {bad[0].outcome} "
                         f"{bad[0].message} {bad[0].errors[:3]}")
    return elapsed, report


def totals(report: ProvisionReport) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in report.schools:
        for k, v in s.counts.items():
            out[k] = out.get(k, 0) + v
    return out


def csv_part(store: Any, results: dict[str, Any], files: list[Path],
             rosters: dict[str, list[list[str]]], big_file: Path,
             big_rows: list[list[str]], args: Any, rnd: random.Random,
             row_count: int) -> None:
    """The CSV layouts: initial load, unchanged re-sync, one big school, 5% changed."""
    load_s, _ = timed(store, files)
    results["initial_load"] = {"rows": row_count, "seconds": load_s,
                               "rows_per_s": row_count / load_s, "cpu_s": CPU["last"]}
    resync_s, report = timed(store, files)
    changed = sum(v for k, v in totals(report).items() if k != "not_in_export")
    assert changed == 0, f"an unchanged re-sync changed {changed} accounts"
    results["unchanged_resync"] = {"rows": row_count, "seconds": resync_s,
                                   "rows_per_s": row_count / resync_s, "cpu_s": CPU["last"]}
    first_s, _ = timed(store, [big_file])
    results["school_2000_first_load"] = {"rows": args.big, "seconds": first_s,
                                         "cpu_s": CPU["last"]}
    again_s, _ = timed(store, [big_file])
    results["school_2000_unchanged"] = {"rows": args.big, "seconds": again_s,
                                        "cpu_s": CPU["last"]}
    big5 = [list(r) for r in big_rows]
    change_five_percent(big5, rnd, big_file.name[:7])
    write_export(big_file, big5, teacher_centre=False)
    big5_s, _ = timed(store, [big_file])
    results["school_2000_5pct_changed"] = {"rows": len(big5), "seconds": big5_s,
                                           "cpu_s": CPU["last"]}
    for i, (dfes, rows) in enumerate(rosters.items()):
        change_five_percent(rows, rnd, dfes)
        write_export(files[i], rows, teacher_centre=i % 5 == 4)
    rows5 = sum(len(r) for r in rosters.values())
    changed_s, report5 = timed(store, files)
    results["resync_5pct_changed"] = {"rows": rows5, "seconds": changed_s,
                                      "rows_per_s": rows5 / changed_s,
                                      "cpu_s": CPU["last"], "counts": totals(report5)}



def oneroster_part(work: Path, args: Any, numbers: list[str],
                   rosters: dict[str, list[list[str]]], results: dict[str, Any]) -> None:
    """The national data as one OneRoster set, on a fresh database: first load, unchanged."""
    url = args.db_oneroster or (args.db if args.format == "oneroster" else None) \
        or f"sqlite:///{work / 'hwb-oneroster.db'}"
    store = open_store(url, busy_timeout=30)
    with store.write() as session:
        if session.get(School, numbers[0]) is None:  # (--format oneroster: main's store)
            for dfes in numbers:
                session.add(School(dfes=dfes, name=f"School {dfes}", name_cy=f"Ysgol {dfes}",
                                   la_number=int(dfes[:3])))
    folder = work / "oneroster"
    write_oneroster(folder, rosters)
    rows = sum(len(r) for r in rosters.values())
    print(f"OneRoster set: {rows:,} users at {len(rosters):,} schools; {url}", flush=True)
    load_s, _ = timed(store, [folder])
    results["oneroster_first_load"] = {"rows": rows, "seconds": load_s,
                                       "rows_per_s": rows / load_s, "cpu_s": CPU["last"]}
    again_s, report = timed(store, [folder])
    changed = sum(v for k, v in totals(report).items() if k != "not_in_export")
    assert changed == 0, f"an unchanged OneRoster re-sync changed {changed} accounts"
    results["oneroster_unchanged_resync"] = {"rows": rows, "seconds": again_s,
                                             "rows_per_s": rows / again_s,
                                             "cpu_s": CPU["last"]}
    store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--schools", type=int, default=1500)
    parser.add_argument("--rows", type=int, default=400, help="rows per school file")
    parser.add_argument("--big", type=int, default=2000, help="rows of the single school")
    parser.add_argument("--db", help="database URL (default: an SQLite file in the temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--format", choices=["both", "csv", "oneroster"], default="both",
                        help="which exports to measure (default: both)")
    parser.add_argument("--db-oneroster", help="database URL for the OneRoster part (default: "
                        "a fresh SQLite file; give a different PostgreSQL database than --db)")
    args = parser.parse_args()
    if args.smoke:
        args.schools, args.rows, args.big = 20, 50, 200
    rnd = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="hwb-prov-bench-") as tmp:
        work = Path(tmp)
        url = args.db or f"sqlite:///{work / 'hwb.db'}"
        store = open_store(url, busy_timeout=30)
        numbers = school_numbers(args.schools + 1)
        national, big_school = numbers[:-1], numbers[-1]
        with store.write() as session:
            for dfes in numbers:
                session.add(School(dfes=dfes, name=f"School {dfes}", name_cy=f"Ysgol {dfes}",
                                   la_number=int(dfes[:3])))
        rosters = {d: roster(d, args.rows, rnd) for d in national}
        files = []
        for i, (dfes, rows) in enumerate(rosters.items()):
            path = work / f"{dfes}-learners.csv"
            write_export(path, rows, teacher_centre=i % 5 == 4)
            files.append(path)
        big_rows = roster(big_school, args.big, rnd)
        big_file = work / f"{big_school}-learners.csv"
        write_export(big_file, big_rows, teacher_centre=False)
        row_count = sum(len(r) for r in rosters.values())
        print(f"{len(files)} files, {row_count:,} rows; one school of {args.big:,} rows; {url}",
              flush=True)

        results: dict[str, Any] = {}
        if args.format in ("csv", "both"):
            csv_part(store, results, files, rosters, big_file, big_rows, args, rnd, row_count)
        store.dispose()
        if args.format in ("oneroster", "both"):
            oneroster_part(work, args, numbers, rosters, results)

    targets: dict[str, Any] = {}
    if "unchanged_resync" in results:
        targets["unchanged_resync_rows_per_s"] = {
            "target": 50_000, "met": results["unchanged_resync"]["rows_per_s"] >= 50_000}
        targets["school_2000_seconds"] = {
            "target": 0.5, "met": results["school_2000_unchanged"]["seconds"] < 0.5
            and results["school_2000_first_load"]["seconds"] < 0.5}
    if "oneroster_unchanged_resync" in results:
        targets["oneroster_unchanged_resync_rows_per_s"] = {
            "target": 50_000,
            "met": results["oneroster_unchanged_resync"]["rows_per_s"] >= 50_000}
    results["targets"] = targets
    meta = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "smoke": args.smoke,
            "database": url.split(":")[0].split("+")[0], "schools": args.schools,
            "rows_per_school": args.rows,
            "python": platform.python_version(), "machine": platform.machine()}
    print()
    print(f"{'measure':28} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'cpu s':>8} "
          f"{'rows/cpu s':>10}")
    for name, r in results.items():
        if name == "targets":
            continue
        rate = f"{r['rows_per_s']:>10,.0f}" if "rows_per_s" in r else f"{'':>10}"
        print(f"{name:28} {r['rows']:>9,} {r['seconds']:>9.3f} {rate} {r['cpu_s']:>8.3f} "
              f"{r['rows'] / max(r['cpu_s'], 1e-9):>10,.0f}")
    for name, tgt in results["targets"].items():
        print(f"target {name}: {tgt['target']} -> {'met' if tgt['met'] else 'MISSED'}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"provisioning-{'smoke' if args.smoke else 'full'}-{meta['database']}.json"
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2), encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
