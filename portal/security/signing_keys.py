"""Signing keys for access tokens (RS512), published as a JWKS.

The embedded default generates a key set into `instance/jwt-keys.json` on first use; a deployment can give one
with PORTAL_JWT_KEYS (a private JWK set as JSON). Rotation adds a key that is published at once and signs from
`signs_from` on (now, or later when several instances must all publish it first); older keys keep verifying until
every token they signed has expired, then the next rotation drops them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask, current_app
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

ALGORITHM = "RS512"


# Our bookkeeping beside the JWK members.
META = ("created_at", "signs_from")


def _generate(created_at: float, signs_from: float | None = None) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    return {
        **key.as_dict(private=True),
        "created_at": int(created_at),
        "signs_from": int(signs_from or created_at),
    }


def _signs_from(item: dict[str, Any]) -> int:
    return item.get("signs_from", item["created_at"])


def _path(app: Flask) -> Path:
    return Path(app.config["JWT_KEYS_PATH"])


def _load_raw(app: Flask) -> list[dict[str, Any]]:
    given = app.config.get("JWT_KEYS")
    if given:
        # PORTAL_JWT_KEYS arrives already parsed (Flask's from_prefixed_env reads JSON values); a string is JSON text.
        return (given if isinstance(given, dict) else json.loads(given))["keys"]
    path = _path(app)
    if not path.exists():
        _create(app, [_generate(time.time())])
    return json.loads(path.read_text())["keys"]


def _create(app: Flask, keys: list[dict[str, Any]]) -> None:
    """Write the first key set unless another process just did: every worker must sign with the same key."""
    path = _path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"keys": keys}, handle)
    try:
        os.link(temporary, path)  # atomic, and fails if the file exists
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: last writer wins, as before
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _save(app: Flask, keys: list[dict[str, Any]]) -> None:
    path = _path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Private keys: readable by the owner only; written atomically so a crash never leaves half a file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"keys": keys}, handle)
    temporary.replace(path)
    app.extensions.pop("jwt_keys", None)


def _version(app: Flask) -> int | None:
    """The key file's modification time: a rotation by the CLI reaches running workers without a restart."""
    if app.config.get("JWT_KEYS"):
        return None
    try:
        return _path(app).stat().st_mtime_ns
    except FileNotFoundError:
        return None


class _Loaded(NamedTuple):
    keys: KeySet
    raw: list[dict[str, Any]]
    version: int | None
    claims: Callable[[str], dict[str, Any]]


def _loaded(app: Flask | None = None) -> _Loaded:
    app = app or current_app._get_current_object()
    cached = app.extensions.get("jwt_keys")
    version = _version(app)
    if cached is None or cached.version != version:
        raw = _load_raw(app)
        keys = KeySet([RSAKey.import_key({k: v for k, v in item.items() if k not in META}) for item in raw])

        # A client sends the same token request after request: its signature is checked once per key set (a
        # rotation loads a new one and starts afresh), not on every request. Only tokens that verify are kept.
        @functools.lru_cache(maxsize=4096)
        def claims(token: str) -> dict[str, Any]:
            return jwt.decode(token, keys, algorithms=[ALGORITHM]).claims

        cached = app.extensions["jwt_keys"] = _Loaded(keys, raw, _version(app), claims)
    return cached


def key_set(app: Flask | None = None) -> KeySet:
    return _loaded(app).keys


def verified_claims(token: str, app: Flask | None = None) -> dict[str, Any]:
    """The claims of a JWT signed (RS512) by one of the keys; JoseError, ValueError or TypeError if it is not.
    Claims (expiry) are the caller's to check: the result is shared, never to be changed."""
    return _loaded(app).claims(token)


def signing_key(app: Flask | None = None) -> RSAKey:
    """The newest key whose time to sign has come (a key still being published only verifies)."""
    app = app or current_app._get_current_object()
    raw = _loaded(app).raw
    now = time.time()
    due = [pair for pair in enumerate(raw) if _signs_from(pair[1]) <= now] or list(enumerate(raw))
    # Ties (a rotation within the key's first second) go to the later entry: rotate() appends the new key.
    _, newest = max(due, key=lambda pair: (_signs_from(pair[1]), pair[0]))
    return key_set(app).get_by_kid(newest["kid"])


def jwks(app: Flask | None = None) -> dict[str, Any]:
    """The public half of every key still verifying."""
    return key_set(app).as_dict(private=False)


def rotate(app: Flask, *, max_token_lifetime: int, publish_for: int = 0) -> str:
    """Add a new signing key, published now and signing `publish_for` seconds later (time for every instance of a
    deployment to publish it, so none refuses its tokens); drop keys that stopped signing longer ago than any token
    can live."""
    if app.config.get("JWT_KEYS"):
        raise RuntimeError("keys given by PORTAL_JWT_KEYS are rotated by changing that setting")
    now = time.time()
    keys = sorted(_load_raw(app), key=_signs_from)
    keys.append(_generate(now, now + publish_for))
    # A key stops signing when its successor starts; it must verify for max_token_lifetime after that.
    kept = [
        k
        for k, successor in zip(keys, keys[1:], strict=False)
        if now - _signs_from(successor) < max_token_lifetime
    ]
    kept.append(keys[-1])
    _save(app, kept)
    return keys[-1]["kid"]
