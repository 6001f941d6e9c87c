"""JWT verification rejects every forgery with 401 in the error shape."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.kit.db import MAX_ID
from tests.conftest import assert_error


def _unsigned(claims: dict) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def _hs256_with_public_key(tokens) -> str:
    # The classic algorithm-confusion forgery: HMAC keyed with the verifier's public key.
    import hmac
    from hashlib import sha256
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(tokens.claims(1)).encode()).rstrip(b"=")
    signing_input = header + b"." + payload
    signature = hmac.new(tokens.public_pem.encode(), signing_input, sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


FORGERIES = {
    "malformed": lambda t: "not.a.token",
    "garbage": lambda t: "abc",
    "alg_none": lambda t: _unsigned(t.claims(1, "ADMIN")),
    "hs256_with_public_key": _hs256_with_public_key,
    "wrong_key": lambda t: t.token(1, key=ec.generate_private_key(ec.SECP256R1())),
    "expired": lambda t: t.token(1, exp=int(time.time()) - 10, iat=int(time.time()) - 100),
    "wrong_audience": lambda t: t.token(1, aud="someone-else"),
    "wrong_issuer": lambda t: t.token(1, iss="evil"),
    "missing_role": lambda t: t.token(1, role=None),
    "unknown_role": lambda t: t.token(1, role="SUPERUSER"),
    "non_numeric_sub": lambda t: t.token(1, sub="abc"),
    "tampered_payload": lambda t: _tamper(t.token(1)),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "ADMIN"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_no_token_is_401(client):
    response = client.post("/api/notes", json={"text": "x"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("scheme", ["Basic abc", "Bearer", "Bearer    ", "Token x"])
def test_non_bearer_authorization_is_401(client, scheme):
    assert_error(client.post("/api/notes", json={"text": "x"}, headers={"Authorization": scheme}),
                 401, "unauthorized")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_tokens_are_401(client, tokens, forgery):
    token = FORGERIES[forgery](tokens)
    response = client.post("/api/notes", json={"text": "x"},
                           headers={"Authorization": f"Bearer {token}"})
    code = "token_expired" if forgery == "expired" else "invalid_token"
    assert_error(response, 401, code)


def test_forged_admin_claim_does_not_reach_admin_routes(client, tokens):
    response = client.get("/api/admin-only",
                          headers={"Authorization": f"Bearer {_unsigned(tokens.claims(1, 'ADMIN'))}"})
    assert_error(response, 401, "invalid_token")


def test_role_and_ownership_checks(client, tokens):
    assert client.get("/api/admin-only", headers=tokens.headers(1, "ADMIN")).status_code == 200
    assert_error(client.get("/api/admin-only", headers=tokens.headers(1)), 403, "forbidden")
    assert client.get("/api/users/1/notes", headers=tokens.headers(1)).status_code == 200
    assert_error(client.get("/api/users/2/notes", headers=tokens.headers(1)), 403, "forbidden")
    assert client.get("/api/users/2/notes", headers=tokens.headers(1, "ADMIN")).status_code == 200


def test_jwks_url_verification(make_app, tokens):
    from flask import Flask

    from tests.conftest import live_server

    jwks_app = Flask("jwks")
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(tokens.private_key.public_key()))
    jwk.update(kid="k1", alg="ES256", use="sig")
    jwks_app.add_url_rule("/.well-known/jwks.json", "jwks", lambda: {"keys": [jwk]})
    token = jwt.encode(tokens.claims(4), tokens.private_key, algorithm="ES256",
                       headers={"kid": "k1"})
    with live_server(jwks_app) as url:
        app = make_app(jwt_public_key="", jwks_url=url + "/.well-known/jwks.json")
        client = app.test_client()
        ok = client.get("/api/users/4/notes", headers={"Authorization": f"Bearer {token}"})
        forged = client.get("/api/users/4/notes", headers={
            "Authorization": "Bearer " + FORGERIES["wrong_key"](tokens)})
    assert ok.status_code == 200
    assert_error(forged, 401, "invalid_token")


class _Jwks:
    """A users service's JWKS endpoint the test can change, break and count."""

    def __init__(self, tokens):
        from flask import Flask

        self.keys = [self.jwk(tokens.private_key.public_key(), "k1"),
                     self.jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), "k2")]
        self.failing = False
        self.fetches = 0
        self.app = Flask("jwks")
        self.app.add_url_rule("/.well-known/jwks.json", "jwks", self._serve)

    @staticmethod
    def jwk(public_key, kid: str) -> dict:
        return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key)), "kid": kid,
                "alg": "ES256", "use": "sig"}

    def _serve(self):
        self.fetches += 1
        return ({"error": "down"}, 503) if self.failing else {"keys": self.keys}


