"""What the integrity chain costs an append, and how fast verify() runs.

Appends the same workload into new SQLite files with the chain and without it
(``ActivityLog(integrity=False)``), alternating, and reports the ratio; then verifies the largest
organization of the chained file.

    python -m benchmarks.chain_cost --entries 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

from activitylog import ActivityLog

from .workload import generate


def _ingest(path: Path, entries: list, *, chained: bool) -> float:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log = ActivityLog.open(f"sqlite:///{path}", integrity=chained)
    start = time.perf_counter()
    log.store.append(entries, log.chain)
    elapsed = time.perf_counter() - start
    log.close()
    return len(entries) / elapsed


def _single(path: Path, records: list, *, chained: bool) -> float:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log = ActivityLog.open(f"sqlite:///{path}", integrity=chained)
    start = time.perf_counter()
    for fields in records:
        log.record(**fields)
    elapsed = time.perf_counter() - start
    log.close()
    return len(records) / elapsed


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--single", type=int, default=3_000, help="entries for record() rates")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    workload = generate(args.entries)
    gc.collect()
    gc.freeze()
    rates: dict[str, list[float]] = {k: [] for k in ("batch+", "batch-", "one+", "one-")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeat):
            rates["batch+"].append(_ingest(work / "chained.db", workload.entries, chained=True))
            rates["batch-"].append(_ingest(work / "plain.db", workload.entries, chained=False))
            records = workload.records[: args.single]
            rates["one+"].append(_single(work / "one-chained.db", records, chained=True))
            rates["one-"].append(_single(work / "one-plain.db", records, chained=False))
        _ingest(work / "chained.db", workload.entries, chained=True)
        log = ActivityLog.open(f"sqlite:///{work / 'chained.db'}")
        org = workload.largest_org
        verify_rates = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = log.verify(org)
            verify_rates.append(report.checked / (time.perf_counter() - start))
            assert report.ok, report
        log.close()

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"

    print(f"entries: {args.entries:,}; record(): {args.single:,}; repeats: {args.repeat}\n")
    print("| entries/s | with chain | without chain | with / without |")
    print("|---|---|---|---|")
    rows = (("batch append (`store.append`)", "batch"), ("`record()`, one per commit", "one"))
    for name, key in rows:
        ratio = statistics.median(
            a / b for a, b in zip(rates[key + "+"], rates[key + "-"], strict=True)
        )
        print(f"| {name} | {cell(rates[key + '+'])} | {cell(rates[key + '-'])} | {ratio:.2f}× |")
    print(f"\nverify() of the largest organization ({report.checked:,} entries): "
          f"{cell(verify_rates)} entries/s")


if __name__ == "__main__":
    main()
