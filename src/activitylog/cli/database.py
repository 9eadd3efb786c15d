"""Opening the database a command names, as an operator of one of its organizations."""

from __future__ import annotations

import difflib
import shlex
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..access import Role, Viewer
from ..errors import SchemaError
from ..log import ActivityLog
from ..stores.sqlite.schema import APPLICATION_ID
from .base import PROG, CliError

#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
_DB_HINT = f"; --db takes a file written by activitylog (`{PROG} demo --db PATH` makes one)"
#: The operator identity the command line reads with.
OPERATOR = "activitylog-cli"


def database_url(db: str) -> str:
    """The store URL of a ``--db`` value: a path, or already a URL."""
    if "://" in db:
        return db
    return "sqlite:///" + str(Path(db).expanduser().resolve())


def check_database(db: str) -> None:
    """Refuse a ``--db`` that is missing, a directory, or not a SQLite file."""
    if "://" in db:
        return
    path = Path(db).expanduser()
    if not path.exists():
        raise CliError(
            f"no database at {db} (create the demo one with `{PROG} demo --db {shlex.quote(db)}`)"
        )
    if path.is_dir():
        raise CliError(f"{db} is a directory, not a database file")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise CliError(f"cannot read {db}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise CliError(f"{db} is not an activitylog database (not a SQLite file){_DB_HINT}")
    tables = _foreign_tables(path)
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise CliError(f"{db} is not an activitylog database: it is an SQLite database of "
                       f"another application (it holds {shown}){_DB_HINT}")


def _foreign_tables(path: Path) -> list[str]:
    """The tables of an SQLite file that holds tables but none of activitylog's."""
    resolved = path.resolve()
    # Read-only, and creating nothing: without a -wal file, even a read-only connection to a
    # WAL database would create -wal and -shm files; "immutable" reads the file alone.
    wal = Path(f"{resolved}-wal").exists()
    uri = "file:" + quote(str(resolved)) + ("?mode=ro" if wal else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            names = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite%' ORDER BY name"
            )]
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # opening it properly says what is wrong
    if app_id == APPLICATION_ID or any(n.startswith("activitylog_") for n in names):
        return []
    return names


def open_log(db: str, *, integrity_key: str | None = None, readonly: bool = True) -> ActivityLog:
    """Open an existing database; never creates one.

    A SQLite file is opened read-only unless ``readonly=False``: the reading commands then work
    on a read-only mount or in a folder the operator cannot write, and change no byte of it.
    """
    check_database(db)
    url = database_url(db)
    options: dict[str, Any] = {}
    if integrity_key is not None:
        options["integrity_key"] = integrity_key
    if readonly and url.lower().startswith("sqlite:"):
        options["readonly"] = True
    try:
        return ActivityLog.open(url, **options)
    except SchemaError as exc:
        raise CliError(f"{db} cannot be read as an activitylog database: {exc}") from None


def check_org(log: ActivityLog, org: str) -> None:
    """Refuse an organization without entries, naming the closest known one."""
    if log.store.head(org) is not None:
        return
    known = log.store.org_ids()
    close = difflib.get_close_matches(org, known, n=1)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    elif known:
        shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        hint = f" (organizations with entries: {shown})"
    else:
        hint = " (the database has no entries)"
    raise CliError(f"unknown organization {org!r}: it has no entries{hint}")


def operator_viewer(org: str) -> Viewer:
    """The command line reads as an Owner of the organization it is asked about."""
    return Viewer(OPERATOR, org, Role.OWNER)


def remove_files(path: Path) -> None:
    """Delete a SQLite database file and its journal files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
