"""`make run`: keys, migrations, seed data, then the whole shop at http://localhost:8080.

Every service runs under gunicorn on its manifest port, and the gateway routes between them
exactly as the ALB does. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from . import gateway
from .container_start import gunicorn_command, setup_script
from .kit.config import DEFAULT_DATA_DIR, REPO_ROOT
from .manifest import GATEWAY_PORT, SERVICES, by_name

LOCAL_ADMIN = ("admin@sweetdream.com", "admin123")
START_TIMEOUT_S = 60


def step(number: int, total: int, message: str) -> None:
    print(f"==> [{number}/{total}] {message}", flush=True)


def local_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ENVIRONMENT": "local",
        "DATA_DIR": str(data_dir),
        "EVENT_LOG_FILE": str(data_dir / "events.jsonl"),
        "JWT_PUBLIC_KEY_FILE": str(data_dir / "jwt-public.pem"),
        "CATALOG_URL": f"http://127.0.0.1:{by_name('catalog').port}",
        "USERS_URL": f"http://127.0.0.1:{by_name('users').port}",
        "API_BASE_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def run_setup(env: dict[str, str]) -> None:
    """Each service's setup in parallel; the commands of one service in order."""
    chains = {spec.name: setup_script(spec.name) for spec in SERVICES if spec.setup}
    running = {name: subprocess.Popen(["/bin/sh", "-c", chain], cwd=REPO_ROOT, env=env,  # noqa: S603
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for name, chain in chains.items()}
    failed = False
    for name, process in running.items():
        output, _ = process.communicate()
        for line in output.splitlines():
            if not line.startswith("{"):  # skip JSON log lines; keep the commands' own messages
                print(f"    {name}: {line}")
        if process.returncode != 0:
            print(f"    {name}: setup failed:\n{output}", file=sys.stderr)
            failed = True
    if failed:
        raise SystemExit(1)


def ports_in_use() -> list[int]:
    ports = [spec.port for spec in SERVICES] + [GATEWAY_PORT]
    busy = []
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def start(name: str, port: int, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed when the process ends)
    return subprocess.Popen(  # noqa: S603
        gunicorn_command(name), cwd=REPO_ROOT, env={**env, "PORT": str(port), "SERVICE_NAME": name},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(processes: dict[str, subprocess.Popen]) -> None:
    pending = {spec.name: f"http://127.0.0.1:{spec.port}{spec.health_path}" for spec in SERVICES}
    pending["gateway"] = f"http://127.0.0.1:{GATEWAY_PORT}/health"
    deadline = time.monotonic() + START_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            if processes[name].poll() is not None:
                raise SystemExit(f"{name} exited; see .data/logs/{name}.log")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    print(f"    {name} is up: {url}")
                    del pending[name]
            except requests.RequestException:
                pass  # still starting
        time.sleep(0.2)
    if pending:
        raise SystemExit(f"not healthy after {START_TIMEOUT_S}s: {sorted(pending)}; see .data/logs/")


def stop(processes: dict[str, subprocess.Popen]) -> None:
    # A second Ctrl-C must not abandon half-stopped servers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def main() -> None:
    data_dir = Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR))
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = local_env(data_dir)
    total = 4
    started = time.monotonic()

    busy = ports_in_use()
    if busy:
        raise SystemExit(f"ports {busy} are in use: is SweetDream already running (make run)?")

    step(1, total, "Signing keys")
    from .users.keys import ensure_local_key
    ensure_local_key(data_dir)

    step(2, total, f"Migrating databases and loading seed data ({data_dir})")
    run_setup(env)

    step(3, total, "Starting services and the gateway")
    processes: dict[str, subprocess.Popen] = {}
    # Explicit handlers: a shell that starts us in the background would otherwise ignore Ctrl-C.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for spec in SERVICES:
            processes[spec.name] = start(spec.name, spec.port, env, log_dir)
        processes["gateway"] = start("gateway", GATEWAY_PORT,
                                     {**env, "GUNICORN_THREADS": str(gateway.THREADS)}, log_dir)
        wait_healthy(processes)

        step(4, total, f"Ready in {time.monotonic() - started:.1f}s")
        print(f"\n    SweetDream: http://localhost:{GATEWAY_PORT}")
        print(f"    Admin login: {LOCAL_ADMIN[0]} / {LOCAL_ADMIN[1]}")
        print(f"    Logs: {log_dir}/  Events: {data_dir / 'events.jsonl'}")
        print("    Press Ctrl-C to stop.\n", flush=True)
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        crashed = [name for name, process in processes.items() if process.poll() is not None]
        print(f"stopped because {crashed} exited; see {log_dir}/", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
