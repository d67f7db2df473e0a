"""The front page: where the shopper and staff areas start.

Shoppers reach their store's account area by its name (the store's slug, or the name it shows when no other store
shows it), typed into a small form: the page never lists the organizations the portal hosts (that would hand anyone
the tenant list), and a name that is not a store is a 404 with the form again, which tells no more than visiting
`/<name>/account/` would."""

from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, request, url_for

from portal.errors import NotFound
from portal.security.routes import Policy, allow
from portal.services import orgs
from portal.web import render

bp = Blueprint("main", __name__)


@bp.get("/")
@allow(Policy.PUBLIC)
def home():
    store = (request.args.get("store") or "").strip().lower()
    if not store:
        return render("home.html", store="")
    try:
        org = orgs.get_org(store[:63])
    except NotFound:
        org = orgs.find_org_by_name(store)
    if org is None:
        return render("home.html", store=store[:63], unknown=True, status=404)
    return redirect(url_for("shop.overview", org_slug=org.slug), 303)


@bp.get("/favicon.ico")
@allow(Policy.PUBLIC)
def favicon():
    """Browsers ask for /favicon.ico whatever the page links (the pages link static/favicon.svg too). Public and
    the same for everyone, so it may be cached for a day."""
    icon = Path(current_app.static_folder or "", "favicon.ico").read_bytes()
    response = Response(icon, mimetype="image/vnd.microsoft.icon")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response
