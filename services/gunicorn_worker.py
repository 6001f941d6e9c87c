"""gunicorn's gthread worker, except that a stopping worker does not wait for connections that
never sent a request, and that gunicorn's own refusals are JSON.

Refusals: a request gunicorn cannot hand to Flask (a request line over 4094 bytes, a header over 8190
bytes or more than 100 of them, a control character in a header) used to get gunicorn's HTML page.
Every other answer of the services is the kit's `{"error": {"code", "message", "details"}}`, so
these are too (`write_json_error`).

Stopping:

gunicorn 27.0.1 closes kept-alive connections 2 s into a graceful stop (STOP_KEEPALIVE_LINGER). A
connection that has not sent its first request yet (a client's pool or preconnect opened it) held
a stopping worker much longer, measured 5-20 s:
- a pool thread waits up to DEFAULT_WORKER_DATA_TIMEOUT (5 s) for its first bytes, and the worker
  cannot exit before that thread returns (on SIGTERM and SIGINT alike);
- then it is closed "gracefully" on the event-loop thread, which lingers up to 2 s per connection,
  one after another, for a peer that never closes;
- or, once in the poller, it stays until the keepalive timeout (75 s), so the stop waits out all
  of graceful_timeout (20 s).
Here such connections get what kept-alive ones get: up to 2 s in the poller (a request arriving
meanwhile is answered, with "Connection: close"), then a plain close, since nothing was read or sent.
"""

from __future__ import annotations

import json
import selectors
import time
from functools import partial

from gunicorn import util
from gunicorn.workers import gthread

# How soon a thread waiting for a first request notices that the worker is stopping.
STOP_POLL_SECONDS = 0.2

# The statuses gunicorn answers by itself (workers/base.py, handle_error), as the kit names them.
REFUSAL_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
                 431: "headers_too_large", 500: "internal_error", 501: "not_implemented"}


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, with the kit's JSON error shape instead of an HTML page."""
    body = json.dumps({"error": {"code": REFUSAL_CODES.get(status_int, "http_error"),
                                 "message": mesg or reason, "details": None}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


# The worker's handle_error calls util.write_error by module attribute: there is no other hook.
util.write_error = write_json_error


class ThreadWorker(gthread.ThreadWorker):
    def handle(self, conn):
        if not conn.initialized and not conn.data_ready and not self._request_arrived(conn):
            return gthread._DEFER  # no request yet: back to the poller (finish_request below)
        return super().handle(conn)

    def _request_arrived(self, conn) -> bool:
        """gthread's wait for the first bytes, in short slices so that a stop ends it."""
        deadline = time.monotonic() + gthread.DEFAULT_WORKER_DATA_TIMEOUT
        while True:
            if conn.wait_for_data(max(0.0, min(STOP_POLL_SECONDS, deadline - time.monotonic()))):
                return True
            if not self.alive or time.monotonic() >= deadline:
                return False

    def finish_request(self, conn, fs):
        if self.alive or conn.initialized:
            super().finish_request(conn, fs)
            return
        try:  # stopping, and it never sent a request: linger in the poller, then a plain close
            conn.sock.setblocking(False)
            conn.timeout = time.monotonic() + gthread.STOP_KEEPALIVE_LINGER
            self.poller.register(conn.sock, selectors.EVENT_READ,
                                 partial(self.on_pending_socket_readable, conn))
            self.pending_conns.append(conn)
        except Exception:  # a socket that already failed: as gthread does
            self.nr_conns -= 1
            conn.close()

    def handle_exit(self, sig, frame):
        if self.alive:
            self.method_queue.defer(self._linger_pending)
        super().handle_exit(sig, frame)

    def _linger_pending(self) -> None:
        """On the loop thread: connections already waiting in the poller get the same linger
        (capping all at one deadline keeps the queue in timeout order)."""
        deadline = time.monotonic() + gthread.STOP_KEEPALIVE_LINGER
        for conn in self.pending_conns:
            conn.timeout = min(conn.timeout, deadline)
