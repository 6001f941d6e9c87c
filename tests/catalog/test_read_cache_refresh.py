"""ReadCache refreshes an expired entry once while other callers keep the old value meanwhile."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from services.kit.caching import ReadCache


def test_one_caller_rebuilds_an_expired_entry_while_the_others_get_the_old_value():
    cache = ReadCache(0.05)
    assert cache.get("page", lambda: "v1") == "v1"
    time.sleep(0.06)
    rebuilding, release = threading.Event(), threading.Event()

    def slow_build():
        rebuilding.set()
        release.wait(5)
        return "v2"

    refresher = threading.Thread(target=lambda: cache.get("page", slow_build))
    refresher.start()
    assert rebuilding.wait(5)
    calls = []
    assert cache.get("page", lambda: calls.append(1) or "other") == "v1"  # no second rebuild
    release.set()
    refresher.join(5)
    assert calls == []
    assert cache.get("page", lambda: "never") == "v2"


def test_a_failed_rebuild_lets_the_next_caller_try_again():
    cache = ReadCache(0.01)
    cache.get("page", lambda: "v1")
    time.sleep(0.02)

    def broken():
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cache.get("page", broken)
    assert cache.get("page", lambda: "v2") == "v2"


def test_a_key_never_built_is_built_by_every_caller_that_asks():
    cache = ReadCache(60)
    assert cache.get("a", lambda: None) is None  # None is not kept
    assert cache.get("a", lambda: "built") == "built"


def _down():
    raise ConnectionError("upstream restarting")


def _hidden():
    raise LookupError("404: hidden since")


def _expired_v1(cache: ReadCache, after: float = 0.02) -> ReadCache:
    """`cache` holding "v1" for "page", expired `after` seconds ago."""
    cache.get("page", lambda: "v1")
    time.sleep(after)
    return cache


def test_an_unavailable_upstream_is_answered_with_the_last_copy_for_stale_for_seconds():
    cache = _expired_v1(ReadCache(0.01, stale_for=0.2, stale_on=(ConnectionError,)))
    assert cache.get("page", _down) == "v1"
    assert cache.get("page", lambda: "v2") == "v2"  # back: fresh again, and kept
    time.sleep(0.25)
    with pytest.raises(ConnectionError):  # too old to stand in
        cache.get("page", _down)


def test_only_the_named_failures_fall_back_and_only_to_a_value_that_exists():
    cache = ReadCache(0.01, stale_for=60, stale_on=(ConnectionError,))
    with pytest.raises(ConnectionError):
        cache.get("never-built", _down)
    _expired_v1(cache)

    def wrong():
        raise ValueError("a refusal, not an outage")

    with pytest.raises(ValueError):
        cache.get("page", wrong)
    assert ReadCache(0.01).stale_on == ()  # by default nothing falls back


def test_another_answer_drops_the_old_value_so_it_never_stands_in_later():
    """A product hidden since (the API said 404, or the build kept nothing) must not come back as
    the last copy when the API is later unavailable."""
    cache = ReadCache(0.01, stale_for=60, stale_on=(ConnectionError,))
    for refusal in (lambda: None, _hidden):
        _expired_v1(cache)
        with contextlib.suppress(LookupError):
            assert cache.get("page", refusal) is None
        with pytest.raises(ConnectionError):
            cache.get("page", _down)


def test_while_another_caller_rebuilds_nothing_past_the_stale_window_is_served():
    """A hung upstream keeps a rebuild in progress: the other callers may have the last copy only
    while it is within `stale_for` (or one more TTL), then ask for themselves."""
    cache = _expired_v1(ReadCache(0.01, stale_for=0.1, stale_on=(ConnectionError,)), after=0.15)
    rebuilding, release = threading.Event(), threading.Event()

    def hung():
        rebuilding.set()
        release.wait(5)
        raise ConnectionError("timed out")

    def refresh():
        with contextlib.suppress(ConnectionError):
            cache.get("page", hung)

    refresher = threading.Thread(target=refresh)
    refresher.start()
    assert rebuilding.wait(5)
    try:
        with pytest.raises(ConnectionError):
            cache.get("page", _down)
    finally:
        release.set()
        refresher.join(5)
