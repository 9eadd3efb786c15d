"""The history of one record and of one person in the SQLite store, and the schema that serves it.

``QuerySpec.target`` and ``QuerySpec.actor_id`` must answer exactly as the memory reference
does, combined with every other filter, in every sort, page by page; org-first indexes serve
them; files of earlier versions gain those indexes (and the append-only triggers, and search text
derived the current way) when they are opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitylog import ActivityLog, ActivityLogError, Actor, Entry, HashChain, Target, search
from activitylog.stores.base import QuerySpec, sort_key
from activitylog.stores.memory import MemoryStore
from activitylog.stores.sqlite import SQLiteStore, schema
from activitylog.stores.sqlite import search as sqlite_search
from strategies import query_plans, record_batches

CHAIN = HashChain()
T0 = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)
ADA = Actor("u1", "Ada Lovelace")
GRACE = Actor("u2", "Grace Hopper")
LEAD = Target("lead", "42", "Acme Corp")


def build_entries(batch: list[dict[str, Any]]) -> list[Entry]:
    """Entries for ``record()`` argument dicts (without idempotency keys; any the log refuses
    are left out: these tests are about reading)."""
    log = ActivityLog()
    entries = []
    for args in batch:
        fields = {k: v for k, v in args.items() if k not in ("action", "idempotency_key")}
        try:
            entries.append(log.build(args["action"], **fields))
        except ActivityLogError:
            continue
    return entries


def paged(store: Any, spec: QuerySpec) -> list[Entry]:
    """Every entry of ``spec`` read page by page through its keyset."""
    out: list[Entry] = []
    after = None
    while True:
        page = store.page(attrs.evolve(spec, after=after))
        out += page
        if len(page) < spec.limit:
            return out
        after = sort_key(page[-1], spec.sort)


def stores() -> list[Any]:
    """The reference, SQLite with its search index (used even for tiny logs) and without."""
    return [MemoryStore(), SQLiteStore(":memory:"), SQLiteStore(":memory:", fts=False)]


class TestAgainstTheReference:
    """Target and actor filters answer like the memory store, with every other filter."""

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), batch=record_batches(max_size=25))
    def test_random_histories(self, data: st.DataObject, batch: Any, monkeypatch: Any) -> None:
        """Random logs, random queries with a target and/or an actor: the same pages (read
        page by page) and counts as the reference, in every sort."""
        monkeypatch.setattr(sqlite_search, "SCAN_BELOW", 0)
        entries = build_entries(batch)
        opened = stores()
        try:
            for store in opened:
                store.append(entries, CHAIN)
            targets = sorted({(e.target.type, e.target.id) for e in entries if e.target})
            actors = sorted({e.actor.id for e in entries})
            for _ in range(3):
                plan = data.draw(query_plans(entries))
                org = data.draw(st.sampled_from(sorted({e.org_id for e in entries} | {"acme"})))
                target = data.draw(st.none() | st.sampled_from([*targets, ("lead", "nope")]))
                actor = data.draw(st.none() | st.sampled_from([*actors, "nobody"]))
                spec = ActivityLogQuery.spec(plan, org)
                spec = attrs.evolve(spec, target=target, actor_id=actor)
                for sort in ("date", "action"):
                    for descending in (True, False):
                        one = attrs.evolve(spec, sort=sort, descending=descending, limit=3)
                        answers = [(paged(s, one), s.count(one)) for s in opened]
                        assert answers[0] == answers[1] == answers[2], one
        finally:
            for store in opened:
                store.close()


class ActivityLogQuery:
    """The store-level spec of a random query plan (as the query builder makes it)."""

    @staticmethod
    def spec(plan: Any, org: str) -> QuerySpec:
        """``plan`` applied for an owner of ``org`` at ``T0``."""
        from activitylog import Role, Viewer

        log = ActivityLog(clock=lambda: T0)
        return plan.apply(log, org, Viewer("u-owner", org, Role.OWNER)).spec(now=T0)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A file with a lead's history among other records' and other people's entries."""
    store = SQLiteStore(tmp_path / "activity.db")
    log = ActivityLog(store, clock=lambda: T0)
    entries = []
    for i in range(60):
        target = LEAD if i % 6 == 0 else Target("lead", str(i), f"Lead {i}")
        actor = GRACE if i % 4 == 0 else ADA
        entries.append(
            log.build(
                "lead.updated",
                org_id="acme",
                actor=actor,
                target=target,
                occurred_at=T0 + timedelta(minutes=i),
            )
        )
    store.append(entries, CHAIN)
    store.append(
        [log.build("lead.updated", org_id="globex", actor=GRACE, target=LEAD, occurred_at=T0)],
        CHAIN,
    )
    yield store
    store.close()


