"""Append-only, really: no raw SQL path edits or removes a stored row of a SQLite file.

Each test opens the file with the plain ``sqlite3`` module, as someone with write access to it
would, tries one way of changing or removing stored rows, and checks that SQLite refuses it
and that the log still reads and verifies exactly as before. (Dropping the triggers is a schema
change no trigger can refuse; verification and checkpoints are what catch what follows it:
see ``test_integrity_sqlite.py``.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, Target
from activitylog.stores.base import QuerySpec
from activitylog.stores.sqlite import schema

ENTRIES = schema.ENTRIES
ADA = Actor("u1", "Ada Lovelace")
COLUMNS = (
    "id, org, seq, action, label, category, kind, actor_id, actor_name, actor_avatar_url, "
    "actor_kind, description, occurred_at, source, api_key_id, api_key_name, target_type, "
    "target_id, target_label, changes, metadata, idempotency_key, prev_hash, hash, haystack"
)
#: A copy of stored row 1 with one column changed (and the rest as stored).
COPY_OF_FIRST = f"SELECT {COLUMNS.replace('description', '? AS description')} FROM {ENTRIES}"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """A file holding three entries of acme (the first with an idempotency key)."""
    path = tmp_path / "activity.db"
    with ActivityLog.open(f"sqlite:///{path}") as log:
        log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="k1",
                   target=Target("lead", "1", "Acme"))  # fmt: skip
        log.record("lead.updated", org_id="acme", actor=ADA, target=Target("lead", "1", "Acme"))
        log.record("lead.deleted", org_id="acme", actor=ADA)
    yield path


def snapshot(path: Path) -> list[tuple[object, ...]]:
    """Every row of every activitylog table (the search index aside), in a fixed order."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'activitylog%' "
                "AND name NOT LIKE 'activitylog_search%' ORDER BY name"
            )
        ]
        return [(t, *row) for t in tables for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]


#: Raw SQL that would edit or remove stored rows, by what it tries.
ATTEMPTS = {
    "insert or replace (same id)": [
        (
            f"INSERT OR REPLACE INTO {ENTRIES} ({COLUMNS}) "
            f"{COPY_OF_FIRST.replace('?', chr(39) + 'forged' + chr(39))} WHERE seq = 1"
        )
    ],
    "replace into (same id)": [
        (
            f"REPLACE INTO {ENTRIES} ({COLUMNS}) "
            f"{COPY_OF_FIRST.replace('?', chr(39) + 'forged' + chr(39))} WHERE seq = 1"
        )
    ],
    "insert or replace (same org and seq, new id)": [
        (
            f"INSERT OR REPLACE INTO {ENTRIES} ({COLUMNS}) "
            f"SELECT id + 1000000, org, seq, action, label, category, kind, actor_id, actor_name, "
            "actor_avatar_url, actor_kind, 'forged', occurred_at, source, api_key_id, api_key_name, "
            "target_type, target_id, target_label, changes, metadata, NULL, prev_hash, hash, "
            f"haystack FROM {ENTRIES} WHERE seq = 2"
        )
    ],
    "insert or replace (same idempotency key, new id and seq)": [
        (
            f"INSERT OR REPLACE INTO {ENTRIES} ({COLUMNS}) "
            f"SELECT id + 1000000, org, 99, action, label, category, kind, actor_id, actor_name, "
            "actor_avatar_url, actor_kind, 'forged', occurred_at, source, api_key_id, api_key_name, "
            "target_type, target_id, target_label, changes, metadata, idempotency_key, prev_hash, "
            f"hash, haystack FROM {ENTRIES} WHERE seq = 1"
        )
    ],
    "upsert do update": [
        (
            f"INSERT INTO {ENTRIES} ({COLUMNS}) "
            f"{COPY_OF_FIRST.replace('?', chr(39) + 'forged' + chr(39))} WHERE seq = 1 "
            "ON CONFLICT (id) DO UPDATE SET description = excluded.description"
        )
    ],
    "update or replace": [f"UPDATE OR REPLACE {ENTRIES} SET seq = 1 WHERE seq = 2"],
    "update of a derived column": [f"UPDATE {ENTRIES} SET haystack = '' WHERE seq = 1"],
    "delete through a view": [
        f"CREATE TEMP VIEW v AS SELECT id FROM {ENTRIES}",
        (
            f"CREATE TEMP TRIGGER v_delete INSTEAD OF DELETE ON v "
            f"BEGIN DELETE FROM {ENTRIES} WHERE id = OLD.id; END"
        ),
        "DELETE FROM v",
    ],
    "update through a view": [
        f"CREATE TEMP VIEW v AS SELECT id, description FROM {ENTRIES}",
        (
            f"CREATE TEMP TRIGGER v_update INSTEAD OF UPDATE ON v "
            f"BEGIN UPDATE {ENTRIES} SET description = NEW.description WHERE id = OLD.id; END"
        ),
        "UPDATE v SET description = 'forged'",
    ],
    "delete of an organization": ["DELETE FROM activitylog_orgs"],
    "rename of an organization": ["UPDATE activitylog_orgs SET org_id = 'globex'"],
    "replace of an organization": [
        (
            "INSERT OR REPLACE INTO activitylog_orgs (org_id, head_seq, head_hash) "
            "VALUES ('acme', 0, NULL)"
        )
    ],
    "delete of a category count": ["DELETE FROM activitylog_counts"],
    "lower category count": ["UPDATE activitylog_counts SET n = n - 1"],
    "replace of a category count": [
        (
            "REPLACE INTO activitylog_counts (org, category, n) SELECT org, category, 0 "
            "FROM activitylog_counts"
        )
    ],
    "rename of a category": ["UPDATE activitylog_categories SET name = 'Other'"],
    "delete of a category": ["DELETE FROM activitylog_categories"],
    "replace of a category": ["REPLACE INTO activitylog_categories (code, name) VALUES (1, 'x')"],
}


