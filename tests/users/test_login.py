"""POST /api/auth/login: tokens, no account enumeration, throttling, events."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import jwt
import pytest
import requests

from services.users import passwords
from tests.conftest import assert_error, live_server, read_events
from tests.users.conftest import PASSWORD


def login(client, email="lan@example.com", password=PASSWORD, **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def test_login_returns_a_token_with_every_claim(client, register, app):
    account = register()
    response = login(client, email="LAN@Example.com")  # e-mail case does not matter
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"token", "user"}
    assert body["user"] == account["user"]
    header = jwt.get_unverified_header(body["token"])
    assert header == {"alg": "ES256", "typ": "JWT", "kid": app.extensions["signing_key"].kid}
    claims = jwt.decode(body["token"], app.extensions["signing_key"].public_pem, algorithms=["ES256"],
                        audience="sweetdream", issuer="sweetdream-users")
    assert set(claims) == {"sub", "email", "role", "iss", "aud", "iat", "exp"}
    assert claims["sub"] == str(account["user"]["id"])
    assert claims["email"] == "lan@example.com" and claims["role"] == "CUSTOMER"
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert abs(claims["iat"] - time.time()) < 60


def test_token_lifetime_is_configurable(make_app, register):
    app = make_app(token_ttl_seconds=900)
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    claims = jwt.decode(login(client, "t@example.com").get_json()["token"],
                        options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _admin_login(app) -> dict:
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "chef@example.com", "password": PASSWORD,
                                             "name": "Chef"})
    result = app.test_cli_runner().invoke(args=["set-role", "--email", "chef@example.com",
                                                "--role", "ADMIN"])
    assert result.exit_code == 0, result.output
    return _claims(login(client, "chef@example.com").get_json()["token"])


def test_admin_tokens_last_an_hour_and_shoppers_keep_a_day(client, register, admin):
    shopper = _claims(register()["token"])
    boss = _claims(admin["token"])
    assert shopper["role"] == "CUSTOMER" and shopper["exp"] - shopper["iat"] == 24 * 3600
    assert boss["role"] == "ADMIN" and boss["exp"] - boss["iat"] == 3600


@pytest.mark.parametrize(("settings", "admin_lifetime"), [
    ({"admin_token_ttl_seconds": 600}, 600),
    ({"token_ttl_seconds": 900}, 900),  # an admin token never outlives a shopper's
])
def test_admin_token_lifetime_is_configurable(make_app, settings, admin_lifetime):
    claims = _admin_login(make_app(**settings))
    assert claims["role"] == "ADMIN" and claims["exp"] - claims["iat"] == admin_lifetime


def _comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.get_json(), headers


def test_unknown_email_and_wrong_password_are_indistinguishable(client, register):
    register()
    wrong_password = login(client, password="not the password")
    unknown_email = login(client, email="nobody@example.com")
    assert_error(wrong_password, 401, "invalid_credentials")
    assert _comparable(wrong_password) == _comparable(unknown_email)


def test_both_failures_cost_exactly_one_bcrypt_check(client, register, monkeypatch):
    register()
    calls = []
    real_checkpw = bcrypt.checkpw
    monkeypatch.setattr(passwords.bcrypt, "checkpw",
                        lambda pw, hashed: calls.append(hashed[:7]) or real_checkpw(pw, hashed))
    for email, password in [("lan@example.com", "wrong password"), ("nobody@example.com", "x"),
                            ("lan@example.com", "ạ" * 40)]:  # too long to ever have been stored
        calls.clear()
        assert login(client, email, password).status_code == 401
        assert calls == [b"$2b$04$"], (email, calls)


def test_unknown_email_takes_about_as_long_as_wrong_password(make_app):
    app = make_app(bcrypt_rounds=10)  # slow enough that skipping bcrypt would show
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})

    def seconds(email: str) -> float:
        started = time.perf_counter()
        assert login(client, email, "wrong password").status_code == 401
        return time.perf_counter() - started

    # Interleaved, and the fastest of each: other load on the machine only ever adds time.
    wrong, unknown = [], []
    for _ in range(7):
        wrong.append(seconds("t@example.com"))
        unknown.append(seconds("nobody@example.com"))
    assert 0.5 < min(unknown) / min(wrong) < 2.0, (wrong, unknown)


def test_login_upgrades_a_hash_made_at_another_cost(make_app):
    old = make_app(bcrypt_rounds=4)
    old.test_client().post("/api/auth/register",
                           json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    new = make_app(bcrypt_rounds=5)
    assert login(new.test_client(), "t@example.com").status_code == 200
    session = new.extensions["db"].sessionmaker()
    try:
        from services.users.accounts import find_by_email
        assert find_by_email(session, "t@example.com").password_hash.startswith("$2b$05$")
    finally:
        session.close()
    assert login(new.test_client(), "t@example.com").status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({"password": PASSWORD}, "email"),
    ({"email": "lan@example.com"}, "password"),
    ({"email": "not-an-email", "password": PASSWORD}, "email"),
    ({"email": "lan@example.com", "password": ""}, "password"),
    ({"email": "lan@example.com", "password": 1234}, "password"),
    ({"email": ["lan@example.com"], "password": PASSWORD}, "email"),
    ({"email": "lan@example.com", "password": "p" * 5000}, "password"),
    ({"email": "lan@example.com", "password": PASSWORD, "isAdmin": True}, "isAdmin"),
])
def test_invalid_login_body_is_422(client, body, field):
    error = assert_error(client.post("/api/auth/login", json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}
    assert PASSWORD not in str(error)


def test_login_emits_user_login_with_the_session(client, register, events_file, capfd):
    account = register()
    token = login(client, headers={"X-Session-Id": "sess-7"}).get_json()["token"]
    [event] = read_events(events_file, "User Login")
    assert event["userId"] == str(account["user"]["id"]) and event["sessionId"] == "sess-7"
    assert event["properties"] == {}
    assert len(read_events(events_file, "User Login")) == 1
    login(client, password="wrong password")  # a failed attempt is not a login
    assert len(read_events(events_file, "User Login")) == 1
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err and token not in out + err


# -- throttling ------------------------------------------------------------------------------

def _retry_after(response) -> int:
    error = assert_error(response, 429, "rate_limited")
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60 and error["details"] == {"retryAfter": seconds}
    return seconds


def test_failed_attempts_per_email_are_limited(make_app):
    app = make_app(login_limit_per_email="3 per minute")
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    for _ in range(3):
        assert login(client, "t@example.com", "wrong password").status_code == 401
    _retry_after(login(client, "t@example.com", "wrong password"))
    # Now even the right password waits, and another spelling does not dodge the limit...
    _retry_after(login(client, "T@EXAMPLE.COM"))
    _retry_after(login(client, " t@example.com "))
    # ...but another account is not affected.
    assert login(client, "other@example.com", "x").status_code == 401


# Spellings the login reads as victim@example.com: trimmed (any Unicode space), then normalised
# (fullwidth letters in the domain, any case).
VICTIM_SPELLINGS = [" victim@\uff45xample.com", "victim@e\uff58ample.com ",
                    "\tVICTIM@EXAMPLE.\uff23\uff2f\uff2d", "\u3000Victim@example.com\u00a0"]


def test_every_spelling_that_logs_in_to_an_account_shares_its_email_limit(make_app):
    app = make_app(login_limit_per_email="3 per minute")
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "victim@example.com", "password": PASSWORD, "name": "V"})
    for spelling in VICTIM_SPELLINGS:  # each is the account...
        assert login(client, spelling).get_json()["user"]["email"] == "victim@example.com"
    # ...so failures through any of them count together...
    assert login(client, VICTIM_SPELLINGS[0], "wrong password").status_code == 401
    assert login(client, VICTIM_SPELLINGS[1], "wrong password").status_code == 401
    assert login(client, "victim@example.com", "wrong password").status_code == 401
    # ...and once the account is locked, no spelling gets a password checked.
    for spelling in ["victim@example.com", *VICTIM_SPELLINGS]:
        _retry_after(login(client, spelling, "wrong password"))
        _retry_after(login(client, spelling))


@pytest.mark.parametrize("email", ["a\u0000@example.com", " a\u0000@example.com", "\u0000"])
def test_an_email_with_a_nul_is_invalid_input_not_a_server_error(make_app, email):
    client = make_app(login_limit_per_email="3 per minute").test_client()
    for _ in range(4):  # invalid e-mails are no account's: nothing to throttle per e-mail
        error = assert_error(login(client, email), 422, "validation_error")
        assert "email" in {d["field"] for d in error["details"]}


@pytest.mark.parametrize("storage_uri", ["database://", "memory://"])
def test_simultaneous_failed_logins_for_one_email_admit_exactly_the_limit(make_app, storage_uri):
    """Thirty wrong passwords for one account at the same instant, on a live server: five are
    checked (401), every other one is refused before its password is looked at (429)."""
    app = make_app(login_limit_per_email="5 per minute", ratelimit_storage_uri=storage_uri,
                   bcrypt_rounds=8)  # a check long enough for the others to arrive meanwhile
    app.test_client().post("/api/auth/register",
                           json={"email": "rush@example.com", "password": PASSWORD, "name": "R"})
    start = threading.Barrier(30)
    with live_server(app) as url:
        def attempt(n: int) -> int:
            start.wait(timeout=10)
            return requests.post(f"{url}/api/auth/login", timeout=30,
                                 json={"email": "rush@example.com", "password": f"wrong-{n}"}).status_code
        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = Counter(pool.map(attempt, range(30)))
    assert statuses == {401: 5, 429: 25}


@pytest.mark.parametrize("storage_uri", ["database://", "memory://"])
def test_only_wrong_passwords_use_up_the_email_limit(make_app, storage_uri):
    """A place is taken before the password is checked and given back unless the check failed."""
    app = make_app(login_limit_per_email="3 per minute", ratelimit_storage_uri=storage_uri)
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    for _ in range(2):
        assert login(client, "t@example.com", "wrong password").status_code == 401
    for _ in range(5):
        assert login(client, "t@example.com").status_code == 200
        assert_error(login(client, "t@example.com", ""), 422, "validation_error")
    assert login(client, "t@example.com", "wrong password").status_code == 401
    _retry_after(login(client, "t@example.com"))


def test_an_attempt_refused_by_another_limit_does_not_use_up_the_email_limit(make_app):
    app = make_app(login_limit_per_email="2 per minute", login_limit_per_address="1 per minute")
    client = app.test_client()

    def attempt(address: str):
        return login(client, "t@example.com", "wrong password", headers={"X-Forwarded-For": address})

    assert attempt("203.0.113.7").status_code == 401
    for _ in range(3):
        _retry_after(attempt("203.0.113.7"))  # the address's limit
    assert attempt("198.51.100.23").status_code == 401
    _retry_after(attempt("192.0.2.1"))  # now the e-mail's: two failures, from two addresses


def test_successful_logins_do_not_use_up_the_email_limit(make_app):
    app = make_app(login_limit_per_email="3 per minute")
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    for _ in range(6):
        assert login(client, "t@example.com").status_code == 200


def test_attempts_per_client_address_are_limited(make_app):
    app = make_app(login_limit_per_address="4 per minute")
    client = app.test_client()
    for n in range(4):
        assert login(client, f"user{n}@example.com").status_code == 401
    _retry_after(login(client, "user99@example.com"))
    # A malformed attempt from the same address is throttled too, before validation.
    _retry_after(client.post("/api/auth/login", json={"email": 1}))


ALB, STOREFRONT = "10.0.1.20", "10.0.8.33"  # task and load balancer addresses inside the VPC


def test_a_forged_forwarded_for_prefix_does_not_dodge_the_address_limit(make_app):
    """A direct caller: the ALB appends their real address; whatever they wrote before it is theirs."""
    app = make_app(login_limit_per_address="2 per minute")
    client = app.test_client()

    def attempt(forwarded_for: str):
        return login(client, "who@example.com", headers={"X-Forwarded-For": forwarded_for},
                     environ_base={"REMOTE_ADDR": ALB})

    assert attempt("203.0.113.7").status_code == 401
    # Spoofed prefixes, public or private, like the ones the storefront path carries: same client.
    assert attempt(f"198.51.100.1, {ALB}, {STOREFRONT}, 203.0.113.7").status_code == 401
    _retry_after(attempt("10.0.0.9, 203.0.113.7"))
    _retry_after(attempt("not-an-address, 203.0.113.7"))
    assert attempt("203.0.113.8").status_code == 401  # a different caller is unaffected


def test_browsers_logging_in_through_the_storefront_get_their_own_buckets(make_app):
    """browser -> ALB -> storefront -> ALB -> users: every hop after the browser is one of ours."""
    app = make_app(login_limit_per_address="2 per minute")
    client = app.test_client()

    def via_storefront(browser: str, email: str = "who@example.com"):
        return login(client, email, headers={"X-Forwarded-For": f"{browser}, {ALB}, {STOREFRONT}"},
                     environ_base={"REMOTE_ADDR": ALB})

    for _ in range(2):
        assert via_storefront("203.0.113.7").status_code == 401
    _retry_after(via_storefront("203.0.113.7"))
    # Another shopper behind the same storefront task is not locked out by the first one...
    for _ in range(2):
        assert via_storefront("198.51.100.23").status_code == 401
    # ...nor is a shopper's bucket dodged by a forged prefix sent from the browser.
    _retry_after(login(client, "who@example.com",
                       headers={"X-Forwarded-For": f"192.0.2.1, 203.0.113.7, {ALB}, {STOREFRONT}"},
                       environ_base={"REMOTE_ADDR": ALB}))


def test_the_email_limit_applies_whichever_browser_an_attempt_comes_from(make_app):
    app = make_app(login_limit_per_email="3 per minute")
    client = app.test_client()
    client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD, "name": "T"})
    for n in range(3):
        response = login(client, "t@example.com", "wrong password",
                         headers={"X-Forwarded-For": f"203.0.113.{n}, {ALB}, {STOREFRONT}"},
                         environ_base={"REMOTE_ADDR": ALB})
        assert response.status_code == 401
    _retry_after(login(client, "t@example.com", headers={"X-Forwarded-For": f"203.0.113.99, {ALB}"},
                       environ_base={"REMOTE_ADDR": ALB}))


def test_locally_every_hop_is_trusted_so_the_leftmost_address_counts(make_app):
    app = make_app(login_limit_per_address="2 per minute")
    client = app.test_client()

    def attempt(forwarded_for: str):
        return login(client, "x@example.com", headers={"X-Forwarded-For": forwarded_for})

    assert attempt("192.168.1.50, 127.0.0.1, 127.0.0.1").status_code == 401  # socket: 127.0.0.1
    assert attempt("192.168.1.50, 127.0.0.1").status_code == 401
    _retry_after(attempt("192.168.1.50"))
    assert attempt("192.168.1.51, 127.0.0.1").status_code == 401


def test_without_trusted_networks_the_socket_address_counts(make_app):
    app = make_app(login_limit_per_address="2 per minute", trusted_proxy_networks="")
    client = app.test_client()
    for n in range(2):
        response = login(client, "x@example.com", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        assert response.status_code == 401
    _retry_after(login(client, "x@example.com", headers={"X-Forwarded-For": "203.0.113.50"}))


def test_a_public_proxy_address_can_be_trusted_too(make_app):
    """E.g. a NAT gateway's address, when the storefront reaches the ALB through it."""
    nat = "52.95.110.1"
    app = make_app(login_limit_per_address="1 per minute", trusted_proxy_networks=f"10.0.0.0/16,{nat}")
    client = app.test_client()
    chain = f"{ALB}, {nat}"
    for browser in ("203.0.113.7", "198.51.100.23"):
        assert login(client, headers={"X-Forwarded-For": f"{browser}, {chain}"},
                     environ_base={"REMOTE_ADDR": ALB}).status_code == 401
    _retry_after(login(client, headers={"X-Forwarded-For": f"203.0.113.7, {chain}"},
                       environ_base={"REMOTE_ADDR": ALB}))