class TestHistory:
    """One record's and one person's entries, in the organization's scope only."""

    def test_a_records_history_newest_first(self, history: SQLiteStore) -> None:
        """The lead's ten entries of acme, newest first, in pages of four."""
        spec = QuerySpec("acme", target=("lead", "42"), limit=4)
        found = paged(history, spec)
        assert len(found) == 10 == history.count(spec)
        assert all(e.target == LEAD and e.org_id == "acme" for e in found)
        assert [e.occurred_at for e in found] == sorted(
            (e.occurred_at for e in found), reverse=True
        )

    def test_a_persons_activity_combined_with_a_target_and_search(
        self, history: SQLiteStore
    ) -> None:
        """Grace's entries about the lead, searched: those at minutes 0, 12, 24, 36, 48."""
        spec = QuerySpec("acme", target=("lead", "42"), actor_id="u2", terms=("grace",))
        found = history.page(spec)
        assert [(e.occurred_at - T0) // timedelta(minutes=1) for e in found] == [48, 36, 24, 12, 0]
        assert history.count(spec) == 5

    @pytest.mark.parametrize(
        ("spec", "index"),
        [
            (QuerySpec("acme", target=("lead", "42")), "activitylog_entries_org_target"),
            (QuerySpec("acme", actor_id="u2"), "activitylog_entries_org_actor"),
        ],
    )
    def test_pages_read_an_org_first_index(
        self, history: SQLiteStore, spec: QuerySpec, index: str
    ) -> None:
        """The page query of a target or an actor searches its index, with no sort step."""
        with history._reading() as conn:
            ctx = history._context(conn)
            plan = sqlite_search.plan(ctx, 1, spec, page=True)
            assert plan is not None
            from activitylog.stores.sqlite import query

            sql, params = query.select_sql(1, spec, plan)
            assert sql is not None
            steps = " ".join(
                row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 50])
            )
        assert f"USING INDEX {index}" in steps
        assert "TEMP B-TREE" not in steps

    def test_values_no_stored_text_can_equal_match_nothing(self, history: SQLiteStore) -> None:
        """A target or actor id with a lone surrogate finds nothing (and raises nothing)."""
        for spec in (
            QuerySpec("acme", target=("lead", "\ud800")),
            QuerySpec("acme", actor_id="\udfff"),
        ):
            assert history.page(spec) == [] and history.count(spec) == 0


class TestManyWords:
    """A search of thousands of words runs in SQLite (the limit on words is search.py's)."""

    @pytest.mark.parametrize("fts", [True, False])
    @pytest.mark.parametrize("n", [20, 300, 3000])
    def test_answers_like_the_reference(self, history: SQLiteStore, tmp_path: Path, fts: bool,
                                        n: int, monkeypatch: Any) -> None:  # fmt: skip
        """Thousands of words (all present, or one missing) answer, never a database error."""
        monkeypatch.setattr(sqlite_search, "SCAN_BELOW", 0)
        store = SQLiteStore(tmp_path / "words.db", fts=fts)
        reference = MemoryStore()
        words = [f"w{i:04d}" for i in range(n)]
        log = ActivityLog(clock=lambda: T0)
        entries = [
            log.build("lead.updated", org_id="acme", actor=ADA, description=" ".join(words)),
            log.build("lead.updated", org_id="acme", actor=ADA, description=" ".join(words[1:])),
        ]
        store.append(entries, CHAIN)
        reference.append(entries, CHAIN)
        for terms in (tuple(words), tuple(words[1:]), (*words[1:], "missing")):
            for sort in ("date", "action"):
                spec = QuerySpec("acme", terms=terms, sort=sort)
                assert store.page(spec) == reference.page(spec)
                assert store.count(spec) == reference.count(spec)
        store.close()


