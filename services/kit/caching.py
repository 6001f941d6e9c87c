"""Conditional GETs: every successful read carries an ETag, and a matching If-None-Match gets 304."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, request

MaxAge = int | Callable[[], int]


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
            seconds = max_age() if callable(max_age) else max_age
            response.add_etag()
            response.vary.add("Authorization")
            if private or "Authorization" in request.headers:
                response.cache_control.private = True
                response.cache_control.no_cache = True
            else:
                response.cache_control.public = True
                response.cache_control.max_age = seconds
            return response.make_conditional(request)
        return wrapper
    return decorator
