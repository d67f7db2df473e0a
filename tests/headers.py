"""The security headers every portal response must carry (security.md S5), checked on every response the test
client sees (tests/conftest.py) and by the route crawl (tests/security/test_headers.py).

The org-specific part — shopper pages framable by exactly the org's storefront origins — needs the org, so the
crawl checks it; here: frame-ancestors 'none' for the admin area and the API, and present everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

API_PREFIXES = ("/api/", "/oauth/", "/provisioning/", "/.well-known/")
ACCEPTED_REFERRER_POLICIES = {"strict-origin-when-cross-origin", "same-origin", "strict-origin"}
# Public, cacheable by design: the signing keys (clients cache them, portal/oauth/views.py).
CACHEABLE = {"/.well-known/jwks.json", "/favicon.ico"}


def parse_csp(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def header_problems(path: str, https: bool, headers: Mapping[str, str], *, bearer: bool = False) -> list[str]:
    """What is missing or wrong in one response's headers; `bearer`: the request carried an Authorization header."""
    problems = []
    if path.startswith("/static/"):
        return problems  # files: no per-request headers (the pages that load them carry the CSP)
    csp = parse_csp(headers.get("Content-Security-Policy", ""))
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        every = " ".join(" ".join(v) for v in csp.values())
        if "'unsafe-inline'" in every or "'unsafe-eval'" in every:
            problems.append("CSP allows unsafe-*")
        if not any(s.startswith("'nonce-") for s in csp.get("script-src", [])):
            problems.append("script-src has no nonce")
        if csp.get("object-src") != ["'none'"]:
            problems.append(f"object-src {csp.get('object-src')}")
        if csp.get("base-uri") != ["'none'"]:
            problems.append(f"base-uri {csp.get('base-uri')}")
        ancestors = csp.get("frame-ancestors")
        if ancestors is None:
            problems.append("no frame-ancestors")
        elif path.startswith(("/admin", *API_PREFIXES)) and ancestors != ["'none'"]:
            problems.append(f"frame-ancestors {ancestors} outside the shopper area")
        if ancestors == ["'none'"] and headers.get("X-Frame-Options") != "DENY":
            problems.append("frame-ancestors 'none' without X-Frame-Options DENY")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if (
        headers.get("Referrer-Policy") not in ACCEPTED_REFERRER_POLICIES
    ):  # no-referrer breaks CSRF Referer checks
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if (bearer or path not in CACHEABLE) and "no-store" not in headers.get("Cache-Control", ""):
        problems.append(f"dynamic response without no-store ({headers.get('Cache-Control')!r})")
    if https and "includeSubDomains" not in headers.get("Strict-Transport-Security", ""):
        problems.append("no HSTS over https")
    return problems
