"""Profile the operations the benchmark measures, to see where their time goes.

    python -m benchmarks.profile --entries 100000 [--only ingest,record,page,verify,export]

Builds the same seeded workload as the benchmark, then runs each operation under cProfile and
prints its top functions by own time (``--sort cumulative`` for the call tree's view).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activitylog import ActivityLog, Role, Viewer, cli
from benchmarks.workload import generate

OPERATIONS = ("build", "ingest", "record", "page", "search", "verify", "export")


def profiled(name: str, fn: Callable[[], Any], count: int, sort: str, top: int) -> None:
    """Run ``fn`` under cProfile and print its figures."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(fn)
    elapsed = time.perf_counter() - start
    print(f"\n=== {name}: {count:,} in {elapsed:.2f} s under the profiler "
          f"({count / elapsed:,.0f}/s; {elapsed / count * 1e6:,.1f} µs each) ===")  # fmt: skip
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(sort).print_stats(top)
    print(stream.getvalue().split("\n\n", 1)[-1].rstrip())


def main(argv: list[str] | None = None) -> int:
    """Profile each operation on a fresh database."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--only", default=",".join(OPERATIONS),
                        help=f"comma-separated operations among {', '.join(OPERATIONS)}")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (default tottime)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--db", type=Path, default=None,
                        help="profile the reads (page, verify, export) on this existing database "
                        "instead, for its largest organization")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if args.db is not None:
        log = ActivityLog.open(f"sqlite:///{args.db.resolve()}")
        org = max(log.store.org_ids(), key=lambda o: log.store.head(o).seq)  # type: ignore[union-attr]
        size = log.store.head(org).seq  # type: ignore[union-attr]
        reads(log, args.db.resolve(), org, size, only, args)
        log.close()
        return 0
    wl = generate(args.entries)
    org = wl.largest_org
    size = sum(1 for e in wl.entries if e.org_id == org)
    with tempfile.TemporaryDirectory(prefix="activitylog-profile-") as tmp:
        db = Path(tmp) / "p.db"
        log = ActivityLog.open(f"sqlite:///{db}")
        if "build" in only:
            fresh = ActivityLog()

            def build() -> None:
                for record in wl.records:
                    fields = dict(record)
                    fresh.build(fields.pop("action"), **fields)

            profiled("build()", build, len(wl.records), args.sort, args.top)
        if "ingest" in only:
            profiled("append (batch ingest)",
                     lambda: log.store.append(wl.entries, log.chain), len(wl.entries), args.sort,
                     args.top)  # fmt: skip
        else:
            log.store.append(wl.entries, log.chain)
        if "record" in only:
            other = ActivityLog.open(f"sqlite:///{Path(tmp) / 'r.db'}")
            calls = [dict(r) for r in wl.records[:2_000]]

            def record() -> None:
                for fields in calls:
                    other.record(**fields)

            profiled("record(), one per transaction", record, len(calls), args.sort, args.top)
            other.close()
        reads(log, db, org, size, only, args)
        log.close()
    return 0


def reads(log: ActivityLog, db: Path, org: str, size: int, only: set[str],
          args: argparse.Namespace) -> None:  # fmt: skip
    """Profile the read operations on an organization of ``size`` entries."""
    with tempfile.TemporaryDirectory(prefix="activitylog-profile-") as tmp:
        q = log.query(org, viewer=Viewer("p", org, Role.OWNER))
        if "page" in only:
            profiled("newest page of 50", lambda: [q.page(50) for _ in range(300)], 300,
                     args.sort, args.top)  # fmt: skip
        if "search" in only:
            for text in ("deleted", "li"):
                sq = q.search(text)
                profiled(f"search {text!r}, first page", lambda sq=sq: [sq.page(50) for _ in range(50)],
                         50, args.sort, args.top)  # fmt: skip
        if "verify" in only:
            profiled("verify()", lambda: log.verify(org), size, args.sort, args.top)
        if "export" in only:
            out = Path(tmp) / "e.csv"

            def export() -> None:
                with contextlib.redirect_stderr(io.StringIO()):
                    cli.main(["export", "--db", str(db), "--org", org, "--format", "csv",
                              "--output", str(out)])  # fmt: skip

            profiled("export CSV", export, size, args.sort, args.top)


if __name__ == "__main__":
    sys.exit(main())
