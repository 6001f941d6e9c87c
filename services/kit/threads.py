"""Request threads per gunicorn worker, in a module of its own: gunicorn's master reads it
(services/gunicorn_conf.py) without loading the kit's config (pydantic, SQLAlchemy: 24 MB and a
quarter second at every start), and the database pool follows it (services/kit/config.py)."""

from __future__ import annotations

import os


def request_threads() -> int:
    """Request threads per gunicorn worker (`GUNICORN_THREADS`, default 3).

    Enough to keep the worker's core busy while some requests wait on the database or another
    service; the rest wait in gunicorn's queue, first come first served. More threads only wait
    for the GIL, which serves them in no order: same throughput, slower tail (README "Benchmarks").
    """
    return int(os.environ.get("GUNICORN_THREADS", "3"))
