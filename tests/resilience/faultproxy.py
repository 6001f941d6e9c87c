"""A TCP proxy on 127.0.0.1 that a test can break on command.

Put it between a service and what it depends on (PostgreSQL, the catalog) and switch modes:
- `up()`: forward bytes both ways;
- `down()`: reset every open connection and every new one, as a stopped or crashed server does;
- `hang()`: accept connections and never answer, as a server that is overloaded or cut off does
  (open connections stall too).
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from contextlib import suppress

UP, DOWN, HANG = "up", "down", "hang"


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, so the peer sees the connection die at once."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.mode = UP
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket | None]] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self.connections_made = 0

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        _reset(self._listener)
        self._drop_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.close()

    def up(self) -> None:
        with self._lock:
            self.mode = UP
        self._drop_all()  # stalled connections from hang() would never recover

    def down(self) -> None:
        with self._lock:
            self.mode = DOWN
        self._drop_all()

    def hang(self) -> None:
        with self._lock:
            self.mode = HANG

    def _drop_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for client, upstream in pairs:
            _reset(client)
            if upstream is not None:
                _reset(upstream)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self.mode
            if mode == DOWN:
                _reset(client)
                continue
            if mode == HANG:
                with self._lock:
                    self._pairs.add((client, None))
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        pair = (client, upstream)
        with self._lock:
            self._pairs.add(pair)
            self.connections_made += 1
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=0.5):
                    with self._lock:
                        mode = self.mode
                    if mode == HANG:
                        time.sleep(0.05)  # forward nothing: the peer waits
                        continue
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                if pair not in self._pairs:
                    return
        except OSError:
            return  # reset by down() or by either side
        finally:
            selector.close()
            with self._lock:
                self._pairs.discard(pair)
            _reset(client)
            _reset(upstream)
