"""The container's start command: the service's setup, then gunicorn in this process's place.

    SERVICE=users python -m services.container_start

The setup commands are the ones `make run` uses (migrate, ensure-admin, seed; all idempotent), so a
new version has migrated its tables before gunicorn listens, and therefore before the load balancer's
health check can pass and send it traffic. Concurrent starts are safe: migrations on PostgreSQL take
an advisory lock (services/kit/db.py). Gunicorn replaces this process (exec), so it is PID 1 and gets
ECS's SIGTERM for a graceful stop. A SIGTERM that comes during the setup (a task stopped while it
waits for another's migration) stops the running command and the start: as PID 1 this process
would otherwise ignore it, migrate anyway and start serving until ECS's SIGKILL.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from .manifest import by_name

GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")


def setup_commands(service: str) -> list[list[str]]:
    return [
        [sys.executable, "-m", "flask", "--app", f"services.{service}", *command]
        for command in by_name(service).setup
    ]


def setup_script(service: str) -> str:
    """The setup as one shell line, so several services' setups can run side by side."""
    return " && ".join(shlex.join(command) for command in setup_commands(service))


def gunicorn_command(service: str) -> list[str]:
    """`service` is a manifest name or "gateway"."""
    return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), f"services.{service}:create_app()"]


def run_setup(service: str) -> None:
    """The setup commands one after another; SystemExit when one fails or the task is stopped."""
    running: subprocess.Popen | None = None
    stopped_by: int | None = None

    def stop(signum, _frame):
        nonlocal stopped_by
        stopped_by = signum
        if running is not None:
            running.send_signal(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for command in setup_commands(service):
            running = subprocess.Popen(command)  # noqa: S603 (fixed argv, no shell)
            if stopped_by is not None:  # it came while the command was starting
                running.send_signal(stopped_by)
            returncode = running.wait()
            if stopped_by is not None:
                raise SystemExit(f"{service}: stopped by {signal.Signals(stopped_by).name} during setup")
            if returncode != 0:
                raise SystemExit(f"{service}: `{' '.join(command[2:])}` failed with exit code {returncode}")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    service = args[0] if args else os.environ.get("SERVICE", "")
    try:
        by_name(service)
    except KeyError:
        raise SystemExit(f"SERVICE must name a service of services/manifest.py, got {service!r}") from None
    run_setup(service)
    command = gunicorn_command(service)
    os.execv(command[0], command)  # noqa: S606 (replaces this process on purpose)


if __name__ == "__main__":
    main()
