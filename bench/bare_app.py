"""The stack's ceiling: a bare Flask app answering a JSON body of a given size, no database, no auth."""

import os

from flask import Flask, Response

app = Flask(__name__)
BODY = (
    '{"data":['
    + ",".join(['{"id":"abcdefghij","type":"customers","attributes":{"email":"x@example.com"}}'] * 10_000)
    + "]}"
)[: int(os.environ.get("BARE_BYTES", "20000"))]


@app.get("/json")
def json_body() -> Response:
    return Response(BODY, content_type="application/vnd.api+json")
