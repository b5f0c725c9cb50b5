"""Secrets at rest: device and session tokens by SHA-256, passwords by Argon2id.

Tokens are 256-bit random values, so a fast hash is enough to make a stolen
database useless; passwords are low-entropy and get a memory-hard hash.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # Argon2id, 64 MiB, 3 passes (RFC 9106 second recommendation)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
