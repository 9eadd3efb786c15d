"""``log.bind(connection)``: entries recorded in the host's own PostgreSQL transaction.

They commit and roll back with the host's work, savepoints included, and a recording error is
raised while the host can still roll back or carry on. Hosts: plain psycopg, Django (in a
subprocess, so that its settings stay its own) and a SQLAlchemy session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from activitylog import ActivityLog, Actor, ConfigurationError, Role, StoreError, Viewer
from conftest import POSTGRES_ENV

psycopg = pytest.importorskip("psycopg")

ADA = Actor("u1", "Ada Lovelace")
OWNER = Viewer("u1", "acme", Role.OWNER)


@pytest.fixture
def log(postgres_schema_url: str) -> Iterator[ActivityLog]:
    """A log on a fresh schema (its own pool: what other requests see)."""
    with ActivityLog.open(postgres_schema_url) as opened:
        yield opened


@pytest.fixture
def host() -> Iterator[psycopg.Connection]:
    """The host application's connection: not in autocommit, as a web request's would be."""
    with psycopg.connect(os.environ[POSTGRES_ENV]) as conn:
        conn.execute("CREATE TEMP TABLE leads (name text)")
        conn.commit()
        yield conn


def seen(log: ActivityLog) -> int:
    """How many entries another connection sees."""
    return log.query("acme", viewer=OWNER).count()


class TestBind:
    def test_entries_commit_with_the_host(self, log: ActivityLog, host: psycopg.Connection):
        """Inside bind, an entry is invisible to others until the host commits, then there."""
        with log.bind(host):
            host.execute("INSERT INTO leads VALUES ('Acme')")
            log.record("lead.created", org_id="acme", actor=ADA)
            assert log.query("acme", viewer=OWNER).count() == 1  # the host sees its own
        assert seen(log) == 0
        host.commit()
        assert seen(log) == 1
        assert log.verify("acme").ok

    def test_entries_roll_back_with_the_host_and_use_no_seq(
        self, log: ActivityLog, host: psycopg.Connection
    ):
        """A rolled-back host transaction takes its entries with it; the next entry is seq 1."""
        with log.bind(host):
            log.record("lead.created", org_id="acme", actor=ADA)
            log.record("lead.deleted", org_id="acme", actor=ADA)
        host.rollback()
        assert seen(log) == 0
        assert log.store.head("acme") is None
        assert log.record("lead.created", org_id="acme", actor=ADA).seq == 1

    def test_a_rolled_back_savepoint_takes_only_its_entries(
        self, log: ActivityLog, host: psycopg.Connection
    ):
        """Entries in a savepoint the host rolls back go; those around it stay, gapless."""
        with log.bind(host), host.transaction():
            log.record("lead.created", org_id="acme", actor=ADA)
            with pytest.raises(ZeroDivisionError), host.transaction():
                log.record("lead.deleted", org_id="acme", actor=ADA)
                raise ZeroDivisionError
            log.record("task.created", org_id="acme", actor=ADA)
        stored = list(log.store.chain("acme"))
        assert [(e.action, e.seq) for e in stored] == [("lead.created", 1), ("task.created", 2)]
        assert log.verify("acme").ok

    def test_first_statement_of_the_host_transaction(
        self, log: ActivityLog, host: psycopg.Connection
    ):
        """An entry recorded before the host's first statement still joins its transaction."""
        with log.bind(host):
            log.record("lead.created", org_id="acme", actor=ADA)
        assert host.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        host.rollback()
        assert seen(log) == 0

    def test_autocommit_host_commits_each_entry(self, log: ActivityLog):
        """With the host in autocommit and no transaction, each entry commits by itself."""
        with psycopg.connect(os.environ[POSTGRES_ENV], autocommit=True) as conn, log.bind(conn):
            log.record("lead.created", org_id="acme", actor=ADA)
        assert seen(log) == 1

    def test_a_recording_error_surfaces_before_the_host_commits(
        self, log: ActivityLog, host: psycopg.Connection
    ):
        """An append that fails in the database raises StoreError at record() time; the host's
        transaction is intact, and what it commits holds its own work and no entry."""
        log.record("lead.created", org_id="acme", actor=ADA)
        blocker = psycopg.connect(os.environ[POSTGRES_ENV])
        try:
            # Another writer holds the organization's head row.
            blocker.execute(f"SELECT 1 FROM {log.store.schema}.heads FOR UPDATE")
            host.execute("SET lock_timeout = '200ms'")
            with log.bind(host):
                host.execute("INSERT INTO leads VALUES ('Acme')")
                with pytest.raises(StoreError, match="lock timeout"):
                    log.record("lead.deleted", org_id="acme", actor=ADA)
                host.execute("INSERT INTO leads VALUES ('Globex')")
            host.commit()
        finally:
            blocker.close()
        assert host.execute("SELECT count(*) FROM leads").fetchone() == (2,)
        assert [e.seq for e in log.store.chain("acme")] == [1]

    def test_binding_is_per_thread(self, log: ActivityLog, host: psycopg.Connection):
        """Another thread recording while one thread is bound writes through the pool."""
        done: list[int] = []
        with log.bind(host):
            worker = threading.Thread(
                target=lambda: done.append(log.record("lead.created", org_id="acme", actor=ADA).seq)
            )
            worker.start()
            worker.join()
        host.rollback()
        assert done == [1] and seen(log) == 1

    def test_only_psycopg_connections_bind(self, log: ActivityLog):
        """bind() refuses anything but a psycopg 3 connection, saying where to find one."""
        with pytest.raises(ConfigurationError, match=r"connection\.connection"), log.bind(object()):
            pass

    def test_stores_without_binding_say_so(self):
        """The memory store cannot share a host's connection: bind() raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="cannot record inside"):
            ActivityLog().bind(object())


class TestSQLAlchemyHost:
    def test_session_commit_and_rollback(self, log: ActivityLog):
        """A SQLAlchemy session's transaction carries entries: kept on commit, gone on rollback."""
        sqlalchemy = pytest.importorskip("sqlalchemy")
        from sqlalchemy.orm import Session

        dsn = os.environ[POSTGRES_ENV].replace("postgresql://", "postgresql+psycopg://", 1)
        engine = sqlalchemy.create_engine(dsn)
        try:
            with Session(engine) as session:
                driver = session.connection().connection.driver_connection
                with log.bind(driver):
                    log.record("lead.created", org_id="acme", actor=ADA)
                session.rollback()
            assert seen(log) == 0
            with Session(engine) as session:
                driver = session.connection().connection.driver_connection
                session.execute(sqlalchemy.text("SELECT 1"))
                with log.bind(driver):
                    log.record("lead.created", org_id="acme", actor=ADA)
                assert seen(log) == 0
                session.commit()
            assert seen(log) == 1
        finally:
            engine.dispose()


