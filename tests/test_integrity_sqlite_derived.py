"""Verification of a SQLite file against tampering that goes beyond the hashed fields.

Bytes that are not UTF-8, a copy of an entry put after the recorded head, and derived data
(the search text column, the search index, the pending search rows) edited to hide an entry
from search: each is reported at the right ``seq``, and reading never aborts.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, Problem
from activitylog.stores.base import QuerySpec
from activitylog.stores.sqlite import schema
from test_integrity_sqlite import (
    TABLE,
    N,
    build,
    copy,
    free_id,
    insert,
    org_code,
    problem,
    row,
    tamper,
)
from test_integrity_sqlite import update as update_row

ORG = "acme"
ACTOR = Actor("u1", "Ada Lovelace")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-entry unkeyed database, built once for this module."""
    return build(tmp_path_factory.mktemp("derived") / "activity.db", N)


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template."""
    return copy(template, tmp_path)


def every_entry(path: Path) -> list[object]:
    """Every ORG entry as a page reads it, and as the chain streams it."""
    with ActivityLog.open(f"sqlite:///{path}") as log:
        page = log.store.page(QuerySpec(ORG, limit=10**6))
        chain = list(log.store.chain(ORG))
    assert len(page) == len(chain) == N
    return page


class TestNotUtf8:
    """Text that is not valid UTF-8 is an entry modified at its seq; reading goes on."""

    @pytest.mark.parametrize("seq", [1, 7, N])
    @pytest.mark.parametrize(
        "assignment",
        [
            "description = CAST(X'4d616c6c6f7279ff' AS TEXT)",
            "actor_name = CAST(X'c3' AS TEXT)",
            "label = CAST(X'80' AS TEXT) || label",
        ],
        ids=["description", "actor_name (cut sequence)", "label (stray continuation)"],
    )
    def test_is_modified_and_pages_still_read(self, db: Path, seq: int, assignment: str) -> None:
        """Verification reports the row as modified; pages and the chain read it with U+FFFD."""
        with tamper(db) as conn:
            update_row(conn, seq, assignment)
        assert problem(db) == (Problem.MODIFIED, seq)
        entries = every_entry(db)
        assert any("\ufffd" in (e.description + e.actor.name + e.label) for e in entries)

    def test_a_replacement_character_cannot_stand_in_for_it(self, tmp_path: Path) -> None:
        """A recorded U+FFFD replaced by an invalid byte (which pages show as U+FFFD, the same
        text) is still modified: verification reads the bytes, not their display."""
        path = tmp_path / "fffd.db"
        with ActivityLog.open(f"sqlite:///{path}") as log:
            log.record("lead.created", org_id=ORG, actor=ACTOR, description="A\ufffdB")
            log.record("lead.created", org_id=ORG, actor=ACTOR, description="after")
        with tamper(path) as conn:
            update_row(conn, 1, "description = CAST(X'41ff42' AS TEXT)")
        with ActivityLog.open(f"sqlite:///{path}") as log:
            assert log.store.page(QuerySpec(ORG))[-1].description == "A\ufffdB"
        assert problem(path) == (Problem.MODIFIED, 1)

    def test_an_organization_id_that_is_not_utf8_does_not_break_listing(self, db: Path) -> None:
        """Listing organizations and reading heads survive a tampered organization row."""
        with tamper(db) as conn:
            conn.execute(
                "UPDATE activitylog_orgs SET org_id = CAST(X'ff' AS TEXT) WHERE org_id = 'globex'"
            )
        with ActivityLog.open(f"sqlite:///{db}") as log:
            assert ORG in log.store.org_ids() and "\ufffd" in log.store.org_ids()
            assert log.verify(ORG).ok


class TestCopiedBeyondTheHead:
    """A copy of an earlier entry appended after the recorded head is inserted at its own seq."""

    @pytest.mark.parametrize("original", [1, 5, N - 1, N])
    def test_is_inserted_at_its_own_seq(self, db: Path, original: int) -> None:
        """The copy (new id, seq N + 1, everything else as stored) is reported at N + 1."""
        with tamper(db) as conn:
            forged = row(conn, original)
            forged.update(id=forged["id"] + 10_000_000, seq=N + 1, idempotency_key=None)
            insert(conn, forged)
        assert problem(db) == (Problem.INSERTED, N + 1)

    def test_an_exact_copy_with_its_seq_after_the_head(self, db: Path) -> None:
        """Even a copy whose link and hash are the original's is the inserted one."""
        with tamper(db) as conn:
            forged = row(conn, 3)
            forged.update(id=free_id(conn, forged["id"]), seq=N + 1, idempotency_key=None)
            insert(conn, forged)
        assert problem(db) == (Problem.INSERTED, N + 1)


class TestDerivedData:
    """Derived rows edited to hide an entry from search are reported at its seq."""

    @pytest.mark.parametrize("seq", [1, 6, N])
    def test_search_text_column_edited(self, db: Path, seq: int) -> None:
        """An edited ``haystack`` (what scans search) is modified at its seq."""
        with tamper(db) as conn:
            update_row(conn, seq, "haystack = ''")
        report = every_entry(db) and problem(db)
        assert report == (Problem.MODIFIED, seq)

    @pytest.mark.parametrize("seq", [2, N])
    def test_search_index_row_deleted(self, db: Path, seq: int) -> None:
        """An entry deleted from the search index (with FTS5's own delete command) is modified."""
        with tamper(db) as conn:
            entry_id = row(conn, seq)["id"]
            pending = conn.execute(
                f"DELETE FROM {schema.PENDING} WHERE id = ?", (entry_id,)
            ).rowcount
            if not pending:
                stored = conn.execute(
                    f"SELECT e.id, o.code, c.code, e.haystack FROM {TABLE} e "
                    "JOIN activitylog_orgs o ON o.code = e.org "
                    "JOIN activitylog_categories c ON c.name = e.category WHERE e.id = ?",
                    (entry_id,),
                ).fetchone()
                conn.execute(
                    f"INSERT INTO {schema.SEARCH} ({schema.SEARCH}, rowid, org, category, "
                    "haystack) VALUES ('delete', ?, ?, ?, ?)",
                    (
                        stored[0],
                        schema.token(stored[1]),
                        schema.token(stored[2]),
                        schema.search_text(stored[3]),
                    ),
                )
        assert problem(db) == (Problem.MODIFIED, seq)

    def test_index_rows_moved_to_another_category(self, db: Path) -> None:
        """A pending search row given another category token hides the entry from its category."""
        with tamper(db) as conn:
            code = org_code(conn)
            moved = conn.execute(
                f"UPDATE {schema.PENDING} SET category = ? WHERE org = ? AND id = "
                f"(SELECT max(id) FROM {schema.PENDING} WHERE org = ?)",
                (schema.token(999), schema.token(code), schema.token(code)),
            ).rowcount
        if not moved:
            pytest.skip("no pending rows in this file")
        assert problem(db)[0] == Problem.MODIFIED

    def test_an_untouched_file_has_no_derived_problem(self, db: Path) -> None:
        """Nothing tampered: the file verifies, search index checked."""
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute(f"SELECT count(*) FROM {schema.SEARCH}_idx").fetchone()[0] >= 0
        assert problem(db) == (None, None)
