"""The performance harness of SPEC §5: one command, a table on screen and JSON on disk.

    python benchmarks/run.py                 # 10k, 100k and 1M users; takes about 15 minutes
    python benchmarks/run.py --smoke         # 2,000 users, seconds: run by the test suite in CI
    python benchmarks/run.py --postgres URL  # the same sizes on PostgreSQL too
    python benchmarks/run.py --sizes 1000000 --skip-provisioning --postgres URL

For each directory size it builds a demo directory once (kept in benchmarks/work/; on
PostgreSQL in a schema `hwb_bench_<users>` of the database given, kept likewise), checks the
query plans of a keystroke (no full scan), and measures in child processes: the console as the
operator sees it (benchmarks/screen_bench.py: the real `hwb-tui` in a pty read through a
terminal emulator, beside the floor of a minimal Textual app), the console in-process
(keystroke to table updated, page down, peak memory), and Textual's stock DataTable holding the
same rows, filtered in Python (sizes up to 100k: beyond that it cannot serve). Then the
provisioning benchmark (benchmarks/provisioning_bench.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from console_bench import child, summary  # noqa: E402

# SPEC §5, as the operator sees it (screen_bench.py): first page from process start; key to
# rows at p95 beyond the floor's own p95; key to a settled screen, count included; page down.
TARGETS = {"first_page_ms": 1000.0, "key_rows_beyond_floor_p95_ms": 50.0,
           "key_settled_p95_ms": 150.0, "pagedown_p95_ms": 30.0, "rss_mb": 200.0}


def verdict(r: dict[str, Any]) -> dict[str, bool]:
    """SPEC §5's console targets for one size's results: on screen, or in-process without pyte."""
    s = r.get("screen") or {}
    if "skipped" in s:
        o = r["ours"]
        return {"first_page_ms": o["startup_ms"] < TARGETS["first_page_ms"],
                "key_rows_beyond_floor_p95_ms": o["key_ms"]["p95"] < 50.0,
                "pagedown_p95_ms": o["pagedown_ms"]["p95"] < TARGETS["pagedown_p95_ms"],
                "rss_mb": o["peak_rss_mb"] < TARGETS["rss_mb"]}
    return {
        "first_page_ms": s["first_page_ms"] < TARGETS["first_page_ms"],
        "key_rows_beyond_floor_p95_ms":
            s["beyond_floor"]["rows_p95"] < TARGETS["key_rows_beyond_floor_p95_ms"],
        "key_settled_p95_ms": s["key_settled"]["p95"] < TARGETS["key_settled_p95_ms"],
        "pagedown_p95_ms": s["pagedown_rows"]["p95"] < TARGETS["pagedown_p95_ms"],
        "rss_mb": s["peak_rss_mb"] < TARGETS["rss_mb"],
    }


def build_directory(url: str, users: int) -> float | None:
    """A demo directory of `users` at `url`, built unless there; returns the seconds it took."""
    from hwb_tui import demo
    from hwb_tui.core.access import current_login

    if demo.state(url) == "demo":
        return None
    built = demo.build(url, users, current_login())
    return built.seconds


def keystroke_plans(url: str) -> list[dict[str, Any]]:
    """EXPLAIN QUERY PLAN of every query a keystroke runs; a bare 'SCAN user' is a full scan."""
    from sqlalchemy import event

    from hwb_tui.core import directory
    from hwb_tui.core.access import current_login, load_actor
    from hwb_tui.core.db import open_store

    store = open_store(url)
    seen: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                 executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    plans = []
    with store.read() as session:
        actor = load_actor(session, current_login())
        for term in ("jones", "sian", "ll", "pritch", "ap rh", "a66"):
            for view in ("governors", "mis", "all"):
                q = directory.Query(view=view, search=term)
                seen.clear()
                event.listen(store.engine, "before_cursor_execute", remember)
                params_of: list[Any] = []

                def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                         executemany: bool, _p: list[Any] = params_of) -> None:
                    _p.append(params)

                event.listen(store.engine, "before_cursor_execute", keep)
                directory.page(session, actor, q, limit=100)
                directory.count(session, actor, q, cap=10_000)
                event.remove(store.engine, "before_cursor_execute", remember)
                event.remove(store.engine, "before_cursor_execute", keep)
                for statement, params in zip(seen, params_of, strict=False):
                    if store.dialect != "sqlite":
                        continue
                    rows = session.connection().exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, params).all()
                    detail = [r[-1] for r in rows]
                    full = [d for d in detail if d.startswith("SCAN user") and "INDEX" not in d]
                    plans.append({"term": term, "view": view, "plan": detail,
                                  "full_scan": bool(full)})
    store.dispose()
    return plans


def screen(url: str, smoke: bool) -> dict[str, Any]:
    """benchmarks/screen_bench.py in a child process; skipped (with the reason) without pyte."""
    if importlib.util.find_spec("pyte") is None:
        return {"skipped": "pyte is not installed: pip install -e '.[bench]'"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "screen_bench.py"), "--db", url]
    if smoke:
        cmd.append("--smoke")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"screen benchmark on {url} failed:\n{done.stderr[-3000:]}")
    print(done.stderr.rstrip().splitlines()[-1], flush=True)
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def measure_size(url: str, users: int, with_datatable: bool, smoke: bool) -> dict[str, Any]:
    built = build_directory(url, users)
    result: dict[str, Any] = {"users": users, "build_s": built, "load_before": load_average()}
    result["screen"] = screen(url, smoke)
    plans = keystroke_plans(url)
    result["full_scans"] = sum(p["full_scan"] for p in plans)
    result["plans_checked"] = len(plans)
    ours = child("ours", url)
    real = child("startup", url)
    result["ours"] = {
        "startup_ms": real["startup_ms"],
        "first_page_in_app_ms": ours["first_page_ms"],
        "key_ms": summary(ours["key_ms"]),
        "pagedown_ms": summary(ours["pagedown_ms"]),
        "peak_rss_mb": max(ours["peak_rss_mb"], real["peak_rss_mb"]),
    }
    if with_datatable:
        stock = child("datatable", url)
        result["datatable"] = {
            "first_page_in_app_ms": stock["first_page_ms"],
            "key_ms": summary(stock["key_ms"]),
            "pagedown_ms": summary(stock["pagedown_ms"]),
            "peak_rss_mb": stock["peak_rss_mb"],
        }
    result["load_after"] = load_average()
    return result


def load_average() -> str:
    """The machine's load (1, 5, 15 minutes), written beside every figure."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def postgres_url(base: str, users: int) -> str:
    """A schema of its own for a directory of `users` on the PostgreSQL server at `base`, kept
    between runs like the SQLite files in benchmarks/work/ (a million users take minutes to
    build): `hwb_bench_<users>`, created when missing."""
    from sqlalchemy import create_engine, text

    schema = f"hwb_bench_{users}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def provisioning(smoke: bool, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "provisioning_bench.py"), "--out", str(out)]
    if smoke:
        cmd.append("--smoke")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"provisioning benchmark failed:\n{done.stderr[-3000:]}")
    written = out / f"provisioning-{'smoke' if smoke else 'full'}-sqlite.json"
    data: dict[str, Any] = json.loads(written.read_text(encoding="utf-8"))
    return data


