"""The performance harness of SPEC §5: one command, a table on screen and JSON on disk.

    python benchmarks/run.py                 # 10k, 100k and 1M users; takes about 15 minutes
    python benchmarks/run.py --smoke         # 2,000 users, seconds: run by the test suite in CI
    python benchmarks/run.py --postgres URL  # also the console's latencies on PostgreSQL

For each directory size it builds a demo directory once (kept in benchmarks/work/), checks the
query plans of a keystroke (no full scan), and measures in child processes: the console
(start-up in a real terminal, keystroke to table updated, page down, peak memory) and Textual's
stock DataTable holding the same rows, filtered in Python (sizes up to 100k: beyond that it
cannot serve). Then the provisioning benchmark (benchmarks/provisioning_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from console_bench import child, summary  # noqa: E402

TARGETS = {"startup_ms": 1000.0, "key_p95_ms": 50.0, "pagedown_p95_ms": 30.0, "rss_mb": 200.0}


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


def measure_size(url: str, users: int, with_datatable: bool) -> dict[str, Any]:
    built = build_directory(url, users)
    result: dict[str, Any] = {"users": users, "build_s": built}
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
    return result


def postgres_url(base: str) -> tuple[str, str]:
    """A fresh schema on the PostgreSQL server at `base` (dropped afterwards by the caller)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


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
    parser.add_argument("--postgres", metavar="URL", help="also measure on this PostgreSQL")
    parser.add_argument("--postgres-size", type=int, default=100_000)
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
        results.append(measure_size(url, users, with_datatable=users <= 100_000))
    if args.postgres:
        url, schema = postgres_url(args.postgres)
        try:
            print(f"measuring {args.postgres_size:,} users on PostgreSQL ...", flush=True)
            r = measure_size(url, args.postgres_size, with_datatable=False)
            r["database"] = "postgres"
            results.append(r)
        finally:
            drop_schema(args.postgres, schema)
    prov = None if args.skip_provisioning else provisioning(args.smoke, args.out)
    text = table(results, prov)
    print(text)
    largest = max(results, key=lambda r: r["users"])["ours"]
    verdict = {
        "startup_ms": largest["startup_ms"] < TARGETS["startup_ms"],
        "key_p95_ms": largest["key_ms"]["p95"] < TARGETS["key_p95_ms"],
        "pagedown_p95_ms": largest["pagedown_ms"]["p95"] < TARGETS["pagedown_p95_ms"],
        "rss_mb": largest["peak_rss_mb"] < TARGETS["rss_mb"],
    }
    for name, met in verdict.items():
        print(f"target {name} < {TARGETS[name]:g} at {max(sizes):,} users: "
              f"{'met' if met else 'MISSED'}")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.out / f"bench-{'smoke' if args.smoke else 'full'}-{stamp}.json"
    out.write_text(json.dumps({"sizes": results, "provisioning": prov, "targets": TARGETS,
                               "verdict": verdict}, indent=2), encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
