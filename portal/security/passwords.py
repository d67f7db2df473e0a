"""Password hashing (argon2id, OWASP's m=19456 KiB, t=2, p=1) and the password policy."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from portal.errors import Invalid, check_length

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the account does not exist, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

# Common passwords that pass the length rule; a short list, the length rule does most of the work.
_COMMON = frozenset(
    [
        "password",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "password1",
        "password123",
        "iloveyou11",
        "11111111",
        "00000000",
        "abcdefgh",
        "abcd1234",
        "qwerty123",
        "letmein123",
        "welcome1",
        "welcome123",
        "sunshine1",
        "football1",
        "baseball1",
        "princess1",
        "admin123",
        "administrator",
        "changeme",
        "passw0rd",
        "p@ssw0rd",
        "trustno1",
        "superman1",
        "starwars1",
        "dragon123",
        "monkey123",
    ]
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _encodable(password: str) -> bool:
    """False for a lone surrogate (`"\\ud800"` in JSON): no UTF-8 encoding exists to hash."""
    try:
        password.encode()
    except UnicodeEncodeError:
        return False
    return True


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash, so timing does not reveal which accounts exist."""
    if not _encodable(password):
        password = ""  # still one verification: the answer and its timing are a wrong password's
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str, *, field: str = "password", context: tuple[str, ...] = ()) -> None:
    """Length 8–128 (configurable), not a common password, not the account's own email or name."""
    min_length = current_app.config["PASSWORD_MIN_LENGTH"]
    max_length = current_app.config["PASSWORD_MAX_LENGTH"]
    if not password:
        raise Invalid("can't be blank", field=field, code="blank")
    if not isinstance(password, str):
        raise Invalid("must be a string", field=field, code="invalid")
    if not _encodable(password):
        raise Invalid("contains characters that are not allowed", field=field, code="invalid")
    check_length(password, field, min_length, max_length)
    lowered = password.lower()
    if lowered in _COMMON or any(word and word.lower() == lowered for word in context):
        raise Invalid("is too common or too easy to guess", field=field, code="weak")


def token_digest(token: str) -> str:
    """Emailed and refresh tokens are random (≥128 bits), so a plain SHA-256 is the right stored form."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)
