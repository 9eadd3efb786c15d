"""record() from several threads at once: entries/s by thread count, at NORMAL and FULL.

Each sample records the workload's first ``--entries`` records (one ``record()`` call each,
the calls dealt round-robin to the threads) into a new SQLite file, and times it from the
threads' start to the last one's end. Thread counts and repeats alternate, so a change of load
on the machine touches every count alike. Ratios are to the 1-thread rate of the same repeat.

    python -m benchmarks.concurrency                      # 1, 2, 4, 8, 16 threads, both levels
    python -m benchmarks.concurrency --entries 3000 --repeat 5 --threads 1,8 --sync FULL
    python -m benchmarks.concurrency --ceiling    # one thread, record_many() of 1, 2, 4... records

Group commit is what lets threads help: calls that arrive while a transaction is being
written share the next one (see ``docs/sqlite.md``). The table also shows how many calls a
transaction held on average (1.0 without groups).

``--ceiling`` measures what group commit at best could reach, without any thread: one thread
recording the same calls ``n`` at a time with ``record_many()`` (one transaction each, the
append a group of ``n`` calls makes), for each ``n`` given to ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activitylog import ActivityLog
from benchmarks.workload import generate

THREADS = (1, 2, 4, 8, 16)
LEVELS = ("NORMAL", "FULL")


def sample(path: Path, calls: list[tuple[str, dict[str, Any]]], threads: int, sync: str
           ) -> tuple[float, float, float]:  # fmt: skip
    """Entries/s recording ``calls`` from ``threads`` threads into a new file, the process's
    CPU time per entry (all threads; steadier than wall clock on a shared machine) and the
    mean number of calls per committed transaction (0 when the store does not count them)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log = ActivityLog.open(f"sqlite:///{path}?synchronous={sync}")
    failures: list[BaseException] = []

    def work(part: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            for action, fields in part:
                log.record(action, **fields)
        except BaseException as exc:  # noqa: BLE001 - a sample with a failed call must not pass for a rate
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(calls[t::threads],)) for t in range(threads)]
    start, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    group = getattr(log.store, "_group", None)  # absent in revisions without group commit
    per_commit = group.committed_calls / group.commits if group and group.commits else 0.0
    log.close()
    if failures:
        raise failures[0]
    return len(calls) / elapsed, cpu / len(calls), per_commit


def ceiling(path: Path, calls: list[tuple[str, dict[str, Any]]], size: int, sync: str
            ) -> tuple[float, float, float]:  # fmt: skip
    """As :func:`sample`, from one thread writing ``size`` calls per ``record_many()``."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log = ActivityLog.open(f"sqlite:///{path}?synchronous={sync}")
    groups = [[{"action": action, **fields} for action, fields in calls[i : i + size]]
              for i in range(0, len(calls), size)]  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    for group in groups:
        log.record_many(group)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    log.close()
    return len(calls) / elapsed, cpu / len(calls), float(size)


def main(argv: list[str] | None = None) -> int:
    """Measure and print a Markdown table (and, with ``--json``, every sample)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3_000, help="record() calls per sample")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default=",".join(map(str, THREADS)))
    parser.add_argument("--sync", default=",".join(LEVELS), help="NORMAL, FULL or both")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--ceiling", action="store_true",
                        help="one thread, record_many() of n calls for each n in --threads")  # fmt: skip
    args = parser.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    if 1 not in counts:
        counts.insert(0, 1)  # the ratios' baseline
    levels = [level.strip().upper() for level in args.sync.split(",")]
    workload = generate(args.entries)
    calls = []
    for record in workload.records:
        fields = dict(record)
        calls.append((fields.pop("action"), fields))
    rates: dict[tuple[str, int], list[float]] = {(s, t): [] for s in levels for t in counts}
    ratios: dict[tuple[str, int], list[float]] = {(s, t): [] for s in levels for t in counts}
    sizes: dict[tuple[str, int], list[float]] = {(s, t): [] for s in levels for t in counts}
    cpus: dict[tuple[str, int], list[float]] = {(s, t): [] for s in levels for t in counts}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(prefix="activitylog-concurrency-") as tmp:
        path = Path(tmp) / "record.db"
        for run in range(args.repeat):
            for sync in levels:
                base = 0.0
                for threads in counts:
                    measure = ceiling if args.ceiling else sample
                    rate, cpu, size = measure(path, calls, threads, sync)
                    cpus[sync, threads].append(cpu)
                    base = rate if threads == 1 else base
                    rates[sync, threads].append(rate)
                    sizes[sync, threads].append(size)
                    ratios[sync, threads].append(rate / base)
                    sys.stderr.write(f"[{run + 1}/{args.repeat}] {sync} {threads:2d} threads: "
                                     f"{rate:8,.0f}/s, {cpu * 1e6:5.0f} µs CPU per entry, "
                                     f"{size:.1f} calls per commit\n")  # fmt: skip
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    how = "one thread, record_many() of n" if args.ceiling else "record()"
    print(f"{how} of {args.entries:,} entries, median of {args.repeat} (load average "
          f"{load:.2f} at start, {load_end:.2f} at end)\n")  # fmt: skip
    column, one = ("n", "n = 1") if args.ceiling else ("threads", "1 thread")
    print(f"| synchronous | {column} | entries/s (min-max) | vs {one} | CPU µs per entry "
          "| calls per commit |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for sync in levels:
        for threads in counts:
            r = rates[sync, threads]
            print(f"| {sync} | {threads} | {statistics.median(r):,.0f} ({min(r):,.0f}-"
                  f"{max(r):,.0f}) | {statistics.median(ratios[sync, threads]):.2f}x | "
                  f"{statistics.median(cpus[sync, threads]) * 1e6:,.0f} | "
                  f"{statistics.median(sizes[sync, threads]):.1f} |")  # fmt: skip
    if args.json is not None:
        report = {"entries": args.entries, "repeat": args.repeat, "load": [load, load_end],
                  "samples": [{"synchronous": s, "threads": t, "rates": rates[s, t],
                               "ratios": ratios[s, t], "cpu_per_entry": cpus[s, t],
                               "calls_per_commit": sizes[s, t]}
                              for s in levels for t in counts]}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
