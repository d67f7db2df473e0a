"""The XSS corpus (xss_payloads.txt) and the audit every response goes through: shared by test_xss.py (customer data:
address book, customers, the customer form) and test_xss_org.py (groups, markets, org settings, members,
applications, deletion reasons, user agents, reflected parameters)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal import db
from portal.models import OutboxMessage

HX = {"HX-Request": "true"}
MEDIA = "application/vnd.api+json"
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def load_payloads() -> list[str]:
    text = Path(__file__).with_name("xss_payloads.txt").read_text(encoding="utf-8")
    return [
        _ESCAPE.sub(lambda m: chr(int(next(x for x in m.groups() if x), 16)), line)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


PAYLOADS = load_payloads()
MARKER = re.compile(r"zzx\d{3}")
# Payloads stored and refused per "channel.field", responses audited per page (the tests assert on the counts).
LEDGER: dict[str, Counter] = {"accepted": Counter(), "rejected": Counter(), "pages": Counter()}

# --- the audit -------------------------------------------------------------------------------------------------

TEXT_ATTRS = {"value", "title", "alt", "aria-label", "placeholder"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}
# htmx request attributes: a same-origin path built by url_for may carry a search term (URL-encoded).
HX_URL_ATTRS = {"hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url"}
# What an evaluated template probe renders: 7*7, a repeated loop body, the config or class dumps.
EVALUATED = ("49zzx", "zzx041zzx041", "config {", "secret_key", "<class '", "&lt;class &#39;")
RAW = sorted(
    {
        (MARKER.search(p).group(), v)
        for p in PAYLOADS
        for v in (p.strip(), p.strip().lower())
        if any(c in p for c in "<>\"'&")
    }
)


def _scheme(url: str) -> str:
    """The scheme a browser would see: it drops tabs and newlines anywhere and C0/space at both ends."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(33))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


class Audit(HTMLParser):
    """Every place where a browser would run a marker or treat it as markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.raw_text: str | None = None  # inside <script> or <style>

    def _flag(self, where: str, text: str) -> None:
        if MARKER.search(text.lower()):
            self.problems.append(f"{where}: {text[:100]!r}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flag("element name", tag)
        for name, value in attrs:
            self._flag(f"attribute name on <{tag}>", name)
            if name.startswith("on"):  # the templates have no inline handlers (the CSP forbids them)
                self.problems.append(f"<{tag} {name}={value!r}>")
            value = value or ""
            if not MARKER.search(value.lower()) or name in TEXT_ATTRS:
                continue
            if name in URL_ATTRS and _scheme(value) in SAFE_SCHEMES:
                continue
            if name in HX_URL_ATTRS and value.startswith("/") and not value.startswith("//"):
                continue
            self.problems.append(f"<{tag} {name}={value[:100]!r}>")
        if tag in ("script", "style"):
            self.raw_text = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw_text:
            self.raw_text = None

    def handle_data(self, data: str) -> None:
        if self.raw_text:
            self._flag(f"<{self.raw_text}> content", data)

    def handle_comment(self, data: str) -> None:
        self._flag("comment", data)

    def handle_decl(self, decl: str) -> None:
        self._flag("declaration", decl)

    def unknown_decl(self, data: str) -> None:
        self._flag("declaration", data)

    def handle_pi(self, data: str) -> None:
        self._flag("processing instruction", data)


def html_problems(body: str) -> list[str]:
    audit = Audit()
    audit.feed(body)
    audit.close()
    low = body.lower()
    return (
        audit.problems
        + [f"unescaped payload {marker}" for marker, raw in RAW if raw.lower() in low]
        + [f"template evaluated ({probe})" for probe in EVALUATED if probe in low]
    )


def csv_problems(body: str) -> list[str]:
    return [
        f"formula cell {cell[:60]!r}"
        for row in csv.reader(io.StringIO(body))
        for cell in row
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r")
    ]


def check(response, page: str) -> None:
    """No 5xx; HTML escaped everywhere; CSV cells neutralized; JSON served as JSON, never sniffed."""
    assert response.status_code < 500, f"{page}: {response.status_code}"
    LEDGER["pages"][page] += 1
    body = response.get_data(as_text=True)
    mimetype = response.mimetype
    assert response.headers.get("X-Content-Type-Options") == "nosniff", page
    if mimetype == "text/html":
        problems = html_problems(body)
    elif mimetype == "text/csv":
        problems = csv_problems(body)
    elif mimetype in ("application/json", MEDIA):
        problems = []
        if body:
            json.loads(body)
    else:
        problems = [] if mimetype == "text/plain" else [f"unexpected content type {mimetype}"]
    assert not problems, f"{page}: " + "; ".join(problems[:6])


def check_outbox() -> int:
    """Every queued email: the HTML part audited like a page, no CR/LF smuggled into the subject."""
    messages = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email")))
    for message in messages:
        problems = html_problems(message.payload["html"])
        assert not problems, f"email {message.topic}: " + "; ".join(problems[:6])
        assert not re.search(r"[\r\n]", message.payload["subject"]), message.payload["subject"]
        LEDGER["pages"][f"email {message.topic}"] += 1
    return len(messages)


# --- storing ---------------------------------------------------------------------------------------------------


def rotation(
    fields: Sequence[str], rounds: int | None = None, *, every: dict[str, int] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Round k: payload k+i in field i. A field in `every` (one that only takes a narrow shape, such as a colour)
    gets a payload every that many rounds only, so its certain refusal does not double every request."""
    n, every = len(PAYLOADS), every or {}
    for k in range(rounds or n):
        yield k, {f: PAYLOADS[(k + i) % n] for i, f in enumerate(fields) if k % every.get(f, 1) == 0}


