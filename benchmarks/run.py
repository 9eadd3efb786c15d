"""Measure activitylog's SQLite store against raw ``sqlite3`` (and, with ``--peers``, its peers).

    python -m benchmarks                  # 1,000,000 entries (about half an hour here)
    python -m benchmarks --quick          # ~50,000 entries, for a smoke run
    python benchmarks/run.py --entries 200000 --repeat 5 --peers --json out.json

A seeded CRM workload is generated once (see :mod:`benchmarks.workload`). Each measurement runs
our code and the same work written by hand with ``sqlite3`` (:mod:`benchmarks.raw`) on the same
schema and data, alternately (ours, raw, ours, raw...), and reports the median of the repeats
with their min-max, the raw figure and the ratio ours/raw. Progress goes to stderr; the table
(Markdown) to stdout; every figure to the JSON file.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import activitylog
from activitylog import ActivityLog, Role, Viewer, cli, ids
from activitylog.query import DateBucket
from benchmarks import raw
from benchmarks.tables import table
from benchmarks.targets import judge
from benchmarks.workload import RARE_FRAGMENT, Workload, generate

DEFAULT_ENTRIES = 1_000_000
QUICK_ENTRIES = 50_000
PAGE = 50
DEEP_PAGE = 2_000
#: Threads of the concurrent record() row: calls from them share transactions (group commit).
THREADS = 8
COMMON_WORD = "deleted"
SHORT_TERM = "li"

_T0 = time.perf_counter()


def say(message: str) -> None:
    """A progress line on stderr, stamped with the time since start."""
    elapsed = time.perf_counter() - _T0
    sys.stderr.write(f"[{int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}] {message}\n")
    sys.stderr.flush()


# -- statistics ---------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


class Results:
    """Every measurement, in the order it was taken."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []

    def add(self, key: str, name: str, unit: str, ours: Sequence[float],
            raw_values: Sequence[float] | None = None, *, baseline: str = "raw",
            note: str = "") -> dict[str, Any]:  # fmt: skip
        """Record a measurement; ``unit`` is ``"s"`` (lower is better) or ``"/s"`` (higher)."""
        row: dict[str, Any] = {"key": key, "name": name, "unit": unit, "ours": summary(ours),
                               "samples": {"ours": list(ours)}, "baseline": baseline,
                               "note": note}  # fmt: skip
        if raw_values:
            row["raw"] = summary(raw_values)
            row["samples"]["raw"] = list(raw_values)
            pairs = [o / r for o, r in zip(ours, raw_values, strict=False) if r]
            row["ratio"] = summary(pairs) if pairs else None
        self.rows.append(row)
        return row

    def get(self, key: str) -> dict[str, Any]:
        """The row recorded under ``key``."""
        return next(row for row in self.rows if row["key"] == key)

    def target(self, key: str, what: str, value: float, threshold: float, *,
               higher: bool, shown: str) -> None:  # fmt: skip
        """State whether a target is met; ``value`` must be ``>= threshold`` (or ``<=``)."""
        met = value >= threshold if higher else value <= threshold
        self.targets.append({"key": key, "target": what, "value": value, "threshold": threshold,
                             "higher_is_better": higher, "shown": shown, "met": met})  # fmt: skip
        for row in self.rows:
            if row["key"] == key:
                row.setdefault("targets", []).append({"target": what, "met": met})


def alternate(repeat: int, ours: Callable[[], float], *others: Callable[[], float]
              ) -> list[list[float]]:  # fmt: skip
    """Run ``ours`` and each of ``others`` in turn, ``repeat`` times; each returns one sample."""
    samples: list[list[float]] = [[] for _ in range(1 + len(others))]
    for _ in range(repeat):
        for i, fn in enumerate((ours, *others)):
            samples[i].append(fn())
    return samples


