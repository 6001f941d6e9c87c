"""Profile one endpoint in-process with pyinstrument, on PostgreSQL with the seeded catalog.

    python -m bench.profile catalog /api/products [--requests 300] [--html out.html]

The app is built exactly as gunicorn builds it (create_app() from the environment), so the
profile shows where a request's time goes without the noise of a load generator. Used to find
what stood between the code and the targets in bench/results.json (see README "Benchmarks").
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
from pathlib import Path

from pyinstrument import Profiler

from bench.stack import Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=["users", "catalog", "orders"])
    parser.add_argument("path")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args(argv)

    from tests.conftest import temporary_postgres_database

    with tempfile.TemporaryDirectory() as tmp, temporary_postgres_database("sdprofile") as url:
        stack = Stack(url, services=[args.service], gateway=False, work_dir=Path(tmp))
        stack.setup()
        os.environ.update(stack.service_env(args.service))
        app = importlib.import_module(f"services.{args.service}").create_app()
        client = app.test_client()
        for _ in range(20):  # warm the pool and the caches
            assert client.get(args.path).status_code == 200
        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(args.requests):
                client.get(args.path)
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html:
            args.html.write_text(profiler.output_html())
        session = profiler.last_session
        print(f"{args.requests} requests, {session.duration / args.requests * 1000:.2f} ms each "
              f"(wall, in-process, profiler on)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
