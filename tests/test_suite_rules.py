"""Rules the test suite keeps about itself, learnt from failures that only showed on a loaded CI machine."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_browser_predicates_are_functions():
    """Playwright evaluates a string predicate with `eval` on every poll after the first. The portal's CSP forbids
    `eval`, so an expression that is not already true at the first check fails with EvalError, which happens only
    when the machine is slow. An arrow function is evaluated once, during the first (DevTools) call: it polls safely."""
    call = re.compile(r"wait_for_function\(\s*(['\"])(?!\(\) =>)")
    offenders = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in TESTS.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if call.search(line)
    ]
    assert offenders == [], "write the predicate as '() => …': " + ", ".join(offenders)


def test_the_live_server_closes_a_response_whose_client_reset_the_connection(app, recwarn):
    """Werkzeug's server skips a response's close() when its read after the response fails (the browser reset the
    connection): the static file stayed open and its ResourceWarning failed whichever later test the garbage
    collector ran in. tests/live.py closes each response once sent; here 50 resets leave no file open."""
    import gc
    import socket
    import struct
    import threading
    import warnings

    from werkzeug.serving import make_server

    from tests.live import _closing

    warnings.simplefilter("always", ResourceWarning)
    server = make_server("127.0.0.1", 0, _closing(app), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for _ in range(50):
            client = socket.create_connection(("127.0.0.1", server.server_port))
            client.sendall(b"GET /static/icons.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 200")
            client.sendall(b"more")  # something for the server's drain read to fail on...
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # ...after a reset
    finally:
        server.shutdown()
    gc.collect()
    assert not [w for w in recwarn if "unclosed file" in str(w.message)]