def per_call(fn: Callable[[], Any], min_time: float) -> Callable[[], float]:
    """A sampler of ``fn``'s time per call, looping so that one sample lasts ``min_time``."""
    fn()  # warm: caches, compiled statements, pages
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    loops = max(1, min(5_000, int(min_time / max(once, 1e-7))))

    def sample() -> float:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        return (time.perf_counter() - start) / loops

    return sample


# -- the benchmark ------------------------------------------------------------------------------


class Bench:
    """One run: the workload, the working directory, the options and the results."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.n: int = args.entries
        self.repeat: int = args.repeat
        self.workdir = workdir
        self.results = Results()
        self.min_time = 0.2 if self.n >= 500_000 else 0.05 if self.n >= 20_000 else 0.005
        self.per_commit = min(5_000, max(200, self.n // 10))
        self.main_db = workdir / "ours.db"
        self.wl: Workload
        self.prepared: raw.Prepared
        self.info: dict[str, Any] = {}
        self.load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        self.revision = _revision()  # now: the code measured is the code loaded at start

    def path(self, name: str) -> Path:
        """A database path in the working directory, with no file left at it."""
        path = self.workdir / name
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return path

    # -- data -----------------------------------------------------------------------------------

    def generate(self) -> None:
        """Generate and build the workload once."""
        say(f"generating {self.n:,} entries (seed {self.args.seed})")
        self.wl = generate(self.n, self.args.seed,
                           progress=lambda i: say(f"  built {i:,} entries"))  # fmt: skip
        # Keep the collector from walking millions of long-lived objects in every measurement.
        gc.collect()
        gc.freeze()
        sizes: dict[str, int] = {}
        for entry in self.wl.entries:
            sizes[entry.org_id] = sizes.get(entry.org_id, 0) + 1
        self.info["workload"] = {
            "entries": self.n,
            "seed": self.wl.seed,
            "organizations": len(self.wl.org_ids),
            "largest_org": self.wl.largest_org,
            "largest_org_entries": sizes.get(self.wl.largest_org, 0),
            "people": sum(len(p) for p in self.wl.people.values()),
            "actions": len({e.action for e in self.wl.entries}),
            "first": self.wl.entries[0].occurred_at.isoformat() if self.n else None,
            "last": self.wl.entries[-1].occurred_at.isoformat() if self.n else None,
        }
        self.sizes = sizes
        self.results.add(
            "build", "build() — validate, describe, make the entry (part of record/record_many)",
            "/s", [self.n / self.wl.build_seconds], baseline="none",
        )
        say(f"  built at {self.n / self.wl.build_seconds:,.0f} entries/s; largest org "
            f"{self.info['workload']['largest_org_entries']:,} entries")  # fmt: skip

    # -- writes ---------------------------------------------------------------------------------

    def ingest(self) -> None:
        """record_many / batch ingest of every entry in one transaction."""
        runs = {"ours": 0}

        def ours() -> float:
            target = self.main_db if runs["ours"] == 0 else self.path("ours-again.db")
            if runs["ours"] == 0:
                self.path("ours.db")
            runs["ours"] += 1
            log = ActivityLog.open(f"sqlite:///{target}")
            start = time.perf_counter()
            stored = log.store.append(self.wl.entries, log.chain)
            elapsed = time.perf_counter() - start
            log.close()
            assert len(stored) == self.n
            del stored
            say(f"  ingest ours: {self.n / elapsed:,.0f} entries/s")
            if runs["ours"] == 1:
                self.prepared = raw.Prepared(self.main_db)
                gc.collect()
                gc.freeze()
            return self.n / elapsed

        def by_hand() -> float:
            elapsed = raw.ingest(self.path("raw-ingest.db"), self.prepared)
            say(f"  ingest raw: {self.n / elapsed:,.0f} entries/s")
            return self.n / elapsed

        say(f"batch ingest of {self.n:,} entries, {self.repeat}x each")
        o, r = alternate(self.repeat, ours, by_hand)
        self.results.add("ingest", "Batch ingest (record_many), one transaction", "/s", o, r)
        self.path("ours-again.db")
        self.path("raw-ingest.db")

    def record(self, threads: int) -> None:
        """record() one entry per transaction, from 1 or several threads."""
        m = self.per_commit
        records = self.wl.records[:m]

        def ours() -> float:
            log = ActivityLog.open(f"sqlite:///{self.path('record.db')}")
            calls = [dict(r) for r in records]
            actions = [c.pop("action") for c in calls]

            def work(indexes: range) -> None:
                for i in indexes:
                    log.record(actions[i], **calls[i])

            start = time.perf_counter()
            if threads == 1:
                work(range(m))
            else:
                workers = [threading.Thread(target=work, args=(range(t, m, threads),))
                           for t in range(threads)]  # fmt: skip
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
            elapsed = time.perf_counter() - start
            log.close()
            return m / elapsed

        def by_hand() -> float:
            return m / raw.record_per_commit(self.path("record.db"), self.prepared, m, threads)

        say(f"record() one per transaction, {m:,} entries, {threads} thread(s)")
        o, r = alternate(self.repeat, ours, by_hand)
        # With threads, our calls share transactions (group commit) while raw commits each
        # row under a lock: that ratio is not like for like, and the target compares our own
        # rates (8 threads against 1).
        note = "" if threads == 1 else "calls share commits; raw commits each row"
        name = "one entry per transaction" if threads == 1 else "one entry per call"
        self.results.add(f"record.{threads}", f"record(), {name}, "
                         f"{threads} thread{'s' if threads > 1 else ''}", "/s", o, r,
                         note=note)  # fmt: skip
        say(f"  ours {statistics.median(o):,.0f}/s, raw {statistics.median(r):,.0f}/s")
        self.path("record.db")

    # -- reads ----------------------------------------------------------------------------------

    def reads(self) -> None:
        """Pages, counts, categories and searches on the largest organization."""
        org = self.wl.largest_org
        log = ActivityLog.open(f"sqlite:///{self.main_db}")
        reader = raw.Reader(self.main_db)
        code = reader.org_code(org)
        viewer = Viewer("bench-owner", org, Role.OWNER)
        q = log.query(org, viewer=viewer)
        limit = PAGE + 1  # Query.page reads one more row to know whether a next page exists
        t = self.min_time

        def pair(key: str, name: str, ours: Callable[[], Any], by_hand: Callable[[], Any],
                 check: Callable[[Any, Any], bool] | None = None) -> None:  # fmt: skip
            a, b = ours(), by_hand()
            if check is not None and not check(a, b):
                raise AssertionError(f"{key}: ours and raw disagree: {a!r:.200} vs {b!r:.200}")
            o, r = alternate(self.repeat, per_call(ours, t), per_call(by_hand, t))
            self.results.add(key, name, "s", o, r)
            say(f"  {name}: ours {statistics.median(o) * 1e3:.3f} ms, "
                f"raw {statistics.median(r) * 1e3:.3f} ms")  # fmt: skip

        def same_page(page: Any, rows: list[Any]) -> bool:
            return [e.id for e in page.entries] == [ids.encode(r[0]) for r in rows[:PAGE]]

        say("reads on the largest organization")
        pair("page.newest", "Newest page (50)", lambda: q.page(PAGE),
             lambda: reader.page(code, limit), same_page)  # fmt: skip

        # Walk to the deep page once to get its cursor (fewer pages in small runs).
        pages = max(1, min(DEEP_PAGE, (self.sizes[org] - 1) // PAGE))
        cursor: str | None = None
        before: int | None = None
        for _ in range(pages - 1):
            walked = q.page(PAGE, after=cursor)
            cursor, before = walked.next_cursor, ids.decode(walked.entries[-1].id)
        self.info["deep_page"] = pages
        pair("page.deep", f"Page {pages:,} by cursor", lambda: q.page(PAGE, after=cursor),
             lambda: reader.page(code, limit, before=before), same_page)  # fmt: skip

        def same_categories(ours: list[tuple[str, int]], rows: list[Any]) -> bool:
            return dict(ours) == dict(rows)

        pair("categories", "categories()", lambda: log.categories(org, viewer=viewer),
             lambda: reader.categories(code), same_categories)  # fmt: skip

        for bucket in DateBucket:
            bq = q.date(bucket)
            spec = bq.spec()
            since, until = spec.since_id, spec.until_id
            label = bucket.value.replace("-", " ").capitalize()
            pair(f"bucket.{bucket.value}.page", f"{label}: first page",
                 lambda bq=bq: bq.page(PAGE),
                 lambda s=since, u=until: reader.page(code, limit, since=s, until=u),
                 same_page)  # fmt: skip
            pair(f"bucket.{bucket.value}.count", f"{label}: count", bq.count,
                 lambda s=since, u=until: reader.count_range(code, s, u),
                 lambda a, b: a == b)  # fmt: skip
            self.info.setdefault("bucket_counts", {})[bucket.value] = bq.count()

        # The History of one record (a lead's page) and one person's Recent activity: the
        # busiest of each in the organization (their first page is what a CRM page shows).
        target = reader.busiest(code, "target_type, target_id")
        actor = reader.busiest(code, "actor_id")[0]
        tq, uq = q.target(*target), q.actor(actor)
        self.info["history"] = {"target": list(target), "target_entries": tq.count(),
                                "actor": actor, "actor_entries": uq.count()}  # fmt: skip
        pair("history.target", f"History of one record ({tq.count():,} entries): first page",
             lambda: tq.page(PAGE), lambda: reader.history(code, limit, target=target),
             same_page)  # fmt: skip
        pair("history.actor", f"One person's activity ({uq.count():,} entries): first page",
             lambda: uq.page(PAGE), lambda: reader.history(code, limit, actor=actor),
             same_page)  # fmt: skip

        aq = q.sort("action")
        pair("sort.action", "Sorted by Action, first page", lambda: aq.page(PAGE),
             lambda: reader.by_action(code, limit), same_page)  # fmt: skip

        name = self.wl.two_word_name.casefold()
        terms = {
            "rare": ("rare name fragment", RARE_FRAGMENT),
            "common": ("common word", COMMON_WORD),
            "two_words": ("two-word name", name),
            "short": ("2-character term", SHORT_TERM),
        }
        self.info["search_terms"] = {}
        for kind, (what, text) in terms.items():
            sq = q.search(text)
            words = tuple(text.split())
            matches = sq.count()
            self.info["search_terms"][kind] = {"text": text, "matches": matches}
            for part in ("page", "count"):
                if part == "page":
                    ours_fn: Callable[[], Any] = lambda sq=sq: sq.page(PAGE)
                    raw_fn: Callable[[], Any] = lambda w=words: reader.search_page(code, w, limit)
                    like_fn: Callable[[], Any] = lambda w=words: reader.like_page(code, w, limit)
                    check: Callable[[Any, Any], bool] = same_page
                else:
                    ours_fn = sq.count
                    raw_fn = lambda w=words: reader.search_count(code, w)
                    like_fn = lambda w=words: reader.like_count(code, w)
                    check = lambda a, b: a == b
                a, b, c = ours_fn(), raw_fn(), like_fn()
                if not (check(a, b) and check(a, c)):
                    raise AssertionError(f"search {text!r} {part}: ours, raw and LIKE disagree")
                o, r, lk = alternate(self.repeat, per_call(ours_fn, t), per_call(raw_fn, t),
                                     per_call(like_fn, t))  # fmt: skip
                key = f"search.{kind}.{part}"
                title = f"Search {what} “{text}” ({matches:,} matches): " + (
                    "first page" if part == "page" else "count"
                )
                row = self.results.add(key, title, "s", o, r)
                row["like"] = summary(lk)
                row["samples"]["like"] = lk
                row["like_over_ours"] = summary([x / y for x, y in zip(lk, o, strict=True)])
                say(f"  {title}: ours {statistics.median(o) * 1e3:.3f} ms, raw "
                    f"{statistics.median(r) * 1e3:.3f} ms, LIKE {statistics.median(lk) * 1e3:.1f} ms")  # fmt: skip
        reader.close()
        log.close()

    # -- streaming ------------------------------------------------------------------------------

    def verify(self) -> None:
        """verify() of the largest organization."""
        org = self.wl.largest_org
        size = self.sizes[org]
        log = ActivityLog.open(f"sqlite:///{self.main_db}")
        reader = raw.Reader(self.main_db)
        code = reader.org_code(org)

        def ours() -> float:
            start = time.perf_counter()
            report = log.verify(org)
            elapsed = time.perf_counter() - start
            if not report.ok or report.checked != size:
                raise AssertionError(f"verify failed: {report}")
            return size / elapsed

        def by_hand() -> float:
            start = time.perf_counter()
            reader.chain_rows(code)
            return size / (time.perf_counter() - start)

        say(f"verify() of {size:,} entries")
        o, r = alternate(self.repeat, ours, by_hand)
        self.results.add("verify", "verify() of the largest org", "/s", o, r,
                         note="raw: reading the rows in chain order, no hashing")  # fmt: skip
        say(f"  ours {statistics.median(o):,.0f}/s, raw read {statistics.median(r):,.0f}/s")
        reader.close()
        log.close()

    def _export_ours(self, org: str, fmt: str, out: Path) -> None:
        argv = ["export", "--db", str(self.main_db), "--org", org, "--format", fmt,
                "--output", str(out)]  # fmt: skip
        with contextlib.redirect_stderr(io.StringIO()):
            code = cli.main(argv)
        if code != 0:
            raise RuntimeError(f"activitylog export failed with exit code {code}")

    def export(self) -> None:
        """CSV and JSONL export of the largest organization, and its memory."""
        org = self.wl.largest_org
        size = self.sizes[org]
        reader = raw.Reader(self.main_db)
        code = reader.org_code(org)
        out = self.workdir / "export.out"
        for fmt in ("csv", "jsonl"):

            def ours(fmt: str = fmt) -> float:
                start = time.perf_counter()
                self._export_ours(org, fmt, out)
                return size / (time.perf_counter() - start)

            def by_hand(fmt: str = fmt) -> float:
                start = time.perf_counter()
                with out.open("w", encoding="utf-8", newline="") as stream:
                    reader.export(code, fmt, stream)
                return size / (time.perf_counter() - start)

            say(f"export {fmt} of {size:,} entries")
            o, r = alternate(self.repeat, ours, by_hand)
            self.results.add(f"export.{fmt}", f"Export {fmt.upper()} (activitylog export)", "/s",
                             o, r, note="raw: rows as tuples through csv/json")  # fmt: skip
            say(f"  ours {statistics.median(o):,.0f}/s, raw {statistics.median(r):,.0f}/s")
        # Memory: the peak while exporting the largest org against an org ~10x smaller.
        small = min(self.sizes, key=lambda o: abs(self.sizes[o] * 10 - size))
        peaks: dict[str, dict[str, int]] = {}
        for fmt in ("csv", "jsonl"):
            peaks[fmt] = {}
            for which in (small, org):
                gc.collect()
                tracemalloc.start()
                self._export_ours(which, fmt, out)
                peaks[fmt][which] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            say(f"  {fmt} peak memory: {peaks[fmt][small] / 1e6:.1f} MB for {self.sizes[small]:,} "
                f"entries, {peaks[fmt][org] / 1e6:.1f} MB for {size:,}")  # fmt: skip
        self.info["export_memory"] = {
            "small_org": small, "small_entries": self.sizes[small], "large_entries": size,
            "peak_bytes": peaks,
        }  # fmt: skip
        out.unlink(missing_ok=True)
        reader.close()

    def size(self) -> None:
        """Bytes on disk per million entries."""
        conn = sqlite3.connect(self.main_db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables: dict[str, int] = {}
        with contextlib.suppress(sqlite3.Error):  # dbstat is not in every build
            tables = dict(conn.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
            ).fetchall())  # fmt: skip
        conn.close()
        total = os.path.getsize(self.main_db)
        self.info["file"] = {"bytes": total, "per_million": total * 1_000_000 / self.n,
                             "objects": tables}  # fmt: skip
        self.results.add("file", "File size per million entries (MB)", "MB",
                         [total / self.n], baseline="none")  # fmt: skip
        say(f"file: {total / 1e6:,.1f} MB, {total / self.n:,.0f} bytes per entry")

    # -- peers ----------------------------------------------------------------------------------

    def peers(self) -> None:
        """django-auditlog and django-activity-stream in their own virtualenv."""
        from benchmarks import peers

        single = min(self.per_commit, max(1, self.n // 2))
        say(f"peers: installing or reusing the virtualenv at {peers.VENV}")
        peers.ensure_venv()
        say(f"peers: measuring with {self.n:,} entries ({single:,} one per commit)")
        self.info["peers"] = peers.run(self.n, single, self.repeat, self.workdir)
        say("peers: done")

    # -- output ---------------------------------------------------------------------------------

    def machine(self) -> dict[str, Any]:
        """What ran the benchmark."""
        cpu = ""
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        ram = 0
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    ram = int(line.split()[1]) * 1024
        return {
            "cpus": os.cpu_count(),
            "cpu": cpu or platform.processor(),
            "ram_bytes": ram,
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
            "activitylog": activitylog.__version__,
            "revision": self.revision,
        }

    def report(self) -> dict[str, Any]:
        """Everything, as JSON-ready data."""
        return {
            "meta": {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
                "entries": self.n,
                "repeat": self.repeat,
                "seconds": round(time.perf_counter() - _T0, 1),
                # Other work on the machine skews absolute times (ratios less, by alternation).
                "load_average_at_start": self.load_at_start,
                "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                "machine": self.machine(),
            },
            "info": self.info,
            "results": self.results.rows,
            "targets": self.results.targets,
        }


def _revision() -> str | None:
    """The checkout's commit, with ``-dirty`` when its files differ from it."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                              capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        if done.returncode == 0:
            return done.stdout.strip()
    return None


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark activitylog's SQLite store against raw sqlite3 and its peers.",
    )
    parser.add_argument("--entries", type=int, default=None, metavar="N",
                        help=f"entries to generate (default {DEFAULT_ENTRIES:,})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ENTRIES:,} entries, for a smoke run")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="repeats of each measurement (default 3)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent
                        / "results.json", metavar="PATH",
                        help="where to write the results (default benchmarks/results.json)")
    parser.add_argument("--peers", action="store_true",
                        help="also measure django-auditlog and django-activity-stream (installed "
                        "into a throwaway virtualenv)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the databases go (default: a new temporary directory)")
    parser.add_argument("--table", type=Path, default=None, metavar="RESULTS",
                        help="only print the tables of a results file written earlier")
    args = parser.parse_args(argv)
    if args.entries is None:
        args.entries = QUICK_ENTRIES if args.quick else DEFAULT_ENTRIES
    if args.entries < 1_000 or args.repeat < 1:
        parser.error("--entries must be at least 1000 and --repeat at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran (whether or not every target is met)."""
    args = parse_args(argv)
    if args.table is not None:
        print(table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0
    own_dir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="activitylog-bench-")) if own_dir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, workdir)
    try:
        bench.generate()
        bench.ingest()
        bench.record(1)
        bench.record(THREADS)
        bench.reads()
        bench.verify()
        bench.export()
        bench.size()
        if args.peers:
            bench.peers()
        judge(bench)
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    report = bench.report()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(report))
    met = sum(t["met"] for t in report["targets"])
    print(f"\n{met} of {len(report['targets'])} targets met; results in {args.json}")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
