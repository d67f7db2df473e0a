"""The outbound (SSRF) policy of webhook callback URLs: checked when saved and again at delivery, pinned to the
checked address, never redirected."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from portal.config import check_production
from portal.errors import Invalid
from portal.security import outbound
from portal.services import webhooks
from portal.services.audit import SYSTEM
from tests.factories import make_org

REFUSED_IN_PRODUCTION = [
    "http://example.com/hook",  # not https
    "https://10.0.0.5/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://0.0.0.0/hook",
    "https://[::]/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
    "https://2130706433/hook",  # decimal 127.0.0.1
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",  # octal
    "https://127.1/hook",
    "https://0x7f.0.0.1/hook",
    "https://user:pass@example.com/hook",
    "https://example.com/hook#fragment",
    "ftp://example.com/hook",
    "//example.com/hook",
    "https:///hook",
    "https://exa mple.com/hook",
]


@pytest.mark.parametrize("url", REFUSED_IN_PRODUCTION)
def test_production_refuses(url):
    with pytest.raises(outbound.UnsafeURL):
        outbound.check(url, allow_local=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://192.168.1.1/hook",
        "http://2130706433/hook",
        "http://[fc00::1]/hook",
    ],
)
def test_development_still_refuses_private_networks(url):
    with pytest.raises(outbound.UnsafeURL):
        outbound.check(url, allow_local=True)


def test_development_allows_loopback_over_http():
    target = outbound.check("http://127.0.0.1:8123/hook?x=1", allow_local=True)
    assert (str(target.address), target.port, target.path) == ("127.0.0.1", 8123, "/hook?x=1")
    assert outbound.check("http://localhost:8123/hook", allow_local=True).address.is_loopback


def test_a_public_address_passes_and_is_pinned():
    target = outbound.check("https://93.184.215.14/hook", allow_local=False)
    assert target.address == ipaddress.ip_address("93.184.215.14") and target.port == 443


def _resolving_to(monkeypatch, *addresses: str) -> None:
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    # DNS is the part under attack here (a name the attacker controls); the resolver's answer is the test input.
    _resolving_to(monkeypatch, "93.184.215.14", "10.1.2.3")
    with pytest.raises(outbound.UnsafeURL):
        outbound.check("https://hooks.example.com/x", allow_local=False)
    _resolving_to(monkeypatch, "::ffff:169.254.169.254")
    with pytest.raises(outbound.UnsafeURL):
        outbound.check("https://hooks.example.com/x", allow_local=False)


def test_delivery_connects_to_the_address_that_was_checked(monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that address is the one connected to."""
    _resolving_to(monkeypatch, "93.184.215.14")
    target = outbound.check("https://hooks.example.com/x", allow_local=False)
    _resolving_to(monkeypatch, "127.0.0.1")  # the attacker's second answer is never asked for
    assert str(target.address) == "93.184.215.14" and target.host == "hooks.example.com"


def test_an_unresolvable_host_is_refused():
    with pytest.raises(outbound.UnsafeURL, match="does not resolve"):
        outbound.check("https://no-such-host.invalid/hook", allow_local=False)


def test_creation_refuses_with_a_precise_error(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOCAL", False)
    org = make_org()
    with pytest.raises(Invalid) as refused:
        webhooks.create_webhook(
            SYSTEM, org, {"topic": "customers.create", "callback_url": "https://169.254.169.254/"}
        )
    assert refused.value.field == "callback_url"
    assert "private, loopback or reserved" in refused.value.message


def test_production_refuses_to_start_with_local_webhooks_allowed():
    config = {
        "SECRET_KEY": "x" * 40,
        "SESSION_COOKIE_SECURE": True,
        "BASE_URL": "https://portal.example.com",
        "WEBHOOK_ALLOW_LOCAL": True,
    }
    with pytest.raises(RuntimeError, match="WEBHOOK_ALLOW_LOCAL"):
        check_production(config)
    check_production({**config, "WEBHOOK_ALLOW_LOCAL": False})


def test_the_host_and_tls_name_are_the_urls_not_the_address(receiver):
    target = outbound.check(receiver.url("/pinned", host="localhost"), allow_local=True)
    response = outbound.pinned_post(target, b"{}", {"X-Test": "1"}, timeout=2)
    assert response.status == 200
    [post] = receiver.received
    assert post.headers["Host"] == f"localhost:{receiver.port}" and post.path == "/pinned"


def test_https_verifies_the_certificate_against_the_urls_host(tmp_path):
    """TLS to the pinned address still checks the certificate (here self-signed: refused, nothing read)."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        target = outbound.check(f"https://localhost:{server.server_address[1]}/tls", allow_local=True)
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            outbound.pinned_post(target, b"{}", {}, timeout=2)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