class TestRawSql:
    """Every way of editing or removing stored rows with SQL is refused by the file itself."""

    @pytest.mark.parametrize("attempt", list(ATTEMPTS))
    def test_is_refused_and_changes_nothing(self, db: Path, attempt: str) -> None:
        """The statement fails with the schema's message and every stored row is unchanged."""
        before = snapshot(db)
        with closing(sqlite3.connect(db, isolation_level=None)) as conn:
            *setup, statement = ATTEMPTS[attempt]
            for sql in setup:
                conn.execute(sql)
            with pytest.raises(sqlite3.DatabaseError, match="activitylog"):
                conn.execute(statement)
        assert snapshot(db) == before
        with ActivityLog.open(f"sqlite:///{db}") as log:
            assert log.verify("acme").ok
            assert log.store.count(QuerySpec("acme")) == 3

    def test_the_triggers_exist_in_a_new_file(self, db: Path) -> None:
        """A new file carries every append-only trigger (and a migrated one too: TestMigration)."""
        with closing(sqlite3.connect(db)) as conn:
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            }
        assert {
            "activitylog_entries_no_update", "activitylog_entries_no_delete",
            "activitylog_entries_no_replace", "activitylog_orgs_no_delete",
            "activitylog_orgs_no_rename", "activitylog_orgs_no_replace",
            "activitylog_counts_only_grow", "activitylog_counts_no_delete",
            "activitylog_counts_no_replace", "activitylog_categories_no_change",
            "activitylog_categories_no_delete", "activitylog_categories_no_replace",
        } <= names  # fmt: skip

    def test_appends_still_work_after_refusals(self, db: Path) -> None:
        """The store's own appends (new rows, new categories, growing counts) pass the triggers."""
        with ActivityLog.open(f"sqlite:///{db}") as log:
            log.record_many(
                [{"action": "member.invited", "org_id": "acme", "actor": ADA}] * 3
                + [{"action": "lead.created", "org_id": "globex", "actor": ADA}]
            )
            assert log.store.count(QuerySpec("acme")) == 6
            assert log.store.categories("acme") == {"Leads": 3, "Members": 3}
            assert log.verify("acme").ok and log.verify("globex").ok

    def test_an_idempotent_retry_is_still_answered(self, db: Path) -> None:
        """A retry with a stored key returns the stored entry, writing nothing."""
        before = snapshot(db)
        with ActivityLog.open(f"sqlite:///{db}") as log:
            again = log.record("lead.created", org_id="acme", actor=ADA, idempotency_key="k1",
                               target=Target("lead", "1", "Acme"))  # fmt: skip
        assert again.seq == 1
        assert snapshot(db) == before
