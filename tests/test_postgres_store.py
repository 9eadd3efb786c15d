"""What only the PostgreSQL store has: its schema and migrations, append-only in the database,
a distributable layout, concurrent writers on a real server, search plans, URL options.

The Store contract itself is checked by the conformance suite and the reference properties,
which run on PostgreSQL too (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from activitylog import (
    ActivityLog,
    Actor,
    ConfigurationError,
    Role,
    SchemaError,
    StoreError,
    Viewer,
    open_store,
)
from activitylog.models import Entry
from activitylog.stores.base import QuerySpec
from conftest import POSTGRES_ENV

psycopg = pytest.importorskip("psycopg")

from activitylog.stores.postgres import PostgresStore, query, schema

ADA = Actor("u1", "Ada Lovelace")
OWNER = Viewer("u1", "acme", Role.OWNER)


@pytest.fixture
def url(postgres_schema_url: str) -> str:
    """A fresh schema on the test server, dropped afterwards."""
    return postgres_schema_url


@pytest.fixture
def log(url: str) -> Iterator[ActivityLog]:
    """A log on the fresh schema."""
    with ActivityLog.open(url) as opened:
        yield opened


@pytest.fixture
def admin() -> Iterator[Any]:
    """A plain autocommit connection to the test database, for looking behind the store."""
    with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as conn:
        yield conn


def schema_of(url: str) -> str:
    """The schema a test URL names."""
    return url.rsplit("schema=", 1)[1]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (with this test's environment)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


class TestImports:
    def test_import_activitylog_never_imports_psycopg(self):
        """``import activitylog`` (and a memory log) leaves psycopg unimported."""
        done = run_python(
            """
            import sys
            import activitylog
            activitylog.ActivityLog.open("memory://")
            assert "psycopg" not in sys.modules and "psycopg_pool" not in sys.modules
            """
        )
        assert done.returncode == 0, done.stderr

    def test_without_the_extra_a_postgres_url_names_it(self):
        """Without psycopg, opening a postgresql:// URL raises ConfigurationError naming the extra."""
        done = run_python(
            """
            import sys
            sys.modules["psycopg"] = None  # as if it were not installed
            from activitylog import ActivityLog, ConfigurationError
            try:
                ActivityLog.open("postgresql://nobody@127.0.0.1:1/none")
            except ConfigurationError as exc:
                print(exc)
            """
        )
        assert done.returncode == 0, done.stderr
        assert "pip install 'activitylog[postgres]'" in done.stdout


class TestOptions:
    def test_bad_options_are_configuration_errors(self):
        """A bad schema name, an unknown option or a malformed number: ConfigurationError."""
        for url, options in [
            ("postgresql://h/db?schema=no-dashes", {}),
            ("postgresql://h/db?schema=x%3B%20drop", {}),
            ("postgresql://h/db?max_size=many", {}),
            ("postgresql://h/db", {"pool": 3}),
            ("postgresql://h/db", {"max_size": 0}),
            ("postgresql://h/db", {"timeout": -1}),
        ]:
            with pytest.raises(ConfigurationError):
                open_store(url, **options)

    def test_an_unreachable_server_is_a_store_error(self):
        """A server that does not answer raises StoreError, without the password."""
        with pytest.raises(StoreError) as caught:
            open_store("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2")
        assert "secret" not in str(caught.value)

    def test_postgres_scheme_and_options_from_the_url(self, url: str):
        """``postgres://`` opens the same store; schema and pool size come from the URL."""
        alias = url.replace("postgresql://", "postgres://", 1) + "&max_size=2"
        with open_store(alias) as store:
            assert isinstance(store, PostgresStore)
            assert store.schema == schema_of(url)


