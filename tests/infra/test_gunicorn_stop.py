"""The containers' gunicorn (services/gunicorn_conf.py) stops promptly with idle client connections.

Each test runs a real gunicorn master with the shared settings and one worker, serving a tiny
WSGI app, and opens connections that send nothing, as a client's pool or a preconnect does.
Stock gthread took 5 s (SIGINT, or SIGTERM with a fresh one) and 20 s (SIGTERM with one idle
for over 5 s) to stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from services.container_start import GUNICORN_CONF
from services.kit.config import REPO_ROOT

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''
LINGER_S = 2.0  # gunicorn's STOP_KEEPALIVE_LINGER
FIRST_DATA_WAIT_S = 5.0  # gunicorn's DEFAULT_WORKER_DATA_TIMEOUT
# Bounds between a quiet machine's stops (3.3-3.5 s and 1.2-1.4 s on the slowest host) and stock
# gthread's (20 s and 5 s), with room for CI, which shares two cores with browsers and servers.
PROMPT_S = LINGER_S + 5.0
QUICK_S = 4.0


class Gunicorn:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def get(self, conn: socket.socket) -> bytes:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        response = b""
        while b"\r\n\r\nok" not in response:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
        return response

    def stop(self, sig: signal.Signals) -> float:
        """Seconds from `sig` until the master has exited."""
        started = time.monotonic()
        os.kill(self.process.pid, sig)
        self.process.wait(timeout=30)
        return time.monotonic() - started


@contextmanager
def gunicorn(tmp_path, stderr=subprocess.DEVNULL) -> Iterator[Gunicorn]:
    (tmp_path / "tiny_app.py").write_text(APP)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    env = {**os.environ, "WEB_CONCURRENCY": "1", "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "-b", f"fd://{listener.fileno()}",
         "tiny_app:app"],
        cwd=REPO_ROOT, env=env, pass_fds=(listener.fileno(),), stdout=subprocess.DEVNULL,
        stderr=stderr, start_new_session=True)
    server = Gunicorn(process, listener.getsockname()[1])
    try:
        with server.connect() as probe:  # booted once it answers
            assert b"200 OK" in server.get(probe)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        listener.close()


def test_sigterm_does_not_wait_for_connections_that_sent_nothing(tmp_path):
    with gunicorn(tmp_path) as server:
        aged = server.connect()
        time.sleep(FIRST_DATA_WAIT_S + 0.5)  # gthread has handed it back to its poller by now
        fresh = [server.connect() for _ in range(3)]  # a thread is waiting for their first bytes
        time.sleep(0.3)
        took = server.stop(signal.SIGTERM)
        for conn in (aged, *fresh):
            conn.close()
    assert took < PROMPT_S


def test_a_request_on_an_idle_connection_during_the_stop_is_still_answered(tmp_path):
    with gunicorn(tmp_path) as server:
        idle = server.connect()
        time.sleep(0.3)
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        response = server.get(idle)
        idle.close()
        server.process.wait(timeout=30)
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in response.lower()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT])
def test_a_quick_stop_is_quick_with_an_idle_connection(tmp_path, sig):
    with gunicorn(tmp_path) as server:
        idle = server.connect()
        time.sleep(0.3)
        took = server.stop(sig)
        idle.close()
    assert took < QUICK_S
