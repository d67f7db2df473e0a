"""The front page: where the shopper and staff areas start.

Shoppers reach their store's account area by its name (the store's slug), typed into a small form: the page never
lists the organizations the portal hosts (that would hand anyone the tenant list), and a name that is not a store is
a 404 with the form again, which tells no more than visiting `/<name>/account/` would."""

from flask import Blueprint, redirect, request, url_for

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
        return render("home.html", store=store[:63], unknown=True, status=404)
    return redirect(url_for("shop.overview", org_slug=org.slug), 303)