class TestSchema:
    def test_tables_are_created_in_their_own_schema(self, log: ActivityLog, admin: Any, url: str):
        """A first open creates the schema's tables at the current version."""
        tables = {
            row[0]
            for row in admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema_of(url),)
            )
        }
        assert tables == set(schema.TABLES)
        version = admin.execute(
            f"SELECT array_agg(version) FROM {schema_of(url)}.activitylog_version"
        ).fetchone()[0]
        assert version == [schema.SCHEMA_VERSION]

    def test_a_foreign_schema_is_refused_untouched(self, url: str, admin: Any):
        """A schema holding another application's tables is refused, and nothing is created."""
        name = schema_of(url)
        admin.execute(f"CREATE SCHEMA {name}")
        admin.execute(f"CREATE TABLE {name}.invoices (id int)")
        with pytest.raises(SchemaError, match="another application"):
            open_store(url)
        tables = [r[0] for r in admin.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (name,))]  # fmt: skip
        assert tables == ["invoices"]

    def test_a_newer_schema_is_refused_untouched(self, url: str, admin: Any):
        """A schema written by a newer activitylog is refused without a write."""
        with open_store(url) as store:
            store.append([ActivityLog().build("lead.created", org_id="acme", actor=ADA)], None)
        name = schema_of(url)
        admin.execute(f"INSERT INTO {name}.activitylog_version (version) VALUES (99)")
        with pytest.raises(SchemaError, match="newer"):
            open_store(url)
        assert admin.execute(f"SELECT count(*) FROM {name}.entries").fetchone() == (1,)

    def test_concurrent_first_opens_create_the_schema_once(self, url: str, admin: Any):
        """Eight stores opening one new schema at once all succeed; it is migrated once."""
        barrier = threading.Barrier(8)

        def open_one(_: int) -> None:
            barrier.wait()
            open_store(url).close()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(open_one, range(8)))
        rows = admin.execute(f"SELECT version FROM {schema_of(url)}.activitylog_version").fetchall()
        assert rows == [(schema.SCHEMA_VERSION,)]


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE {s}.entries SET description = 'rewritten'",
            "DELETE FROM {s}.entries",
            "DELETE FROM {s}.entries WHERE false",
            "TRUNCATE {s}.entries",
            "TRUNCATE {s}.entries CASCADE",
            "DELETE FROM {s}.heads",
            "TRUNCATE {s}.category_counts",
        ],
    )
    def test_sql_cannot_change_or_remove_entries(
        self, log: ActivityLog, admin: Any, url: str, statement: str
    ):
        """Even the owner's UPDATE, DELETE and TRUNCATE are refused by the database."""
        log.record("lead.created", org_id="acme", actor=ADA)
        with pytest.raises(psycopg.Error, match="append-only"):
            admin.execute(statement.format(s=schema_of(url)))
        assert log.query("acme", viewer=OWNER).count() == 1
        assert log.verify("acme").ok


class TestDistributable:
    def test_every_key_includes_the_organization_and_nothing_references(
        self, log: ActivityLog, admin: Any, url: str
    ):
        """From the catalog: every primary key and unique index starts with org_id, and no
        foreign key ties rows of one table to another (which distribution would split)."""
        keys = admin.execute(
            """
            SELECT c.relname, i.relname, a.attname
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
            WHERE n.nspname = %s AND (x.indisunique OR x.indisprimary)
            """,
            (schema_of(url),),
        ).fetchall()
        assert len(keys) >= 5
        assert [k for k in keys if k[2] != "org_id"] == []
        foreign = admin.execute(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = %s AND c.contype = 'f'",
            (schema_of(url),),
        ).fetchone()
        assert foreign == (0,)

    def test_no_statement_joins_organizations(
        self, log: ActivityLog, monkeypatch: pytest.MonkeyPatch
    ):
        """Every statement the store sends names one of its tables (no join) and one
        organization, except the id probes (ids are unique across organizations, and a probe
        reads nothing but ids) and the list of organizations: under Citus each is routed to
        the one shard that holds its organization."""
        sent: list[str] = []
        for name in ("execute", "executemany", "copy"):
            original = getattr(psycopg.Cursor, name)

            def spy(self: Any, sql: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                sent.append(str(sql))
                return _original(self, sql, *args, **kw)

            monkeypatch.setattr(psycopg.Cursor, name, spy)
        log.record_many(
            [{"action": "lead.created", "org_id": org, "actor": ADA, "idempotency_key": org}
             for org in ("acme", "globex")]
        )
        log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="acme")
        log.record("lead.deleted", org_id="acme", actor=ADA)
        query = log.query("acme", viewer=OWNER)
        query.search("ada lead").page()
        query.search("ad").count()
        query.category("Leads").sort("action").page()
        query.count()
        log.categories("acme", viewer=OWNER)
        log.verify("acme")
        log.store.org_ids()
        assert sent
        tables = re.compile(r"\.(entries|heads|category_counts)\b")
        ours = [sql for sql in sent if tables.search(sql)]
        assert len(ours) > 20
        for sql in ours:
            assert len(set(tables.findall(sql))) == 1, sql  # never a join
            if sql.startswith("COPY"):
                continue
            probe = re.search(r"WHERE id = (ANY\(|%s)", sql) is not None
            listing = sql.startswith("SELECT org_id FROM") and "heads WHERE seq > 0" in sql
            scoped = re.search(r"\borg_id = %s", sql) is not None or sql.startswith(
                "INSERT INTO"
            )
            assert probe or listing or scoped, sql
            assert not re.search(r"org_id = ANY|org_id IN", sql), sql  # one organization each