@pytest.fixture
def jwks_client(make_app, tokens):
    from tests.conftest import live_server

    jwks = _Jwks(tokens)
    with live_server(jwks.app) as url:
        client = make_app(jwt_public_key="", jwks_url=url + "/.well-known/jwks.json",
                          jwks_cache_seconds=1).test_client()
        token = jwt.encode(tokens.claims(4), tokens.private_key, algorithm="ES256",
                           headers={"kid": "k1"})
        yield client, jwks, {"Authorization": f"Bearer {token}"}


def test_a_key_removed_from_the_jwks_stops_its_tokens_even_when_remembered(jwks_client):
    client, jwks, headers = jwks_client
    assert client.get("/api/users/4/notes", headers=headers).status_code == 200
    assert client.get("/api/users/4/notes", headers=headers).status_code == 200  # remembered
    jwks.keys = jwks.keys[1:]  # k1 retired: rotated out, or compromised
    time.sleep(1.1)  # the fetched set is a second old (JWKS_CACHE_SECONDS=1)
    assert_error(client.get("/api/users/4/notes", headers=headers), 401, "invalid_token")


def test_tokens_still_verify_while_the_jwks_cannot_be_fetched(jwks_client):
    client, jwks, headers = jwks_client
    assert client.get("/api/users/4/notes", headers=headers).status_code == 200
    jwks.failing = True  # users is down
    time.sleep(1.1)
    fetches = jwks.fetches
    answers = [client.get("/api/users/4/notes", headers=headers).status_code for _ in range(20)]
    assert answers == [200] * 20
    assert jwks.fetches - fetches == 1  # tried once, not by every request


def test_made_up_key_ids_do_not_make_every_request_fetch_the_jwks(jwks_client, tokens):
    client, jwks, headers = jwks_client
    assert client.get("/api/users/4/notes", headers=headers).status_code == 200
    fetches = jwks.fetches
    for n in range(20):
        forged = jwt.encode(tokens.claims(4), tokens.private_key, algorithm="ES256",
                            headers={"kid": f"made-up-{n}"})
        assert_error(client.get("/api/users/4/notes", headers={"Authorization": f"Bearer {forged}"}),
                     401, "invalid_token")
    assert jwks.fetches - fetches <= 1


def test_an_admin_token_is_honoured_only_for_the_admin_lifetime(make_app, tokens):
    """A demoted admin's old token stops working within ADMIN_TOKEN_TTL_SECONDS, whatever its exp."""
    client = make_app(admin_token_ttl_seconds=600).test_client()
    now = int(time.time())
    day_long = {"iat": now - 601, "exp": now + 24 * 3600}

    def admin_only(role: str, **claims):
        return client.get("/api/admin-only", headers=tokens.headers(1, role, **claims))

    assert admin_only("ADMIN", iat=now - 590, exp=now + 24 * 3600).status_code == 200
    assert_error(admin_only("ADMIN", **day_long), 401, "token_expired")
    # Shoppers' tokens keep their own lifetime (here they pass on to the role check).
    assert_error(admin_only("CUSTOMER", **day_long), 403, "forbidden")
    customer = client.get("/api/users/1/notes", headers=tokens.headers(1, **day_long))
    assert customer.status_code == 200


def test_an_admin_token_whose_iat_is_a_string_is_still_bounded(make_app, tokens):
    # PyJWT accepts any iat that int() takes; the lifetime check must not trip over it (a 500).
    client = make_app(admin_token_ttl_seconds=600).test_client()
    stale = tokens.headers(1, "ADMIN", iat=str(int(time.time()) - 700))
    assert_error(client.get("/api/admin-only", headers=stale), 401, "token_expired")


@pytest.mark.parametrize("sub", ["0_4", " 4 ", "4\n", "+4", "04", "0", "٤", "４", "4.0", "",
                                 str(MAX_ID + 1), "9" * 30])
def test_a_signed_token_whose_sub_is_not_a_canonical_user_id_is_401(client, tokens, sub):
    # int() reads "0_4", " 4 " and Arabic-Indic "٤" as 4: such a token would act as user 4.
    response = client.get("/api/users/4/notes", headers=tokens.headers(4, sub=sub))
    assert_error(response, 401, "invalid_token")


def test_the_largest_user_id_is_a_subject(client, tokens):
    response = client.get(f"/api/users/{MAX_ID}/notes", headers=tokens.headers(MAX_ID))
    assert response.status_code == 200
