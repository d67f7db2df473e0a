"""The app shell: front page, error pages, configuration, security headers."""

import pytest

from portal import create_app, web
from portal.config import DEMO_SECRET_KEY


def test_home_page_renders_with_vendored_htmx(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Customer Portal" in body
    assert "/static/vendor/htmx-2.0.11.min.js" in body
    static = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert static.status_code == 200 and b"htmx" in static.data
    static.close()


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_api_404_is_json(client):
    response = client.get("/api/customers/a/b/c/d")
    assert response.status_code == 404
    assert response.json["errors"][0]["status"] == "404"


def test_api_error_pages_use_the_json_api_media_type(client):
    """The app-wide 404/405 under /api/ speak JSON:API like the API's own errors (and its 503) did already."""
    for response in (client.get("/api/customers/a/b/c/d"), client.put("/api/")):
        assert response.content_type == "application/vnd.api+json"
        assert set(response.json["errors"][0]) == {"title", "detail", "code", "status"}


def test_security_headers_on_every_page(client):
    for path in ("/", "/no/such/page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert "nonce-" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_health(client):
    assert client.get("/health").json == {"status": "ok"}


@pytest.mark.parametrize(
    "overrides, problem",
    [
        ({"SECRET_KEY": DEMO_SECRET_KEY, "SESSION_COOKIE_SECURE": True}, "PORTAL_SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40, "SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
        ({"SECRET_KEY": "x" * 40, "SESSION_COOKIE_SECURE": True, "DEBUG": True}, "debug"),
    ],
)
def test_production_mode_refuses_unsafe_configuration(tmp_path, overrides, problem):
    with pytest.raises(RuntimeError, match=problem):
        create_app({"ENV_MODE": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **overrides})


def test_environment_configures_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("PORTAL_ANONYMIZATION_DELAY", "90")
    app = create_app()
    assert app.config["DATABASE_URL"].endswith("env.db")
    assert app.config["ANONYMIZATION_DELAY"] == 90


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/demo/account/",
        "//evil.example/demo/account/",
        "/demo/account/../../admin/demo/settings",
        "/demo/account/%2e%2e/%2e%2e/admin/",
        "/demo/account/\r\nSet-Cookie: x=y",
        "/demo/account/\\\\evil.example",
        "/demo/account/" + "a" * 3000,
        "/demo/accountx/",
        "/demo/account/\ud800",
    ],
)
def test_next_refuses_anything_but_a_plain_path_inside_the_area(target):
    """The one open-redirect rule of both HTML doors (the attacker's review: `..` climbing out of the area, CR/LF
    in the Location header, a 100 KB echo)."""
    assert web.local_path(target, "/demo/account/") is None


def test_next_keeps_a_plain_path_inside_the_area():
    assert web.local_path("/demo/account/orders?page=2", "/demo/account/") == "/demo/account/orders?page=2"