class TestConcurrency:
    def test_threads_never_fork_a_chain(self, log: ActivityLog):
        """Eight threads recording into two organizations at once: gapless seqs, clean chains."""

        def work(n: int) -> None:
            for _ in range(15):
                log.record("lead.created", org_id=("acme", "globex")[n % 2], actor=ADA)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        for org in ("acme", "globex"):
            assert [e.seq for e in log.store.chain(org)] == list(range(1, 61))
            assert log.verify(org).ok

    def test_rolled_back_appends_among_threads_use_no_seq(self, log: ActivityLog):
        """Threads whose appends fail midway (after seqs were assigned) while others succeed:
        the stored chain is still 1..n without a gap, and holds exactly the successful ones."""
        chain = log.chain
        assert chain is not None

        class Failing:
            def link(self, prev_hash: str, entry: Entry) -> str:
                if entry.description.endswith("fail"):
                    raise RuntimeError("refused")
                return chain.link(prev_hash, entry)

        stored = []
        lock = threading.Lock()

        def work(n: int) -> None:
            for i in range(12):
                entries = [log.build("lead.created", org_id="acme", actor=ADA,
                                     description=f"{n} {i} {j}" + (" fail" if i % 3 == 0 and
                                                                    j == 1 else ""))
                           for j in range(2)]  # fmt: skip
                try:
                    done = log.store.append(entries, Failing())
                except (RuntimeError, StoreError):
                    continue
                with lock:
                    stored.extend(done)

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(work, range(6)))
        seqs = [e.seq for e in log.store.chain("acme")]
        assert seqs == list(range(1, len(stored) + 1)) and len(stored) == 6 * 8 * 2
        assert log.verify("acme").ok

    def test_processes_never_fork_a_chain(self, log: ActivityLog, url: str):
        """Four processes recording one organization at once: one gapless, verified chain."""
        code = """
            import sys
            from activitylog import ActivityLog, Actor
            with ActivityLog.open(sys.argv[1]) as log:
                for i in range(20):
                    if i % 5 == 4:
                        log.record_many([{"action": "task.created", "org_id": "acme",
                                          "actor": Actor("u2", "Grace")}] * 3)
                    else:
                        log.record("lead.created", org_id="acme", actor=Actor("u1", "Ada"))
            """
        procs = [
            subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), url],
                             stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert [e.seq for e in log.store.chain("acme")] == list(range(1, 4 * (16 + 12) + 1))
        assert log.verify("acme").ok

    def test_one_id_claimed_by_two_organizations_at_once(self, log: ActivityLog):
        """Writers of different organizations forcing the same ids concurrently: every stored
        id is still unique (the id's millisecond is locked while it is claimed)."""
        moment = datetime(2024, 3, 13, 2, 30, tzinfo=timezone.utc)
        base = log.build("lead.created", org_id="acme", actor=ADA, occurred_at=moment)
        orgs = [f"org{n}" for n in range(6)]
        barrier = threading.Barrier(len(orgs))

        def work(org: str) -> list[str]:
            entries = [attrs.evolve(base, org_id=org) for _ in range(5)]
            barrier.wait()
            return [e.id for e in log.store.append(entries, log.chain)]

        with ThreadPoolExecutor(len(orgs)) as pool:
            stored = [i for ids in pool.map(work, orgs) for i in ids]
        assert len(set(stored)) == len(stored) == 30


