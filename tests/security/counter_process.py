"""One portal process for tests/security/test_shared_counters.py: `seed` an org, or make password-grant attempts
through the full request stack. Configured only by PORTAL_* variables, as a gunicorn worker would be."""

from __future__ import annotations

import json
import sys

from portal import create_app, db
from tests.factories import PASSWORD, make_application, make_customer, make_org


def seed(email: str) -> dict[str, str]:
    org = make_org()
    sales, _ = make_application(org, "sales_channel")
    make_customer(org, email, password=PASSWORD)
    db.session.commit()
    return {"client_id": sales.client_id}


def main() -> None:
    command, *args = sys.argv[1:]
    app = create_app()
    with app.app_context():
        if command == "seed":
            print(json.dumps(seed(*args)))
            return
    client_id, email, ip, *passwords = args
    client = app.test_client()
    statuses = []
    for password in passwords:
        body = {"grant_type": "password", "client_id": client_id, "username": email, "password": password}
        statuses.append(client.post("/oauth/token", json=body, environ_base={"REMOTE_ADDR": ip}).status_code)
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
