"""With several workers, the containers' gunicorn (services/gunicorn_conf.py) spreads connections.

On one shared listening socket, the worker whose loop woke first accepted most of a client's
burst of keep-alive connections (31, 20, 22 and 23 of 32 in four tries of this test; 30 of wrk's
32 in `make bench`) and served them on one core while the other worker idled. With `reuse_port`
each worker has its own socket and the kernel spreads new connections over them.
"""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

from bench.stack import reserved_port
from services.container_start import GUNICORN_CONF
from services.kit.config import REPO_ROOT

APP = '''
import os

def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''
CONNECTIONS = 32


def test_reuse_port_only_with_more_than_one_worker(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    assert runpy.run_path(str(GUNICORN_CONF))["reuse_port"] is True
    # one worker (every task on AWS): the master keeps the socket, and its backlog, across restarts
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert runpy.run_path(str(GUNICORN_CONF))["reuse_port"] is False


def serving_pid(conn: socket.socket) -> str:
    conn.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response or not response.split(b"\r\n\r\n", 1)[1]:
        chunk = conn.recv(4096)
        assert chunk, "connection closed before the answer"
        response += chunk
    return response.split(b"\r\n\r\n", 1)[1].decode()


def test_a_burst_of_keep_alive_connections_lands_on_both_workers(tmp_path):
    (tmp_path / "pid_app.py").write_text(APP)
    port = reserved_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2", "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
         "-b", f"127.0.0.1:{port.getsockname()[1]}", "pid_app:app"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    connections = []
    try:
        workers = _wait_for_workers(process, 2)
        # All connected first, then used, like a load balancer or wrk filling its pool.
        connections = [socket.create_connection(port.getsockname(), timeout=5)
                       for _ in range(CONNECTIONS)]
        served = Counter(serving_pid(conn) for conn in connections)
        # and they stay where they landed: a second round goes to the same workers
        assert Counter(serving_pid(conn) for conn in connections) == served
    finally:
        for conn in connections:
            conn.close()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        port.close()
    assert set(served) == workers
    # The kernel hashes each connection to a socket: fewer than 6 of 32 on either is a 1-in-9,000 chance.
    assert min(served.values()) >= 6, served


def _wait_for_workers(process: subprocess.Popen, count: int) -> set[str]:
    """The workers' pids, once each has bound its own socket."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        children = subprocess.run(["/usr/bin/pgrep", "-P", str(process.pid)],  # noqa: S603
                                  capture_output=True, text=True, check=False).stdout.split()
        if len(children) == count and all(_listening(int(pid)) for pid in children):
            return set(children)
        time.sleep(0.1)
    raise AssertionError("workers did not start")


def _listening(pid: int) -> bool:
    """Whether the worker has its own listening socket yet (workers bind right after the fork)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return False
    with open("/proc/net/tcp") as table:
        return any(fields[3] == "0A" and fields[9] in inodes  # 0A: LISTEN
                   for fields in (line.split() for line in table.readlines()[1:]))
