"""HTTP caching (ETags and 304s for conditional GETs) and a per-process read cache."""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app, request

MaxAge = int | Callable[[], int]
T = TypeVar("T")
# Request headers (as WSGI keys) that can turn a 200 into a 304, 412 or 206.
_CONDITIONAL_HEADERS = frozenset({"HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH",
                                  "HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE"})


def conditional(max_age: MaxAge = 0, *, private: bool = False):
    """Decorate a GET view (outside `spec.validate`, so the ETag hashes the final body).

    `max_age` (seconds, or a callable read per request, e.g. from config) lets shared caches and
    browsers reuse the answer without asking. An answer for a caller with a token, or a `private`
    one, may only be kept by that caller's browser. Either way the client revalidates with the ETag.
    """
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            response = current_app.make_response(view(*args, **kwargs))
            if request.method not in ("GET", "HEAD") or response.status_code != 200:
                return response
            response.add_etag()  # keeps an ETag the view already set (a cached body's)
            response.vary.add("Authorization")
            # Header strings, not werkzeug's parsed cache_control: these run on every catalog read.
            if private or "Authorization" in request.headers:
                response.headers["Cache-Control"] = "private, no-cache"
            else:
                seconds = max_age() if callable(max_age) else max_age
                response.headers["Cache-Control"] = f"public, max-age={seconds}"
            if _CONDITIONAL_HEADERS.isdisjoint(request.environ):
                return response  # nothing to compare: make_conditional would change nothing
            return response.make_conditional(request)
        return wrapper
    return decorator


class ReadCache:
    """A small thread-safe TTL cache, least recently used out first. `seconds <= 0` disables it.

    When an entry expires, one caller rebuilds it while the others keep getting the expired
    value for those few milliseconds, instead of every waiting thread running the same queries at
    once (under load that stampede, not the queries, made the slowest answers).

    `stale_for` seconds past expiry, a rebuild failing with one of `stale_on` answers the expired
    value instead (stale-if-error): an upstream's restart does not take down what it last said. Any
    other answer (another error, or None: "not to be kept") drops the old value, so a product that
    was since hidden can never stand in. Nothing older than that, or than one more TTL, is served
    while another caller rebuilds (a hung upstream).
    """

    def __init__(self, seconds: float, max_entries: int = 512, *, stale_for: float = 0.0,
                 stale_on: tuple[type[Exception], ...] = ()):
        self.seconds = seconds
        self.max_entries = max_entries
        self.stale_for = stale_for
        self.stale_on = stale_on
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value kept for `key`, or build() (kept unless it is None)."""
        if self.seconds <= 0:
            return build()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry[0] > now or (
                    key in self._refreshing and now < entry[0] + max(self.stale_for, self.seconds))):
                self._entries.move_to_end(key)
                return entry[1]  # type: ignore[return-value]
            self._refreshing.add(key)
        try:
            value = build()  # outside the lock: a slow query must not hold up other pages
        except self.stale_on:
            if entry is None or entry[0] + self.stale_for <= now:
                raise
            return entry[1]  # type: ignore[return-value]
        except Exception:
            self._forget(key)
            raise
        finally:
            with self._lock:
                self._refreshing.discard(key)
        if value is None:
            self._forget(key)
            return value
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def _forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
