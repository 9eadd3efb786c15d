"""The PostgreSQL store against raw psycopg doing the same work by hand on the same schema.

``python -m benchmarks.postgres --url postgresql://postgres@127.0.0.1:5432/bench --entries 1000000``

Same workload as ``benchmarks/run.py`` (:mod:`benchmarks.workload`). Every comparison runs
ours and raw in turn (``--repeat`` times) on the same server and data:

- ``record()`` one entry per commit into the loaded table, against raw psycopg doing the same
  append by hand (lock the head row, insert the row, move the head, add to the count, commit;
  the hash by the same chain);
- a batch append of ``--batch`` entries, against raw ``COPY`` of the same rows (with their
  hashes, head and counts) into an identical empty schema;
- page queries (newest, category, action sort, keyset at depth, target, actor) against the
  same SQL by hand, rows fetched but not made into entries;
- search counts against an ``ILIKE`` scan of the searchable text, and ``categories()``
  against ``GROUP BY``.

Results go to stdout as a table of ratios and, with ``--json``, to a file.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import psycopg

from activitylog import ActivityLog, Role, Viewer
from activitylog.integrity import HashChain
from activitylog.models import Entry
from activitylog.stores.base import GENESIS
from activitylog.stores.postgres import PostgresStore
from benchmarks.run import alternate, per_call, say
from benchmarks.workload import RARE_FRAGMENT, Workload, generate

COMMON_WORD = "deleted"
SHORT_TERM = "li"
_COLUMNS = (
    "org_id, id, seq, action, label, category, kind, actor_id, actor_name, actor_avatar_url, "
    "actor_kind, description, occurred_at, source, api_key_id, api_key_name, target_type, "
    "target_id, target_label, changes, metadata, idempotency_key, prev_hash, hash, haystack"
)


def row_of(entry: Entry) -> tuple[Any, ...]:
    """An entry's row written by hand (the raw side's own encoding)."""
    changes = entry.changes
    return (
        entry.org_id, int(entry.id, 16), entry.seq, entry.action, entry.label, entry.category,
        entry.kind.value, entry.actor.id, entry.actor.name, entry.actor.avatar_url,
        entry.actor.kind.value, entry.description, entry.occurred_at, entry.source.value,
        entry.api_key.id if entry.api_key else None, entry.api_key.name if entry.api_key else None,
        entry.target.type if entry.target else None, entry.target.id if entry.target else None,
        entry.target.label if entry.target else None,
        None if changes is None else json.dumps({k: list(v) for k, v in changes.items()},
                                                ensure_ascii=False, separators=(",", ":")),
        json.dumps(dict(entry.metadata), ensure_ascii=False, separators=(",", ":")),
        entry.idempotency_key, entry.prev_hash, entry.hash,
        f"{entry.label}\n{entry.description}\n{entry.actor.name}".casefold(),
    )  # fmt: skip


class Raw:
    """Raw psycopg on one schema: appends and reads written by hand."""

    def __init__(self, url: str, schema: str, chain: HashChain) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.s = schema
        self.chain = chain

    def _place(self, cur: Any, entries: Sequence[Entry]) -> list[tuple[Any, ...]]:
        orgs = sorted({e.org_id for e in entries})
        cur.execute(f"INSERT INTO {self.s}.heads SELECT o, 0, NULL FROM unnest(%s::text[]) o "
                    "ON CONFLICT DO NOTHING", (orgs,))  # fmt: skip
        heads = {o: [seq, h] for o, seq, h in cur.execute(
            f"SELECT org_id, seq, hash FROM {self.s}.heads WHERE org_id = ANY(%s) "
            "ORDER BY org_id FOR UPDATE", (orgs,))}  # fmt: skip
        rows = []
        counts: dict[tuple[str, str], int] = {}
        for entry in entries:
            head = heads[entry.org_id]
            placed = attrs.evolve(entry, seq=head[0] + 1, prev_hash=head[1] or GENESIS)
            placed = attrs.evolve(placed, hash=self.chain.link(placed.prev_hash or GENESIS, placed))
            head[0], head[1] = placed.seq, placed.hash
            rows.append(row_of(placed))
            key = (entry.org_id, entry.category)
            counts[key] = counts.get(key, 0) + 1
        self._heads_counts = (heads, counts)
        return rows

    def _finish(self, cur: Any) -> None:
        heads, counts = self._heads_counts
        cur.executemany(f"UPDATE {self.s}.heads SET seq = %s, hash = %s WHERE org_id = %s",
                        [(seq, h, o) for o, (seq, h) in heads.items()])  # fmt: skip
        cur.executemany(
            f"INSERT INTO {self.s}.category_counts AS c VALUES (%s, %s, %s) "
            "ON CONFLICT (org_id, category) DO UPDATE SET n = c.n + excluded.n",
            [(o, c, n) for (o, c), n in counts.items()],
        )

    def append_one(self, entry: Entry) -> None:
        """BEGIN; lock the head; INSERT; UPDATE head; count; COMMIT."""
        with self.conn.transaction():
            cur = self.conn.cursor()
            rows = self._place(cur, [entry])
            cur.execute(f"INSERT INTO {self.s}.entries ({_COLUMNS}) VALUES ("
                        + ", ".join(["%s"] * 25) + ")", rows[0])  # fmt: skip
            self._finish(cur)

    def copy(self, entries: Sequence[Entry]) -> None:
        """The batch as one COPY, with its head and counts, in one transaction."""
        with self.conn.transaction():
            cur = self.conn.cursor()
            rows = self._place(cur, entries)
            with cur.copy(f"COPY {self.s}.entries ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            self._finish(cur)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a hand-written query."""
        return self.conn.execute(sql, params).fetchall()


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fresh_schema(url: str, name: str) -> None:
    """Drop ``name`` if it exists (the store creates it again)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


class Run:
    """One benchmark run; rows of (key, what, unit, ours, raw) medians and ratios."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url: str = args.url
        self.rows: list[dict[str, Any]] = []
        self.chain = HashChain(None)
        self.wl: Workload

    def add(self, key: str, what: str, unit: str, ours: list[float], raw: list[float],
            better: str) -> None:  # fmt: skip
        """Record medians; ``better`` is ``"higher"`` (rates) or ``"lower"`` (times)."""
        o, r = statistics.median(ours), statistics.median(raw)
        ratio = o / r if better == "higher" else r / o
        self.rows.append({"key": key, "what": what, "unit": unit, "ours": o, "raw": r,
                          "ours_samples": ours, "raw_samples": raw,
                          "ratio": ratio})  # fmt: skip
        say(f"  {what}: ours {fmt(o, unit)}, raw {fmt(r, unit)}, ratio {ratio:.2f}x")

    def batch(self) -> None:
        """Batch append vs COPY, into two identical empty schemas."""
        size = self.args.batch
        entries = self.wl.entries[: size * self.args.repeat]
        fresh_schema(self.url, self.schema("batch_ours"))
        fresh_schema(self.url, self.schema("batch_raw"))
        ours = PostgresStore(self.url, schema=self.schema("batch_ours"))
        PostgresStore(self.url, schema=self.schema("batch_raw")).close()
        raw = Raw(self.url, self.schema("batch_raw"), self.chain)
        chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
        it = iter(chunks)

        def ours_one() -> float:
            chunk = next(it)
            return len(chunk) / timed(lambda: ours.append(chunk, self.chain))

        raw_it = iter(chunks)

        def raw_one() -> float:
            chunk = next(raw_it)
            return len(chunk) / timed(lambda: raw.copy(chunk))

        o, r = alternate(len(chunks), ours_one, raw_one)
        self.add("batch", f"batch append of {size:,} (ours) vs raw COPY", "/s", o, r, "higher")
        ours.close()
        raw.conn.close()
        fresh_schema(self.url, self.schema("batch_ours"))
        fresh_schema(self.url, self.schema("batch_raw"))

    def load(self) -> PostgresStore:
        """Every entry into the main schema, in batches; then VACUUM ANALYZE."""
        fresh_schema(self.url, self.loaded)
        store = PostgresStore(self.url, schema=self.loaded, max_size=4)
        size = self.args.batch
        start = time.perf_counter()
        for i in range(0, len(self.wl.entries), size):
            store.append(self.wl.entries[i : i + size], self.chain)
            if (i // size) % 20 == 0:
                say(f"  loaded {i + size:,}")
        seconds = time.perf_counter() - start
        say(f"  load: {len(self.wl.entries) / seconds:,.0f} entries/s ({seconds:.1f} s)")
        self.load_rate = len(self.wl.entries) / seconds
        with psycopg.connect(self.url, autocommit=True) as conn:
            for table in ("entries", "heads", "category_counts"):
                conn.execute(f"VACUUM ANALYZE {self.loaded}.{table}")
            sizes = conn.execute(
                f"SELECT pg_total_relation_size('{self.loaded}.entries'), "
                f"pg_relation_size('{self.loaded}.entries'), "
                f"pg_relation_size('{self.loaded}.entries_search')"
            ).fetchone()
        self.sizes = {"total": sizes[0], "heap": sizes[1], "trigram": sizes[2]}
        return store

    def reuse(self) -> PostgresStore:
        """The main schema a previous run loaded with the same workload (checked by count)."""
        store = PostgresStore(self.url, schema=self.loaded, max_size=4)
        with psycopg.connect(self.url, autocommit=True) as conn:
            loaded = conn.execute(f"SELECT count(*) FROM {self.loaded}.entries").fetchone()
            sizes = conn.execute(
                f"SELECT pg_total_relation_size('{self.loaded}.entries'), "
                f"pg_relation_size('{self.loaded}.entries'), "
                f"pg_relation_size('{self.loaded}.entries_search')"
            ).fetchone()
        assert loaded is not None and sizes is not None
        if loaded[0] < len(self.wl.entries):
            raise SystemExit(f"{self.loaded} holds {loaded[0]:,} entries, not {len(self.wl.entries):,}")
        self.sizes = {"total": sizes[0], "heap": sizes[1], "trigram": sizes[2]}
        self.load_rate = float("nan")
        return store

    def per_commit(self, store: PostgresStore) -> None:
        """record() one per commit (and append() of a built entry) vs raw by hand."""
        log = ActivityLog(store)
        raw = Raw(self.url, self.loaded, self.chain)
        org = self.wl.org_ids[3]
        records = [dict(r, org_id=org) for r in self.wl.records if r.get("org_id") == org]
        records = [{k: v for k, v in r.items() if k != "occurred_at"} for r in records]
        count = self.args.per_commit
        pos = [0]

        def next_record() -> dict[str, Any]:
            pos[0] += 1
            return records[pos[0] % len(records)]

        def ours_sample() -> float:
            batch = [next_record() for _ in range(count)]
            start = time.perf_counter()
            for fields in batch:
                args = dict(fields)
                log.record(args.pop("action"), **args)
            return count / (time.perf_counter() - start)

        def one_per_commit(write: Callable[[Entry], Any]) -> Callable[[], float]:
            """A sampler writing ``count`` entries, built beforehand, one ``write`` each."""

            def sample() -> float:
                built = []
                for fields in (next_record() for _ in range(count)):
                    args = dict(fields)
                    built.append(log.build(args.pop("action"), **args))
                start = time.perf_counter()
                for entry in built:
                    write(entry)
                return count / (time.perf_counter() - start)

            return sample

        raw_sample = one_per_commit(raw.append_one)
        append_sample = one_per_commit(lambda entry: store.append([entry], self.chain))

        o, r, a = alternate(self.args.repeat, ours_sample, raw_sample, append_sample)
        self.add("record", "record() one per commit (build included) vs raw", "/s", o, r, "higher")
        self.add("append1", "append() of one built entry per commit vs raw", "/s", a, r, "higher")
        assert log.verify(org).ok, "the raw appends broke the chain"
        raw.conn.close()

    def reads(self, store: PostgresStore) -> None:
        """Page queries, search counts and categories() against hand-written SQL."""
        log = ActivityLog(store)
        raw = Raw(self.url, self.loaded, self.chain)
        org = self.wl.largest_org
        viewer = Viewer("bench", org, Role.OWNER)
        q = log.query(org, viewer=viewer)
        e = f"{self.loaded}.entries"
        cols = ("id, seq, action, label, category, kind, actor_id, actor_name, actor_avatar_url, "
                "actor_kind, description, occurred_at, source, api_key_id, api_key_name, "
                "target_type, target_id, target_label, changes, metadata, idempotency_key, "
                "prev_hash, hash")  # fmt: skip
        sample = next(x for x in self.wl.entries if x.org_id == org and x.target is not None)
        assert sample.target is not None
        depth = min(self.args.depth, sum(1 for x in self.wl.entries if x.org_id == org) // 2)
        walked, cursor, last = 0, None, ""
        while walked < depth:  # pages of at most 1,000 (the largest page) down to the depth
            step = q.page(min(1000, depth - walked), after=cursor)
            walked, cursor, last = walked + len(step), step.next_cursor, step.entries[-1].id
        assert cursor is not None
        depth_id = int(last, 16)
        pages: list[tuple[str, str, Callable[[], Any], str, list[Any]]] = [
            ("newest", "newest 50 of the largest organization", lambda: q.page(50),
             f"SELECT {cols} FROM {e} WHERE org_id = %s ORDER BY id DESC LIMIT 50", [org]),
            ("category", "newest 50 of one category", lambda: q.category("Files").page(50),
             (f"SELECT {cols} FROM {e} WHERE org_id = %s AND category = 'Files' "
             "ORDER BY id DESC LIMIT 50"), [org]),
            ("action", "first 50 sorted by action", lambda: q.sort("action").page(50),
             f"SELECT {cols} FROM {e} WHERE org_id = %s ORDER BY label, id LIMIT 50", [org]),
            ("deep", f"50 at depth {depth:,} (keyset)",
             lambda: q.page(50, after=cursor),
             f"SELECT {cols} FROM {e} WHERE org_id = %s AND id < %s ORDER BY id DESC LIMIT 50",
             [org, depth_id]),
            ("target", "one record's history", lambda: q.target(*_target(sample)).page(50),
             (f"SELECT {cols} FROM {e} WHERE org_id = %s AND target_type = %s AND target_id = %s "
             "ORDER BY id DESC LIMIT 50"), [org, *_target(sample)]),
            ("actor", "one member's activity", lambda: q.actor(sample.actor.id).page(50),
             (f"SELECT {cols} FROM {e} WHERE org_id = %s AND actor_id = %s "
             "ORDER BY id DESC LIMIT 50"), [org, sample.actor.id]),
        ]  # fmt: skip
        for key, what, ours_fn, sql, params in pages:
            o, r = alternate(self.args.repeat, per_call(ours_fn, self.min_time),
                             per_call(lambda s=sql, p=params: raw.fetch(s, p), self.min_time))  # type: ignore[misc]  # fmt: skip
            self.add(f"page_{key}", f"page: {what}", "s", o, r, "lower")
        searchable = "(label || ' ' || description || ' ' || actor_name)"
        for key, word in (("rare", RARE_FRAGMENT), ("common", COMMON_WORD),
                          ("short", SHORT_TERM)):  # fmt: skip
            o, r = alternate(
                max(3, self.args.repeat // 2),
                per_call(lambda w=word: q.search(w).count(), self.min_time),  # type: ignore[misc]
                per_call(lambda w=word: raw.fetch(
                    f"SELECT count(*) FROM {e} WHERE org_id = %s AND {searchable} ILIKE %s",
                    [org, f"%{w}%"]), self.min_time),  # type: ignore[misc]
            )
            self.add(f"search_{key}", f"search count {word!r} vs ILIKE scan", "s", o, r, "lower")
        o, r = alternate(
            self.args.repeat,
            per_call(lambda: log.categories(org, viewer=viewer), self.min_time),
            per_call(lambda: raw.fetch(f"SELECT category, count(*) FROM {e} WHERE org_id = %s "
                                       "GROUP BY category", [org]), self.min_time),
        )
        self.add("categories", "categories() vs GROUP BY", "s", o, r, "lower")
        raw.conn.close()

    @property
    def min_time(self) -> float:
        """How long one timing sample lasts at least."""
        return float(self.args.min_time)

    @property
    def loaded(self) -> str:
        """The schema holding the loaded log."""
        return self.schema("main")

    def schema(self, name: str) -> str:
        """A schema of this run: ``--schema-prefix`` and ``name``."""
        return f"{self.args.schema_prefix}_{name}"

    def main(self) -> dict[str, Any]:
        """Run everything; the report."""
        say(f"generating {self.args.entries:,} entries")
        self.wl = generate(self.args.entries, 7)
        gc.collect()
        gc.freeze()
        if self.args.reuse:
            say(f"reusing the loaded schema {self.loaded}")
            store = self.reuse()
        else:
            say("batch append vs COPY")
            self.batch()
            say("loading")
            store = self.load()
        say("reads")
        self.reads(store)
        say("one entry per commit")
        self.per_commit(store)
        store.close()
        with psycopg.connect(self.url) as conn:
            server = conn.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        return {"entries": self.args.entries, "load_rate": self.load_rate, "sizes": self.sizes,
                "server": server, "python": sys.version.split()[0],
                "cpus": os.cpu_count(), "rows": self.rows}  # fmt: skip


def _target(entry: Entry) -> tuple[str, str]:
    assert entry.target is not None
    return entry.target.type, entry.target.id


def fmt(value: float, unit: str) -> str:
    """A rate or a duration, readable."""
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value * 1000:.2f} ms"


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = ["| measurement | ours | raw psycopg | ratio |", "|---|---:|---:|---:|"]
    for row in report["rows"]:
        lines.append(f"| {row['what']} | {fmt(row['ours'], row['unit'])} | "
                     f"{fmt(row['raw'], row['unit'])} | {row['ratio']:.2f}× |")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.postgres", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--url", default=os.environ.get("ACTIVITYLOG_TEST_POSTGRES_URL"),
                        help="the server's database (default: $ACTIVITYLOG_TEST_POSTGRES_URL)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="entries per batch append")
    parser.add_argument("--per-commit", type=int, default=500, help="entries per sample")
    parser.add_argument("--depth", type=int, default=100_000, help="keyset depth (entries)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the report to this file")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds one timing sample of a read lasts at least")
    parser.add_argument("--schema-prefix", default="bench",
                        help="the run's schemas are PREFIX_main, PREFIX_batch_ours, ...")
    parser.add_argument("--reuse", action="store_true",
                        help="skip the batch comparison and the load: reuse PREFIX_main")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("no server: pass --url or set ACTIVITYLOG_TEST_POSTGRES_URL")
    report = Run(args).main()
    print(table(report))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
