"""Many operators at once (SPEC §5): 20 operators searching while a national re-sync applies.

    python benchmarks/operators_bench.py --db postgresql+psycopg://…/bench   # 1M users
    python benchmarks/operators_bench.py --db URL --users 100000             # 100k
    python benchmarks/operators_bench.py --db URL --smoke                    # seconds

The directory is a demo of `users` less the national export, plus the national export itself
(benchmarks/provisioning_bench.py's generator: 400 learners at each of users x 0.6 / 400 schools
of their own) loaded once through `provision`: so the re-sync applies to a directory of `users`.
Both are built once and kept (the national load takes minutes on PostgreSQL).

Each operator is a process of its own, as each operator's console is, and reads exactly as the
console's table does (core.user_window.DirectorySource, the source UserTable's workers read):
for each key of a scripted search, the first page of View Learners & Staff, then its capped
count. Operators type at a person's pace (a key every 0.15-0.35 s, each starting on a different
search). Phases, each measured in the same run:
  alone        one operator;
  20 alone     twenty operators;
  20 + resync  twenty operators while the unchanged national re-sync applies;
  20 + 5%      twenty operators while the re-sync with 5% of rows changed applies.
The national export is then put back as it was (a re-sync, not measured). For each phase: the
keystroke's page (rows) and page + count (a settled table) p50 / p95 / max, and keys measured.
A search that waited on the write would show as a maximum near the write's transaction times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from provisioning_bench import (  # noqa: E402  (its generator and its timed provision call)
    change_five_percent,
    roster,
    school_numbers,
    timed,
    totals,
    write_export,
)
from sqlalchemy import func  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from hwb_tui import demo  # noqa: E402
from hwb_tui.core import directory  # noqa: E402
from hwb_tui.core.access import current_login, load_actor  # noqa: E402
from hwb_tui.core.db import open_store  # noqa: E402
from hwb_tui.core.models import School, User  # noqa: E402
from hwb_tui.core.user_window import COUNT_CAP, PAGE, DirectorySource  # noqa: E402

# The console's scripted searches (screen_bench's), typed a key at a time.
TERMS = ["jones", "nguyen", "cwm", "sian", "mabli", "jones s", "a661", "llyw", "rhys",
         "williams", "pritch", "evans d"]
ROWS_PER_SCHOOL = 400
NATIONAL_SHARE = 0.6  # of the directory: the learners the national export carries
NATIONAL_NAME = "School {dfes}"  # the export's schools (the demo's have place names)


def keystrokes(offset: int) -> list[str]:
    """An operator's searches, each key's search so far, starting at a search of its own."""
    terms = TERMS[offset % len(TERMS):] + TERMS[:offset % len(TERMS)]
    return [term[:i] for term in terms for i in range(1, len(term) + 1)]


def operator(url: str, offset: int, ready: Any, start: Any, stop: Any, out: Any) -> None:
    """One operator's console: a key, the page, the count, a pause; until told to stop."""
    store = open_store(url)
    with store.read() as session:
        actor = load_actor(session, current_login())
    source = DirectorySource(store, actor, COUNT_CAP)
    source.page(directory.Query(view="mis"), None, False, PAGE)  # connected, as after start-up
    rnd = random.Random(offset)
    keys = keystrokes(offset)
    samples: list[tuple[float, float, float]] = []
    ready.wait()
    start.wait()
    i = 0
    while not stop.is_set():
        search = keys[i % len(keys)]
        i += 1
        q = directory.Query(view="mis", status="active", search=search, language="en",
                            today=date.today())
        began = time.perf_counter()
        source.page(q, None, False, PAGE)
        rows = time.perf_counter()
        source.count(q)
        settled = time.perf_counter()
        samples.append((began, (rows - began) * 1000, (settled - began) * 1000))
        time.sleep(rnd.uniform(0.15, 0.35))
    store.dispose()
    out.put(samples)


def phase(url: str, operators: int, seconds: float | None,
          write: Any = None) -> dict[str, Any]:
    """`operators` typing for `seconds`, or for as long as `write()` takes."""
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(operators + 1)
    start, stop = ctx.Event(), ctx.Event()
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=operator, args=(url, n, ready, start, stop, out))
             for n in range(operators)]
    for p in procs:
        p.start()
    ready.wait()
    began = time.perf_counter()
    start.set()
    written: dict[str, Any] = {}
    if write is None:
        assert seconds is not None
        time.sleep(seconds)
    else:
        time.sleep(1.0)  # the operators under way first
        written = write()
    ended = time.perf_counter()
    stop.set()
    samples: list[tuple[float, float, float]] = []
    for _ in procs:
        samples.extend(out.get(timeout=120))
    for p in procs:
        p.join()
    during = [s for s in samples if began <= s[0] <= ended]
    return {"operators": operators, "seconds": ended - began, **written,
            "rows": stats([s[1] for s in during]), "key": stats([s[2] for s in during])}


def stats(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan"), "n": 0}
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1],
            "n": len(ordered)}


