"""The lean "floor" for GET /api/customers (goal 3): the least any correct handler must do, with no framework
layers beyond Flask's routing. RS512 verify with the key set parsed once, the token-row check (revocation), the page
query, the count (from the counter rows when unfiltered or by status, else COUNT), orjson. Core SQL only.

Served by gunicorn next to the portal by bench/api.py: `FLOOR_DATABASE_URL`, `FLOOR_KEYS_PATH` (the portal's
key file), `FLOOR_ORG_ID`.
"""

from __future__ import annotations

import json
import os
import time

import orjson
from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import create_engine, text

app = Flask(__name__)
_engine = create_engine(os.environ.get("FLOOR_DATABASE_URL", "sqlite://"))
_keys: KeySet | None = None
_COLUMNS = (
    "public_id, email, status, password_hash IS NOT NULL AS has_password, total_orders_count, shopper_reference, "
    "profile_id, tax_exemption_code, anonymization_status, created_at, updated_at, reference, reference_origin, "
    "metadata"
)
_WHERE = {
    "": "",
    "status_in": " AND status IN ('acquired', 'repeat')",
    "email_cont": " AND email LIKE :pattern",
}


def _key_set() -> KeySet:
    global _keys
    if _keys is None:
        raw = json.loads(open(os.environ["FLOOR_KEYS_PATH"]).read())["keys"]  # noqa: SIM115
        members = {"kty", "kid", "use", "alg", "n", "e", "d", "p", "q", "dp", "dq", "qi"}
        _keys = KeySet([RSAKey.import_key({k: v for k, v in item.items() if k in members}) for item in raw])
    return _keys


@app.get("/floor")
def floor() -> Response:
    raw = request.headers.get("Authorization", "").removeprefix("Bearer ")
    claims = jwt.decode(raw, _key_set(), algorithms=["RS512"]).claims
    if claims["exp"] < time.time():
        return Response(status=401)
    kind = request.args.get("q", "")
    org = int(os.environ["FLOOR_ORG_ID"])
    params = {"org": org, "jti": claims["jti"], "pattern": f"%{request.args.get('v', '')}%"}
    with _engine.connect() as connection:
        row = connection.execute(
            text("SELECT revoked_at, expires_at FROM oauth_tokens WHERE jti = :jti"), params
        ).first()
        if row is None or row.revoked_at is not None:
            return Response(status=401)
        where = _WHERE[kind]
        if (
            kind == "email_cont" and _engine.dialect.name == "sqlite"
        ):  # FTS5 trigram table, as the portal uses
            where = (
                " AND id IN (SELECT rowid FROM customers_email_fts WHERE customers_email_fts MATCH :phrase)"
            )
            params["phrase"] = '"' + request.args.get("v", "") + '"'
        order = "created_at DESC, id"
        rows = (
            connection.execute(
                text(
                    f"SELECT {_COLUMNS} FROM customers WHERE organization_id = :org{where} "  # noqa: S608
                    f"ORDER BY {order} LIMIT 25"
                ),
                params,
            )
            .mappings()
            .all()
        )
        if kind == "email_cont":
            count = connection.execute(
                text(f"SELECT count(*) FROM customers WHERE organization_id = :org{where}"),  # noqa: S608
                params,
            ).scalar_one()
        else:
            statuses = " AND status IN ('acquired', 'repeat')" if kind == "status_in" else ""
            count = connection.execute(
                text(
                    f"SELECT coalesce(sum(count), 0) FROM customer_counts WHERE organization_id = :org{statuses}"  # noqa: S608
                ),
                params,
            ).scalar_one()
    data = [
        {
            "id": r["public_id"],
            "type": "customers",
            "attributes": {k: v for k, v in r.items() if k != "public_id"},
        }
        for r in rows
    ]
    body = orjson.dumps({"data": data, "meta": {"record_count": count}}, default=str)
    return Response(body, content_type="application/vnd.api+json")
