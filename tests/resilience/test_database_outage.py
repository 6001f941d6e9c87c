"""PostgreSQL goes away mid-traffic, or stops answering, and comes back: clear 503s in bounded
time, recovery without a restart, and no order that was confirmed is lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import requests

from services.kit.config import ServiceConfig
from services.kit.db import answer_deadline_s

from .conftest import ADDRESS, SERVICES, Shop, error_shape

ANSWER_WITHIN_S = 2.0
# A database that never answers: a pooled connection waits out its answer timeout, then the pool's
# one fresh connection waits out the connect timeout.
_DEFAULTS = ServiceConfig()
HUNG_ANSWER_WITHIN_S = answer_deadline_s(_DEFAULTS) + _DEFAULTS.db_connect_timeout + 1.5
RECOVER_WITHIN_S = 10.0
TRAFFIC_THREADS = 4


class OrderTraffic:
    """Shoppers placing orders in a loop, each with its own Idempotency-Key; records every answer."""

    def __init__(self, shop: Shop, shopper, line: dict):
        self.shop, self.shopper, self.line = shop, shopper, line
        self.stop = threading.Event()
        self.answers: list[tuple[str, int | None, float, dict | str]] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(TRAFFIC_THREADS)]

    def place(self, session: requests.Session, key: str) -> requests.Response:
        return session.post(f"{self.shop.url('orders')}/api/orders", timeout=15,
                            json={"items": [self.line], "shippingAddress": ADDRESS},
                            headers={**self.shopper.headers, "Idempotency-Key": key})

    def _run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            key = str(uuid.uuid4())
            started = time.monotonic()
            try:
                response = self.place(session, key)
                answer = (key, response.status_code, time.monotonic() - started, response.json())
            except (requests.RequestException, ValueError) as exc:
                answer = (key, None, time.monotonic() - started, repr(exc))
            with self._lock:
                self.answers.append(answer)
            time.sleep(0.02)

    def __enter__(self) -> OrderTraffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=20)

    def count(self, status: int) -> int:
        with self._lock:
            return sum(1 for answer in self.answers if answer[1] == status)

    def wait_for(self, status: int, more_than: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.count(status) <= more_than:
            assert time.monotonic() < deadline, f"no new {status} within {timeout}s: {self.answers[-5:]}"
            time.sleep(0.05)


def timed_get(url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10, **kwargs)
    return response, time.monotonic() - started


def test_database_outage_gives_fast_503s_and_recovers_without_losing_orders(healthy_shop: Shop):
    shop = healthy_shop
    shopper = shop.register("outage")
    product = shop.products()[0]
    line = {"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}
    masters = {name: server.process.pid for name, server in shop.stack.servers.items()}
    reads = {
        "users": (f"/api/customers/{shopper.id}", shopper.headers),
        "catalog": (f"/api/products/{product['id']}", {}),
        "orders": (f"/api/orders/user/{shopper.id}", shopper.headers),
    }

    with OrderTraffic(shop, shopper, line) as traffic:
        traffic.wait_for(201, more_than=5)
        shop.db_proxy.down()
        try:
            slowest = 0.0
            for name in SERVICES:
                health, took = timed_get(shop.url(name) + "/health")
                slowest = max(slowest, took)
                assert health.status_code == 503, (name, health.text)
                assert error_shape(health)["code"] == "database_unavailable"
                assert took < ANSWER_WITHIN_S, (name, took)
                # What ECS and the ALB probe stays 200: they must not replace tasks over an outage.
                live, _ = timed_get(shop.url(name) + "/health/live")
                assert live.status_code == 200, (name, live.text)

                path, headers = reads[name]
                read, took = timed_get(shop.url(name) + path, headers=headers)
                slowest = max(slowest, took)
                assert read.status_code == 503, (name, path, read.status_code, read.text)
                assert error_shape(read)["code"] == "database_unavailable"
                assert took < ANSWER_WITHIN_S, (name, path, took)

            started = time.monotonic()
            refused = traffic.place(requests.Session(), str(uuid.uuid4()))
            assert refused.status_code == 503, refused.text
            assert error_shape(refused)["code"] in ("database_unavailable", "upstream_unavailable")
            assert time.monotonic() - started < ANSWER_WITHIN_S
            traffic.wait_for(503, more_than=traffic.count(503), timeout=5)
        finally:
            shop.db_proxy.up()

        # Recovery on their own: same processes, no restart, healthy again within seconds.
        back_at = time.monotonic()
        shop.wait_healthy(timeout=RECOVER_WITHIN_S)
        recovered_in = time.monotonic() - back_at
        traffic.wait_for(201, more_than=traffic.count(201) + 5)

    assert recovered_in < RECOVER_WITHIN_S
    print(f"\noutage: slowest 503 {slowest * 1000:.0f} ms, healthy again {recovered_in:.2f} s after "
          f"the database came back; traffic answers {sorted(Counter(a[1] for a in traffic.answers).items())}")
    for name, pid in masters.items():
        assert shop.stack.servers[name].process.pid == pid and shop.stack.servers[name].process.poll() is None

    answers = traffic.answers
    unexpected = [answer for answer in answers if answer[1] not in (201, 503)]
    assert not unexpected, unexpected[:5]
    assert all(error_shape_ok(body) for _, status, _, body in answers if status == 503)

    # Every confirmed order is stored, once.
    confirmed = {key: body["id"] for key, status, _, body in answers if status == 201}
    stored = {row[0] for row in shop.sql("SELECT id FROM orders WHERE customer_id = %s", shopper.id)}
    assert set(confirmed.values()) <= stored

    # A 503 is safe to retry with the same key: exactly one order per key, never two.
    session = requests.Session()
    for key, status, _, _ in answers:
        if status == 503:
            retry = traffic.place(session, key)
            assert retry.status_code in (200, 201), retry.text
            confirmed[key] = retry.json()["id"]
    stored = [row[0] for row in shop.sql("SELECT id FROM orders WHERE customer_id = %s", shopper.id)]
    assert sorted(stored) == sorted(confirmed.values())
    assert len(set(confirmed.values())) == len(confirmed)


def test_a_database_that_never_answers_gives_503s_in_bounded_time_and_recovers(healthy_shop: Shop):
    """The proxy takes every byte and answers none (a hung server), which no TCP setting notices:
    before, each request waited as long as the database did."""
    shop = healthy_shop
    shopper = shop.register("hung")
    product = shop.products()[0]
    line = {"productId": product["id"], "size": product["sizes"][0]["size"], "quantity": 1}
    traffic = OrderTraffic(shop, shopper, line)
    session = requests.Session()
    assert traffic.place(session, str(uuid.uuid4())).status_code == 201  # pooled connections, open
    masters = {name: server.process.pid for name, server in shop.stack.servers.items()}

    shop.db_proxy.hang()
    try:
        slowest = 0.0
        read, took = timed_get(f"{shop.url('users')}/api/customers/{shopper.id}", headers=shopper.headers)
        slowest = max(slowest, took)
        assert read.status_code == 503, read.text
        assert error_shape(read)["code"] == "database_unavailable"
        key = str(uuid.uuid4())
        started = time.monotonic()
        refused = traffic.place(session, key)
        slowest = max(slowest, time.monotonic() - started)
        assert refused.status_code == 503, refused.text
        assert error_shape(refused)["code"] == "database_unavailable"
        assert slowest < HUNG_ANSWER_WITHIN_S, slowest
    finally:
        shop.db_proxy.up()

    back_at = time.monotonic()
    shop.wait_healthy(timeout=RECOVER_WITHIN_S)
    recovered_in = time.monotonic() - back_at
    print(f"\nhung database: slowest 503 {slowest:.1f} s (bound {HUNG_ANSWER_WITHIN_S:.1f} s), "
          f"healthy again {recovered_in:.2f} s after it answered again")
    for name, pid in masters.items():
        assert shop.stack.servers[name].process.pid == pid and shop.stack.servers[name].process.poll() is None
    # The refused order was not kept, and its retry with the same key places exactly one.
    def stored() -> int:
        return shop.sql("SELECT count(*) FROM orders WHERE customer_id = %s", shopper.id)[0][0]

    assert stored() == 1  # the order placed before the hang
    retry = traffic.place(session, key)
    assert retry.status_code == 201, retry.text
    assert traffic.place(session, key).json()["id"] == retry.json()["id"]
    assert stored() == 2


def error_shape_ok(body) -> bool:
    return (isinstance(body, dict) and set(body) == {"error"}
            and body["error"]["code"] in ("database_unavailable", "upstream_unavailable"))
