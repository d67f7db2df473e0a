"""Issue 13: the two-factor enrolment page shows the setup URI as a QR code, drawn on the server as inline SVG (no
script, no image request: the CSP stays as it is) for exactly the secret the page offers."""

from __future__ import annotations

import re

import segno

from portal.services import staff
from tests.admin.conftest import login


def _modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules an SVG path from segno draws (`M x y.5 h n` runs, relative `m` moves), as (x, y) cells."""
    path = re.search(r' d="([^"]+)"', svg).group(1)
    cells, x, y = set(), 0.0, 0.0
    for command, dx, dy, run in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", path):
        x, y = (float(dx), float(dy)) if command == "M" else (x + float(dx), y + float(dy))
        cells.update((int(x) + i, int(y)) for i in range(int(run)))
        x += int(run)
    return cells


def test_enrolment_page_shows_the_qr_code_of_its_setup_uri(client, org, admin):
    login(client, admin)
    page = client.get("/admin/account/two-factor").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    figure = re.search(r'<figure class="qr-code" id="totp-qr">(<svg .*?</svg>)</figure>', page, re.S)
    assert figure, "no inline QR code on the enrolment page"
    expected = segno.make(staff.provisioning_uri(admin, secret), error="m")
    border = 2
    dark = {
        (x + border, y + border)
        for y, row in enumerate(expected.matrix)
        for x, value in enumerate(row)
        if value
    }
    assert _modules(figure.group(1)) == dark  # module for module the QR of this page's URI and secret
    assert "style=" not in figure.group(1) and "<script" not in figure.group(1)