def test_every_worker_and_task_counts_against_the_same_limits(make_app):
    """Two apps on one database are two gunicorn workers, or two tasks behind the ALB."""
    first = make_app(login_limit_per_email="2 per minute")
    second = make_app(login_limit_per_email="2 per minute")
    assert login(first.test_client(), password="wrong-1").status_code == 401
    assert login(second.test_client(), password="wrong-2").status_code == 401
    _retry_after(login(first.test_client(), password="wrong-3"))
    _retry_after(login(second.test_client(), password="wrong-4"))


def test_per_process_counters_remain_available(make_app):
    first = make_app(login_limit_per_address="1 per minute", ratelimit_storage_uri="memory://")
    second = make_app(login_limit_per_address="1 per minute", ratelimit_storage_uri="memory://")
    assert login(first.test_client()).status_code == 401
    assert login(second.test_client()).status_code == 401
    assert login(first.test_client()).status_code == 429


def _change_password(client, token: str, user_id: int, current: str, new: str = "another-password-1"):
    return client.put(f"/api/customers/{user_id}/password", headers={"Authorization": f"Bearer {token}"},
                      json={"currentPassword": current, "newPassword": new})


@pytest.mark.parametrize("storage_uri", ["database://", "memory://"])
def test_wrong_current_passwords_on_a_password_change_are_limited_per_account(make_app, storage_uri):
    """Someone holding a stolen token cannot use the password change to guess the password."""
    app = make_app(login_limit_per_email="3 per minute", ratelimit_storage_uri=storage_uri)
    client = app.test_client()
    account = client.post("/api/auth/register", json={"email": "t@example.com", "password": PASSWORD,
                                                      "name": "T"}).get_json()
    token, user_id = account["token"], account["user"]["id"]
    assert _change_password(client, token, user_id, PASSWORD, PASSWORD).status_code == 204  # right ones
    assert _change_password(client, token, user_id, PASSWORD, PASSWORD).status_code == 204  # use none up
    for n in range(3):
        assert_error(_change_password(client, token, user_id, f"guess-{n}"), 422, "validation_error")
    _retry_after(_change_password(client, token, user_id, "guess-3"))
    _retry_after(_change_password(client, token, user_id, PASSWORD))  # now the right one waits too
    assert login(client, "t@example.com").status_code == 200  # signing in is another limit
    # Anyone else is refused as before, neither counted nor told the account's limit is reached.
    other = client.post("/api/auth/register", json={"email": "o@example.com", "password": PASSWORD,
                                                    "name": "O"}).get_json()["token"]
    for _ in range(4):
        assert_error(_change_password(client, "", user_id, "guess"), 401, "unauthorized")
        assert_error(_change_password(client, "forged", user_id, "guess"), 401, "invalid_token")
        assert_error(_change_password(client, other, user_id, "guess"), 403, "forbidden")


def test_registrations_per_client_address_are_limited(make_app):
    """Each registration costs a bcrypt hash and tells whether an e-mail has an account."""
    app = make_app(register_limit_per_address="3 per minute")
    client = app.test_client()

    def register(email: str, address: str = "203.0.113.7"):
        return client.post("/api/auth/register", headers={"X-Forwarded-For": address},
                           json={"email": email, "password": PASSWORD, "name": "T"})

    assert register("a@example.com").status_code == 201
    assert_error(register("a@example.com"), 409, "email_taken")
    assert_error(register("not an e-mail"), 422, "validation_error")
    _retry_after(register("b@example.com"))
    _retry_after(register("a@example.com"))  # no more answers about who has an account
    assert register("b@example.com", address="198.51.100.23").status_code == 201


def test_the_throttled_operations_document_their_429(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, method in (("/api/auth/login", "post"), ("/api/auth/register", "post"),
                         ("/api/customers/{customer_id}/password", "put")):
        assert "429" in paths[path][method]["responses"], path
