"""bcrypt password hashes, with the same work done whether or not the account exists."""

from __future__ import annotations

import functools

import bcrypt

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt only ever reads the first 72 bytes


def check_password_policy(password: str) -> str:
    """The password, or ValueError saying what is wrong with it."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"Password must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(f"Password must be at most {MAX_PASSWORD_BYTES} bytes (UTF-8)")
    return password


def hash_password(password: str, rounds: int) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds))


def verify_password(password: str, stored_hash: str | None, rounds: int) -> bool:
    """Check `password`; with no stored hash (unknown e-mail) do the same bcrypt work and fail.

    A password too long to have been accepted is checked against the dummy too, so every
    rejection costs one bcrypt verification.
    """
    candidate = password.encode()
    if stored_hash is None or len(candidate) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(candidate[:MAX_PASSWORD_BYTES], _dummy_hash(rounds))
        return False
    return bcrypt.checkpw(candidate, stored_hash.encode())


def needs_rehash(stored_hash: str, rounds: int) -> bool:
    """True when the hash was made with another cost than the configured one."""
    # bcrypt hashes look like $2b$12$<salt+hash>; the cost is the second field.
    try:
        return int(stored_hash.split("$")[2]) != rounds
    except (IndexError, ValueError):
        return True
