"""The engine's pool keeps one connection per request thread, so a busy process opens none."""

from __future__ import annotations

import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.kit.config import REPO_ROOT, ServiceConfig
from services.kit.db import DEAD_PEER_DETECTION, make_engine


def test_pool_size_follows_the_request_threads(monkeypatch):
    conf_file = REPO_ROOT / "services" / "gunicorn_conf.py"
    spec = importlib.util.spec_from_file_location("gunicorn_conf", conf_file)
    gunicorn_conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gunicorn_conf)
    assert ServiceConfig().db_pool_size == gunicorn_conf.threads == 3
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    assert ServiceConfig().db_pool_size == 4
    monkeypatch.setenv("DB_POOL_SIZE", "5")  # an explicit setting still wins
    assert ServiceConfig().db_pool_size == 5


def test_every_thread_busy_at_once_reuses_the_same_connections(postgres_url):
    """Before, the pool kept 5 of up to 10 connections: when 8 threads handed theirs back together,
    three were closed, and opened again for the next requests: 35 connections here, not 8."""
    threads = 8
    engine = make_engine(ServiceConfig(database_url=postgres_url, service_name="pooltest",
                                       db_pool_size=threads))

    together = threading.Barrier(threads)

    def work(_worker: int) -> set[int]:
        seen = set()
        for _ in range(10):
            with engine.connect() as conn:
                seen.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                together.wait(timeout=10)  # every thread holds a connection at once...
            together.wait(timeout=10)  # ...then none does (each waits on another service)
        return seen

    with ThreadPoolExecutor(threads) as pool:
        backends = set().union(*pool.map(work, range(threads)))
    assert len(backends) <= threads
    assert engine.pool.overflow() <= 0
    engine.dispose()


def test_pooled_connections_detect_a_database_that_vanished(postgres_url):
    """libpq got the keepalive and user-timeout settings: without them a connection to a failed-over
    primary waits out the kernel's retransmissions before the pool can replace it."""
    engine = make_engine(ServiceConfig(database_url=postgres_url, service_name="pooltest"))
    with engine.connect() as conn:
        settings = conn.connection.dbapi_connection.info.get_parameters()
    engine.dispose()
    assert {name: settings.get(name) for name in DEAD_PEER_DETECTION} == {
        name: str(value) for name, value in DEAD_PEER_DETECTION.items()}


def test_the_servers_statement_timeout_keeps_the_connection(postgres_url):
    """Only a database that does not answer costs the connection (services/kit/db.py): a statement
    the server cancelled is an ordinary error, and the connection serves the next request."""
    engine = make_engine(ServiceConfig(database_url=postgres_url, service_name="pooltest",
                                       db_statement_timeout_ms=100))
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pytest.raises(OperationalError, match="statement timeout"):
            conn.execute(text("SELECT pg_sleep(2)"))
        conn.rollback()
        assert not conn.connection.dbapi_connection.closed
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == backend
    engine.dispose()