DJANGO_HOST = """
import os, sys
import django
from django.conf import settings
from urllib.parse import urlsplit

url = urlsplit(os.environ["ACTIVITYLOG_TEST_POSTGRES_URL"])
settings.configure(DATABASES={"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": url.path.lstrip("/"),
    "USER": url.username, "HOST": url.hostname, "PORT": url.port,
}}, USE_TZ=True)
django.setup()
from django.db import connection, transaction
from activitylog import ActivityLog, Actor, Role, Viewer

log = ActivityLog.open(sys.argv[1])
ada = Actor("u1", "Ada")
owner = Viewer("u1", "acme", Role.OWNER)

class Boom(Exception):
    pass

try:
    with transaction.atomic():
        connection.ensure_connection()
        with log.bind(connection.connection):
            log.record("lead.created", org_id="acme", actor=ada)
        raise Boom
except Boom:
    pass
assert log.query("acme", viewer=owner).count() == 0, "rolled back with the atomic block"

with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    with log.bind(connection.connection):
        log.record("lead.created", org_id="acme", actor=ada)
        with transaction.atomic():  # a savepoint
            log.record("lead.deleted", org_id="acme", actor=ada)
    assert log.query("acme", viewer=owner).count() == 0, "not visible before the commit"
assert [e.seq for e in log.store.chain("acme")] == [1, 2]
assert log.verify("acme").ok
log.close()
print("django host ok")
"""


class TestDjangoHost:
    def test_atomic_block_commits_and_rolls_back_entries(
        self, postgres_schema_url: str, tmp_path: Path
    ):
        """Django 5 on psycopg 3: entries follow transaction.atomic(), savepoints included."""
        pytest.importorskip("django")
        script = tmp_path / "django_host.py"
        script.write_text(textwrap.dedent(DJANGO_HOST))
        done = subprocess.run(
            [sys.executable, str(script), postgres_schema_url],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "django host ok" in done.stdout
