"""The whole shop under gunicorn (the production start command) on one PostgreSQL database.

`make bench` and tests/resilience both start it. Every process listens on 127.0.0.1 on a port the
OS chose: the harness reserves each port first (a socket bound with SO_REUSEPORT that never
listens), so every URL is known before any process starts (orders needs the catalog's, the
storefront needs the gateway's, the gateway needs everyone's) and no port can be taken in between.
Gunicorn's workers then bind the same port with `--reuse-port`, as services/gunicorn_conf.py does
whenever a service runs more than one worker; all other settings come from that file too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from services import gateway
from services.container_start import setup_script
from services.kit.config import REPO_ROOT
from services.manifest import SERVICES

GUNICORN_CONF = REPO_ROOT / "services" / "gunicorn_conf.py"
ALL_SERVICES = tuple(spec.name for spec in SERVICES)
START_TIMEOUT_S = 60


def reserved_port() -> socket.socket:
    """A port of our own that gunicorn's workers can share: bound, never listening, so the kernel
    hands it no connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Server:
    """One gunicorn master (and its workers) serving `app` on a socket opened for it."""

    name: str
    app: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    sock: socket.socket = field(default_factory=reserved_port)
    process: subprocess.Popen | None = None

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps its own copy)
        try:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
                 "-b", f"127.0.0.1:{self.port}", "--reuse-port", "--name", self.name, self.app],
                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()

    def stop(self, timeout: float = 5) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # quick shutdown: nothing to drain here
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.sock.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def wait_until_healthy(servers: Iterable[Server], timeout: float = START_TIMEOUT_S) -> None:
    pending = {server.name: server for server in servers}
    deadline = time.monotonic() + timeout
    while pending:
        for name, server in list(pending.items()):
            if server.process is not None and server.process.poll() is not None:
                raise RuntimeError(f"{name} exited during start:\n{server.log_tail()}")
            try:
                if requests.get(server.url + "/health", timeout=2).status_code == 200:
                    del pending[name]
            except requests.RequestException:
                pass  # still booting
        if pending and time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{s.log_tail()}" for n, s in pending.items())
            raise RuntimeError(f"not healthy after {timeout}s: {sorted(pending)}\n{tails}")
        time.sleep(0.1)


class Stack:
    """The services (all four by default) and the manifest-routed gateway in front of them.

    `database_urls` maps a service to its DATABASE_URL; `database_url` is the default for the
    rest (on AWS all services share one RDS database, so that is the normal case).
    """

    def __init__(self, database_url: str, *, services: Iterable[str] = ALL_SERVICES,
                 database_urls: Mapping[str, str] | None = None, work_dir: Path | None = None,
                 env: Mapping[str, str] | None = None, catalog_url: str | None = None,
                 gateway: bool = True):
        self._tmp = None
        if work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sweetdream-stack-")
            work_dir = Path(self._tmp.name)
        self.work_dir = work_dir
        self.data_dir = work_dir / "data"
        self.log_dir = work_dir / "logs"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.names = tuple(services)
        self.database_urls = {name: (database_urls or {}).get(name, database_url)
                              for name in self.names}
        self.extra_env = dict(env or {})
        self.servers: dict[str, Server] = {}
        for name in self.names:
            self.servers[name] = Server(name, f"services.{name}:create_app()",
                                        self.log_dir / f"{name}.log")
        if gateway:
            # Services not started here still need an upstream; a closed port gives a clean 502.
            upstreams = {spec.name: self.servers[spec.name].url if spec.name in self.servers
                         else "http://127.0.0.1:9" for spec in SERVICES}
            self.servers["gateway"] = Server("gateway", f"services.gateway:create_gateway({upstreams!r})",
                                             self.log_dir / "gateway.log")
        # Settable until start(): a test may put a fault proxy between orders and the catalog.
        self.catalog_url = catalog_url or (self.servers["catalog"].url if "catalog" in self.servers
                                           else "http://127.0.0.1:9")

    def url(self, name: str) -> str:
        return self.servers[name].url

    @property
    def public_key_file(self) -> Path:
        return self.data_dir / "jwt-public.pem"

    def service_env(self, name: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("DATABASE_URL", "CATALOG_URL", "USERS_URL", "API_BASE_URL", "JWT_",
                                      "JWKS_"))}
        env.update({
            "ENVIRONMENT": "local",
            "DATA_DIR": str(self.data_dir),
            "EVENT_LOG_FILE": "",  # events go to stdout, as on AWS
            "JWT_PUBLIC_KEY_FILE": str(self.public_key_file),
            "CATALOG_URL": self.catalog_url,
            "USERS_URL": self.servers["users"].url if "users" in self.servers else "http://127.0.0.1:9",
            "API_BASE_URL": self.servers["gateway"].url if "gateway" in self.servers else "",
            "SERVICE_NAME": name,
            "PYTHONUNBUFFERED": "1",
            # Every client here is 127.0.0.1: the bench registers its shoppers in one burst.
            "REGISTER_LIMIT_PER_ADDRESS": "1000 per minute",
        })
        if name == "gateway":
            env["GUNICORN_THREADS"] = str(gateway.THREADS)
        if name in self.database_urls:
            env["DATABASE_URL"] = self.database_urls[name]
        env.update(self.extra_env)
        return env

    def setup(self) -> None:
        """Signing key, migrations, seed catalog and admin: the same commands as `make run`."""
        from services.users.keys import ensure_local_key

        ensure_local_key(self.data_dir)
        running = {}
        for name in self.names:
            chain = setup_script(name)
            if chain:
                running[name] = subprocess.Popen(  # noqa: S603
                    ["/bin/sh", "-c", chain], cwd=REPO_ROOT, env=self.service_env(name),
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        failures = []
        for name, process in running.items():
            output, _ = process.communicate()
            if process.returncode != 0:
                failures.append(f"{name}:\n{output}")
        if failures:
            raise RuntimeError("setup failed:\n" + "\n".join(failures))

    def start(self) -> Stack:
        try:
            for name, server in self.servers.items():
                server.env = self.service_env(name)
                server.start()
            wait_until_healthy(self.servers.values())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Stack:
        self.setup()
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.close()
