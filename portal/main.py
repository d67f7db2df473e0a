"""The front page (the operator's probes are in portal/ops)."""

from flask import Blueprint

from portal.security.routes import Policy, allow
from portal.web import render

bp = Blueprint("main", __name__)


@bp.get("/")
@allow(Policy.PUBLIC)
def home():
    return render("home.html")

