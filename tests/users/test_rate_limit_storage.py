"""The login limiter's database storage: a moving window that every worker and task shares."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from sqlalchemy import delete

from services.kit.config import ServiceConfig
from services.kit.db import make_engine
from services.users import create_app
from services.users.models import RateLimitEntry
from services.users.ratelimit import DatabaseStorage
from tests.conftest import assert_error
from tests.users.conftest import config_for


@pytest.fixture
def storage(users_database):
    engine = make_engine(ServiceConfig(database_url=users_database, service_name="limits-test",
                                       db_pool_size=20))
    yield DatabaseStorage("database://", engine=engine)
    with engine.begin() as conn:
        conn.execute(delete(RateLimitEntry))
    engine.dispose()


def test_a_moving_window_admits_the_limit_then_frees_places_as_attempts_age(storage):
    assert [storage.acquire_entry("k", 2, 1) for _ in range(3)] == [True, True, False]
    oldest, held = storage.get_moving_window("k", 2, 1)
    assert held == 2 and time.time() - 1 < oldest <= time.time()
    assert storage.acquire_entry("other", 2, 1)  # keys count apart
    time.sleep(1.1)
    assert storage.get_moving_window("k", 2, 1)[1] == 0
    assert storage.acquire_entry("k", 2, 1)


def test_attempts_at_the_same_moment_never_exceed_the_limit(storage):
    """Twenty workers try the same key at once: exactly five get through. (The login itself, through
    Flask-Limiter on a live server: test_login.py's simultaneous failed logins.)"""
    start = threading.Barrier(20)

    def attempt(_):
        start.wait(timeout=10)
        return storage.acquire_entry("login:rush@example.com", 5, 60)

    with ThreadPoolExecutor(20) as pool:
        admitted = list(pool.map(attempt, range(20)))
    assert admitted.count(True) == 5
    assert storage.get_moving_window("login:rush@example.com", 5, 60)[1] == 5


def test_the_limits_library_runs_its_moving_window_on_it(storage):
    limiter = MovingWindowRateLimiter(storage)
    limit = parse("3 per minute")
    assert [limiter.hit(limit, "email", "a@example.com") for _ in range(4)] == [True] * 3 + [False]
    stats = limiter.get_window_stats(limit, "email", "a@example.com")
    assert stats.remaining == 0 and time.time() < stats.reset_time <= time.time() + 60
    limiter.clear(limit, "email", "a@example.com")
    assert limiter.hit(limit, "email", "a@example.com")


def test_it_keeps_a_fixed_window_too(storage):
    """The limiter here runs the moving window; the storage serves the library's other one too."""
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("2 per 1 second")
    assert [limiter.hit(limit, "address", "203.0.113.7") for _ in range(3)] == [True, True, False]
    stats = limiter.get_window_stats(limit, "address", "203.0.113.7")
    assert stats.remaining == 0 and time.time() < stats.reset_time <= time.time() + 1
    time.sleep(1.1)  # the window ends for all its attempts at once
    assert limiter.hit(limit, "address", "203.0.113.7")
    assert limiter.get_window_stats(limit, "address", "203.0.113.7").remaining == 1


def test_expired_attempts_are_deleted_not_kept(storage):
    storage.acquire_entry("old", 5, 1)
    time.sleep(1.1)
    storage.acquire_entry("new", 5, 60)
    assert _stored_keys(storage) == [hashlib.sha256(b"new").hexdigest()]
    assert storage.reset() == 1 and storage.check()


def _stored_keys(storage) -> list[str]:
    with storage.engine.connect() as conn:
        return [row.key for row in conn.execute(RateLimitEntry.__table__.select())]


@pytest.mark.parametrize("key", ["users/email:a\x00@example.com/5/1/minute", "\ud800", "k" * 1000])
def test_any_key_is_storable_and_only_its_digest_is_kept(storage, key):
    """Keys are stored as their SHA-256: no NUL reaches PostgreSQL, no length passes the column,
    and the table holds no e-mail address."""
    assert [storage.acquire_entry(key, 2, 60) for _ in range(3)] == [True, True, False]
    assert storage.get_moving_window(key, 2, 60)[1] == 2
    storage.acquire_entry("users/email:lan@example.com/5/1/minute", 5, 60)
    stored = _stored_keys(storage)
    assert len(stored) == 3 and not any("@" in k for k in stored)
    assert all(len(k) == 64 and set(k) <= set("0123456789abcdef") for k in stored)


def test_a_place_given_back_is_free_again(storage):
    assert [storage.acquire_entry("k", 2, 60) for _ in range(2)] == [True, True]
    storage.release_entry("k")
    assert storage.get_moving_window("k", 2, 60)[1] == 1
    assert [storage.acquire_entry("k", 2, 60) for _ in range(2)] == [True, False]
    storage.release_entry("other")  # nothing held: nothing to give back
    assert storage.get_moving_window("other", 2, 60)[1] == 0


def test_login_answers_503_when_the_database_is_down(key_dir):
    """The limiter's storage fails first (before the view); the answer is still the kit's 503."""
    app = create_app(config_for("postgresql://postgres@127.0.0.1:9/nowhere", key_dir,
                                db_connect_timeout=1, login_limit_per_address="30 per minute"))
    response = app.test_client().post("/api/auth/login",
                                      json={"email": "lan@example.com", "password": "whatever-123"})
    assert_error(response, 503, "database_unavailable")
