"""SQLAlchemy engine, one session per request, and per-service Alembic migrations."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from .config import ServiceConfig

log = logging.getLogger(__name__)

# Ids are PostgreSQL `integer` columns: a larger number cannot name a row, and sent to the
# database it would fail as an overflow (a 500) instead of a 404.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    """Now in UTC, timezone-aware: what every timestamp column stores."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive datetimes; they were written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# A pooled connection to a database that vanished without closing it (a Multi-AZ failover, a cut
# network) fails within about 25 s instead of the kernel's ~15 minutes of retransmissions: idle
# ones by keepalive probes, busy ones once what they sent goes unacknowledged (libpq parameters).
DEAD_PEER_DETECTION = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                       "keepalives_count": 3, "tcp_user_timeout": 10_000}


# How much longer than the statement timeout a client waits for an answer: the server's own timeout,
# which leaves the connection usable, comes first.
ANSWER_GRACE_S = 2.0


def answer_deadline_s(config: ServiceConfig) -> float:
    """Seconds a connection waits for the database's answer before giving up on it."""
    return config.db_statement_timeout_ms / 1000 + ANSWER_GRACE_S


class AnswerDeadlineConnection(psycopg.Connection):
    """A psycopg connection that stops waiting for a database that takes its bytes and never answers
    (a hung server or proxy, which no TCP setting notices). Without it each request thread waited
    as long as the database did, and a worker with every thread stuck answered nothing.

    Past `answer_timeout` the connection is closed, since the exchange stopped half way; SQLAlchemy
    then counts it as a disconnect, the pool starts afresh, and the request answers 503.
    """

    answer_timeout: float | None = None

    def wait(self, gen, *args, timeout: float | None = None, **kwargs):
        try:
            return super().wait(gen, *args, timeout=self.answer_timeout if timeout is None else timeout,
                                **kwargs)
        except psycopg.OperationalError as exc:
            if exc.sqlstate is None:  # no answer (or no connection), not a server error
                self.close()
            raise


def make_engine(config: ServiceConfig) -> Engine:
    url = config.sqlalchemy_url
    # Statement parameters are customers' data (addresses, password hashes): never in an error message.
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=config.db_pool_size,
        max_overflow=0,  # the pool already holds a connection for every request thread
        pool_timeout=config.db_connect_timeout,
        pool_pre_ping=True,  # a restarted database is noticed on checkout, not by a shopper
        hide_parameters=True,
        connect_args={
            "connect_timeout": config.db_connect_timeout,
            "options": f"-c statement_timeout={config.db_statement_timeout_ms}",
            "application_name": config.service_name,
            **DEAD_PEER_DETECTION,
        },
    )
    deadline = answer_deadline_s(config)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        connection = AnswerDeadlineConnection.connect(*cargs, **cparams)
        connection.answer_timeout = deadline
        return connection

    return engine


# SQLite names a violated index or named constraint in its message, the only place it does.
_SQLITE_VIOLATED = re.compile(r"constraint failed: (?:index '(?P<index>[^']+)'|(?P<constraint>\w+)$)")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint or unique index `exc` violated, when the database names it."""
    if isinstance(exc.orig, psycopg.Error):
        return exc.orig.diag.constraint_name
    if isinstance(exc.orig, sqlite3.Error):
        found = _SQLITE_VIOLATED.search(str(exc.orig))
        return found and (found["index"] or found["constraint"])
    return None


def database_error_fields(exc: BaseException) -> dict[str, str] | None:
    """What names a database error without the row it was about, for the logs: SQLSTATE, constraint,
    table, column and the statement (placeholders only); None for any other error. PostgreSQL's
    message is left out: its DETAIL quotes rows ("Failing row contains (...)", "Key (...)=(...)"),
    and some primary messages quote a value ('invalid input syntax for type integer: "..."')."""
    statement = None
    if isinstance(exc, StatementError):
        statement, exc = exc.statement, exc.orig
    if isinstance(exc, psycopg.Error):
        fields = {"sqlstate": exc.sqlstate, "constraint": exc.diag.constraint_name,
                  "table": exc.diag.table_name, "column": exc.diag.column_name}
    elif isinstance(exc, sqlite3.Error):
        # SQLite's messages name a constraint or column, never a value ("NOT NULL constraint failed: t.c").
        fields = {"sqliteError": getattr(exc, "sqlite_errorname", None), "reason": str(exc)}
    elif statement is not None:
        fields = {}
    else:
        return None
    fields["statement"] = statement
    return {name: value for name, value in fields.items() if value}


class PerDialect:
    """A statement written with one dialect's own insert (ON CONFLICT), built once for each database
    the services run on: PostgreSQL (AWS, tests) and SQLite (`make run`, tests)."""

    def __init__(self, build):
        self._statements = {dialect.dialect.name: build(dialect) for dialect in (postgresql, sqlite)}

    def for_session(self, session: Session):
        return self._statements[session.get_bind().dialect.name]


class Database:
    """The engine and the request-scoped session of one service."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.engine = make_engine(config)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def init_app(self, app: Flask) -> None:
        app.extensions["db"] = self
        app.teardown_appcontext(self._close_session)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        return g.db_session

    def rollback(self) -> None:
        """Undo the request's unfinished writes. Never raises: error handlers call it."""
        session = g.get("db_session")
        if session is None:
            return
        try:
            session.rollback()
        except DBAPIError:
            # The connection died with its transaction (a database restart), so nothing is left
            # to undo; the pool replaces it. Raised here, it would turn the answer into a 500.
            log.warning("rollback failed: the database connection is gone")
            session.close()

    def _close_session(self, _exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def current_db() -> Database:
    from flask import current_app
    return current_app.extensions["db"]


def db_session() -> Session:
    """The session of the current request."""
    return current_db().session


def version_table(service: str) -> str:
    """Alembic's version table of one service: they share a database, each with its own history."""
    return f"alembic_version_{service}"


def alembic_config(service_dir: Path, url: str) -> AlembicConfig:
    """Alembic for one service: its own scripts and its own version table."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("version_table", version_table(service_dir.name))
    return cfg


def upgrade(service_dir: Path, config: ServiceConfig) -> None:
    command.upgrade(alembic_config(service_dir, config.sqlalchemy_url), "head")


def run_migrations(target_metadata) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from alembic import context

    cfg = context.config
    engine = create_engine(cfg.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=cfg.get_main_option("version_table"),
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch ALTERs
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Tasks of one service start together and each migrates first: one waits for the
                # other's transaction, then finds the schema at head and has nothing to do.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:table))"),
                                   {"table": cfg.get_main_option("version_table")})
            newer = _revisions_unknown_here(ScriptDirectory.from_config(cfg),
                                            context.get_context().get_current_heads())
            if newer:
                # A later release migrated this database, and this one is rolled back to: migrations
                # only ever add (README "Migrations before traffic"), so it runs on the newer schema.
                log.warning("the database schema is newer than this release (%s): not migrating",
                            ", ".join(newer))
            else:
                context.run_migrations()
    engine.dispose()


def _revisions_unknown_here(script: ScriptDirectory, revisions) -> list[str]:
    unknown = []
    for revision in revisions:
        try:
            script.get_revision(revision)
        except CommandError:  # "Can't locate revision"
            unknown.append(revision)
    return unknown
