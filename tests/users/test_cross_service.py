"""Must-show 2: a token from users' login passes another service's require_auth; others do not.

The other service is the kit's sample app, configured the two ways the services are: with the
users JWKS URL (fetched over HTTP from a live users server) and with the public key file.
"""

from __future__ import annotations

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine

from services.kit.config import ServiceConfig
from services.users import create_app as create_users_app
from tests.conftest import live_server
from tests.kit.sample_app import Base as SampleBase
from tests.kit.sample_app import create_app as create_sample_app
from tests.users.conftest import PASSWORD, config_for


@pytest.fixture
def sample_factory(tmp_path):
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    engine = create_engine(url)
    SampleBase.metadata.create_all(engine)
    engine.dispose()

    def make(**verification):
        return create_sample_app(ServiceConfig(service_name="sample", environment="test",
                                               database_url=url, **verification))
    return make


@pytest.fixture
def users_server(make_app):
    app = make_app()
    with live_server(app) as base_url:
        yield base_url, app


def _login(base_url: str) -> str:
    registered = requests.post(f"{base_url}/api/auth/register", timeout=5, json={
        "email": "lan@example.com", "password": PASSWORD, "name": "Lan"})
    assert registered.status_code == 201, registered.text
    response = requests.post(f"{base_url}/api/auth/login", timeout=5,
                             json={"email": "lan@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def _note(sample, token: str):
    return sample.test_client().post("/api/notes", json={"text": "bánh"},
                                     headers={"Authorization": f"Bearer {token}"})


def test_jwks_is_served_with_the_signing_key(users_server):
    base_url, app = users_server
    response = requests.get(f"{base_url}/.well-known/jwks.json", timeout=5)
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    [key] = response.json()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig"
    assert key["kid"] == app.extensions["signing_key"].kid
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no private "d"


def test_login_token_passes_another_services_require_auth_via_jwks(users_server, sample_factory):
    base_url, _ = users_server
    sample = sample_factory(jwks_url=f"{base_url}/.well-known/jwks.json")
    token = _login(base_url)
    response = _note(sample, token)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["by"] == int(jwt.decode(token, options={"verify_signature": False})["sub"])


def test_login_token_passes_with_the_public_key_file(users_server, sample_factory, key_dir):
    base_url, _ = users_server
    sample = sample_factory(jwt_public_key_file=str(key_dir / "jwt-public.pem"))
    assert _note(sample, _login(base_url)).status_code == 201


def test_tokens_signed_by_any_other_key_are_rejected(users_server, sample_factory, tokens,
                                                     users_database, tmp_path):
    base_url, app = users_server
    by_jwks = sample_factory(jwks_url=f"{base_url}/.well-known/jwks.json")
    by_file = sample_factory(jwt_public_key=app.extensions["signing_key"].public_pem)
    genuine = jwt.decode(_login(base_url), options={"verify_signature": False})

    # Another users deployment (its own generated key), the test factory's key, a fresh key.
    other_users = create_users_app(config_for(users_database, tmp_path / "other-data"))
    from services.users.models import Customer
    session = other_users.extensions["db"].sessionmaker()
    try:
        customer = session.get(Customer, int(genuine["sub"]))
        from_other_users = other_users.extensions["token_issuer"].issue(customer)
    finally:
        session.close()
        other_users.extensions["db"].engine.dispose()
    forged = [
        from_other_users,
        tokens.token(int(genuine["sub"]), "ADMIN", email=genuine["email"]),
        jwt.encode(genuine, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                   headers={"kid": app.extensions["signing_key"].kid}),
    ]
    for sample in (by_jwks, by_file):
        for token in forged:
            response = _note(sample, token)
            assert response.status_code == 401, response.get_json()
            assert response.get_json()["error"]["code"] == "invalid_token"
