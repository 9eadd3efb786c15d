"""The viewer's server time against the query builder alone, on the benchmark workload.

    python -m benchmarks.viewer                      # 1,000,000 entries (builds ~2 minutes)
    python -m benchmarks.viewer --entries 20000      # a quick look

For the first page and each filter change, the viewer's JSON API (``ViewerApp.handle``: the
query, category counts, the page dict and its JSON) and its HTML page are timed against the
query builder's ``page()`` for the same filters, on the largest organization; the median of
``--repeat`` rounds, each the mean over enough calls to last ``min_time``; the three take turns
in every round and a ratio is the median of the rounds' ratios, so that the load of the
machine at one moment weighs on both sides alike. The chart (one count
per day) and the page's own assets (their total size, to stay under 60 KB) are reported too.
The database is built once in ``--workdir`` and reused while it holds the asked-for size.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activitylog import ActivityLog, Query, Role, Viewer
from activitylog.viewer import Request, ViewerApp, static
from benchmarks.workload import RARE_FRAGMENT, generate

ASSET_BUDGET = 60 * 1024


#: What a call's time is read from: the wall clock, or the CPU time of this thread alone
#: (what the call itself cost, whatever else the machine runs meanwhile).
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = time.perf_counter


def per_call(fn: Callable[[], Any], min_time: float) -> float:
    """Mean seconds per call over calls lasting at least ``min_time`` in all."""
    calls, start = 0, _clock()
    while True:
        fn()
        calls += 1
        elapsed = _clock() - start
        if elapsed >= min_time:
            return elapsed / calls


def alternated(fns: list[Callable[[], Any]], repeat: int, min_time: float) -> list[list[float]]:
    """Seconds per call of each function, ``repeat`` rounds taking turns (so that a busy
    moment of the machine falls on all of them alike); one list of rounds per function."""
    for fn in fns:
        fn()  # warm caches
    rounds: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            rounds[i].append(per_call(fn, min_time))
    return rounds


def database(workdir: Path, n: int, seed: int) -> tuple[Path, str, dict[str, Any]]:
    """A database of ``n`` workload entries (built unless present), its largest org, facts."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"viewer-{n}.db"
    facts_path = workdir / f"viewer-{n}.json"
    if path.exists() and facts_path.exists():
        facts: dict[str, Any] = json.loads(facts_path.read_text(encoding="utf-8"))
        return path, facts["largest_org"], facts
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"building {n:,} entries into {path} ...", file=sys.stderr)
    wl = generate(n, seed)
    with ActivityLog.open(f"sqlite:///{path}") as log:
        for start in range(0, n, 50_000):
            log.store.append(wl.entries[start:start + 50_000], log.chain)
    largest = wl.largest_org
    person = wl.people[largest][0]
    target = next(e.target for e in reversed(wl.entries)
                  if e.org_id == largest and e.target is not None)
    facts = {
        "largest_org": largest,
        "largest_org_entries": sum(1 for e in wl.entries if e.org_id == largest),
        "end": wl.end.isoformat(),
        "actor": person.id,
        "actor_name": person.name,
        "target": [target.type, target.id] if target else None,
    }
    facts_path.write_text(json.dumps(facts), encoding="utf-8")
    del wl
    gc.collect()
    return path, largest, facts


