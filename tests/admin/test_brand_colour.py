"""Issue 13: the org's brand colour is chosen with a colour picker (<input type="color">) bound to the existing
field; the server still checks what is posted (a picker is a browser nicety, not a validation)."""

from __future__ import annotations

import re

from portal import db
from tests.admin.conftest import csrf_from


def test_settings_offer_a_colour_picker_and_the_server_still_checks(as_admin, org):
    page = as_admin.get(f"/admin/{org.slug}/settings").text
    picker = re.search(r'<input[^>]*name="primary_color"[^>]*>', page).group(0)
    assert 'type="color"' in picker and f'value="{org.primary_color}"' in picker
    form = {"name": org.name, "csrf_token": csrf_from(page)}
    refused = as_admin.post(f"/admin/{org.slug}/settings", data={**form, "primary_color": "#12345g"})
    assert refused.status_code == 422 and "hex colour" in refused.text
    db.session.refresh(org)
    assert org.primary_color == "#1f4fd1"
    saved = as_admin.post(f"/admin/{org.slug}/settings", data={**form, "primary_color": "#AA3366"})
    assert saved.status_code == 303
    db.session.refresh(org)
    assert org.primary_color == "#aa3366"
