"""The front page and the health check."""

from flask import Blueprint
from sqlalchemy import text

from portal import db
from portal.security.routes import Policy, allow
from portal.web import render

bp = Blueprint("main", __name__)


@bp.get("/")
@allow(Policy.PUBLIC)
def home():
    return render("home.html")


@bp.get("/health")
@allow(Policy.PUBLIC)
def health():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
