"""The SQLite store's schema: what an activitylog database contains and how it is upgraded.

A database is recognised by its marker, never by guessing from table names:

- a file the store owns carries :data:`APPLICATION_ID` in its header (``PRAGMA application_id``)
  and its schema version in ``PRAGMA user_version``;
- a host's database (``SQLiteStore(connection=...)``) keeps its own header; the store's tables
  live beside the host's and ``activitylog_meta`` holds the marker and the version.

Versions only move forward: :data:`MIGRATIONS` holds one step per version, applied in order in
one write transaction. Version 0 is "no activitylog tables yet"; migration 0 -> 1 creates them.

The search index (FTS5 with the ``trigram`` tokenizer) is optional, because not every SQLite
build has it; it is created when available and the store scans when it is not.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Callable
from typing import Any

import attrs

from ... import search
from ...errors import SchemaError

#: ``PRAGMA application_id`` of a file the store owns ("ALog" in ASCII).
APPLICATION_ID = 0x414C6F67
#: The schema version this code writes.
SCHEMA_VERSION = 3
#: Oldest SQLite the store runs on (upserts); FTS5 ``trigram`` needs 3.34.
MIN_SQLITE = (3, 24, 0)

ENTRIES = "activitylog_entries"
SEARCH = "activitylog_search"
SEARCH_TERMS = "activitylog_search_terms"
PENDING = "activitylog_search_pending"
META = "activitylog_meta"

#: Search-index tokens for organization and category codes are three characters from the
#: Unicode private use area: one trigram each, so a column filter on one is an exact match.
_TOKEN_BASE = 0xE000
_TOKEN_RADIX = 6400


@functools.lru_cache(maxsize=4096)
def token(code: int) -> str:
    """The three-character search-index token of an organization or category code."""
    high, rest = divmod(code, _TOKEN_RADIX * _TOKEN_RADIX)
    middle, low = divmod(rest, _TOKEN_RADIX)
    if high >= _TOKEN_RADIX:
        raise OverflowError(f"code {code} does not fit in a search token")
    return chr(_TOKEN_BASE + high) + chr(_TOKEN_BASE + middle) + chr(_TOKEN_BASE + low)


_SCHEMA_1 = f"""
CREATE TABLE {META} (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE activitylog_orgs (
    code INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL UNIQUE,
    head_seq INTEGER NOT NULL,
    head_hash TEXT
);
CREATE TABLE activitylog_categories (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE activitylog_counts (
    org INTEGER NOT NULL,
    category TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (org, category)
) WITHOUT ROWID;
CREATE TABLE {ENTRIES} (
    id INTEGER PRIMARY KEY,
    org INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    label TEXT NOT NULL,
    category TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    actor_avatar_url TEXT,
    actor_kind TEXT NOT NULL,
    description TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    api_key_id TEXT,
    api_key_name TEXT,
    target_type TEXT,
    target_id TEXT,
    target_label TEXT,
    changes TEXT,
    metadata TEXT NOT NULL,
    idempotency_key TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT,
    haystack TEXT NOT NULL
);
CREATE UNIQUE INDEX activitylog_entries_org_seq ON {ENTRIES} (org, seq);
CREATE INDEX activitylog_entries_org_id ON {ENTRIES} (org, id);
CREATE INDEX activitylog_entries_org_category ON {ENTRIES} (org, category, id);
CREATE INDEX activitylog_entries_org_label ON {ENTRIES} (org, label, id, category);
CREATE UNIQUE INDEX activitylog_entries_idempotency ON {ENTRIES} (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
{{no_update}}
CREATE TRIGGER activitylog_entries_no_delete BEFORE DELETE ON {ENTRIES}
BEGIN
    SELECT RAISE(ABORT, 'activitylog entries are append-only: DELETE is not allowed');
END;
"""

_NO_UPDATE = f"""CREATE TRIGGER activitylog_entries_no_update BEFORE UPDATE ON {ENTRIES}
BEGIN
    SELECT RAISE(ABORT, 'activitylog entries are append-only: UPDATE is not allowed');
END;"""
_SCHEMA_1 = _SCHEMA_1.replace("{no_update}", _NO_UPDATE)

#: How much index data FTS5 collects in memory before writing a segment (its default is
#: 1 MiB). Bulk appends write four times fewer, larger segments and merge them less: the
#: search index costs half as much per entry.
HASHSIZE = 16 * 1024 * 1024

#: ``org`` and ``category`` hold one :func:`token` each; ``haystack`` holds
#: :func:`search_text`. ``automerge = 8`` (default 4) merges index segments half as often:
#: bulk appends index about a quarter faster, and searches measured the same.
_SEARCH_INDEX = f"""
CREATE VIRTUAL TABLE {SEARCH} USING fts5(
    org, category, haystack,
    tokenize = 'trigram case_sensitive 1', content = '', columnsize = 0, detail = full
);
CREATE VIRTUAL TABLE {SEARCH_TERMS} USING fts5vocab({SEARCH}, 'row');
INSERT INTO {SEARCH} ({SEARCH}, rank) VALUES ('automerge', 8);
INSERT INTO {SEARCH} ({SEARCH}, rank) VALUES ('hashsize', {HASHSIZE});
"""


def search_text(haystack: str) -> str:
    """What the search index holds for an entry's haystack: its distinct words, each followed
    by a newline, and one more newline at the end.

    A search word never contains whitespace, so it occurs in the haystack exactly when it
    occurs in one of the haystack's words: indexing each distinct word once answers every
    search the same, with about 30% less text to index (the actor's name and the action's
    words recur in the description). Every character is followed by at least two more, so
    every occurrence of a one- or two-character word starts a trigram: such a word is found
    as the trigrams that start with it.
    """
    return "\n".join(dict.fromkeys(haystack.split())) + "\n\n"


#: ``activitylog_meta`` key holding the :func:`search_fingerprint` the stored search text (the
#: ``haystack`` column and the search index) was derived with.
FINGERPRINT_KEY = "search_fingerprint"
#: Text whose search form stands for the whole of :mod:`activitylog.search`'s normalization:
#: every character up to U+2FFF (Latin, Greek, Cyrillic, combining marks, compatibility forms,
#: ...) and a few beyond.
_PROBE = "".join(map(chr, range(0x20, 0x3000))) + "\ufb01\uff21\U0001d400\u2460"


@functools.lru_cache(maxsize=1)
def search_fingerprint() -> str:
    """A digest of how this version derives search text: when a file records another one, its
    search text was derived differently and is rebuilt on open (:func:`rebuild_search`)."""
    words = search_text(search.haystack(_PROBE, _PROBE[::-1], "Ab"))
    return hashlib.sha256(words.encode("utf-8", "surrogatepass")).hexdigest()[:32]


#: ``activitylog_meta`` key marking a search index whose every row holds :func:`search_text`
#: (indexes built by earlier versions hold whole haystacks followed by one newline, where a
#: word's last character may start no trigram: one-character words are then checked row by
#: row).
SEARCH_TEXT_KEY = "search_text"
SEARCH_TEXT_WORDS = "words"


@attrs.frozen
class Layout:
    """What an open database holds, as the store needs to know it."""

    owned: bool  # the file's header carries our application id and version
    version: int
    search_index: bool  # the FTS5 search table exists
    cookie: int  # PRAGMA schema_version when this was read
    search_words: bool = False  # every search row holds search_text() (see SEARCH_TEXT_KEY)
    fingerprint: str | None = None  # see FINGERPRINT_KEY

    @property
    def search_current(self) -> bool:
        """Whether the stored search text was derived the way this version derives it."""
        return self.fingerprint == search_fingerprint()


Migration = Callable[[sqlite3.Connection, bool], None]


def _migrate_0_to_1(conn: sqlite3.Connection, search: bool) -> None:
    for statement in _split(_SCHEMA_1):
        conn.execute(statement)
    conn.execute(f"INSERT INTO {META} (key, value) VALUES ('format', 'activitylog')")
    if search:
        create_search_index(conn)


#: Search rows of small appends wait here until there are enough to index together (see the
#: SQLite store's ``PENDING_LIMIT``): ``id`` is the entry id, ``org``/``category`` the search
#: tokens and ``text`` the search text, as the search index would hold them.
_SCHEMA_2 = f"""
CREATE TABLE {PENDING} (
    id INTEGER PRIMARY KEY,
    org TEXT NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL
);
"""


def _migrate_1_to_2(conn: sqlite3.Connection, search: bool) -> None:
    for statement in _split(_SCHEMA_2):
        conn.execute(statement)


#: Append-only, really: the triggers of version 1 refuse UPDATE and DELETE, but SQLite runs no
#: delete trigger when ``INSERT OR REPLACE`` (or ``REPLACE INTO``) deletes the row it
#: conflicts with, so an insert that would conflict with a stored row is refused before any
#: conflict resolution runs (an upsert's ``DO UPDATE`` is refused by the update trigger too).
#: The organizations' rows (code, id) and the category counts (which only grow) are guarded
#: the same way; chain heads move forward by the store's own UPDATE. Indexes for the history
#: of one record and of one person.
_SCHEMA_3 = f"""
CREATE TRIGGER activitylog_entries_no_replace BEFORE INSERT ON {ENTRIES}
WHEN EXISTS (SELECT 1 FROM {ENTRIES} WHERE id = NEW.id)
    OR EXISTS (SELECT 1 FROM {ENTRIES} WHERE org = NEW.org AND seq = NEW.seq)
    OR (NEW.idempotency_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM {ENTRIES} WHERE org = NEW.org AND idempotency_key = NEW.idempotency_key))
BEGIN
    SELECT RAISE(ABORT, 'activitylog entries are append-only: a stored entry cannot be replaced');
END;
CREATE TRIGGER activitylog_orgs_no_delete BEFORE DELETE ON activitylog_orgs
BEGIN
    SELECT RAISE(ABORT, 'activitylog organizations cannot be deleted');
END;
CREATE TRIGGER activitylog_orgs_no_rename BEFORE UPDATE OF code, org_id ON activitylog_orgs
WHEN NEW.code IS NOT OLD.code OR NEW.org_id IS NOT OLD.org_id
BEGIN
    SELECT RAISE(ABORT, 'activitylog organizations cannot be renamed or renumbered');
END;
CREATE TRIGGER activitylog_orgs_no_replace BEFORE INSERT ON activitylog_orgs
WHEN EXISTS (SELECT 1 FROM activitylog_orgs WHERE org_id = NEW.org_id OR code = NEW.code)
BEGIN
    SELECT RAISE(ABORT, 'activitylog organizations cannot be replaced');
END;
CREATE TRIGGER activitylog_categories_no_change BEFORE UPDATE ON activitylog_categories
BEGIN
    SELECT RAISE(ABORT, 'activitylog categories cannot be changed');
END;
CREATE TRIGGER activitylog_categories_no_delete BEFORE DELETE ON activitylog_categories
BEGIN
    SELECT RAISE(ABORT, 'activitylog categories cannot be deleted');
END;
CREATE TRIGGER activitylog_categories_no_replace BEFORE INSERT ON activitylog_categories
WHEN EXISTS (SELECT 1 FROM activitylog_categories WHERE name = NEW.name OR code = NEW.code)
BEGIN
    SELECT RAISE(ABORT, 'activitylog categories cannot be replaced');
END;
CREATE TRIGGER activitylog_counts_only_grow BEFORE UPDATE ON activitylog_counts
WHEN NEW.org IS NOT OLD.org OR NEW.category IS NOT OLD.category OR NEW.n < OLD.n
BEGIN
    SELECT RAISE(ABORT, 'activitylog category counts only grow');
END;
CREATE TRIGGER activitylog_counts_no_delete BEFORE DELETE ON activitylog_counts
BEGIN
    SELECT RAISE(ABORT, 'activitylog category counts cannot be deleted');
END;
CREATE TRIGGER activitylog_counts_no_replace BEFORE INSERT ON activitylog_counts
WHEN EXISTS (SELECT 1 FROM activitylog_counts WHERE org = NEW.org AND category = NEW.category)
BEGIN
    SELECT RAISE(ABORT, 'activitylog category counts cannot be replaced');
END;
CREATE INDEX activitylog_entries_org_target ON {ENTRIES} (org, target_type, target_id, id);
CREATE INDEX activitylog_entries_org_actor ON {ENTRIES} (org, actor_id, id);
"""


def _migrate_2_to_3(conn: sqlite3.Connection, search: bool) -> None:
    for statement in _split(_SCHEMA_3):
        conn.execute(statement)


#: ``MIGRATIONS[n]`` upgrades a version-``n`` database to version ``n + 1``.
MIGRATIONS: tuple[Migration, ...] = (_migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3)
assert len(MIGRATIONS) == SCHEMA_VERSION


def _split(script: str) -> list[str]:
    """The statements of a script (``sqlite3.complete_statement`` knows where triggers end)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current!r}")
    return statements


def has_trigram(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite has FTS5 with a case-sensitive ``trigram`` tokenizer (>= 3.34)."""
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE temp.activitylog_probe "
            "USING fts5(x, tokenize = 'trigram case_sensitive 1')"
        )
    except sqlite3.Error:
        return False
    conn.execute("DROP TABLE temp.activitylog_probe")
    return True


def create_search_index(conn: sqlite3.Connection) -> None:
    """Create the search table and fill it from the stored entries (inside the caller's txn)."""
    for statement in _split(_SEARCH_INDEX):
        conn.execute(statement)
    _fill_search_index(conn)
    conn.execute(
        f"INSERT INTO {META} (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (SEARCH_TEXT_KEY, SEARCH_TEXT_WORDS),
    )


def _fill_search_index(conn: sqlite3.Connection) -> None:
    """Index every stored entry (the index holds none of them yet)."""
    conn.create_function("activitylog_token", 1, token, deterministic=True)
    conn.create_function("activitylog_search_text", 1, search_text, deterministic=True)
    conn.execute(
        "INSERT INTO activitylog_categories (name) "
        "SELECT DISTINCT category FROM activitylog_counts "
        "WHERE category NOT IN (SELECT name FROM activitylog_categories)"
    )
    conn.execute(
        f"INSERT INTO {SEARCH} (rowid, org, category, haystack) "
        "SELECT e.id, activitylog_token(e.org), activitylog_token(c.code), "
        "activitylog_search_text(e.haystack) "
        f"FROM {ENTRIES} e JOIN activitylog_categories c ON c.name = e.category"
    )


def rows(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
    """All rows of a query as plain tuples, whatever ``row_factory`` a host's connection has."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params).fetchall()


def _header(conn: sqlite3.Connection) -> tuple[int, int, int, dict[str, str]]:
    app_id = rows(conn, "PRAGMA application_id")[0][0]
    user_version = rows(conn, "PRAGMA user_version")[0][0]
    cookie = rows(conn, "PRAGMA schema_version")[0][0]
    objects = dict(
        rows(
            conn, "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!'"
        )
    )
    return app_id, user_version, cookie, objects


def inspect(conn: sqlite3.Connection, *, owned_file: bool, where: str) -> tuple[Layout, bool]:
    """Read what the database holds, without writing anything.

    Returns the layout and whether the store may claim the file's header (a new, empty file
    opened by path). Raises :class:`SchemaError` for a file that is not an activitylog
    database or was written by a newer version.
    """
    try:
        app_id, user_version, cookie, objects = _header(conn)
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{where} is not an SQLite database ({exc})") from exc
    indexed = SEARCH in objects
    words = indexed and META in objects and _search_words(conn)
    fingerprint = _meta_value(conn, FINGERPRINT_KEY) if META in objects else None
    if app_id == APPLICATION_ID:
        layout = Layout(True, user_version, indexed, cookie, words, fingerprint)
        return _checked(layout, where), False
    if app_id != 0 and owned_file:
        raise SchemaError(
            f"{where} belongs to another application (application_id {app_id:#010x}); "
            "it is not an activitylog database"
        )
    if META in objects:
        version = _meta_version(conn, where)
        layout = Layout(False, version, indexed, cookie, words, fingerprint)
        return _checked(layout, where), False
    if any(name.startswith("activitylog_") for name in objects):
        raise SchemaError(f"{where} has activitylog tables but no activitylog marker")
    if owned_file and objects:
        names = ", ".join(sorted(objects)[:5])
        raise SchemaError(
            f"{where} is an SQLite database of another application (it holds {names}) and no "
            "activitylog marker; open an empty or new file, or pass the application's "
            "connection with connection= to keep the log inside its database"
        )
    return Layout(False, 0, False, cookie), owned_file


def _meta_value(conn: sqlite3.Connection, key: str) -> str | None:
    found = rows(conn, f"SELECT value FROM {META} WHERE key = ?", (key,))
    return str(found[0][0]) if found else None


def _search_words(conn: sqlite3.Connection) -> bool:
    found = rows(conn, f"SELECT value FROM {META} WHERE key = ?", (SEARCH_TEXT_KEY,))
    return bool(found) and found[0][0] == SEARCH_TEXT_WORDS


def _meta_version(conn: sqlite3.Connection, where: str) -> int:
    meta = dict(rows(conn, f"SELECT key, value FROM {META}"))
    if meta.get("format") != "activitylog":
        raise SchemaError(f"{where} has an {META} table without the activitylog marker")
    try:
        return int(meta.get("schema_version", "0"))
    except ValueError:
        raise SchemaError(f"{where} records an unreadable schema version") from None


def _checked(layout: Layout, where: str) -> Layout:
    if layout.version > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} was written by a newer activitylog (schema version {layout.version}; "
            f"this version reads up to {SCHEMA_VERSION}): upgrade activitylog to open it"
        )
    return layout


def upgrade(conn: sqlite3.Connection, layout: Layout, *, claim: bool, search: bool) -> None:
    """Apply the missing migrations inside the caller's write transaction.

    ``claim`` stamps the file's header (a new file the store owns); otherwise an owned file's
    version lives in ``user_version`` and a shared database's in ``activitylog_meta``.
    """
    for step in MIGRATIONS[layout.version :]:
        step(conn, search)
    owned = layout.owned or claim
    if claim:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    if owned:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(
        f"INSERT INTO {META} (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )
    if layout.version == 0:
        _set_meta(conn, FINGERPRINT_KEY, search_fingerprint())  # nothing stored to derive
    else:
        rebuild_search(conn)


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        f"INSERT INTO {META} (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def rebuild_search(conn: sqlite3.Connection) -> None:
    """Derive every entry's search text again, inside the caller's write transaction: the
    ``haystack`` column (its update trigger is lifted for this statement only) and, when the
    search index exists, its rows (pending rows included). The chain is not touched: search
    text is not part of what an entry's hash covers."""
    conn.create_function("activitylog_haystack", 3, search.haystack, deterministic=True)
    conn.execute("DROP TRIGGER IF EXISTS activitylog_entries_no_update")
    conn.execute(
        f"UPDATE {ENTRIES} SET haystack = activitylog_haystack(label, description, actor_name)"
    )
    conn.execute(_NO_UPDATE)
    objects = {row[0] for row in rows(conn, "SELECT name FROM sqlite_master")}
    if SEARCH in objects:
        conn.execute(f"INSERT INTO {SEARCH} ({SEARCH}) VALUES ('delete-all')")
        conn.execute(f"DELETE FROM {PENDING}")
        _fill_search_index(conn)
    _set_meta(conn, FINGERPRINT_KEY, search_fingerprint())