class TestSearchPlans:
    @pytest.fixture
    def filled(self, log: ActivityLog, admin: Any, url: str) -> ActivityLog:
        """3,000 entries, vacuumed and analyzed, one of them with a rare word."""
        rows = [{"action": "lead.created", "org_id": "acme", "actor": ADA}] * 2999
        rows.append({"action": "lead.created", "org_id": "acme", "actor": ADA,
                     "description": "Ada imported xylophone leads"})  # fmt: skip
        log.record_many(rows)
        # VACUUM moves GIN's pending list into the index, as autovacuum does in production.
        admin.execute(f"VACUUM ANALYZE {schema_of(url)}.entries")
        return log

    def plan(self, admin: Any, url: str, terms: tuple[str, ...], **settings: str) -> str:
        """The plan of a count for ``terms`` (with planner ``settings``)."""
        sql = query.count_sql(
            f"{schema_of(url)}.entries", f"{schema_of(url)}.category_counts",
            QuerySpec("acme", terms=terms),
        )  # fmt: skip
        assert sql is not None
        with admin.transaction():
            for name, value in settings.items():
                admin.execute(f"SET LOCAL {name} = {value}")
            rows = admin.execute("EXPLAIN " + sql.text, sql.params, prepare=False).fetchall()
        return "\n".join(r[0] for r in rows)

    def test_a_long_word_is_looked_up_in_the_trigram_index(
        self, filled: ActivityLog, admin: Any, url: str
    ):
        """A rare word of three or more letters is looked up in the pg_trgm index."""
        assert "entries_search" in self.plan(admin, url, ("xylophone",))
        assert filled.query("acme", viewer=OWNER).search("XYLOPHONE").count() == 1

    def test_short_words_never_touch_the_trigram_index(
        self, filled: ActivityLog, admin: Any, url: str
    ):
        """One- and two-character words are kept off the index, even when scans are penalized."""
        for terms in [("xy",), ("a",), ("--",), ("é",)]:
            plan = self.plan(admin, url, terms, enable_seqscan="off", enable_indexscan="off")
            assert "entries_search" not in plan, plan
        assert filled.query("acme", viewer=OWNER).search("xy").count() == 1

    def test_search_statements_are_never_prepared(self, url: str):
        """Searches run unprepared (planned for their own words each time); other statements
        are prepared after a few runs, as psycopg does."""
        with ActivityLog.open(url, max_size=1) as log:
            log.record("lead.created", org_id="acme", actor=ADA)
            query = log.query("acme", viewer=OWNER)
            for _ in range(8):
                query.search("lovelace").page()
                query.page()
            store = log.store
            assert isinstance(store, PostgresStore)
            prepared = [row[0] for row in store._fetch(
                "reading", "SELECT statement FROM pg_prepared_statements")]  # fmt: skip
        assert any("ORDER BY e.id DESC" in s and "LIKE" not in s for s in prepared)
        assert not any("haystack LIKE" in s for s in prepared)


class TestWriterRole:
    def test_the_documented_grants_record_read_and_cannot_change(
        self, log: ActivityLog, admin: Any, url: str
    ):
        """A role with docs/postgresql.md's grants opens the store, records, reads and verifies,
        and is refused UPDATE, DELETE and TRUNCATE of entries by permission, before any trigger."""
        name = schema_of(url)
        role = f"writer_{name[-12:]}"
        grants = [
            f"CREATE ROLE {role} LOGIN",
            f"GRANT USAGE ON SCHEMA {name} TO {role}",
            f"GRANT SELECT, INSERT ON {name}.entries TO {role}",
            f"GRANT SELECT, INSERT, UPDATE ON {name}.heads, {name}.category_counts TO {role}",
            f"GRANT SELECT ON {name}.activitylog_version TO {role}",
        ]
        for statement in grants:
            admin.execute(statement)
        try:
            parts = os.environ[POSTGRES_ENV].split("://", 1)[1].split("@", 1)[1]
            writer_url = f"postgresql://{role}@{parts}?schema={name}"
            with ActivityLog.open(writer_url) as writer:
                writer.record("lead.created", org_id="acme", actor=ADA)
                assert writer.query("acme", viewer=OWNER).search("ada").count() == 1
                assert writer.verify("acme").ok
            with psycopg.connect(writer_url.split("?")[0], autocommit=True) as conn:
                for statement in (f"UPDATE {name}.entries SET description = 'x'",
                                  f"DELETE FROM {name}.entries", f"TRUNCATE {name}.entries"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(statement)
        finally:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")
        assert log.query("acme", viewer=OWNER).count() == 1