def cases(q: Query, facts: dict[str, Any],
          zoned: Query | None = None) -> list[tuple[str, str, Callable[[], Any]]]:
    """(name, query string, the query builder's equivalent) for each filter change;
    ``zoned``, the same query in Europe/Paris, adds a case seen from that zone."""
    first_name = facts["actor_name"].split()[0]
    cursor = q.page(50).next_cursor
    listed = [
        ("first page", "", lambda: q.page(50)),
        ("search: a member's first name", f"q={quote(first_name)}",
         lambda: q.search(first_name).page(50)),
        ("search: rare fragment", f"q={RARE_FRAGMENT}", lambda: q.search(RARE_FRAGMENT).page(50)),
        ("category Leads", "category=Leads", lambda: q.category("Leads").page(50)),
        ("date this week", "date=this-week", lambda: q.date("this-week").page(50)),
        ("date older", "date=older", lambda: q.date("older").page(50)),
        ("sort by action", "sort=action", lambda: q.sort("action").page(50)),
        ("sort by date, oldest first", "order=asc", lambda: q.sort("date", False).page(50)),
        ("member's activity", f"actor={quote(facts['actor'])}",
         lambda: q.actor(facts["actor"]).page(50)),
        ("next page (cursor)", f"cursor={cursor}", lambda: q.page(50, after=cursor)),
    ]
    if zoned is not None:
        listed.append(("time zone Europe/Paris", "tz=Europe%2FParis", lambda: zoned.page(50)))
    if facts.get("target"):
        kind, ident = facts["target"]
        listed.append(("record history", f"target={quote(kind)}%3A{quote(ident)}",
                       lambda: q.target(kind, ident).page(50)))
    return listed


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the database, time every case, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.viewer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "activitylog-bench-viewer",
                        help="where the database is built and kept for the next run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="time calls by the wall clock (default) or by this thread's CPU "
                             "time, steadier on a machine other jobs keep busy")
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]

    path, org, facts = database(args.workdir, args.entries, args.seed)
    log = ActivityLog.open(f"sqlite:///{path}")
    owner = Viewer("bench-owner", org, Role.OWNER)
    app = ViewerApp(log)
    q = log.query(org, viewer=owner)

    def handle(route: str, qs: str) -> Callable[[], Any]:
        def call() -> bytes:
            response = app.handle(Request("GET", route, qs), owner)
            assert response.status == 200, response.body
            return b"".join(response.chunks())
        return call

    rows = []
    zoned = log.query(org, viewer=owner, tz="Europe/Paris")
    for name, qs, builder in cases(q, facts, zoned):
        api, html, alone = alternated([handle("/api/entries", qs), handle("/", qs), builder],
                                      args.repeat, args.min_time)
        med = statistics.median
        rows.append({
            "case": name, "query": qs, "api_ms": med(api) * 1e3, "html_ms": med(html) * 1e3,
            "builder_ms": med(alone) * 1e3,
            # the ratio of each round, then their median: rounds ran under the same load
            "api_ratio": med(a / b for a, b in zip(api, alone, strict=True)),
            "html_ratio": med(h / b for h, b in zip(html, alone, strict=True)),
        })
    chart, chart_leads = (
        statistics.median(r) for r in alternated(
            [handle("/chart.svg", ""), handle("/chart.svg", "category=Leads")],
            args.repeat, args.min_time)
    )
    assets = {name: len(asset.body) for name, asset in static.ASSETS.items()}
    log.close()

    print(f"\nViewer at {args.entries:,} entries; largest organization {org} "
          f"({facts['largest_org_entries']:,} entries); medians of {args.repeat} rounds; {args.clock} clock\n")
    print("| Case | API (ms) | HTML (ms) | Query builder (ms) | API / builder | HTML / builder |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['api_ms']:.2f} | {r['html_ms']:.2f} | {r['builder_ms']:.2f} "
              f"| {r['api_ratio']:.2f}x | {r['html_ratio']:.2f}x |")
    print(f"\nchart.svg (14 daily counts): {chart * 1e3:.1f} ms; with category=Leads: "
          f"{chart_leads * 1e3:.1f} ms")
    total = sum(assets.values())
    print(f"page assets: {total:,} bytes ({', '.join(f'{k} {v:,}' for k, v in assets.items())}); "
          f"budget {ASSET_BUDGET:,}: {'met' if total < ASSET_BUDGET else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps({
            "entries": args.entries, "org": org, "org_entries": facts["largest_org_entries"],
            "repeat": args.repeat, "clock": args.clock, "cases": rows, "chart_ms": chart * 1e3,
            "chart_leads_ms": chart_leads * 1e3, "assets": assets,
        }, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
