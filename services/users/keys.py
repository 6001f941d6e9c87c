"""The token-signing key: one small interface, a local PEM and an AWS KMS implementation.

Both produce ECDSA P-256 / SHA-256 signatures. KMS (like `cryptography`) returns them DER-encoded;
JWS wants the raw 64-byte r||s form, so the conversion happens once, in `SigningKey.sign`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from jwt.utils import der_to_raw_signature

from services.kit.errors import ServiceUnavailable

from .config import UsersConfig

log = logging.getLogger(__name__)

PRIVATE_KEY_FILE = "jwt-private.pem"
PUBLIC_KEY_FILE = "jwt-public.pem"
KMS_KEY_SPEC = "ECC_NIST_P256"
KMS_SIGNING_ALGORITHM = "ECDSA_SHA_256"


class SigningKey(ABC):
    """An ES256 signing key whose private half may live elsewhere (a file, or inside KMS)."""

    @property
    @abstractmethod
    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    @abstractmethod
    def _sign_der(self, message: bytes) -> bytes:
        """ECDSA P-256 SHA-256 signature of `message`, DER-encoded."""

    def sign(self, message: bytes) -> bytes:
        """The JWS (raw r||s) signature of `message`."""
        return der_to_raw_signature(self._sign_der(message), ec.SECP256R1())

    @cached_property
    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @cached_property
    def kid(self) -> str:
        """RFC 7638 JWK thumbprint: stable for a key, different for any other key."""
        jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                               separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def jwk(self) -> dict[str, str]:
        jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"],
                "kid": self.kid, "alg": "ES256", "use": "sig"}


class LocalSigningKey(SigningKey):
    """A P-256 private key from a PEM file (local development and tests)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey):
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or \
                not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("the signing key must be an EC P-256 private key")
        self._private_key = private_key

    @classmethod
    def from_pem_file(cls, path: Path) -> LocalSigningKey:
        return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private_key.public_key()

    def _sign_der(self, message: bytes) -> bytes:
        return self._private_key.sign(message, ec.ECDSA(hashes.SHA256()))


class KmsSigningKey(SigningKey):
    """An AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY); the private half never leaves KMS."""

    def __init__(self, key_id: str, client):
        self.key_id = key_id
        self._client = client
        description = client.get_public_key(KeyId=key_id)
        # KeySpec is the current field; CustomerMasterKeySpec its deprecated twin (still returned).
        spec = description.get("KeySpec") or description.get("CustomerMasterKeySpec")
        if spec != KMS_KEY_SPEC or description.get("KeyUsage") != "SIGN_VERIFY":
            raise ValueError(f"KMS key {key_id} must be {KMS_KEY_SPEC} with usage SIGN_VERIFY, "
                             f"not {spec}/{description.get('KeyUsage')}")
        public_key = serialization.load_der_public_key(description["PublicKey"])
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or \
                not isinstance(public_key.curve, ec.SECP256R1):
            raise ValueError(f"KMS key {key_id} is not an {KMS_KEY_SPEC} key")
        self._public_key = public_key

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public_key

    def _sign_der(self, message: bytes) -> bytes:
        try:
            response = self._client.sign(KeyId=self.key_id, Message=message, MessageType="RAW",
                                          SigningAlgorithm=KMS_SIGNING_ALGORITHM)
        except (BotoCoreError, ClientError) as exc:
            log.warning("KMS signing failed: %s", exc.__class__.__name__)
            raise ServiceUnavailable("Signing in is unavailable right now; try again shortly",
                                     code="signing_unavailable", headers={"Retry-After": "2"}) from exc
        return response["Signature"]


def ensure_local_key(data_dir: Path | str) -> tuple[Path, Path]:
    """Create `jwt-private.pem` (once) and write its `jwt-public.pem`; returns both paths.

    Safe when several processes start at once: the private key is published with an atomic
    link, so exactly one generated key wins and everyone uses it.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = data_dir / PRIVATE_KEY_FILE, data_dir / PUBLIC_KEY_FILE
    if not private_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".jwt-private-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            os.link(tmp, private_path)
        except FileExistsError:
            pass  # another process won the race; its key is the key
        finally:
            os.unlink(tmp)
    public_pem = LocalSigningKey.from_pem_file(private_path).public_pem
    if not public_path.exists() or public_path.read_text() != public_pem:
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".jwt-public-")
        with os.fdopen(fd, "w") as fh:
            fh.write(public_pem)
        os.chmod(tmp, 0o644)
        os.replace(tmp, public_path)
    return private_path, public_path


def signing_key_from_config(config: UsersConfig) -> SigningKey:
    """KMS when KMS_KEY_ID is set, otherwise the local PEM under DATA_DIR."""
    if config.kms_key_id:
        client = boto3.client(
            "kms", region_name=config.aws_region or None,
            config=BotoConfig(connect_timeout=2, read_timeout=3,
                              retries={"max_attempts": 3, "mode": "standard"}))
        return KmsSigningKey(config.kms_key_id, client)
    private_path, _ = ensure_local_key(config.data_dir)
    return LocalSigningKey.from_pem_file(private_path)