def downgrade_to_version_2(path: Path) -> None:
    """Turn a current file into what version 2 wrote: no v3 triggers or indexes, no search
    fingerprint, and search text derived another way (here: upper case, which no search finds)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index') AND ("
            "name LIKE '%no_replace' OR name LIKE '%orgs_no%' OR name LIKE '%counts%' OR "
            "name LIKE '%categories_no%' OR name LIKE '%org_target' OR name LIKE '%org_actor')"
        ).fetchall():
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (name,)).fetchone()
            conn.execute(f"DROP {kind[0].upper()} {name}")
        conn.execute("DROP TRIGGER activitylog_entries_no_update")
        conn.execute(f"UPDATE {schema.ENTRIES} SET haystack = upper(haystack)")
        conn.execute(schema._NO_UPDATE)
        conn.execute(f"INSERT INTO {schema.SEARCH} ({schema.SEARCH}) VALUES ('delete-all')")
        conn.execute(
            f"INSERT INTO {schema.SEARCH} (rowid, org, category, haystack) "
            f"SELECT id, '', '', haystack FROM {schema.ENTRIES}"
        )
        conn.execute(f"DELETE FROM {schema.META} WHERE key = ?", (schema.FINGERPRINT_KEY,))
        conn.execute(f"UPDATE {schema.META} SET value = '2' WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("COMMIT")


class TestMigration:
    """Files of earlier versions are migrated forward on open; the chain is untouched."""

    def test_a_version_2_file_gains_indexes_triggers_and_rebuilt_search(
        self, tmp_path: Path
    ) -> None:
        """After the upgrade: version 3, the new indexes and triggers, search rows derived by
        this version (searches find entries again), chain unchanged and verifying."""
        path = tmp_path / "old.db"
        with ActivityLog.open(f"sqlite:///{path}") as log:
            for i in range(300):
                log.record("lead.updated", org_id="acme", actor=ADA, target=LEAD,
                           description=f"Called Müller {i}")  # fmt: skip
            before = log.store.page(QuerySpec("acme", limit=10**6))
        downgrade_to_version_2(path)
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        with ActivityLog.open(f"sqlite:///{path}") as log:
            store = log.store
            assert store.page(QuerySpec("acme", limit=10**6)) == before
            assert log.verify("acme").ok
            for word in (*search.terms("Müller"), *search.terms("MÜLLER")):
                spec = QuerySpec("acme", terms=(word,))
                assert store.count(spec) == 300
            assert store.count(QuerySpec("acme", target=("lead", "42"))) == 300
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            stored = conn.execute(
                f"SELECT haystack, label, description, actor_name FROM {schema.ENTRIES}"
            ).fetchall()
        assert all(row[0] == search.haystack(*row[1:]) for row in stored)
        assert {
            "activitylog_entries_org_target", "activitylog_entries_org_actor",
            "activitylog_entries_no_replace", "activitylog_entries_no_update",
        } <= names  # fmt: skip

    def test_a_changed_search_normalization_rebuilds_search_rows(
        self, tmp_path: Path, monkeypatch: Any
    ) -> None:
        """A file whose search text was derived another way (another fingerprint) has its
        search rows rebuilt on open, the chain untouched."""
        path = tmp_path / "a.db"
        with ActivityLog.open(f"sqlite:///{path}") as log:
            log.record("lead.updated", org_id="acme", actor=ADA, description="Ünïcödé")
            chain = [(e.seq, e.hash) for e in log.store.chain("acme")]
        monkeypatch.setattr(search, "haystack", lambda *parts: "\n".join(parts).upper())
        schema.search_fingerprint.cache_clear()
        try:
            with ActivityLog.open(f"sqlite:///{path}") as log:
                assert log.store.count(QuerySpec("acme", terms=("ÜNÏCÖDÉ",))) == 1
                assert [(e.seq, e.hash) for e in log.store.chain("acme")] == chain
        finally:
            schema.search_fingerprint.cache_clear()
