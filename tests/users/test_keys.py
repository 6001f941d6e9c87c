"""The signing key: local PEM (generated once, shared safely) and AWS KMS (with moto)."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from services.users import create_app
from services.users.keys import KmsSigningKey, LocalSigningKey, ensure_local_key
from services.users.tokens import TokenIssuer
from tests.conftest import assert_error, read_events
from tests.users.conftest import PASSWORD, config_for

REGION = "us-east-1"


def test_ensure_local_key_creates_a_private_and_a_public_pem(tmp_path):
    data_dir = tmp_path / "data"
    private_path, public_path = ensure_local_key(data_dir)
    assert (private_path, public_path) == (data_dir / "jwt-private.pem", data_dir / "jwt-public.pem")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    assert isinstance(private_key.curve, ec.SECP256R1)
    public = private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_path.read_bytes() == public
    assert b"PRIVATE" not in public_path.read_bytes()


def test_ensure_local_key_keeps_the_key_and_restores_the_public_half(tmp_path):
    private_path, public_path = ensure_local_key(tmp_path)
    first = private_path.read_bytes()
    public_path.unlink()
    assert ensure_local_key(tmp_path) == (private_path, public_path)
    assert private_path.read_bytes() == first
    assert public_path.exists()
    public_path.write_text("stale")
    ensure_local_key(tmp_path)
    assert public_path.read_text() == LocalSigningKey.from_pem_file(private_path).public_pem


def test_concurrent_first_runs_agree_on_one_key(tmp_path):
    barrier = threading.Barrier(8)

    def first_run(_):
        barrier.wait()
        private_path, _ = ensure_local_key(tmp_path)
        return private_path.read_bytes()

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(first_run, range(8)))
    assert len(keys) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt-private.pem", "jwt-public.pem"]


def test_local_signatures_are_jose_raw_and_verify(tmp_path):
    key = LocalSigningKey.from_pem_file(ensure_local_key(tmp_path)[0])
    signature = key.sign(b"message")
    assert len(signature) == 64  # r||s, not DER
    jwk = jwt.PyJWK(key.jwk())
    assert jwk.Algorithm.verify(b"message", jwk.key, signature)


def test_the_kid_is_stable_per_key_and_differs_between_keys(tmp_path):
    one = LocalSigningKey.from_pem_file(ensure_local_key(tmp_path / "a")[0])
    same = LocalSigningKey.from_pem_file(tmp_path / "a" / "jwt-private.pem")
    other = LocalSigningKey.from_pem_file(ensure_local_key(tmp_path / "b")[0])
    assert one.kid == same.kid != other.kid
    assert len(one.kid) == 43  # base64url SHA-256 thumbprint


def test_only_p256_keys_are_accepted():
    with pytest.raises(ValueError, match="P-256"):
        LocalSigningKey(ec.generate_private_key(ec.SECP384R1()))


# -- AWS KMS -------------------------------------------------------------------------------------

@pytest.fixture
def kms():
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _kms_key(kms, spec="ECC_NIST_P256", usage="SIGN_VERIFY") -> str:
    return kms.create_key(KeySpec=spec, KeyUsage=usage, Description="sweetdream token signing")[
        "KeyMetadata"]["KeyId"]


def test_kms_key_signs_tokens_that_verify_with_its_public_key(kms, tmp_path):
    key_id = _kms_key(kms)
    key = KmsSigningKey(key_id, kms)
    signature = key.sign(b"header.payload")
    assert len(signature) == 64  # KMS's DER signature converted to r||s
    der_public = kms.get_public_key(KeyId=key_id)["PublicKey"]
    assert key.public_pem == serialization.load_der_public_key(der_public).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    class Account:
        id, email, role = 7, "kms@example.com", "ADMIN"

    token = TokenIssuer(key, config_for("sqlite://", tmp_path)).issue(Account())
    claims = jwt.decode(token, key.public_pem, algorithms=["ES256"], audience="sweetdream",
                        issuer="sweetdream-users")
    assert claims["sub"] == "7" and claims["role"] == "ADMIN"
    assert jwt.get_unverified_header(token)["kid"] == key.kid


@pytest.mark.parametrize(("spec", "usage"), [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P384", "SIGN_VERIFY"),
                                             ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")])
def test_kms_keys_of_another_kind_are_refused(kms, spec, usage):
    with pytest.raises(ValueError, match="ECC_NIST_P256"):
        KmsSigningKey(_kms_key(kms, spec, usage), kms)


def _raises(exc: Exception):
    def fail(**_kwargs):
        raise exc
    return fail


def test_the_service_signs_with_kms_when_configured(kms, users_database, tmp_path, events_file,
                                                    monkeypatch):
    key_id = _kms_key(kms)
    app = create_app(config_for(users_database, tmp_path / "data", kms_key_id=key_id, aws_region=REGION,
                                event_log_file=str(events_file)))
    try:
        assert isinstance(app.extensions["signing_key"], KmsSigningKey)
        assert not (tmp_path / "data" / "jwt-private.pem").exists()  # no local key is made
        client = app.test_client()
        registered = client.post("/api/auth/register", json={
            "email": "kms@example.com", "password": PASSWORD, "name": "K"})
        assert registered.status_code == 201
        token = client.post("/api/auth/login", json={"email": "kms@example.com", "password": PASSWORD}
                            ).get_json()["token"]
        [jwk] = client.get("/.well-known/jwks.json").get_json()["keys"]
        public_key = jwt.PyJWK(jwk).key
        claims = jwt.decode(token, public_key, algorithms=["ES256"], audience="sweetdream",
                            issuer="sweetdream-users")
        assert claims["email"] == "kms@example.com"
        # The service accepts its own KMS-signed tokens.
        response = client.get(f"/api/customers/{claims['sub']}",
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200

        # KMS failing (moto never does, so inject it) is a 503 and no login event, never a 500.
        events_before = read_events(events_file, "User Login")
        signing_client = app.extensions["signing_key"]._client
        for failure in (ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                                    "Sign"),
                        EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com")):
            monkeypatch.setattr(signing_client, "sign", _raises(failure))
            response = client.post("/api/auth/login",
                                   json={"email": "kms@example.com", "password": PASSWORD})
            assert_error(response, 503, "signing_unavailable")
            assert response.headers["Retry-After"]
        assert read_events(events_file, "User Login") == events_before
    finally:
        from sqlalchemy import delete

        from services.users.models import Customer
        with app.extensions["db"].engine.begin() as conn:
            conn.execute(delete(Customer))
        app.extensions["db"].engine.dispose()