def ms(value: float) -> str:
    return f"{value:,.0f}" if value == value else "-"


def screen_table(sizes: list[dict[str, Any]]) -> str:
    """As the operator sees it (screen_bench.py): ours, the floor, and ours beyond the floor."""
    lines = [f"{'as seen in a terminal':22}{'users':>10} {'first':>6} {'rows p50':>9} "
             f"{'p95':>5} {'settled p50':>12} {'p95':>5} {'floor p50':>10} {'p95':>5} "
             f"{'rows-floor p95':>15} {'pgdn p95':>9} {'RSS MB':>7}  load"]
    for s in sizes:
        r = s.get("screen") or {}
        label = f"{s.get('database', 'sqlite')} hwb-tui"
        if "skipped" in r:
            lines.append(f"{label:22}{s['users']:>10,} skipped: {r['skipped']}")
            continue
        lines.append(
            f"{label:22}{s['users']:>10,} {ms(r['first_page_ms']):>6} "
            f"{ms(r['key_rows']['p50']):>9} {ms(r['key_rows']['p95']):>5} "
            f"{ms(r['key_settled']['p50']):>12} {ms(r['key_settled']['p95']):>5} "
            f"{ms(r['floor_rows']['p50']):>10} {ms(r['floor_rows']['p95']):>5} "
            f"{ms(r['beyond_floor']['rows_p95']):>15} {ms(r['pagedown_rows']['p95']):>9} "
            f"{r['peak_rss_mb']:>7.0f}  {s['load_before']} -> {s.get('load_after', '?')}")
    return "\n".join(lines)


