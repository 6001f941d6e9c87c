"""The one Dockerfile: lint-clean, pinned, non-root, healthy, and its start command really starts
every manifest service (setup first, then gunicorn) against one shared PostgreSQL database, the
way ECS runs them on RDS: each service logs in as the role the database-roles function made for it.
There is no Docker engine here, so the command runs on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from gunicorn.workers.gthread import ThreadWorker as GthreadWorker

from services.manifest import SERVICES
from stacks.config import RDS_CA_BUNDLE_PATH, RDS_CA_BUNDLE_URL
from stacks.container_image import DOCKERFILE, REPO_ROOT, has_database
from stacks.database_roles import service_tables
from tests.database_roles.rds_like import rds_like_database, roles_function

START_TIMEOUT_S = 90
# Two catalog tasks starting at once on a fresh database: migrations and seed must not collide.
RUNS = [spec.name for spec in SERVICES] + ["catalog"]
IMAGE_EXCLUDED = ("aws-cdk-lib", "constructs", "cdk-nag", "cdklabs-ecs-codedeploy", "aws-lambda-powertools",
                  "pg8000", "scramp", "asn1crypto")


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _instruction(name: str) -> list[str]:
    return [argument for instruction, argument in _instructions() if instruction == name]


def image_command() -> list[str]:
    (command,) = _instruction("CMD")
    return json.loads(command)


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_base_image_is_a_pinned_python_3_11_slim():
    (base,) = _instruction("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_runs_as_a_non_root_user():
    (user,) = _instruction("USER")
    assert user not in ("root", "0")
    assert "useradd --system --uid " + user in DOCKERFILE.read_text()


def test_healthcheck_probes_the_manifest_liveness_path():
    (healthcheck,) = _instruction("HEALTHCHECK")
    assert {spec.liveness_path for spec in SERVICES} == {"/health/live"}
    assert "/health/live'" in healthcheck and "os.environ['PORT']" in healthcheck


def test_start_command_is_setup_then_gunicorn_with_gthread_workers():
    assert image_command() == ["python", "-m", "services.container_start"]
    from services import gunicorn_conf
    from services.gunicorn_worker import ThreadWorker  # stops promptly: test_gunicorn_stop.py

    assert gunicorn_conf.worker_class == "services.gunicorn_worker.ThreadWorker"
    assert issubclass(ThreadWorker, GthreadWorker)


def test_the_image_holds_the_rds_authorities_the_services_verify_against():
    (add,) = _instruction("ADD")
    assert add.split() == ["--chmod=644", RDS_CA_BUNDLE_URL, RDS_CA_BUNDLE_PATH]  # readable by USER


def test_dockerignore_admits_only_what_the_services_need():
    patterns = [
        line
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    assert {p for p in patterns if p.startswith("!")} == {"!requirements.txt", "!services/"}


def test_packages_left_out_of_the_image_are_not_used_by_the_services():
    # The Dockerfile drops the CDK and Lambda-only requirements; the services must not import them.
    assert all(package in DOCKERFILE.read_text() for package in IMAGE_EXCLUDED)
    modules = re.compile(
        r"^\s*(from|import)\s+(aws_cdk|constructs|cdk_nag|cdk\.ecs_codedeploy|aws_lambda_powertools|pg8000|scramp"
        r"|asn1crypto)\b",
        re.MULTILINE,
    )
    offenders = [
        str(path) for path in (REPO_ROOT / "services").rglob("*.py") if modules.search(path.read_text())
    ]
    assert offenders == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_settings(url: str) -> dict[str, str]:
    """The database as ECS hands it over: one variable per field of the RDS secret."""
    parts = urlsplit(url)
    return {
        "DB_HOST": parts.hostname,
        "DB_PORT": str(parts.port or 5432),
        "DB_NAME": parts.path.lstrip("/"),
        "DB_USER": parts.username or "postgres",
        "DB_PASSWORD": parts.password or "",
    }


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """Every manifest service (and a second catalog) started with the image's command at once."""
    with rds_like_database() as database:
        with roles_function(database) as function:
            function.run()
        processes = []
        for index, name in enumerate(RUNS):
            data_dir = tmp_path_factory.mktemp(f"{name}{index}")
            env = {
                key: value for key, value in os.environ.items() if not key.startswith(("DB_", "DATABASE_URL"))
            }
            env.update(
                {
                    "SERVICE": name,
                    "PORT": str(_free_port()),
                    "BIND_HOST": "127.0.0.1",
                    "ENVIRONMENT": "test",
                    "DATA_DIR": str(data_dir),
                    "WEB_CONCURRENCY": "1",
                    "PYTHONUNBUFFERED": "1",
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                }
            )
            spec = next(spec for spec in SERVICES if spec.name == name)
            if has_database(spec):
                env.update(_database_settings(database.url(database.roles[name])))
            log = open(data_dir / "container.log", "w+b")  # noqa: SIM115 (closed below)
            process = subprocess.Popen(  # noqa: S603 (the Dockerfile CMD)
                image_command(),
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append((name, int(env["PORT"]), process, log))
        try:
            healthy = _wait_healthy(processes)
            yield {"database": database, "processes": processes, "healthy": healthy}
        finally:
            for _, _, process, _ in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for _, _, process, log in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                log.close()


def _wait_healthy(processes) -> dict[int, float]:
    """Index of each run -> seconds until /health answered 200."""
    started, healthy = time.monotonic(), {}
    while len(healthy) < len(processes) and time.monotonic() - started < START_TIMEOUT_S:
        for index, (_, port, process, _) in enumerate(processes):
            if index in healthy or process.poll() is not None:
                continue
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    healthy[index] = time.monotonic() - started
            except requests.RequestException:
                pass
        time.sleep(0.2)
    return healthy


def _log(run) -> str:
    _, _, _, log = run
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


@pytest.mark.parametrize("index", range(len(RUNS)), ids=[f"{name}-{i}" for i, name in enumerate(RUNS)])
def test_start_command_serves_health(started, index):
    run = started["processes"][index]
    name, port, process, _ = run
    assert index in started["healthy"], f"{name} never became healthy:\n{_log(run)}"
    body = requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    assert body == {"status": "ok", "service": name}
    # gunicorn replaced the launcher (exec), so it is the process ECS signals.
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    assert b"gunicorn" in b" ".join(cmdline), cmdline


def test_setup_ran_once_on_the_shared_database(started):
    assert len(started["healthy"]) == len(RUNS)
    database = started["database"]
    with psycopg.connect(database.url(database.master)) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        for spec in SERVICES:
            if has_database(spec):
                assert conn.execute(f"SELECT count(*) FROM alembic_version_{spec.name}").fetchone() == (1,)  # noqa: S608
            else:
                assert f"alembic_version_{spec.name}" not in tables
        # the catalog was seeded once although two catalog tasks started together
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (16,)
        assert conn.execute("SELECT count(*) FROM categories").fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM customers WHERE role = 'ADMIN'").fetchone() == (1,)
        # each service's migrations ran as its own role, which therefore owns its tables
        owners = dict(conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"))
        expected = {table: role for name, role in database.roles.items() for table in service_tables(name)}
        assert owners == expected


def test_sigterm_stops_gunicorn_gracefully(started):
    name, _, process, _ = started["processes"][-1]
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0, name


def test_sigterm_during_setup_stops_the_start(tmp_path):
    """A task stopped while its migration waits for another task's: the migration is stopped too,
    and gunicorn never starts. (As PID 1 the launcher would ignore an unhandled SIGTERM; here, as
    an ordinary process, it would die and leave the migration running on its own.)"""
    from tests.conftest import temporary_postgres_database

    with temporary_postgres_database("sdstop") as url, psycopg.connect(url) as other_task:
        other_task.execute("SELECT pg_advisory_xact_lock(hashtext('alembic_version_orders'))")
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "DATABASE_URL"))}
        env.update({"SERVICE": "orders", "PORT": str(_free_port()), "BIND_HOST": "127.0.0.1",
                    "ENVIRONMENT": "test", "DATA_DIR": str(tmp_path), "DATABASE_URL": url,
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
        launcher = subprocess.Popen(image_command(), cwd=REPO_ROOT, env=env,  # noqa: S603 (the CMD)
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            waiting = 0
            with psycopg.connect(url, autocommit=True) as watcher:
                while not waiting and time.monotonic() < deadline:
                    time.sleep(0.2)
                    waiting = watcher.execute("SELECT count(*) FROM pg_locks "
                                              "WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]
            assert waiting, "the migration never waited for the lock"
            launcher.send_signal(signal.SIGTERM)  # ECS signals PID 1 only
            assert launcher.wait(timeout=15) != 0
            other_task.commit()  # the other task's migration ends
            time.sleep(3)  # what a migration left running would need to finish
            with psycopg.connect(url) as conn:
                tables = {row[0] for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
            assert "orders" not in tables and "alembic_version_orders" not in tables
        finally:
            with contextlib.suppress(ProcessLookupError):  # the group is empty when all went well
                os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