def national(url: str, users: int, work: Path
             ) -> tuple[Any, list[Path], dict[str, list[list[str]]]]:
    """The demo directory and the national export on it: built once, the export written anew."""

    schools = max(2, int(users * NATIONAL_SHARE) // ROWS_PER_SCHOOL)
    if demo.state(url) in ("missing", "empty"):
        built = demo.build(url, users - schools * ROWS_PER_SCHOOL, current_login())
        print(f"demo of {built.users:,} users built in {built.seconds:.0f} s", file=sys.stderr)
    store = open_store(url, busy_timeout=30)
    with store.read() as session:
        existing = set(session.exec(select(School.dfes)).all())
        # the demo's schools have place names; the export's are this bench's "School <dfes>"
        demo_schools = set(session.exec(select(School.dfes).where(
            ~col(School.name).startswith(NATIONAL_NAME.format(dfes="")))).all())
    # schools of the export's own, beside the demo's (their numbers are the generator's)
    rnd = random.Random(2026)
    numbers = [d for d in school_numbers(schools + len(demo_schools) + 1)
               if d not in demo_schools][:schools]
    rosters = {d: roster(d, ROWS_PER_SCHOOL, rnd) for d in numbers}
    files = []
    for i, (dfes, rows) in enumerate(rosters.items()):
        path = work / f"{dfes}-learners.csv"
        write_export(path, rows, teacher_centre=i % 5 == 4)
        files.append(path)
    with store.read() as session:
        loaded = session.exec(select(func.count()).select_from(User)
                              .where(User.school == numbers[-1])).one()
    if not loaded:
        with store.write() as session:
            for dfes in numbers:
                if dfes not in existing:
                    session.add(School(dfes=dfes, name=NATIONAL_NAME.format(dfes=dfes),
                                  name_cy=f"Ysgol {dfes}", la_number=int(dfes[:3])))
        seconds, _ = timed(store, files)
        print(f"national export of {schools * ROWS_PER_SCHOOL:,} learners first loaded in "
              f"{seconds:.0f} s", file=sys.stderr)
        if store.dialect == "postgresql":
            # the new rows in the planner's statistics (autovacuum may be off, or not yet run)
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    return store, files, rosters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="PostgreSQL (or SQLite) URL of its own")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="of each phase alone")
    parser.add_argument("--smoke", action="store_true", help="4 operators, 5,000 users")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.operators, args.seconds = 5_000, 4, 2.0
    os.environ.setdefault("HWB_LANG", "en")
    load = [" ".join(Path("/proc/loadavg").read_text().split()[:3])]
    with tempfile.TemporaryDirectory(prefix="hwb-operators-") as tmp:
        work = Path(tmp)
        store, files, rosters = national(args.db, args.users, work)
        results: dict[str, Any] = {}
        results["alone"] = phase(args.db, 1, args.seconds)
        results[f"{args.operators} alone"] = phase(args.db, args.operators, args.seconds)

        def resync() -> dict[str, Any]:
            seconds, report = timed(store, files)
            return {"write_s": seconds, "write_rows": sum(len(r) for r in rosters.values()),
                    "changed": {k: v for k, v in totals(report).items() if v}}

        results[f"{args.operators} + unchanged resync"] = phase(
            args.db, args.operators, None, resync)
        original = {d: [list(r) for r in rows] for d, rows in rosters.items()}
        rnd = random.Random(5)
        for i, (dfes, rows) in enumerate(rosters.items()):
            change_five_percent(rows, rnd, dfes)
            write_export(files[i], rows, teacher_centre=i % 5 == 4)
        results[f"{args.operators} + 5% changed resync"] = phase(
            args.db, args.operators, None, resync)
        # the export as it was, for the next run's unchanged re-sync (not measured)
        for i, rows in enumerate(original.values()):
            write_export(files[i], rows, teacher_centre=i % 5 == 4)
        timed(store, files)
        store.dispose()
    load.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    alone = results["alone"]["key"]["p95"]
    print(f"{'phase':34} {'keys':>6} {'rows p50':>9} {'p95':>6} {'max':>6} {'key p50':>8} "
          f"{'p95':>6} {'max':>6} {'p95/alone':>10} {'write s':>8}")
    for name, r in results.items():
        print(f"{name:34} {r['key']['n']:>6} {r['rows']['p50']:>9.1f} {r['rows']['p95']:>6.1f} "
              f"{r['rows']['max']:>6.0f} {r['key']['p50']:>8.1f} {r['key']['p95']:>6.1f} "
              f"{r['key']['max']:>6.0f} {r['key']['p95'] / alone:>9.2f}x "
              f"{r.get('write_s', float('nan')):>8.1f}")
    print(f"load {load[0]} -> {load[1]}")
    args.out.mkdir(parents=True, exist_ok=True)
    database = args.db.split(":")[0].split("+")[0]
    path = args.out / f"operators-{'smoke' if args.smoke else args.users}-{database}.json"
    path.write_text(json.dumps({"users": args.users, "load": load, "results": results},
                               indent=2), encoding="utf-8")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