def table(sizes: list[dict[str, Any]], prov: dict[str, Any] | None) -> str:
    lines = [f"{'':22}{'users':>10} {'start ms':>9} {'key p50':>8} {'key p95':>8} "
             f"{'pgdn p95':>9} {'RSS MB':>7}"]
    for s in sizes:
        for name in ("ours", "datatable"):
            r = s.get(name)
            if not r:
                continue
            start = r.get("startup_ms", r["first_page_in_app_ms"])
            label = f"{s.get('database', 'sqlite')} {name}"
            lines.append(f"{label:22}{s['users']:>10,} {ms(start):>9} {ms(r['key_ms']['p50']):>8} "
                         f"{ms(r['key_ms']['p95']):>8} {ms(r['pagedown_ms']['p95']):>9} "
                         f"{r['peak_rss_mb']:>7.0f}")
        if "datatable" in s:
            o, d = s["ours"], s["datatable"]
            lines.append(f"{'  ratio stock/ours':22}{'':>10} "
                         f"{d['first_page_in_app_ms'] / o['first_page_in_app_ms']:>8.1f}x "
                         f"{d['key_ms']['p50'] / o['key_ms']['p50']:>7.1f}x "
                         f"{d['key_ms']['p95'] / o['key_ms']['p95']:>7.1f}x "
                         f"{d['pagedown_ms']['p95'] / max(o['pagedown_ms']['p95'], 1e-9):>8.1f}x "
                         f"{d['peak_rss_mb'] / o['peak_rss_mb']:>6.1f}x")
        lines.append(f"{'  keystroke plans':22}{s['plans_checked']:>10} checked, "
                     f"{s['full_scans']} full scans")
    lines.append(screen_table(sizes))
    if prov:
        for name, r in prov["results"].items():
            if name == "targets":
                continue
            rate = f"{r['rows_per_s']:,.0f} rows/s" if "rows_per_s" in r else ""
            lines.append(f"provisioning {name:28} {r['rows']:>9,} rows {r['seconds']:>8.3f} s "
                         f"{rate}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 users: seconds, for CI")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--postgres", metavar="URL",
                        help="also measure on this PostgreSQL database (the same sizes)")
    parser.add_argument("--skip-provisioning", action="store_true")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    sizes = [2000] if args.smoke else [int(x) for x in args.sizes.split(",")]
    if args.smoke:
        os.environ["HWB_BENCH_SMOKE"] = "1"  # the children script a shorter session
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HWB_LANG", "en")
    results: list[dict[str, Any]] = []
    for users in sizes:
        url = f"sqlite:///{args.work / f'directory-{users}.db'}"
        print(f"measuring {users:,} users on SQLite ...", flush=True)
        results.append(measure_size(url, users, users <= 100_000, args.smoke))
    if args.postgres:
        for users in sizes:
            print(f"measuring {users:,} users on PostgreSQL ...", flush=True)
            r = measure_size(postgres_url(args.postgres, users), users, False, args.smoke)
            r["database"] = "postgres"
            results.append(r)
    prov = None if args.skip_provisioning else provisioning(args.smoke, args.out)
    text = table(results, prov)
    print(text)
    verdicts: dict[str, dict[str, bool]] = {}
    for database in ("sqlite", "postgres"):
        mine = [r for r in results if r.get("database", "sqlite") == database]
        if not mine:
            continue
        largest = max(mine, key=lambda r: r["users"])
        verdicts[database] = verdict(largest)
        for name, met in verdicts[database].items():
            print(f"target {name} < {TARGETS[name]:g} on {database} at {largest['users']:,} "
                  f"users: {'met' if met else 'MISSED'}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.out / f"bench-{'smoke' if args.smoke else 'full'}-{stamp}.json"
    out.write_text(json.dumps({"sizes": results, "provisioning": prov, "targets": TARGETS,
                               "verdict": verdicts}, indent=2), encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
