"""Shoppers' catalog reads, kept in each process for a moment.

On a sale day thousands of shoppers read the same few pages, and each read was three queries, a
page of ORM objects turned into JSON and that JSON validated again against the response model
(the product list ran at a few percent of the floor in `make bench`). The catalog already lets
every browser reuse a read for `catalog_cache_seconds` (Cache-Control), so a body at most
`read_cache_seconds` old shows a shopper nothing their own browser would not. Admin writes clear
this process's copy at once; other workers and tasks see them within the TTL. Nothing that is
charged comes from here: orders prices every line with `POST /api/products/prices`, which always
reads the database.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")


class ReadCache:
    """A small thread-safe TTL cache, least recently used out first. `seconds <= 0` disables it.

    When an entry expires, one caller rebuilds it while the others keep getting the expired
    value for those few milliseconds, instead of every waiting thread running the same queries at
    once (under load that stampede, not the queries, made the slowest answers).
    """

    def __init__(self, seconds: float, max_entries: int = 512):
        self.seconds = seconds
        self.max_entries = max_entries
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
            if entry is not None and (entry[0] > now or key in self._refreshing):
                self._entries.move_to_end(key)
                return entry[1]  # type: ignore[return-value]
            self._refreshing.add(key)
        try:
            value = build()  # outside the lock: a slow query must not hold up other pages
        finally:
            with self._lock:
                self._refreshing.discard(key)
        if value is None:
            return value
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def read_cache() -> ReadCache:
    return current_app.extensions["catalog_read_cache"]