_FIELD_ERROR = re.compile(r'<p class="field-error" id="([\w-]+)-error">')


def form_refusals(response) -> list[str]:
    """The fields a 422 page marks as invalid (a prefixed form's ids are `<prefix>-<field>`)."""
    return [fid.rsplit("-", 1)[-1] for fid in _FIELD_ERROR.findall(response.get_data(as_text=True))]


def api_refusals(response) -> list[str]:
    return [
        e["source"]["pointer"].rsplit("/", 1)[-1] for e in response.json.get("errors", []) if "source" in e
    ]


def store(
    channel: str,
    values: dict[str, Any],
    submit: Callable[[dict[str, Any]], Any],
    refusals: Callable[[Any], list[str]],
    harmless: Callable[[str], Any],
    fixed: dict[str, Any] | None = None,
) -> tuple[Any, set[str]]:
    """Submit `values` (payloads) with `fixed` (harmless); each field refused with its own error gets a harmless
    value and the rest goes again. Returns the final response and the fields whose payload was stored."""
    pending = set(values)
    values = {**(fixed or {}), **values}
    for _ in range(len(values) + 1):
        response = submit(values)
        check(response, f"{channel} submit")
        if response.status_code < 400:
            for field in pending:
                LEDGER["accepted"][f"{channel}.{field}"] += 1
            return response, pending
        refused = [f for f in refusals(response) if f in pending]
        assert refused, f"{channel}: {response.status_code} without a field error for a payload"
        for field in refused:
            LEDGER["rejected"][f"{channel}.{field}"] += 1
            pending.discard(field)
            values[field] = harmless(field)
        if not pending:
            return response, pending
    raise AssertionError(f"{channel}: still refused with harmless values")


def accepted(channel: str) -> int:
    return sum(n for key, n in LEDGER["accepted"].items() if key.startswith(channel + "."))


class Api:
    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body: Any = None):
        headers = {"Accept": MEDIA, "Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = MEDIA
        return self.client.open(path, method=method, headers=headers, data=json.dumps(body) if body else None)


def resource(type_: str, attributes: dict, **relationships: tuple[str, str]) -> dict:
    rels = {name: {"data": {"type": t, "id": i}} for name, (t, i) in relationships.items()}
    return {"data": {"type": type_, "attributes": attributes, **({"relationships": rels} if rels else {})}}


def get_both(client, url: str, page: str) -> None:
    """The page, then the htmx request for it (a fragment where the view has one)."""
    check(client.get(url), page)
    check(client.get(url, headers=HX), f"{page} (htmx)")
